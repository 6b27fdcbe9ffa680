/**
 * The fcpd under fuzzing: the standing daemon's own process (what `fcpd -d` starts in the
 * background, `fcpd --daemon-run`) as this process's child, on 127.0.0.1, with a state directory
 * of its own (XDG_STATE_HOME), so it never meets the user's daemon and dies with the campaign.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../src/launch/packageRoot';
import { askDaemon, daemonPaths, DaemonPaths } from '../../src/server/daemon';

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export interface Target {
  pid: number;
  port: number;
  paths: DaemonPaths;
  alive(): boolean;
  /** Resident memory (VmRSS), in KiB. */
  rssKb(): number;
  /** Sessions the daemon holds (its status reply); undefined if it did not answer. */
  sessions(): Promise<number | undefined>;
  /** Registers a session secret, as fcpd --serve does when it hands a launch to the daemon. */
  register(secret: Buffer, nonce?: Buffer): Promise<void>;
  /** The daemon's log so far. */
  log(): string;
  stop(): Promise<void>;
}

function rssKbOf(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS line in /proc/${pid}/status`);
  return Number(match[1]);
}

export async function startTarget(stateHome: string): Promise<Target> {
  const paths = daemonPaths({ XDG_STATE_HOME: stateHome });
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const logFd = fs.openSync(paths.log, 'a', 0o600);
  const program = path.join(packageRoot(), 'bin', 'fcpd');
  const child: ChildProcess = spawn(process.execPath, [program, '--daemon-run', '--port', '0', '--bind', '127.0.0.1'], {
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, XDG_STATE_HOME: stateHome },
  });
  fs.closeSync(logFd);
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const log = (): string => fs.readFileSync(paths.log, 'utf8');

  let port: number | undefined;
  for (const deadline = Date.now() + START_TIMEOUT_MS; port === undefined && !exited && Date.now() < deadline; ) {
    const status = await askDaemon({ op: 'status' }, paths);
    if (status?.ok) port = status.port;
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (port === undefined) {
    child.kill('SIGKILL');
    throw new Error(`the fcpd daemon did not start; its log:\n${log()}`);
  }
  const pid = child.pid!;
  return {
    pid,
    port,
    paths,
    alive: () => !exited,
    rssKb: () => rssKbOf(pid),
    async sessions() {
      const status = await askDaemon({ op: 'status' }, paths);
      return status?.ok ? status.sessions : undefined;
    },
    async register(secret, nonce) {
      const reply = await askDaemon({ op: 'register', secret: secret.toString('hex'), ...(nonce ? { nonce: nonce.toString('hex') } : {}) }, paths);
      if (!reply?.ok) throw new Error(`the daemon refused a register request: ${JSON.stringify(reply)}`);
    },
    log,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(timer);
    },
  };
}
