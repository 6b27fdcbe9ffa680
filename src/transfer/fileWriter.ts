/**
 * The receiver's side of the file system: each file is written under a hidden temporary name in
 * its destination directory, sized at once, filled by positional writes in any order, and
 * renamed into place only after it was verified. Directories get their final mode and mtime
 * after their contents, deepest first.
 *
 * Metadata calls (open, fchmod, futimes, close, rename, mkdir) are synchronous: each takes
 * microseconds on a local file system, while a trip through libuv's thread pool costs more than
 * the call itself, ten thousand times over for ten thousand small files. Data writes larger than
 * SYNC_WRITE_MAX go to the thread pool, so large chunks are written while more arrive, within
 * writeTimeoutMs. The synchronous calls run under onDisk (src/diskWatch.ts): should one never
 * return (a hung mount), the stall watchdog of fcp and fcpd names it and ends the run.
 */
import { chmodSync, closeSync, constants, fchmodSync, fchownSync, fstatSync, ftruncateSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, opendirSync, readlinkSync, renameSync, rmSync, symlinkSync, utimesSync, writev, writevSync } from 'node:fs';
import type { Dir } from 'node:fs';
import { FcpError } from '../errors';
import { chunkHash, XXHashAPI } from '../protocol/xxhash';
import { futimesBound, openBound, writeAt } from './boundFs';
import { leanLstatIfAny, leanStat, type LeanStat } from './leanStat';
import { closeQuietly, fsError } from './fsError';
import { enterDisk, leaveDisk, onDisk } from '../diskWatch';
import { showName } from '../showName';
import { IDLE_TIMEOUT_MS } from '../timeouts';
import type { JournalHeader } from '../state/chunkJournal';
import { PartialFile } from '../state/partialFile';
import { OrphanSweeper } from '../state/orphanSweep';
import { unlinkIfPresent } from '../state/unlinkIfPresent';
import { forgetTemporary, holdTemporary } from '../state/openTemporaries';
import type { HolePiece } from '../session/transfer';
import { DataRun, laidOutHash, layOut, zeroSlices, zerosOnDisk } from './sparse';
import { sameStart } from '../session/entryScope';

export type ChunkDone = (error: FcpError | undefined, result: { ok: boolean; hash: bigint }) => void;
export type WriteStep = (fd: number, buffers: Buffer[], position: number, then: (err: Error | null, written: number) => void) => void;

const writeNow: WriteStep = (fd, buffers, position, then) => {
  let written: number;
  try {
    written = writevSync(fd, buffers, position);
  } catch (err) {
    return then(err as Error, 0);
  }
  then(null, written);
};
const writeInPool: WriteStep = (fd, buffers, position, then) => writev(fd, buffers, position, then);

/** Writes each run in turn. */
function writeRuns(file: OpenFile, runs: readonly DataRun[], step: WriteStep, done: (err?: Error) => void, next = 0): void {
  if (next === runs.length) return done();
  const run = runs[next]!;
  writeAll(file, run.buffers, run.at, step, (err) => (err ? done(err) : writeRuns(file, runs, step, done, next + 1)));
}

/**
 * Writes every byte of buffers at position, step by step (a write may be partial). A file that
 * failed meanwhile takes no more bytes, and the chunk is then an error: its bytes are not all
 * there, so a kept part file's journal must not vouch for it (a short write on a full disk,
 * then the file's failure, recorded the chunk with its tail missing).
 */
function writeAll(file: OpenFile, buffers: Buffer[], position: number, step: WriteStep, done: (err?: Error) => void): void {
  if (buffers.length === 0) return done();
  if (file.discarded) return done(new FcpError('FCP_ERR_IO', `${showName(file.final)} failed before this chunk was written whole; the chunk is not kept`));
  step(file.fd, buffers, position, (err, written) => {
    if (err) return done(err);
    if (written === 0) return done(new FcpError('FCP_ERR_IO', `write of ${showName(file.final)} made no progress`));
    writeAll(file, skipBytes(buffers, written), position + written, step, done);
  });
}

/** Chunk writes up to this size are done at once, on the main thread. */
export const SYNC_WRITE_MAX = 64 * 1024;
/**
 * Longest wait for the writes in flight of discarded files, so that their temporaries are removed
 * before the process exits: a write that takes longer is stuck in the kernel, and exit must not be.
 */
export const DISCARD_WAIT_MS = 10_000;
/** Longest name component of a temporary file: room for the ".fcp-..." suffix under NAME_MAX. */
const MAX_TEMP_STEM = 200;
const SLASH = 0x2f;
const DOT = 0x2e;

/** Whom an entry is to belong to (a receiver running as root keeps the sender's owners). */
export interface FileOwner { uid: number; gid: number }

interface OpenFile {
  fd: number;
  owner: FileOwner | undefined;
  /** The mode the file was created with: commit changes it only when it differs (-1: unknown, a reused part file). */
  createdMode: number;
  temp: Buffer;
  final: Buffer;
  /** Writes in libuv's thread pool: the descriptor is closed only once they are done. */
  writing: number;
  /** Discarded (or kept) while writes were in flight: the last one to finish closes it. */
  discarded: boolean;
  /** The resume state of a chunked file (PROTOCOL.md §7.5): its temp is the part file. */
  partial: PartialFile | undefined;
  /** Ended by an interrupted session: the part file and its journal stay for the next run. */
  keep: boolean;
  /**
   * Created empty by this run: every byte no chunk was written to is a zero, so a hole (feature
   * SPARSE) is left unwritten. A part file reused with held chunks is not.
   */
  fresh: boolean;
  /** Sized with ftruncate when created: a chunk that ends in a hole need not extend it. */
  sized: boolean;
}

