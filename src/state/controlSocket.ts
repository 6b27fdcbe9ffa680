/**
 * A per-user background process's plumbing, shared by the fcpd daemon (fcpd -d) and fcp's job
 * runner: a 0700 state directory, a pid file, a log, and a control socket that only the user can
 * open, speaking one JSON object per line each way.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { NODE_FLAGS } from '../nodeFlags';
import { takePidLock } from './pidLock';
import { isRunning } from './running';

/** A control socket request or reply takes at most this long, each way. */
export const CONTROL_TIMEOUT_MS = 5000;
/**
 * How long a background process (fcpd -d, the jobs runner) may take to answer after it was started:
 * a start that fails exits and is seen at once, so this bounds only a slow start, and a Node start
 * on a loaded 2-core host took more than 10 s.
 */
const START_TIMEOUT_MS = 30_000;
const START_POLL_MS = 100;
/** Beside the pid file: held by the one process starting the background process. */
const START_LOCK_SUFFIX = '.starting';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface BackgroundPaths {
  dir: string;
  pid: string;
  log: string;
  socket: string;
}

/** fcp's per-user state: $XDG_STATE_HOME/fcp, or ~/.local/state/fcp. */
export function fcpStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'fcp');
}

/** Creates the state directory (0700) and refuses one that belongs to another user. */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(dir);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new FcpError('FCP_ERR_PERMISSION', `${dir} belongs to user id ${stat.uid}, not to you (${uid})`, {
      hint: "that is another user's fcp state; set XDG_STATE_HOME to a directory of your own",
    });
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Sends one request line; the parsed reply line, or undefined when nothing answers in time. */
export function askSocket(socketPath: string, request: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, CONTROL_TIMEOUT_MS);
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      const nl = answer.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(answer.slice(0, nl)));
      } catch {
        resolve(undefined);
      }
    });
    socket.on('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

/**
 * Serves the control socket at paths.socket (0600): each connection sends one request line (at
 * most maxRequestBytes) and gets `answer(line)`'s reply line. Resolves once listening; the caller
 * then writes the pid file.
 */
export async function serveControl(paths: BackgroundPaths, maxRequestBytes: number, answer: (line: string) => unknown, log: (line: string) => void): Promise<net.Server> {
  const control = net.createServer((socket) => {
    let pending = '';
    let answered = false;
    const reply = (value: unknown): void => {
      answered = true;
      socket.end(`${JSON.stringify(value)}\n`);
    };
    // A client that says nothing, or never ends its line, does not hold the socket.
    socket.setTimeout(CONTROL_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      pending += chunk.toString('utf8');
      const nl = pending.indexOf('\n');
      if (nl >= 0) return reply(answer(pending.slice(0, nl)));
      if (pending.length > maxRequestBytes) reply({ ok: false, error: `bad request: no end of line within ${maxRequestBytes} bytes` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    const oldMask = process.umask(0o177);
    control.listen(paths.socket, () => {
      process.umask(oldMask);
      control.off('error', reject);
      // A later error (accept failing with EMFILE) costs that request, not the process.
      control.on('error', (err) => log(`control socket error: ${err.message}`));
      resolve();
    });
  });
  fs.chmodSync(paths.socket, 0o600);
  return control;
}

/** A pid file naming a process that runs but does not answer: not ours to replace. */
function refuseLivePid(paths: BackgroundPaths, what: string): string[] {
  const stalePid = readPid(paths.pid);
  if (stalePid === undefined) return [];
  if (!isRunning(stalePid)) return [`removed a stale pid file (pid ${stalePid} is not running)`];
  throw new FcpError('FCP_ERR_CONNECT', `pid ${stalePid} from ${paths.pid} is running but does not answer on ${paths.socket}`, {
    hint: `if it is not ${what}, remove ${paths.pid}; else stop it (kill ${stalePid}) and start again`,
  });
}

/**
 * Starts `node args...` (with fcp's Node flags, src/nodeFlags.ts) detached (its own session,
 * output to the log, cwd the home directory) and waits until `isUp` sees it answer; returns that
 * answer and notes on a stale pid file. One starter at a time (an O_EXCL lock file beside the pid
 * file): fcp runs started at the same instant wait for the one process the first of them starts,
 * rather than each starting its own.
 */
export async function startDetached<T>(paths: BackgroundPaths, what: string, args: string[], isUp: () => Promise<T | undefined>): Promise<{ up: T; notes: string[] }> {
  const lock = `${paths.pid}${START_LOCK_SUFFIX}`;
  // Long enough for the lock's holder to give up on its own start (START_TIMEOUT_MS) and another to try.
  const deadline = Date.now() + 2 * START_TIMEOUT_MS;
  while (!takePidLock(lock)) {
    const up = await isUp();
    if (up !== undefined) return { up, notes: [] };
    if (Date.now() >= deadline) {
      throw new FcpError('FCP_ERR_CONNECT', `the ${what} did not start: ${lock} says another process is starting it, and none answers on ${paths.socket}`, {
        hint: `if no fcp is starting it, remove ${lock}`,
      });
    }
    await sleep(START_POLL_MS);
  }
  try {
    // The starter that held the lock before may have started it since this one asked.
    const already = await isUp();
    if (already !== undefined) return { up: already, notes: [] };
    return await spawnDetached(paths, what, args, isUp);
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

async function spawnDetached<T>(paths: BackgroundPaths, what: string, args: string[], isUp: () => Promise<T | undefined>): Promise<{ up: T; notes: string[] }> {
  const notes = refuseLivePid(paths, what);
  fs.rmSync(paths.pid, { force: true });
  fs.rmSync(paths.socket, { force: true });
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  // Required here: node:child_process is 2-4 ms of every fcp start that never starts a job runner.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn(process.execPath, [...NODE_FLAGS, ...args], { detached: true, stdio: ['ignore', logFd, logFd], cwd: os.homedir() });
  fs.closeSync(logFd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  for (const deadline = Date.now() + START_TIMEOUT_MS; Date.now() < deadline && exited === undefined; ) {
    const up = await isUp();
    if (up !== undefined) return { up, notes };
    await sleep(START_POLL_MS);
  }
  const tail = fs.readFileSync(paths.log, 'utf8').trim().split('\n').slice(-3).join(' | ');
  throw new FcpError('FCP_ERR_CONNECT', `the ${what} did not start: ${tail || 'no message'}`, { hint: `see ${paths.log}` });
}

/** Waits (bounded) until process `pid` is gone. */
export async function waitGone(pid: number | undefined, ms = START_TIMEOUT_MS): Promise<void> {
  for (const deadline = Date.now() + ms; pid !== undefined && isRunning(pid) && Date.now() < deadline; ) {
    await sleep(50);
  }
}
