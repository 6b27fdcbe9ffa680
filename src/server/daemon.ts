/**
 * The standing per-user daemon (fcpd -d): a SessionServer that stays up, a pid file and a log
 * in the user's state directory, and a control socket that only the user can open. An
 * `fcpd --serve` started through SSH hands its launch to the daemon over that socket, so repeated
 * transfers reuse one server. The control socket speaks one JSON object per line each way.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { showText } from '../showName';
import { loadXxhash } from '../protocol/xxhash';
import type { Listen } from '../launch/handoff';
import type { FcpdPolicy } from '../config/policy';
import { AccessPolicy } from './policy';
import type * as SessionServerModule from './sessionServer';
import { DaemonLogins } from './tokenLogin';
import { isRunning } from '../state/running';

export { DEFAULT_DAEMON_PORT } from '../protocol/constants';
/** A control socket request or reply takes at most this long, each way. */
const CONTROL_TIMEOUT_MS = 5000;
/** The longest request line the daemon reads (a register request is about 170 bytes). */
const MAX_REQUEST_BYTES = 4096;
const START_TIMEOUT_MS = 10_000;
/** A session secret or nonce in a register request: 32 bytes in lowercase hex. */
const HEX_32 = /^[0-9a-f]{64}$/;

export interface DaemonPaths {
  dir: string;
  pid: string;
  log: string;
  socket: string;
}

export function daemonPaths(env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  const dir = path.join(env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'fcp');
  return { dir, pid: path.join(dir, 'fcpd.pid'), log: path.join(dir, 'fcpd.log'), socket: path.join(dir, 'fcpd.sock') };
}

/** Creates the state directory (0700) and refuses one that belongs to another user. */
function ensureStateDir(paths: DaemonPaths): void {
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const stat = fs.statSync(paths.dir);
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid) {
    throw new FcpError('FCP_ERR_PERMISSION', `${paths.dir} belongs to user id ${stat.uid}, not to you (${uid})`, {
      hint: "that is another user's fcpd state; set XDG_STATE_HOME to a directory of your own",
    });
  }
}

export interface DaemonStatus {
  pid: number;
  port: number;
  address: string;
  sessions: number;
  since: string;
}

type Request = { op: 'register'; secret: string; nonce?: string } | { op: 'status' } | { op: 'stop' };
type Reply = ({ ok: true } & Partial<DaemonStatus>) | { ok: false; error: string };

/** What the control socket's requests act on. */
export interface ControlTarget {
  status(): DaemonStatus;
  register(secret: Buffer, nonce: Buffer | undefined): void;
  stop(): void;
}

const refusal = (error: string): Reply => ({ ok: false, error });

/**
 * The reply to one request line of the control socket (PROTOCOL.md §9). Anything that is not a
 * well-formed request gets {ok: false, error}, never an exception: the daemon serves on.
 */
export function answerControlLine(line: string, target: ControlTarget): Reply {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return refusal('bad request: not JSON');
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return refusal('bad request: not a JSON object');
  const { op, secret, nonce } = request as Record<string, unknown>;
  switch (op) {
    case 'status':
      return { ok: true, ...target.status() };
    case 'register': {
      if (typeof secret !== 'string' || !HEX_32.test(secret)) return refusal('bad register request: secret must be 64 lowercase hex digits');
      if (nonce !== undefined && (typeof nonce !== 'string' || !HEX_32.test(nonce))) {
        return refusal('bad register request: nonce must be 64 lowercase hex digits');
      }
      target.register(Buffer.from(secret, 'hex'), nonce === undefined ? undefined : Buffer.from(nonce, 'hex'));
      const { port, address } = target.status();
      return { ok: true, port, address };
    }
    case 'stop':
      target.stop();
      return { ok: true };
    default:
      return refusal(`unknown request: op ${JSON.stringify(op) ?? 'missing'}`);
  }
}

/** Sends one request to the daemon; undefined when no daemon answers on the socket. */
export function askDaemon(request: Request, paths = daemonPaths()): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(paths.socket);
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
        resolve(JSON.parse(answer.slice(0, nl)) as Reply);
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

/** Hands a launch to a running daemon; the listen line fcpd --serve prints for it, or undefined. */
export async function handToDaemon(secret: Buffer, nonce: Buffer, paths = daemonPaths()): Promise<Listen | undefined> {
  const reply = await askDaemon({ op: 'register', secret: secret.toString('hex'), nonce: nonce.toString('hex') }, paths);
  if (!reply?.ok || reply.port === undefined || reply.address === undefined) return undefined;
  return { port: reply.port, address: reply.address, nonce };
}

