/**
 * The standing per-user daemon (fcpd -d): a SessionServer that stays up, a pid file and a log
 * in the user's state directory, and a control socket that only the user can open. An
 * `fcpd --serve` started through SSH hands its launch to the daemon over that socket, so repeated
 * transfers reuse one server. The control socket speaks one JSON object per line each way.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { showText } from '../showName';
import { loadXxhash } from '../protocol/xxhash';
import type { Listen } from '../launch/handoff';
import type { FcpdPolicy } from '../config/policy';
import { openFileLimit, PREAUTH_TOTAL, preAuthTotal } from './admission';
import { AccessPolicy } from './policy';
import type * as SessionServerModule from './sessionServer';
import { DaemonLogins } from './tokenLogin';
import { askSocket, BackgroundPaths, ensurePrivateDir, fcpStateDir, readPid, serveControl, startDetached, waitGone } from '../state/controlSocket';

export { DEFAULT_DAEMON_PORT } from '../protocol/constants';
/** The longest request line the daemon reads (a register request is about 170 bytes). */
const MAX_REQUEST_BYTES = 4096;
/** A session secret or nonce in a register request: 32 bytes in lowercase hex. */
const HEX_32 = /^[0-9a-f]{64}$/;

export type DaemonPaths = BackgroundPaths;

export function daemonPaths(env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  const dir = fcpStateDir(env);
  return { dir, pid: path.join(dir, 'fcpd.pid'), log: path.join(dir, 'fcpd.log'), socket: path.join(dir, 'fcpd.sock') };
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
export async function askDaemon(request: Request, paths = daemonPaths()): Promise<Reply | undefined> {
  return (await askSocket(paths.socket, request)) as Reply | undefined;
}

/** Hands a launch to a running daemon; the listen line fcpd --serve prints for it, or undefined. */
export async function handToDaemon(secret: Buffer, nonce: Buffer, paths = daemonPaths()): Promise<Listen | undefined> {
  const reply = await askDaemon({ op: 'register', secret: secret.toString('hex'), nonce: nonce.toString('hex') }, paths);
  if (!reply?.ok || reply.port === undefined || reply.address === undefined) return undefined;
  return { port: reply.port, address: reply.address, nonce };
}

/** fcpd -d: starts the daemon in the background unless one runs; returns what to tell the user. */
export async function startDaemon(options: { port: number; bind?: string; config?: string; timeoutMs?: number; program: string }, paths = daemonPaths()): Promise<string> {
  ensurePrivateDir(paths.dir);
  const running = await askDaemon({ op: 'status' }, paths);
  if (running?.ok) return `fcpd daemon already running: pid ${running.pid}, port ${running.port}`;
  const args = [
    options.program,
    '--daemon-run',
    '--port',
    String(options.port),
    ...(options.bind ? ['--bind', options.bind] : []),
    ...(options.config ? ['--config', options.config] : []),
    ...(options.timeoutMs !== undefined ? ['--timeout', String(options.timeoutMs / 1000)] : []),
  ];
  const { up, notes } = await startDetached(paths, 'fcpd daemon', args, async () => {
    const status = await askDaemon({ op: 'status' }, paths);
    return status?.ok ? status : undefined;
  });
  return [...notes, `fcpd daemon started: pid ${up.pid}, port ${up.port}, log ${paths.log}`].join('\n');
}

/** fcpd --stop: asks the daemon to stop and waits until its process is gone. */
export async function stopDaemon(paths = daemonPaths()): Promise<string> {
  const pid = readPid(paths.pid);
  const reply = await askDaemon({ op: 'stop' }, paths);
  if (!reply?.ok) return 'fcpd daemon is not running';
  await waitGone(pid);
  return `fcpd daemon stopped${pid ? ` (pid ${pid})` : ''}`;
}

/** The daemon process itself (fcpd --daemon-run): serves until asked to stop. */
export async function runDaemon(options: { port: number; bind?: string; timeoutMs?: number; policy?: FcpdPolicy }, paths = daemonPaths()): Promise<void> {
  ensurePrivateDir(paths.dir);
  const log = (line: string): void => {
    // Escaped: nothing in the log can drive the terminal of whoever reads it.
    process.stdout.write(`${new Date().toISOString()} ${showText(line)}\n`);
  };
  // Loaded here, not on import: fcpd --serve imports this module for handToDaemon only.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SessionServer } = require('./sessionServer') as typeof SessionServerModule;
  const access = options.policy && new AccessPolicy(options.policy, log);
  const logins = options.policy && DaemonLogins.load(options.policy, log);
  const sessions = new SessionServer({ xxh: await loadXxhash(), bind: options.bind, port: options.port, access, logins, timeoutMs: options.timeoutMs, log });
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
  const shutdown = (): void => {
    log('stopping');
    control.close();
    sessions.close();
    fs.rmSync(paths.pid, { force: true });
    fs.rmSync(paths.socket, { force: true });
    // Sessions in flight get a moment to finish; the process then ends with the event loop.
    setTimeout(() => process.exit(0), 2000).unref();
  };
  const control = await serveControl(paths, MAX_REQUEST_BYTES, (line) => answerControlLine(line, target), log);
  fs.writeFileSync(paths.pid, `${process.pid}\n`, { mode: 0o600 });
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  log(`fcpd daemon: pid ${process.pid}, listening on ${address.address}:${address.port}, control ${paths.socket}`);
  if (logins) log(`daemon access (fcp://): ${logins.userCount} users from ${options.policy!.usersFile}`);
  const preAuth = preAuthTotal(openFileLimit());
  if (preAuth < PREAUTH_TOTAL) {
    log(`at most ${preAuth} unauthenticated connections held: half the open-file limit (${openFileLimit()}); raise it with ulimit -n for more`);
  }
}