interface DirectoryMeta {
  path: Buffer;
  perm: number;
  mtimeNs: bigint;
  /** As the peer named it (a copy: received paths are views into frames). */
  entryPath: Buffer;
  /** It was there already with this mode, mtime and owner, and this writer changed none of them (makeDirectory). */
  wasAsAnnounced: boolean;
}

/**
 * A time for Node's utimes from nanoseconds. libuv truncates toward zero to whole microseconds
 * and Node would take any negative number (before 1970) as "now", so: whole microseconds
 * (exact in a double), half a microsecond away from zero so truncation lands on the value, and
 * for a time before 1970 a numeric string, which Node passes through as it is (a number
 * otherwise: Node would parse the string back into it, 0.5-0.7 µs a file's futimes). Exact for
 * any time after 1901-12-13 (Node clamps earlier times to -2^31 s).
 */
export const seconds = (ns: bigint): number | string => {
  const value = Number(ns / 1000n) / 1e6;
  return value < 0 ? String(value - 5e-7) : value + 5e-7;
};

/** The user files this process creates belong to. */
const EUID = process.geteuid?.() ?? -1;

/** The process umask, read once (setting and restoring it is the only way to read it). */
const UMASK = ((): number => {
  const mask = process.umask(0o022);
  process.umask(mask);
  return mask;
})();

/**
 * The mode a temporary file is created with: its final permission bits, so that in the common
 * case no fchmod is needed, but always writable by its owner while it is being written.
 */
function creationMode(perm: number): number {
  return ((perm & 0o777) | 0o600) & ~UMASK;
}

/** Temporary names: unique per process (pid) and per file (counter); O_EXCL catches the rest. */
let tempCounter = 0;
const tempTag = `${process.pid.toString(36)}`;

/** `.<name>.fcp-<pid>-<n>` beside `final`. */
function tempPathFor(final: Buffer): Buffer {
  return hiddenTempPath(final, `.fcp-${tempTag}-${(tempCounter++).toString(36)}`);
}

/** `.<name><suffix>` beside `final`, the name cut to leave room under NAME_MAX; one allocation. */
export function hiddenTempPath(final: Buffer, suffix: string): Buffer {
  const stem = final.lastIndexOf(SLASH) + 1;
  const nameEnd = Math.min(final.length, stem + MAX_TEMP_STEM);
  const temp = Buffer.allocUnsafe(nameEnd + 1 + suffix.length);
  final.copy(temp, 0, 0, stem);
  temp[stem] = DOT;
  final.copy(temp, stem + 1, stem, nameEnd);
  temp.write(suffix, nameEnd + 1, 'latin1');
  return temp;
}

/** Runs a metadata call, turning its failure into an FcpError about `path`. */
function attempt<T>(operation: string, path: Buffer, call: () => T): T {
  try {
    return onDisk(operation, path, call);
  } catch (err) {
    throw fsError(err, operation, path);
  }
}

export interface FileWriterOptions {
  /**
   * A chunk write in the thread pool that has not completed after this long (a hung disk or
   * mount) fails with FCP_ERR_TIMEOUT: its connection is paused meanwhile, so no idle check covers it.
   */
  writeTimeoutMs?: number;
  /** How a chunk larger than SYNC_WRITE_MAX is written (tests put a disk that never answers here). */
  poolWrite?: WriteStep;
  /** --backup: what an entry replaces is first renamed to its name with this suffix. */
  backupSuffix?: Buffer;
  /** fcp --partial-dir: partial files and journals go in this directory, relative to each destination directory. */
  partialDir?: Buffer;
  /** --no-resume: the orphan sweep (src/state/orphanSweep.ts) removes part files no running process writes. */
  discardPartials?: boolean;
  /**
   * A sender that removes its sources checks each symlink's inode first (more feature SAME_INODE):
   * a symlink that is there already with the target is made again, not kept, so that one which is
   * its own source (the same host) is not removed as if it were the copy.
   */
  renewsSymlinks?: boolean;
}

/** How createFile treats partial state an earlier run left (PROTOCOL.md §7.5). */
export interface ResumeRequest {
  /** What the sender announced; a journal written for anything else is not used. */
  header: JournalHeader;
  /** Use what an earlier run left (false: --no-resume, or a sender without RESUME). */
  reuse: boolean;
}

/** What createFile found of an earlier run. */
export interface Resumed {
  /** Chunks written and verified by an earlier run, by index (empty: none). */
  held: ReadonlyMap<number, bigint>;
  /** Why partial state was there but not used (StaleReason). */
  stale: number | undefined;
}

const NOTHING_RESUMED: Resumed = { held: new Map(), stale: undefined };