function readPid(paths: DaemonPaths): number | undefined {
  try {
    const pid = Number(fs.readFileSync(paths.pid, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** fcpd -d: starts the daemon in the background unless one runs; returns what to tell the user. */
export async function startDaemon(options: { port: number; bind?: string; config?: string; program: string }, paths = daemonPaths()): Promise<string> {
  ensureStateDir(paths);
  const running = await askDaemon({ op: 'status' }, paths);
  if (running?.ok) return `fcpd daemon already running: pid ${running.pid}, port ${running.port}`;
  const notes: string[] = [];
  const stalePid = readPid(paths);
  if (stalePid !== undefined && !isRunning(stalePid)) notes.push(`removed a stale pid file (pid ${stalePid} is not running)`);
  if (stalePid !== undefined && isRunning(stalePid)) {
    throw new FcpError('FCP_ERR_CONNECT', `pid ${stalePid} from ${paths.pid} is running but does not answer on ${paths.socket}`, {
      hint: `if it is not fcpd, remove ${paths.pid}; else stop it (kill ${stalePid}) and start again`,
    });
  }
  fs.rmSync(paths.pid, { force: true });
  fs.rmSync(paths.socket, { force: true });
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  const args = [
    options.program,
    '--daemon-run',
    '--port',
    String(options.port),
    ...(options.bind ? ['--bind', options.bind] : []),
    ...(options.config ? ['--config', options.config] : []),
  ];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: os.homedir() });
  fs.closeSync(logFd);
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  child.unref();
  for (const deadline = Date.now() + START_TIMEOUT_MS; Date.now() < deadline && exited === undefined; ) {
    const status = await askDaemon({ op: 'status' }, paths);
    if (status?.ok) return [...notes, `fcpd daemon started: pid ${status.pid}, port ${status.port}, log ${paths.log}`].join('\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tail = fs.readFileSync(paths.log, 'utf8').trim().split('\n').slice(-3).join(' | ');
  throw new FcpError('FCP_ERR_CONNECT', `the fcpd daemon did not start: ${tail || 'no message'}`, { hint: `see ${paths.log}` });
}

/** fcpd --stop: asks the daemon to stop and waits until its process is gone. */
export async function stopDaemon(paths = daemonPaths()): Promise<string> {
  const pid = readPid(paths);
  const reply = await askDaemon({ op: 'stop' }, paths);
  if (!reply?.ok) return 'fcpd daemon is not running';
  for (const deadline = Date.now() + START_TIMEOUT_MS; pid !== undefined && isRunning(pid) && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return `fcpd daemon stopped${pid ? ` (pid ${pid})` : ''}`;
}

/** The daemon process itself (fcpd --daemon-run): serves until asked to stop. */
export async function runDaemon(options: { port: number; bind?: string; policy?: FcpdPolicy }, paths = daemonPaths()): Promise<void> {
  ensureStateDir(paths);
  const log = (line: string): void => {
    // Escaped: nothing in the log can drive the terminal of whoever reads it.
    process.stdout.write(`${new Date().toISOString()} ${showText(line)}\n`);
  };
  // Loaded here, not on import: fcpd --serve imports this module for handToDaemon only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SessionServer } = require('./sessionServer') as typeof SessionServerModule;
  const access = options.policy && new AccessPolicy(options.policy, log);
  const logins = options.policy && DaemonLogins.load(options.policy, log);
  const sessions = new SessionServer({ xxh: await loadXxhash(), bind: options.bind, port: options.port, access, logins, log });
  const address = await sessions.listen();
  const since = new Date().toISOString();
  const target: ControlTarget = {
    status: () => ({ pid: process.pid, port: address.port, address: address.address, sessions: sessions.activeSessions, since }),
    register: (secret, nonce) =>
      void sessions.register(secret, nonce).then((outcome) => {
        if (!outcome.ok) log(`launch ended: ${outcome.error.message}`);
      }),
    stop: () => shutdown(),
  };
  const control = net.createServer((socket) => {
    let pending = '';
    let answered = false;
    const reply = (value: Reply): void => {
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
      if (nl >= 0) return reply(answerControlLine(pending.slice(0, nl), target));
      if (pending.length > MAX_REQUEST_BYTES) reply(refusal(`bad request: no end of line within ${MAX_REQUEST_BYTES} bytes`));
    });
  });
  const shutdown = (): void => {
    log('stopping');
    control.close();
    sessions.close();
    fs.rmSync(paths.pid, { force: true });
    fs.rmSync(paths.socket, { force: true });
    // Sessions in flight get a moment to finish; the process then ends with the event loop.
    setTimeout(() => process.exit(0), 2000).unref();
  };
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject);
    const oldMask = process.umask(0o177);
    control.listen(paths.socket, () => {
      process.umask(oldMask);
      control.off('error', reject);
      // A later error (accept failing with EMFILE) costs that request, not the daemon.
      control.on('error', (err) => log(`control socket error: ${err.message}`));
      resolve();
    });
  });
  fs.chmodSync(paths.socket, 0o600);
  fs.writeFileSync(paths.pid, `${process.pid}\n`, { mode: 0o600 });
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  log(`fcpd daemon: pid ${process.pid}, listening on ${address.address}:${address.port}, control ${paths.socket}`);
  if (logins) log(`daemon access (fcp://): ${logins.userCount} users from ${options.policy!.usersFile}`);
}
