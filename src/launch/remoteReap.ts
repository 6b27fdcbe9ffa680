/**
 * Ending a remote launch that failed before its session was up (a launch timeout, an error,
 * Ctrl-C). Closing the SSH channel is not enough: a command without a terminal gets no SIGHUP,
 * and ssh2 (like OpenSSH's client) sends no signal once stdin has ended. The launch command
 * printed its pid first (handoff.ts PRINT_PID); a second command on the same SSH connection (with
 * an external ssh, a second login) signals its process group, bounded by REMOTE_REAP_TIMEOUT_MS.
 */
import { asFcpError } from '../errors';
import { REMOTE_REAP_TIMEOUT_MS } from '../timeouts';
import { parsePidLine } from './handoff';
import { splitLines } from './lines';
import type { RemoteProcess, RemoteShell } from './remoteFcpd';
import { shCommand } from './remoteInstall';

/**
 * sh that ends process `pid` and everything its SSH session command started: its process group
 * when that is the command's own (led by it or by its parent, the login shell: sshd starts each
 * command in a new session), else the process alone. SIGTERM, then SIGKILL for what is left after
 * two seconds.
 */
export function reapCommand(pid: number): string {
  return shCommand(
    [
      `p=${pid}`,
      // Its parent and group: POSIX ps, else Linux's /proc (after the command name: state, ppid, pgrp).
      `set -- $(ps -o ppid= -o pgid= -p $p 2>/dev/null || sed 's/.*) //' /proc/$p/stat 2>/dev/null | cut -d' ' -f2,3)`,
      't=$p',
      '[ -n "$2" ] && [ "$2" -gt 1 ] && { [ "$2" = $p ] || [ "$2" = "$1" ]; } && t=-$2',
      'kill -TERM $t 2>/dev/null || exit 0',
      'for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 $t 2>/dev/null || exit 0; sleep 0.2 2>/dev/null || sleep 1; done',
      'kill -KILL $t 2>/dev/null; exit 0',
    ].join('\n'),
  );
}

/** Runs reapCommand for `pid` on the shell's host and waits for it, bounded. Never throws: it tidies up on the way out. */
export async function reapRemote(shell: RemoteShell, pid: number, log: (line: string) => void): Promise<void> {
  let late = false;
  let reaper: RemoteProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      late = true;
      log(`ssh: could not end the launch command (pid ${pid}) on ${shell.name} within ${REMOTE_REAP_TIMEOUT_MS / 1000} s`);
      resolve();
    }, REMOTE_REAP_TIMEOUT_MS);
  });
  const reaped = (async () => {
    reaper = await shell.run(reapCommand(pid));
    if (late) return;
    reaper.stdin.on('error', () => undefined);
    reaper.stdin.end();
    reaper.stdout.resume();
    reaper.stderr.resume();
    await reaper.exited;
    log(`ssh: ended the launch command (pid ${pid}) on ${shell.name}`);
  })().catch((err) => log(`ssh: could not end the launch command (pid ${pid}) on ${shell.name}: ${asFcpError(err).message}`));
  await Promise.race([reaped, deadline]);
  clearTimeout(timer);
  // A reaper that started after the deadline is ended as soon as it exists.
  void reaped.then(() => reaper?.stop());
}

export interface LaunchReaper {
  /** Ends the launch command: once its pid came (waited for, bounded), unless it has exited. Once. */
  reap(): Promise<void>;
  /** The launch went well: stop reading for the pid (it came before the ready line: reap still ends a reused fcpd later). */
  forget(): void;
}

/**
 * Reads the pid line off a launch command's standard output, beside the hand-off (attach it
 * before the hand-off reads, in the same tick). A launch that fails before the line came (its
 * command slow to start) still has it waited for: otherwise the command would start and hang on.
 */
export function launchReaper(shell: RemoteShell, launched: RemoteProcess, log: (line: string) => void): LaunchReaper {
  let exited = false;
  const ended = launched.exited.then(() => {
    exited = true;
    return undefined;
  });
  let said!: (pid: number) => void;
  const pidSaid = new Promise<number>((resolve) => (said = resolve));
  const watch = splitLines((line) => {
    const pid = parsePidLine(line);
    if (pid !== undefined) said(pid);
  });
  launched.stdout.on('data', watch);
  const forget = (): void => {
    launched.stdout.off('data', watch);
  };
  let reaping: Promise<void> | undefined;
  const reap = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, REMOTE_REAP_TIMEOUT_MS, undefined)));
    const pid = await Promise.race([pidSaid, ended, late]);
    clearTimeout(timer);
    forget();
    if (pid !== undefined && !exited) await reapRemote(shell, pid, log);
  };
  return { reap: () => (reaping ??= reap()), forget };
}

/** Launches under way (their ready line not read yet): what Ctrl-C ends before fcp exits. */
const launching = new Set<() => Promise<void>>();

/** Keeps `reap` for Ctrl-C until `work` settles. */
export async function reapOnInterrupt<T>(reap: () => Promise<void>, work: Promise<T>): Promise<T> {
  launching.add(reap);
  try {
    return await work;
  } finally {
    launching.delete(reap);
  }
}

/** Ctrl-C or SIGTERM: ends the remote commands of launches still under way (each bounded). */
export async function reapLaunching(): Promise<void> {
  await Promise.all([...launching].map((reap) => reap()));
}
