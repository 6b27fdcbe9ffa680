/**
 * Starts fcpd as a local child process (copies with no remote host, and tests): the same
 * hand-off as over SSH, the secret on fcpd's stdin and its port on stdout.
 */
import { ChildProcess, ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { NODE_FLAGS } from '../nodeFlags';
import { noDescriptorsError, outOfDescriptors } from '../transfer/openFileBudget';
import { timeoutsFor } from '../timeouts';
import { dialTcp } from './dial';
import { serveHandOff, startFcpd } from './fcpdProcess';
import { Launcher, LaunchedServer, serveArgs } from './launcher';
import { packageRoot } from './packageRoot';

export interface LocalLauncherOptions {
  /** fcpd's script (default: this package's bin/fcpd). */
  fcpdPath?: string;
  bind?: string;
  /** Extra node options for fcpd, e.g. ['--cpu-prof'] when profiling. */
  nodeArgs?: string[];
  /** fcp's --timeout in ms, passed on to fcpd. */
  timeoutMs?: number;
  /** fcp's --partial-dir, passed on to fcpd (the receiver of a local copy). */
  partialDir?: string;
  /** fcp --watch: fcpd serves one session after another until none came for this many seconds. */
  reuseS?: number;
}

/**
 * fcpd's environment: ours without NODE_EXTRA_CA_CERTS. Node reads that certificate file at every
 * start (60 ms for a system bundle, measured here), and fcpd makes no TLS connections.
 */
function fcpdEnvironment(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Why `child` did not start. */
function spawnFailure(child: ChildProcess, program: string): Promise<FcpError> {
  return new Promise((resolve) =>
    child.once('error', (err: NodeJS.ErrnoException) => {
      const what = `cannot start fcpd (${program})`;
      resolve(outOfDescriptors(err) ? noDescriptorsError(what, err) : new FcpError('FCP_ERR_CONNECT', `${what}: ${err.message}`, { cause: err }));
    }),
  );
}

/** How long a session's fcpd has to end by itself after a session that did not fail, before it is ended (SIGTERM). */
const FCPD_EXIT_WAIT_MS = 10_000;
/** After SIGTERM, before SIGKILL. */
const KILL_GRACE_MS = 2000;

/** Tries of a spawn that found no descriptors for its pipes, and the wait before the first retry (doubled each time). */
const SPAWN_TRIES = 6;
const SPAWN_RETRY_MS = 25;

/**
 * fcpd started as a child. A spawn that made no process (no descriptors left for its pipes) has no
 * stdio, and its error comes on the next tick. Out of descriptors it is tried again a few times,
 * as the open-file budget waits: the walk's descriptors are held for a moment each (0.8 s in all).
 */
async function spawnFcpd(args: string[], program: string): Promise<ChildProcessWithoutNullStreams> {
  for (let tried = 1; ; tried++) {
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: fcpdEnvironment() });
    if (child.pid !== undefined) return child;
    const failure = await spawnFailure(child, program);
    if (tried === SPAWN_TRIES || !outOfDescriptors(failure.cause)) throw failure;
    await new Promise((resolve) => setTimeout(resolve, SPAWN_RETRY_MS * 2 ** (tried - 1)));
  }
}

export function localLauncher(options: LocalLauncherOptions = {}): Launcher {
  const bind = options.bind ?? '127.0.0.1';
  return {
    async launch(secret, log): Promise<LaunchedServer> {
      const program = options.fcpdPath ?? path.join(packageRoot(), 'bin', 'fcpd');
      const args = [...NODE_FLAGS, ...(options.nodeArgs ?? []), program, ...serveArgs(options.timeoutMs, '--serve', options.partialDir, options.reuseS), '--bind', bind];
      const child = await spawnFcpd(args, program);
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      child.once('error', (err) => log(`fcpd: could not start ${program}: ${err.message}`));
      const { ready: listen } = await startFcpd({ ...child, exited }, serveHandOff(secret), log, 'on this machine', program, { timeoutMs: options.timeoutMs }).catch((err) => {
        child.kill();
        throw err;
      });
      const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind;
      return {
        name: `fcpd on ${host}:${listen.port}`,
        controlNonce: listen.nonce,
        sameHost: true,
        connect: () => dialTcp(host, listen.port, timeoutsFor(options.timeoutMs).launchMs),
        async close(failed): Promise<void> {
          // A local fcpd is this machine's child: waiting for it costs no round trip, and it must
          // not outlive fcp. It exits by itself once the session ends; give it a moment, then
          // make sure: a moment less after a failed session (it may have failed for being
          // stuck). A reused one would wait for its next session: it goes at once.
          const waitMs = options.reuseS !== undefined ? 0 : failed ? KILL_GRACE_MS : FCPD_EXIT_WAIT_MS;
          const timers = [
            setTimeout(() => child.kill(), waitMs),
            // One stuck in a disk call never runs its SIGTERM handler.
            setTimeout(() => child.kill('SIGKILL'), waitMs + KILL_GRACE_MS),
          ];
          // A call that holds off even SIGKILL (an uninterruptible disk) is not waited for.
          const gaveUp = new Promise<void>((resolve) => timers.push(setTimeout(resolve, waitMs + 2 * KILL_GRACE_MS)));
          await Promise.race([exited, gaveUp]);
          for (const timer of timers) clearTimeout(timer);
        },
      };
    },
  };
}
