/**
 * An SFTP copy: fcp's fallback when the remote host cannot run fcpd (no Node.js 20+), or what
 * --sftp asks for. The same work as an fcpd session (a push's local walk, or a pull's sources and
 * scope), the same events, over N SSH sessions with an SFTP channel each.
 */
import * as nodePath from 'node:path';
import { FcpError } from '../errors';
import type { SshContext } from '../ssh/sshClient';
import type { ResolvedHost } from '../ssh/sshConfig';
import { showName } from '../showName';
import { ModeFlag } from '../protocol/constants';
import { destinationPaths, Destination, notDirectoryFor, parentOfNewDestination, stripSlashes } from '../transfer/destination';
import { ancestors, checkNamesToMake, directoryToMake, pathsBelow } from '../transfer/makePath';
import type { TransferEvents } from '../transfer/link';
import type { Entry, SkippedEntry, WalkOptions, WalkResult } from '../transfer/walk';
import type { ClientWork } from '../transfer/work';
import { Mover, MoveResult } from './mover';
import type { RemoteFs } from './remoteFs';
import { ShellPool } from './remoteShell';
import { walkRemote } from './remoteWalk';
import { growSessions, SFTP_INITIAL_SESSIONS } from './sessionGrowth';
import type { ForcedTuning } from '../session/connectionTuner';
import { closeSessions, openAnotherSession, openSessions, sessionWindowBytes, SftpSession } from './sessions';
import { localSide, remoteSide } from './sides';
import { remoteHash, Verification } from './verification';

const SLASH = 0x2f;
/** A destination directory rsync's placement creates: as mkdir(1) makes it, the remote umask decides. */
const NEW_DIRECTORY_PERM = 0o777;

export interface SftpCopyOptions {
  host: ResolvedHost;
  context: SshContext;
  /** Pinned (-n); undefined: tuned while the copy runs (sessionGrowth.ts). */
  sessions: number | undefined;
  /** FCP_TEST_TUNER's window and gain, for a tuned count. */
  forcedTuning?: ForcedTuning;
  work: ClientWork;
  /** MODE flags, as an fcpd session gets them. */
  flags: number;
  walk: WalkOptions;
  /** false (--no-verify): sizes alone are checked, and no remote shell is started to hash. */
  verify: boolean;
  events: TransferEvents;
  log(line: string): void;
}

export interface SftpCopyResult extends MoveResult {
  sessions: number;
  verification: Verification;
}

/**
 * An SFTP path for what the user typed: SFTP paths are relative to the login directory already,
 * and `~` is the shell's, which SFTP does not expand.
 */
export function sftpPath(typed: string): string {
  if (typed === '' || typed === '~' || typed === '~/') return '.';
  return typed.startsWith('~/') ? typed.slice(2) : typed;
}

/** SFTP (in ssh2) carries paths as UTF-8 text: a name that is not cannot be copied this way. */
function notUtf8(bytes: Buffer): boolean {
  return !Buffer.from(bytes.toString('utf8')).equals(bytes);
}

/** A push's entries SFTP can carry; the others are skipped with a reason. */
function carriable(walk: WalkResult): { entries: Entry[]; skipped: SkippedEntry[] } {
  const entries: Entry[] = [];
  const skipped = [...walk.skipped];
  for (const entry of walk.entries) {
    if (notUtf8(entry.path) || (entry.kind === 'symlink' && notUtf8(entry.target))) {
      skipped.push({ path: entry.path, error: new FcpError('FCP_ERR_BAD_PATH', `${showName(entry.path)}: a name that is not UTF-8 cannot be copied over SFTP; skipped`, { hint: "copy it with fcpd (Node.js 20+ on the remote host)" }) });
    } else {
      entries.push(entry);
    }
  }
  return { entries, skipped };
}

/** A directory the transfer's top level holds (a directory source, without its trailing /). */
function hasTopDirectory(entries: Entry[]): boolean {
  return entries.some((entry) => entry.kind === 'dir' && !entry.path.includes(SLASH));
}

/** --mkpath on the remote host: the directories the destination lacks, made as transfer/makePath.ts makes them locally. */
async function makeRemoteDirectories(fs: RemoteFs, target: string): Promise<void> {
  for (const { path, below } of ancestors(Buffer.from(target))) {
    const stat = await fs.stat(path.toString('utf8')).catch((err: FcpError) => {
      if (err.code !== 'FCP_ERR_NOT_FOUND') throw err;
      return undefined;
    });
    if (!stat) continue;
    if (!stat.isDirectory()) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `--mkpath: ${showName(path)} on ${fs.host} is not a directory`);
    checkNamesToMake(Buffer.from(target), below);
    for (const made of pathsBelow(path, below)) await fs.mkdir(made.toString('utf8'), NEW_DIRECTORY_PERM);
    return;
  }
}

