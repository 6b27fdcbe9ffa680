/**
 * Real processes: the fcp CLI (bin/fcp, spawned with node) and a hand-started fcpd. Every child
 * runs in its own process group, so a timeout or the end of the test file kills fcp together
 * with the fcpd it started.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Launcher } from '../../../src';
import { parseListenLine } from '../../../src/launch/handoff';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const FCP_BIN = path.join(ROOT, 'bin', 'fcp');
export const FCPD_BIN = path.join(ROOT, 'bin', 'fcpd');

const live = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}

/** Kills every child (and its process group) still running; call from afterAll. */
export function killAll(): void {
  for (const child of live) killGroup(child);
  live.clear();
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  /** Run as this user (needs root): for permission tests that root would bypass. */
  uid?: number;
  gid?: number;
  /** Laid over this process's environment; a key set to undefined is left out. */
  env?: NodeJS.ProcessEnv;
  /** Leave the run's process group alone afterwards (it started a daemon that must live on). */
  keepGroup?: boolean;
}

/** Runs `node <bin> ...args`, collecting its output; never rejects (a timeout kills the group). */
export function runNode(bin: string, args: (string | Buffer)[], options: RunOptions = {}): Promise<RunResult> {
  return runProgram(process.execPath, [bin, ...args], options);
}

/** Runs `program ...args` as runNode runs node. */
export function runProgram(program: string, args: (string | Buffer)[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    // Buffers as argv: spawn takes strings only; latin1 would not round-trip, so non-UTF-8 paths
    // are passed by tests through directories with UTF-8 names instead.
    const argv = args.map((a) => (typeof a === 'string' ? a : a.toString('utf8')));
    const child = spawn(program, argv, {
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: options.uid,
      gid: options.gid,
      env: { ...process.env, ...options.env },
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      stderr += `\n[spawn error: ${err.message}]`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      // fcp's own fcpd is in fcp's process group: make sure nothing of this run outlives it.
      if (child.pid !== undefined && !options.keepGroup) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* group already gone */
        }
      }
      resolve({ code, signal, stdout, stderr, timedOut, ms: Date.now() - started });
    });
  });
}

export function runFcp(args: (string | Buffer)[], options: RunOptions = {}): Promise<RunResult> {
  return runNode(FCP_BIN, args, options);
}

/** A one-line description of a run for assertion messages. */
export function describeRun(r: RunResult): string {
  return `exit ${r.code}${r.signal ? ` signal ${r.signal}` : ''}${r.timedOut ? ' (TIMED OUT)' : ''} after ${r.ms} ms\n--- stderr ---\n${r.stderr}\n--- stdout (first 2000) ---\n${r.stdout.slice(0, 2000)}`;
}

/** Stack-trace lines ("    at fn (file:line)") that must never reach a user. */
export function stackLines(text: string): string[] {
  return text.split('\n').filter((line) => /^\s+at\s/.test(line));
}

/** The FCP_ERR_* codes a text names. */
export function errorCodes(text: string): string[] {
  return [...new Set(text.match(/FCP_ERR_[A-Z_]+/g) ?? [])];
}

export interface StartedFcpd {
  child: ChildProcess;
  secret: Buffer;
  port: number;
  address: string;
  /** Everything fcpd wrote to stderr so far. */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

/** Starts bin/fcpd --serve by hand: secret on stdin, port from its FCPD-LISTEN line. */
export function startFcpd(
  options: { secret?: Buffer; verbose?: boolean; timeoutMs?: number; uid?: number; gid?: number; cwd?: string; env?: NodeJS.ProcessEnv; args?: string[] } = {},
): Promise<StartedFcpd> {
  const secret = options.secret ?? randomBytes(32);
  const args = [FCPD_BIN, '--serve', '--bind', '127.0.0.1', ...(options.verbose ? ['-v'] : []), ...(options.args ?? [])];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
    cwd: options.cwd,
    // Without it, the environment jest's worker started with (a test's changes to process.env are not in it).
    env: options.env,
  });
  live.add(child);
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(`FCP-SECRET ${secret.toString('hex')}\n`);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child);
      reject(new Error(`fcpd printed no FCPD-LISTEN line within ${options.timeoutMs ?? 15_000} ms; stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)}`));
    }, options.timeoutMs ?? 15_000);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      const listen = stdout.split('\n').slice(0, -1).map(parseListenLine).find((line) => line !== undefined);
      if (!listen) return;
      clearTimeout(timer);
      resolve({
        child,
        secret,
        port: listen.port,
        address: listen.address,
        stderr: () => stderr,
        exited,
        kill: () => killGroup(child),
      });
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`fcpd exited (${code ?? signal}) before it listened; stderr ${JSON.stringify(stderr)}`));
    });
  });
}

/** Resolves with `promise`, or rejects after ms with a message naming `what`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
    }),
  ]);
}

/** A TCP connection to host:port (127.0.0.1 unless said). */
export function dial(port: number, host = '127.0.0.1'): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/**
 * A Launcher for copy() that starts fcpd through startFcpd (so a test can run it as another
 * user, or act on it before the session starts: `beforeSession`).
 */
export function handLauncher(
  options: { uid?: number; gid?: number; verbose?: boolean; env?: NodeJS.ProcessEnv; args?: string[]; beforeSession?: (fcpd: StartedFcpd) => Promise<void> } = {},
): { launcher: Launcher; started: () => StartedFcpd | undefined } {
  let fcpd: StartedFcpd | undefined;
  const launcher: Launcher = {
    async launch(secret) {
      const env = options.env && { ...process.env, ...options.env };
      fcpd = await startFcpd({ secret, uid: options.uid, gid: options.gid, verbose: options.verbose, cwd: '/', env, args: options.args });
      const server = fcpd;
      await options.beforeSession?.(server);
      // No controlNonce: sessions through this launcher take the path of a client that waits for
      // the server's HELLO (an fcp older than its fcpd), which fcpd must still accept.
      return {
        name: `hand-started fcpd on 127.0.0.1:${server.port}`,
        connect: () => dial(server.port),
        async close() {
          await within(server.exited, 15_000, 'fcpd exit after the session').catch(() => server.kill());
        },
      };
    },
  };
  return { launcher, started: () => fcpd };
}

/** uid and gid of the unprivileged account tests run fcp as when they are root (nobody). */
export function unprivilegedUser(): { uid: number; gid: number; name: string } {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === 'nobody') return { uid: Number(uid), gid: Number(gid), name };
    }
  } catch {
    /* fall through */
  }
  return { uid: 65534, gid: 65534, name: 'uid 65534' };
}

/** A long-running fcp (--watch, --follow) in a process group of its own, its output collected. */
export interface Running {
  stdout(): string;
  /** stdout's JSON lines. */
  records(): { event: string; [key: string]: unknown }[];
  /** SIGTERM, then its exit code (or 'still running' after `ms`). */
  stop(ms?: number): Promise<{ code: number | null | string; stderr: string }>;
}

export function spawnFcp(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Running {
  const child = spawn(process.execPath, [FCP_BIN, ...args], { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return {
    stdout: () => stdout,
    records: () => stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string }),
    async stop(ms = 15_000) {
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), ms))]);
      return { code, stderr };
    },
  };
}