export class FileWriter {
  private readonly files = new Map<number, OpenFile>();
  private readonly directories: DirectoryMeta[] = [];
  /**
   * Directories this writer made (mkdir succeeded, latin1 keys), or found empty: nothing was in
   * them before this session, so a file there needs no quick check and may be created under its
   * final name.
   */
  private readonly newDirectories = new Set<string>();
  /**
   * Directories that were there, not yet looked into: whether one is empty is asked when that
   * matters (its DIR_STATE, the first file written into it), since reading a directory costs
   * what it holds (80 µs for 200 names on tmpfs), and a rerun, which writes nothing, never asks.
   */
  private readonly unsettledDirectories = new Set<string>();
  /** The path inNewDirectory answered last, where its directory ends, and its answer; forgotten when newDirectories changes. */
  private askedPath: Buffer | undefined;
  private askedSlash = -1;
  private askedNew = false;
  /**
   * The group a file created in a directory gets (latin1 keys), as the first file this writer
   * created there showed (fstat before its fchown), when owners are kept: it depends on the
   * directory's set-group-ID bit, its group and the file system's rule (BSD's, or a Linux mount
   * with grpid, gives the directory's group; System V's the creator's), so it is seen, not guessed.
   */
  private readonly createdGroups = new Map<string, number>();
  /** The directory groupSeen answered last (its bytes), and its answer. */
  private seenDirectory: Buffer | undefined;
  private seenGroup: number | undefined;
  /** Discarded files whose last write is still in flight: each is removed when that write lands. */
  private discarding = 0;
  private readonly discardWaiters: (() => void)[] = [];
  private readonly writeTimeoutMs: number;
  private readonly poolWrite: WriteStep;
  private readonly backupSuffix: Buffer | undefined;
  private readonly renewsSymlinks: boolean;
  private readonly partialDir: Buffer | undefined;
  private readonly orphans: OrphanSweeper;

  /** `closed` is called each time a file opened by createFile is closed: its descriptor is free again. */
  constructor(
    private readonly xxh: XXHashAPI,
    private readonly closed: () => void,
    options: FileWriterOptions = {},
  ) {
    this.writeTimeoutMs = options.writeTimeoutMs ?? IDLE_TIMEOUT_MS;
    this.poolWrite = options.poolWrite ?? writeInPool;
    this.backupSuffix = options.backupSuffix;
    this.renewsSymlinks = options.renewsSymlinks ?? false;
    this.partialDir = options.partialDir;
    this.orphans = new OrphanSweeper({ discardPartials: options.discardPartials ?? false, partialDir: options.partialDir });
  }

  /** `entryPath` names the directory to the peer should applying its metadata fail at the end. */
  createDirectory(path: Buffer, perm: number, mtimeNs: bigint, entryPath: Buffer, owner?: FileOwner): void {
    const wasAsAnnounced = onDisk('create directory', path, () => this.makeDirectory(path, perm, mtimeNs, owner));
    this.directories.push({ path, perm, mtimeNs, entryPath: Buffer.from(entryPath), wasAsAnnounced });
  }

