/**
 * The push lock of a remote folder: `.fcp/push.lock` there, created with O_EXCL (the shell's
 * noclobber) over an SSH exec, holding who took it (user@host, pid, a random token) and when by
 * the remote host's clock. Two pushes never interleave: the second fails at once with
 * FCP_ERR_LOCKED naming the holder. The holder rewrites the time every LOCK_REFRESH_S while it
 * pushes; a lock whose time is older than LOCK_STALE_S (its push died without releasing it), or
 * one taken on this host by a process that is gone, is stale and taken over.
 */
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import { parseLocation } from '../client/location';
import { FcpError } from '../errors';
import { showName } from '../showName';
import { runRemoteCommand, shellQuote } from '../ssh/remoteCommand';
import type { SshConnection } from '../ssh/sshClient';
import type { TrackConfig } from './folder';

/** The holder rewrites the lock's time this often. */
export const LOCK_REFRESH_S = 60;
/** A lock not rewritten for this long is stale: its push is gone. */
export const LOCK_STALE_S = 5 * LOCK_REFRESH_S;
/** Each lock command must end within this. */
const LOCK_COMMAND_MS = 30_000;
const LOCK_FILE = '.fcp/push.lock';

export interface LockHolder {
  /** Seconds since the epoch, by the remote host's clock. */
  at: number;
  who: string;
  host: string;
  pid: number;
  token: string;
}

/** The lock file's content, the time left for the remote shell to fill in (its clock, not ours). */
function lockLine(holder: Omit<LockHolder, 'at'>): string {
  const rest = JSON.stringify({ who: holder.who, host: holder.host, pid: holder.pid, token: holder.token });
  return `printf '{"at":%s,%s\\n' "$(date +%s)" ${shellQuote(rest.slice(1))}`;
}

/** A lock file's first line, from the remote host: anything malformed is undefined. */
export function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text.split('\n', 1)[0]!) as LockHolder;
    const ok = Number.isSafeInteger(value.at) && typeof value.who === 'string' && typeof value.host === 'string' && Number.isSafeInteger(value.pid) && typeof value.token === 'string';
    return ok ? value : undefined;
  } catch {
    return undefined;
  }
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Whether a lock is stale at `now` (the remote clock), seen from `host` (this one's name). */
export function isStale(holder: LockHolder, now: number, host: string, gone: (pid: number) => boolean = processGone): boolean {
  return now - holder.at > LOCK_STALE_S || (holder.host === host && gone(holder.pid));
}

function lockedError(holder: LockHolder | undefined, now: number): FcpError {
  const by = holder ? `${showName(holder.who)} (pid ${holder.pid}), ${Math.max(0, now - holder.at)} s ago` : 'an unreadable .fcp/push.lock';
  return new FcpError('FCP_ERR_LOCKED', `another push to this remote folder is under way: locked by ${by}`, {
    hint: holder
      ? `try again once it is done; a lock not renewed for ${LOCK_STALE_S} s is taken over`
      : `if no push is under way, remove ${LOCK_FILE} in the remote folder`,
  });
}

/** A taken lock: release() removes it (if it is still this one's). */
export interface RemoteLock {
  release(): Promise<void>;
}

/**
 * Takes the push lock of `config.remote` with commands over `ssh` (a connection to its host, which
 * the caller closes), or throws FCP_ERR_LOCKED naming who holds it.
 */
export async function takeLock(config: TrackConfig, ssh: SshConnection, who: string, log: (line: string) => void = () => {}): Promise<RemoteLock> {
  const location = parseLocation(config.remote);
  if (location.kind !== 'remote') throw new FcpError('FCP_ERR_USAGE', `${showName(config.remote)} is not a remote folder`);
  const me = { who, host: os.hostname(), pid: process.pid, token: randomBytes(16).toString('hex') };
  const folder = shellQuote(location.path.toString('utf8') || '.');
  const run = async (script: string): Promise<string> => (await runRemoteCommand(ssh, `mkdir -p ${folder}/.fcp && cd ${folder} && ${script}`, LOCK_COMMAND_MS)).stdout;
  // The file, if its first line is still `line`: removed (a stale one), rewritten (a refresh).
  const ifStill = (line: string, then: string): string => `[ "$(head -n 1 ${LOCK_FILE} 2>/dev/null)" = ${shellQuote(line)} ] && ${then}`;
  for (let attempt = 0; ; attempt++) {
    const answer = await run(`if (set -C; ${lockLine(me)} > ${LOCK_FILE}) 2>/dev/null; then echo taken; else date +%s; head -n 1 ${LOCK_FILE}; fi`);
    const [first, line = ''] = answer.split('\n');
    if (first === 'taken') break;
    const now = Number(first);
    const holder = parseHolder(line);
    if (attempt > 0 || !holder || !isStale(holder, now, me.host)) throw lockedError(holder, now);
    log(`taking over the stale push lock of ${holder.who} (pid ${holder.pid})`);
    await run(ifStill(line, `rm -f ${LOCK_FILE}`));
  }
  return heldLock(run, me);
}

function heldLock(run: (script: string) => Promise<string>, me: Omit<LockHolder, 'at'>): RemoteLock {
  const mine = `grep -q ${shellQuote(`"token":"${me.token}"`)} ${LOCK_FILE}`;
  let refreshing = Promise.resolve('');
  const timer = setInterval(() => {
    // A refresh that fails leaves the lock to go stale: the push itself goes on.
    refreshing = run(`${mine} && ${lockLine(me)} > ${LOCK_FILE}.new && mv -f ${LOCK_FILE}.new ${LOCK_FILE}`).catch(() => '');
  }, LOCK_REFRESH_S * 1000);
  timer.unref();
  return {
    release: async () => {
      clearInterval(timer);
      await refreshing;
      await run(`${mine} && rm -f ${LOCK_FILE}`);
    },
  };
}