/** Where a push's entries go on the remote host: MODE's placement as fcpd's receiver applies it (transfer/destination.ts, PROTOCOL.md §7.2). */
async function remoteDestination(fs: RemoteFs, typed: Buffer, flags: number, topDirectory: boolean): Promise<Destination> {
  if (flags & ModeFlag.MKPATH) await makeRemoteDirectories(fs, directoryToMake(Buffer.from(sftpPath(typed.toString('utf8'))), flags).toString('utf8'));
  const contents = (flags & ModeFlag.CONTENTS) !== 0;
  const dest = sftpPath((contents ? stripSlashes(typed) : typed).toString('utf8'));
  const stat = await fs.stat(dest).catch((err: FcpError) => {
    if (err.code !== 'FCP_ERR_NOT_FOUND') throw err;
    return undefined;
  });
  if (contents && stat && !stat.isDirectory()) throw notDirectoryFor('contents', dest);
  if (stat?.isDirectory() && !contents) return destinationPaths(Buffer.from(dest), true);
  if (!stat) {
    const parent = contents ? nodePath.posix.dirname(dest) : parentOfNewDestination(Buffer.from(dest), flags).toString('utf8');
    if (!(await fs.stat(parent)).isDirectory()) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(parent)} on ${fs.host} is not a directory`);
  }
  // rsync's placement (INTO_DIR): a directory goes under the destination, made a directory first.
  if (!contents && flags & ModeFlag.INTO_DIR && topDirectory) {
    if (stat) throw notDirectoryFor('directory', dest);
    await fs.mkdir(dest, NEW_DIRECTORY_PERM);
    return destinationPaths(Buffer.from(dest), true);
  }
  return destinationPaths(Buffer.from(dest), false);
}

/** What moves where: a push's local walk and its remote placement, or a pull's remote walk. */
async function plan(options: SftpCopyOptions, fs: RemoteFs): Promise<{ entries: Entry[]; skipped: SkippedEntry[]; destination: Destination; push: boolean }> {
  const { work } = options;
  if (work.kind === 'push') {
    const carried = carriable(work.walk.whole());
    return { ...carried, destination: await remoteDestination(fs, work.destination, options.flags, hasTopDirectory(carried.entries)), push: true };
  }
  const sources = work.sources.map((source) => sftpPath(source.toString('utf8')));
  const walk = await walkRemote(fs, sources, options.walk, work.scope);
  if (hasTopDirectory(walk.entries)) work.destination.topLevelDirectory?.(true);
  return { entries: walk.entries, skipped: walk.skipped, destination: work.destination, push: false };
}

/** Requests timed for the round trip: the quickest answer is the link's, not a busy moment's. */
const RTT_PROBES = 3;

/**
 * How long one SFTP request takes to be answered (ms, the least of RTT_PROBES): the round trip
 * that sizes the tuner's window and tells what a window-bound session carries. An answer late
 * for a busy CPU would make a CPU-bound session on loopback look window-bound.
 */
async function roundTrip(fs: RemoteFs): Promise<number> {
  let least = Infinity;
  for (let probe = 0; probe < RTT_PROBES; probe++) {
    const started = performance.now();
    await fs.stat('.').catch(() => undefined);
    least = Math.min(least, performance.now() - started);
  }
  return least;
}

export async function copyOverSftp(options: SftpCopyOptions): Promise<SftpCopyResult> {
  const tuned = options.sessions === undefined;
  const sessions = await openSessions(options.host, options.context, options.sessions ?? SFTP_INITIAL_SESSIONS);
  const shells = new ShellPool(sessions.map((session) => session.ssh));
  let ended = false;
  let growth: { stop(): void } | undefined;
  try {
    const first = sessions[0]!;
    // The probe starts a shell (a login shell's rc files: a second and more on some hosts): the
    // copy starts without waiting for it.
    const hash = options.verify ? remoteHash(shells, options.log) : undefined;
    const rtt = tuned ? roundTrip(first.fs) : undefined;
    const planned = await plan(options, first.fs);
    const files = planned.entries.filter((entry) => entry.kind === 'file');
    options.events.start?.(files.length, files.reduce((sum, file) => sum + (file.kind === 'file' ? file.size : 0), 0));
    for (const { path, error } of planned.skipped) options.events.entryFailed?.(path, error);
    const [local, remote] = [localSide(), remoteSide(sessions, shells)];
    let moved = 0;
    const events: TransferEvents = {
      ...options.events,
      bytes: (count) => {
        moved += count;
        options.events.bytes?.(count);
      },
    };
    const mover = new Mover({
      source: planned.push ? local : remote,
      destination: planned.push ? remote : local,
      entries: planned.entries,
      destinationPath: (entryPath) => planned.destination.localPath(entryPath),
      sessions: sessions.length,
      hash,
      events,
      log: options.log,
    });
    if (rtt) {
      growth = growSessions({
        sessions: sessions.length,
        rttMs: await rtt,
        windowBytes: sessionWindowBytes(planned.push),
        bytesMoved: () => moved,
        add: async () => {
          const session: SftpSession = await openAnotherSession(options.host, options.context);
          if (ended) return session.ssh.close();
          sessions.push(session);
          mover.addSession();
        },
        log: options.log,
        forced: options.forcedTuning,
      });
    }
    const result = await mover.run();
    result.entriesFailed += planned.skipped.length;
    result.errors.unshift(...planned.skipped.map((skip) => skip.error));
    const tool = await hash;
    return { ...result, sessions: sessions.length, verification: tool ? `size+${tool.tool.name}` : 'size' };
  } finally {
    ended = true;
    growth?.stop();
    shells.close();
    closeSessions(sessions);
  }
}