  /** Makes the directory, or takes the one there; says whether that one already had `perm`, `mtimeNs` and `owner`, and kept them. */
  private makeDirectory(path: Buffer, perm: number, mtimeNs: bigint, owner: FileOwner | undefined): boolean {
    const key = path.toString('latin1');
    let made = false;
    // Looked at first: on a rerun it is there, and a mkdir that fails costs Node an Error with its
    // stack (40-75 µs against an lstat's few). An lstat that fails leaves it to mkdir to say why.
    let existing = onDisk('inspect', path, () => lstatOrUndefined(path));
    if (!existing) {
      try {
        // Owner rwx until the end, so the contents can be written whatever the final mode.
        mkdirSync(path, { mode: perm | 0o700 });
        made = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, 'create directory', path);
        existing = attempt('inspect', path, () => leanLstatIfAny(path));
      }
    }
    // Found there and left as it was (no chmod, no chown): finishDirectories may leave it alone too.
    let keptAsFound = existing !== undefined;
    if (existing) {
      // Announced twice (two sources' contents into one destination): the second brings files onto the first's.
      const announcedBefore = this.newDirectories.delete(key);
      this.askedPath = undefined;
      if (!existing.isDirectory()) {
        throw new FcpError('FCP_ERR_NOT_DIRECTORY', `cannot copy a directory onto ${showName(path)}: it exists and is not a directory`, {
          hint: 'remove it or choose another destination',
        });
      }
      // Ours with owner rwx is writable as it is; another's is chmod'ed still, which says at once
      // (EPERM) when this process may not write in it.
      const mode = existing.mode & 0o7777;
      if (existing.uid !== EUID || (mode & 0o700) !== 0o700) {
        attempt('make writable', path, () => chmodSync(path, mode | 0o700));
        keptAsFound = false;
      }
      // A directory made empty beforehand (mkdir -p dest/dir, then the copy) holds nothing to compare with either.
      if (!announcedBefore) this.unsettledDirectories.add(key);
    }
    // A rerun finds its owner right: no chown, which would move its ctime for nothing.
    if (owner && !(existing && existing.uid === owner.uid && existing.gid === owner.gid)) {
      attempt('change the owner of', path, () => lchownSync(path, owner.uid, owner.gid));
      // Its group may have changed, and with it what files created in it get.
      this.forgetGroupSeen(key);
      keptAsFound = false;
    }
    if (made) {
      this.newDirectories.add(key);
      this.askedPath = undefined;
    }
    return keptAsFound && hasModeAndTime(existing, perm, mtimeNs);
  }

  /** A symlink that is there already with this target is kept (given the mtime), so --backup has nothing to keep; with renewsSymlinks it is made again. */
  createSymlink(path: Buffer, target: Buffer, mtimeNs: bigint, owner?: FileOwner): void {
    onDisk('create symlink', path, () => this.makeSymlink(path, target, mtimeNs, owner));
  }

  private makeSymlink(path: Buffer, target: Buffer, mtimeNs: bigint, owner: FileOwner | undefined): void {
    // In a directory this writer made nothing can be there: the link is made under its final name
    // (no lstat, temporary or rename: two calls of five), as a small file is.
    if (this.inNewDirectory(path) && this.symlinkAt(path, target, mtimeNs, owner, path, true)) return;
    const existing = lstatOrUndefined(path);
    const same = existing?.isSymbolicLink() === true && attempt('read symlink', path, () => readlinkSync(path, { encoding: 'buffer' })).equals(target);
    if (same && !this.renewsSymlinks) {
      // What it has already is not set again (a rerun): its ctime and atime stay, as rsync leaves them.
      const chown = owner !== undefined && (existing.uid !== owner.uid || existing.gid !== owner.gid);
      attempt('set the owner and time of symlink', path, () => {
        if (chown) lchownSync(path, owner.uid, owner.gid);
        if (!sameMicrosecond(existing.mtimeNs, mtimeNs)) lutimesSync(path, Date.now() / 1000, seconds(mtimeNs));
      });
      return;
    }
    this.orphans.sweep(path);
    const temp = tempPathFor(path);
    this.symlinkAt(temp, target, mtimeNs, owner, path, false);
    try {
      // One made again in place of the same link keeps no backup of it.
      replace(temp, path, same ? undefined : this.backupSuffix);
    } catch (err) {
      rmSync(temp, { force: true });
      throw fsError(err, 'create symlink', path);
    }
  }

  /**
   * Makes the symlink `at` (`path` or its temporary) with its owner and mtime, or throws as the
   * creation of `path` with nothing left at `at`. `inPlace`: something at `at` after all is not
   * an error but false, nothing made (the caller then takes the temporary's way).
   */
  private symlinkAt(at: Buffer, target: Buffer, mtimeNs: bigint, owner: FileOwner | undefined, path: Buffer, inPlace: boolean): boolean {
    try {
      symlinkSync(target, at);
    } catch (err) {
      if (inPlace && (err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fsError(err, 'create symlink', path);
    }
    try {
      // Made by this process in this directory: it needs no chown when files made here showed the owner it wants.
      const give = this.ownerToGive(path, owner);
      if (give) lchownSync(at, give.uid, give.gid);
      lutimesSync(at, Date.now() / 1000, seconds(mtimeNs));
    } catch (err) {
      rmSync(at, { force: true });
      throw fsError(err, 'create symlink', path);
    }
    return true;
  }

  /**
   * Makes `path` another name of the file at `target`: linked under a temporary name and renamed
   * into place, so that whatever was at `path` is replaced at once. Nothing changes when `path`
   * is that file already.
   */
  createHardlink(path: Buffer, target: Buffer): void {
    onDisk('create hard link', path, () => this.makeHardlink(path, target));
  }

  private makeHardlink(path: Buffer, target: Buffer): void {
    const existing = lstatOrUndefined(path);
    if (existing && sameInode(existing, attempt('inspect', target, () => leanStat(target, false)))) return;
    this.orphans.sweep(path);
    const temp = tempPathFor(path);
    try {
      linkSync(target, temp);
      replace(temp, path, this.backupSuffix);
    } catch (err) {
      rmSync(temp, { force: true });
      throw fsError(err, 'create hard link', path);
    }
  }

  /**
   * The quick check (PROTOCOL.md §7.5): true when `final` is a regular file of this size and mtime
   * already, which is then left as it is but for its permission bits, set to `perm` when they
   * differ. False when anything else is there, or nothing, or it cannot be inspected or changed:
   * the file is then sent and replaces it.
   */
  keepIfSame(final: Buffer, size: number, perm: number, mtimeNs: bigint, owner?: FileOwner): boolean {
    return onDisk('inspect', final, () => keepSame(final, size, perm, mtimeNs, owner));
  }

  /**
   * Creates the temporary the file is written to. A file of one chunk (size <= the chunk size)
   * gets a private one: an interrupted run loses at most that chunk, which a journal would not
   * save, so it has no part file, journal or lock (PROTOCOL.md §7.5); it is removed when the run
   * ends without it, and renamed into place when verified. A longer file gets its part file (kept
   * between runs with a journal of its verified chunks), reusing an earlier run's when `resume`
   * allows, sized at once (ftruncate); should another process be writing that file right now,
   * it gets a private temporary too and keeps no journal.
   */
  createFile(fileId: number, final: Buffer, size: number, perm: number, resume: ResumeRequest, owner?: FileOwner): Resumed {
    return onDisk('create', final, () => {
      // Temporaries' names are cut to MAX_TEMP_STEM bytes: a longer name is looked up now, so that one
      // the file system cannot hold fails here (ENAMETOOLONG), not at the rename after all its data came.
      try {
        if (final.length - final.lastIndexOf(SLASH) - 1 > MAX_TEMP_STEM) lstatSync(final, { throwIfNoEntry: false });
        this.orphans.sweep(final);
      } catch (err) {
        throw fsError(err, 'create', final);
      }
      if (size <= resume.header.chunkSize) {
        const see = this.toSeeGroup(final, owner);
        const file = heldOpen(openTemporary(final, perm, 0, this.ownerToGive(final, owner)));
        try {
          if (see) file.owner = this.seeGroup(final, file.fd, owner);
        } catch (err) {
          removeFile(file);
          throw fsError(err, 'inspect', final);
        }
        this.files.set(fileId, file);
        return NOTHING_RESUMED;
      }
      const mode = creationMode(perm);
      let partial: PartialFile | undefined;
      try {
        partial = PartialFile.open(this.xxh, final, { header: resume.header, mode, reuse: resume.reuse, partialDir: this.partialDir });
        // A reused part file is sized too: a rename into place must never carry bytes past `size`.
        if (partial) ftruncateSync(partial.fd, size);
      } catch (err) {
        if (partial) {
          closeQuietly(partial.fd);
          partial.remove();
        }
        throw fsError(err, 'create', final);
      }
      if (!partial) {
        this.files.set(fileId, heldOpen(openTemporary(final, perm, size, owner)));
        return NOTHING_RESUMED;
      }
      // A part file may have been there already, with another mode: commit always sets it.
      const reused = partial.held.size > 0;
      this.files.set(fileId, {
        fd: partial.fd, owner, createdMode: -1, temp: partial.part, final, writing: 0, discarded: false, partial, keep: false,
        fresh: !reused, sized: true,
      });
      return partial;
    });
  }

  /** Whether this writer made the directory `path`, or found it empty (nothing was there before this session). */
  madeDirectory(path: Buffer): boolean {
    const key = path.toString('latin1');
    return this.settled(key, path) || this.newDirectories.has(key);
  }

  /**
   * Whether the directory `key` (its `path`) was there and is found empty now, when it was not
   * looked into yet: it counts as made from now on.
   */
  private settled(key: string, path: Buffer): boolean {
    if (!this.unsettledDirectories.delete(key) || !isEmptyDirectory(path)) return false;
    this.newDirectories.add(key);
    this.askedPath = undefined;
    return true;
  }

  /** inNewDirectory, once the directory of `final` was looked into when it was there. */
  private inNewOrEmptyDirectory(final: Buffer): boolean {
    if (this.inNewDirectory(final)) return true;
    if (this.unsettledDirectories.size === 0) return false;
    const slash = final.lastIndexOf(SLASH);
    return slash > 0 && this.settled(final.toString('latin1', 0, slash), final.subarray(0, slash));
  }

  /**
   * The owner a file this process creates at `final` must still be given: none when it gets that
   * one by being created (this process's user, and the group files created in its directory were
   * seen to get: root copying root's files, where the fchown would be one call of a small file's
   * five). The first file created in a directory shows that group (seeGroup) before its owner is
   * decided; where none has yet, the owner is given.
   */
  private ownerToGive(final: Buffer, owner: FileOwner | undefined): FileOwner | undefined {
    if (owner === undefined || owner.uid !== EUID) return owner;
    return this.groupSeen(final) === owner.gid ? undefined : owner;
  }

  /** Whether a file created at `final` with `owner` is to show the group its directory gives (groupSeen does not know it yet). */
  private toSeeGroup(final: Buffer, owner: FileOwner | undefined): boolean {
    return owner !== undefined && owner.uid === EUID && this.groupSeen(final) === undefined;
  }

  /**
   * The group a file created at `final` gets, as seen on an earlier one in its directory (undefined:
   * none yet); the last directory's answer is kept, so that the calls for one file and the next
   * files of its directory compare bytes rather than look it up.
   */
  private groupSeen(final: Buffer): number | undefined {
    const slash = final.lastIndexOf(SLASH);
    const last = this.seenDirectory;
    if (last && slash === last.length && sameStart(last, final, slash)) return this.seenGroup;
    const end = Math.max(slash, 0);
    this.seenDirectory = Buffer.from(final.subarray(0, end));
    this.seenGroup = this.createdGroups.get(final.toString('latin1', 0, end));
    return this.seenGroup;
  }

  /** The file `fd` was just created at `final`, before any fchown: its group is what its directory gives. Returns the owner it still needs. */
  private seeGroup(final: Buffer, fd: number, owner: FileOwner | undefined): FileOwner | undefined {
    // groupSeen leaves `final`'s directory as the one answered last.
    this.groupSeen(final);
    this.seenGroup = fstatSync(fd).gid;
    this.createdGroups.set(this.seenDirectory!.toString('latin1'), this.seenGroup);
    return this.ownerToGive(final, owner);
  }

  private forgetGroupSeen(directory: string): void {
    this.createdGroups.delete(directory);
    this.seenDirectory = undefined;
  }

  /** Whether `final` is in a directory this writer made, so that nothing was there before this session. */
  inNewDirectory(final: Buffer): boolean {
    // A small file's quick check and its write ask about the same path; files come directory by
    // directory, so the next file is most often in the same one: a key string and a lookup a directory.
    const asked = this.askedPath;
    if (final === asked) return this.askedNew;
    const slash = final.lastIndexOf(SLASH);
    if (asked !== undefined && slash === this.askedSlash && sameStart(asked, final, slash)) {
      this.askedPath = final;
      return this.askedNew;
    }
    this.askedPath = final;
    this.askedSlash = slash;
    this.askedNew = slash > 0 && this.newDirectories.has(final.toString('latin1', 0, slash));
    return this.askedNew;
  }

  /**
   * A whole small file (FILE_INLINE): created under its temporary name, written, given its mode
   * and mtime and renamed into place in one go, so it holds no descriptor beyond this call. In a
   * directory this writer made it is created under its final name (O_EXCL: a rename and a name
   * fewer per file); should something be there after all, it goes the temporary's way. A file
   * that is to belong to this process's user and to the group its directory gives it has no
   * fchown (ownerToGive: root copying root's files, one call of five).
   */
  writeFile(final: Buffer, data: Buffer, perm: number, mtimeNs: bigint, owner?: FileOwner): void {
    // Under the disk watch without a closure, and in place without an OpenFile: this runs for every small file.
    const outer = enterDisk('write', final);
    try {
      const fresh = this.inNewOrEmptyDirectory(final);
      const toGive = this.ownerToGive(final, owner);
      // The first file of a directory shows the group files created there get (once per directory), and then the owner it still needs.
      const see = this.toSeeGroup(final, owner) ? (fd: number): FileOwner | undefined => this.seeGroup(final, fd, owner) : undefined;
      if (fresh && createWhole(final, data, perm, mtimeNs, toGive, see)) return;
      // A directory this writer made held nothing before: no earlier run's temporaries to sweep there.
      if (!fresh) this.orphans.sweep(final);
      const file = openTemporary(final, perm, 0, toGive);
      try {
        if (see) file.owner = see(file.fd);
        writeWhole(file.fd, data, final);
      } catch (err) {
        removeFile(file);
        throw fsError(err, 'write', final);
      }
      commit(file, perm, mtimeNs, this.backupSuffix);
      // Sent whole into a directory that was there (FILE_WANT): an earlier run's part file of it is of no use now.
      this.orphans.dropPartOf(final);
    } finally {
      leaveDisk(outer);
    }
  }

  /** The file is open for chunks: announced and neither committed nor discarded. */
  isOpen(fileId: number): boolean {
    return this.files.has(fileId);
  }

  /**
   * Checks the chunk's xxh64 and, when it matches, writes it at offset, then calls done with
   * the hash it computed (ok: false when it did not match). Chunks up to SYNC_WRITE_MAX are
   * written before this returns, larger ones in libuv's thread pool, within writeTimeoutMs.
   * With holes (feature SPARSE) `data` holds the bytes between them, and the holes are not written.
   */
  writeChunk(fileId: number, index: number, offset: number, data: Buffer[], expected: bigint, done: ChunkDone, holes?: readonly HolePiece[]): void {
    const file = this.fileOf(fileId);
    let total = 0;
    for (const part of data) total += part.length;
    let runs: DataRun[] = [{ at: offset, buffers: data }];
    let hash: bigint;
    if (holes) {
      const laidOut = layOut(offset, data, holes);
      let holeBytes = 0;
      for (const hole of holes) holeBytes += hole.length;
      hash = laidOutHash(this.xxh, laidOut.runs, laidOut.hashParts, total + holeBytes);
      if (hash === expected) runs = this.withHoles(file, laidOut.runs, holes);
    } else {
      hash = chunkHash(this.xxh, data);
    }
    if (hash !== expected) return done(undefined, { ok: false, hash });
    const inPool = total > SYNC_WRITE_MAX;
    let reported = false;
    const report = (err: Error | undefined): void => {
      if (reported) return;
      reported = true;
      clearTimeout(deadline);
      done(err && fsError(err, 'write', file.final), { ok: true, hash });
    };
    // A write that times out still holds the descriptor: the file is closed once it completes, if ever.
    const deadline = inPool ? setTimeout(() => report(this.writeTimedOut(file)), this.writeTimeoutMs) : undefined;
    deadline?.unref();
    file.writing++;
    const written = (err?: Error): void => {
      // A chunk that lands after an interrupted session kept its file is recorded all the same.
      if (!err && (!file.discarded || file.keep)) file.partial?.record(index, hash, total);
      if (--file.writing === 0 && file.discarded) this.removeDiscarded(file);
      report(err);
    };
    if (inPool) return writeRuns(file, runs, this.poolWrite, written);
    // Written before writeRuns returns; what follows the write runs outside onDisk, as it is no disk call.
    let outcome: { err?: Error } | undefined;
    onDisk('write', file.final, () => writeRuns(file, runs, writeNow, (err) => (outcome = { err })));
    written(outcome!.err);
  }

  /**
   * The runs to write for a chunk with holes: its data alone in a fresh file, which is extended
   * over a hole at its end when it was not sized; in a reused part file also zeros over each
   * hole that does not read as zeros (bytes of a chunk an earlier run wrote but never recorded).
   */
  private withHoles(file: OpenFile, runs: DataRun[], holes: readonly HolePiece[]): DataRun[] {
    const last = holes[holes.length - 1]!;
    // Only a file of one chunk is not sized at creation: this chunk ends where the file does.
    if (!file.sized) attempt('extend', file.final, () => ftruncateSync(file.fd, last.at + last.length));
    if (file.fresh) return runs;
    const dirty = holes.filter((hole) => !attempt('read', file.final, () => zerosOnDisk(file.fd, hole)));
    return [...runs, ...dirty.map((hole) => ({ at: hole.at, buffers: zeroSlices(hole.length) }))];
  }

  private writeTimedOut(file: OpenFile): FcpError {
    return new FcpError('FCP_ERR_TIMEOUT', `a write to ${showName(file.final)} did not complete within ${this.writeTimeoutMs / 1000} s`, {
      hint: 'the destination disk stopped answering (a hung mount or a failing device); check it, then copy again',
    });
  }

  /** Applies mode and mtime, closes and renames the verified file into place. */
  commitFile(fileId: number, perm: number, mtimeNs: bigint): void {
    const file = this.fileOf(fileId);
    this.files.delete(fileId);
    try {
      commit(file, perm, mtimeNs, this.backupSuffix);
      if (!file.partial) onDisk('finish', file.final, () => this.orphans.dropPartOf(file.final));
    } finally {
      this.closed();
    }
  }

  /**
   * Removes a file that failed: nothing is left under its final name, nor its temporary. With
   * writes still in flight the last of them does it, so a reused descriptor number never gets
   * a stray write. keep: its part file stays with its journal (flushed) for a rerun to resume
   * (a private temporary, which no run can resume, is removed all the same).
   */
  discardFile(fileId: number, keep = false): void {
    const file = this.files.get(fileId);
    if (!file) return;
    this.files.delete(fileId);
    file.keep = keep && file.partial !== undefined;
    file.discarded = true;
    if (file.writing === 0) this.remove(file);
    else this.discarding++;
  }

  /**
   * The session was interrupted: each part file stays with its journal (flushed) for the next run
   * to resume; private temporaries, which no run can resume, are removed.
   */
  keepAll(): void {
    for (const fileId of [...this.files.keys()]) this.discardFile(fileId, true);
  }

  /**
   * Resolves once every discarded file is removed (its writes in flight have landed), or after
   * DISCARD_WAIT_MS: a process that exits before would leave their temporaries behind.
   */
  discarded(): Promise<void> {
    if (this.discarding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, DISCARD_WAIT_MS);
      this.discardWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Applies directory modes and mtimes, deepest first; a directory that fails does not stop the others. */
  finishDirectories(failed: (entryPath: Buffer, error: FcpError) => void): void {
    const deepestFirst = [...this.directories].sort((a, b) => b.path.length - a.path.length);
    for (const dir of deepestFirst) {
      try {
        onDisk('set mode and time of', dir.path, () => {
          // One that was as announced and still is (nothing written in it: a rerun) is left alone,
          // as rsync leaves it: its atime and ctime stay, and it costs an lstat, not two calls.
          if (dir.wasAsAnnounced && hasModeAndTime(lstatOrUndefined(dir.path), dir.perm, dir.mtimeNs)) return;
          chmodSync(dir.path, dir.perm);
          utimesSync(dir.path, Date.now() / 1000, seconds(dir.mtimeNs));
        });
      } catch (err) {
        failed(dir.entryPath, fsError(err, 'set mode and time of', dir.path));
      }
    }
  }

  private remove(file: OpenFile): void {
    onDisk(file.keep ? 'keep' : 'remove', file.final, () => {
      if (file.keep) {
        file.partial!.keep();
        closeQuietly(file.fd);
      } else removeFile(file);
    });
    this.closed();
  }

  private removeDiscarded(file: OpenFile): void {
    this.remove(file);
    if (--this.discarding === 0) for (const wake of this.discardWaiters.splice(0)) wake();
  }

  private fileOf(fileId: number): OpenFile {
    const file = this.files.get(fileId);
    if (!file) throw new FcpError('FCP_ERR_INTERNAL', `file ${fileId} is not open for writing`);
    return file;
  }
}

/**
 * A regular file of `size` bytes whose mtime is `mtimeNs` to the microsecond, the precision with
 * which commit sets it (see `seconds`: truncated toward zero, as BigInt division truncates).
 */
export function isSameFile(existing: LeanStat, size: number, mtimeNs: bigint): boolean {
  return existing.isFile() && existing.size === size && sameMicrosecond(existing.mtimeNs, mtimeNs);
}

/** Two mtimes equal to the microsecond, the precision with which commit and finishDirectories set one. */
const sameMicrosecond = (a: bigint, b: bigint): boolean => a / 1000n === b / 1000n;

/** A directory with mode `perm` and mtime `mtimeNs`, as finishDirectories would set them. */
function hasModeAndTime(stat: LeanStat | undefined, perm: number, mtimeNs: bigint): boolean {
  return stat !== undefined && stat.isDirectory() && (stat.mode & 0o7777) === perm && sameMicrosecond(stat.mtimeNs, mtimeNs);
}

/** Whether the directory `path` holds no entry (one getdents); false when it cannot be read. */
function isEmptyDirectory(path: Buffer): boolean {
  let dir: Dir | undefined;
  try {
    dir = opendirSync(path);
    return dir.readSync() === null;
  } catch {
    return false;
  } finally {
    dir?.closeSync();
  }
}

/** keepIfSame's work: true when `final` is that file already (its mode set to `perm`). */
function keepSame(final: Buffer, size: number, perm: number, mtimeNs: bigint, owner: FileOwner | undefined): boolean {
  try {
    // Usually nothing is there yet: asked not to throw, lstat then costs no exception (ten thousand
    // for a new tree); the binding's fields alone, not a BigIntStats of 18 BigInts and 4 Dates.
    const existing = leanLstatIfAny(final);
    if (!existing || !isSameFile(existing, size, mtimeNs)) return false;
    // A chown clears setuid and setgid: the mode is set after it.
    const chown = owner !== undefined && (existing.uid !== owner.uid || existing.gid !== owner.gid);
    if (chown) lchownSync(final, owner.uid, owner.gid);
    if (chown || (existing.mode & 0o7777) !== perm) chmodSync(final, perm);
    return true;
  } catch {
    return false;
  }
}

/** The lstat of `path`, or undefined when nothing is there or the lstat fails. */
function lstatOrUndefined(path: Buffer): LeanStat | undefined {
  try {
    return leanLstatIfAny(path);
  } catch {
    return undefined;
  }
}

function sameInode(a: LeanStat, b: LeanStat): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** A private temporary written across calls: an interrupted process removes it (openTemporaries.ts) until commit or removeFile. */
function heldOpen(file: OpenFile): OpenFile {
  holdTemporary(file.temp);
  return file;
}

/** Opens a new private temporary file beside `final`, sized to `size` bytes when that is not 0. */
function openTemporary(final: Buffer, perm: number, size: number, owner: FileOwner | undefined): OpenFile {
  return openExclusive(tempPathFor(final), final, perm, size, owner, true)!;
}

/**
 * Creates `temp` (O_EXCL) to become `final`, sized to `size` bytes when that is not 0; `temp` is
 * `final` itself for a file created in place. When something is at `temp` already: an error when
 * `existing` says so, else undefined.
 */
function openExclusive(temp: Buffer, final: Buffer, perm: number, size: number, owner: FileOwner | undefined, existing: boolean): OpenFile | undefined {
  const createdMode = creationMode(perm);
  let fd: number | undefined;
  try {
    fd = openBound(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, createdMode);
    if (size > 0) ftruncateSync(fd, size);
  } catch (err) {
    if (fd === undefined && !existing && (err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    if (fd !== undefined) closeSync(fd);
    if (fd !== undefined || temp !== final) rmSync(temp, { force: true });
    throw fsError(err, 'create', final);
  }
  return { fd, owner, createdMode, temp, final, writing: 0, discarded: false, partial: undefined, keep: false, fresh: true, sized: size > 0 };
}

/** Applies mode and mtime, closes and renames the written file into place. */
function commit(file: OpenFile, perm: number, mtimeNs: bigint, backupSuffix: Buffer | undefined): void {
  const outer = enterDisk('finish', file.final);
  try {
    finishWritten(file.fd, file.owner, file.createdMode, perm, mtimeNs);
    if (file.temp !== file.final) replace(file.temp, file.final, backupSuffix);
    if (!file.partial) forgetTemporary(file.temp);
  } catch (err) {
    removeFile(file);
    throw fsError(err, 'finish', file.final);
  } finally {
    leaveDisk(outer);
  }
  file.partial?.committed();
}

/** Gives the written file `fd` (created with `createdMode`) its owner, mode `perm` and mtime, and closes it. */
function finishWritten(fd: number, owner: FileOwner | undefined, createdMode: number, perm: number, mtimeNs: bigint): void {
  // Before the mode: a chown clears setuid and setgid, which creationMode never sets, so fchmod follows.
  if (owner) fchownSync(fd, owner.uid, owner.gid);
  if (createdMode !== perm) fchmodSync(fd, perm);
  futimesBound(fd, Date.now() / 1000, seconds(mtimeNs));
  closeSync(fd);
}

/** Writes all of `data` at the start of the file `fd`, which is to become `final`. */
function writeWhole(fd: number, data: Buffer, final: Buffer): void {
  for (let written = 0; written < data.length; ) {
    const step = writeAt(fd, data, written, data.length - written, written);
    if (step === 0) throw new FcpError('FCP_ERR_IO', `write of ${showName(final)} made no progress`);
    written += step;
  }
}

/**
 * A whole small file created under its final name (O_EXCL), written and finished: what
 * openExclusive, the write and commit do for it, with no OpenFile. False when something is at
 * `final` already (nothing was done); on an error nothing of it is left. `see`: the writer's look
 * at the group a new file gets in its directory, answering the owner still to give.
 */
function createWhole(final: Buffer, data: Buffer, perm: number, mtimeNs: bigint, owner: FileOwner | undefined, see: ((fd: number) => FileOwner | undefined) | undefined): boolean {
  const createdMode = creationMode(perm);
  let fd: number;
  try {
    fd = openBound(final, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, createdMode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw fsError(err, 'create', final);
  }
  let operation = 'write';
  try {
    // The first file of its directory: the owner it needs is known once its group is seen.
    if (see) owner = see(fd);
    writeWhole(fd, data, final);
    operation = 'finish';
    const outer = enterDisk(operation, final);
    try {
      finishWritten(fd, owner, createdMode, perm, mtimeNs);
    } finally {
      leaveDisk(outer);
    }
  } catch (err) {
    closeQuietly(fd);
    rmSync(final, { force: true });
    throw fsError(err, operation, final);
  }
  return true;
}

/**
 * Renames `temp` into place at `final`; with a backup suffix, what is at `final` (anything but a
 * directory, which a file never replaces) is first renamed to `final` + suffix, as rsync --backup does.
 */
function replace(temp: Buffer, final: Buffer, backupSuffix: Buffer | undefined): void {
  if (backupSuffix) {
    const existing = lstatOrUndefined(final);
    if (existing && !existing.isDirectory()) attempt('back up', final, () => renameSync(final, Buffer.concat([final, backupSuffix])));
  }
  renameSync(temp, final);
}

function removeFile(file: OpenFile): void {
  closeQuietly(file.fd);
  if (file.partial) file.partial.remove();
  else {
    unlinkIfPresent(file.temp);
    forgetTemporary(file.temp);
  }
}

/** The buffers after their first `count` bytes. */
function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (count >= buffer.length) {
      count -= buffer.length;
    } else {
      rest.push(count > 0 ? buffer.subarray(count) : buffer);
      count = 0;
    }
  }
  return rest;
}
