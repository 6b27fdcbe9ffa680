/**
 * Where the receiver puts each entry (PROTOCOL.md §7.2): under the destination when it is an
 * existing directory, else the one source becomes the destination. Which entries may come at all
 * (syntax at parse time, the request's scope in session/entryScope.ts) is checked before an
 * entry reaches this; a file only ever goes into the destination or a directory this session
 * announced, so no entry is written through a symlink.
 */
import { mkdirSync, opendirSync, statSync } from 'node:fs';
import type { Dir, Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { FcpError } from '../errors';
import { ModeFlag } from '../protocol/constants';
import { fsError } from './fsError';
import { directoryToMake, makeDirectories } from './makePath';
import { showName } from '../showName';

const SLASH = 0x2f;

export interface Destination {
  /** The destination path as the request gave it. */
  readonly root: Buffer;
  /** An existing directory: entries go under it. Otherwise the one source becomes it. */
  readonly isDirectory: boolean;
  /** The local path of an entry the scope admitted. */
  localPath(entryPath: Buffer): Buffer;
  /** Why an entry may not be created at its local path (fcpd's policy), checked before anything is. */
  refusal?(local: Buffer, entryPath: Buffer): FcpError | undefined;
  /**
   * MODE's INTO_DIR with no destination yet: the top-level entry is a directory, so the destination
   * becomes a directory (created unless `create` is false: a dry run) and the entry goes under it.
   */
  topLevelDirectory?(create: boolean): void;
}

/**
 * The checks on a destination that is not an existing directory: it must not be asked to be one
 * (a trailing slash, several sources). Returns the directory it goes into, which must exist.
 */
export function parentOfNewDestination(dest: Buffer, flags: number): Buffer {
  if (dest[dest.length - 1] === SLASH) {
    throw new FcpError('FCP_ERR_NOT_DIRECTORY', `destination ${showName(dest)} is not an existing directory`, {
      hint: 'create the directory first, or leave out the trailing / to copy to that name',
    });
  }
  if (flags & ModeFlag.DEST_IS_DIR) {
    throw new FcpError('FCP_ERR_NOT_DIRECTORY', `destination ${showName(dest)} is not a directory`, {
      hint: 'with several sources, or a remote pattern (*, ?, [...]) that may match several, the destination must be an existing directory',
    });
  }
  return Buffer.from(dirname(dest.toString('latin1')), 'latin1');
}

/**
 * Resolves the destination of a transfer before any entry arrives. `flags` are MODE flags;
 * DEST_IS_DIR (several sources, or a pattern) requires an existing directory. With MKPATH the
 * directories the destination lacks are made first (makePath.ts); a dry run makes none and
 * places the entries as if they were there.
 */
export function resolveDestination(dest: Buffer, flags: number, dryRun = false): Destination {
  if (flags & ModeFlag.MKPATH) {
    const made = makeDirectories(directoryToMake(dest, flags), dryRun);
    if (dryRun && made.length > 0) return unmadeDestination(dest, flags);
  }
  if (flags & ModeFlag.CONTENTS) return contentsDestination(dest);
  let isDir = false;
  try {
    isDir = statSync(dest).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, 'access destination', dest);
  }
  if (!isDir) {
    const parent = parentOfNewDestination(dest, flags);
    let parentIsDir = false;
    try {
      parentIsDir = statSync(parent).isDirectory();
    } catch (err) {
      throw fsError(err, 'access the directory of destination', parent);
    }
    if (!parentIsDir) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(parent)} is not a directory`);
  }
  const paths = destinationPaths(dest, isDir);
  if (isDir || !(flags & ModeFlag.INTO_DIR)) return paths;
  return intoNewDirectory(dest, paths);
}

/**
 * Whether a source on this machine would land on itself under a destination on this machine:
 * the same file or directory (device and inode, through any symlink), as `fcp f f` or `fcp -r
 * dir/ dir` place it. Nothing would be copied, and --remove-source-files would remove the one copy.
 */
export function landsOnItself(source: Buffer, dest: Buffer, flags: number): boolean {
  const identity = (path: Buffer): string | undefined => {
    try {
      const stat = statSync(path, { bigint: true, throwIfNoEntry: false });
      return stat && `${stat.dev}:${stat.ino}`;
    } catch {
      return undefined;
    }
  };
  const own = identity(source);
  if (own === undefined) return false;
  if (flags & ModeFlag.CONTENTS) return identity(dest) === own;
  const into = statSync(dest, { throwIfNoEntry: false })?.isDirectory() === true;
  const name = Buffer.from(basename(stripSlashes(source).toString('latin1')), 'latin1');
  return identity(into ? Buffer.concat([stripSlashes(dest), Buffer.from('/'), name]) : dest) === own;
}

/** A dry run's destination whose directories --mkpath would make: as it would be placed once they were. */
function unmadeDestination(dest: Buffer, flags: number): Destination {
  if (flags & ModeFlag.CONTENTS) return destinationPaths(stripSlashes(dest), false);
  const isDir = dest[dest.length - 1] === SLASH || (flags & ModeFlag.DEST_IS_DIR) !== 0;
  const paths = destinationPaths(dest, isDir);
  return isDir || !(flags & ModeFlag.INTO_DIR) ? paths : intoNewDirectory(dest, paths);
}

/**
 * A destination that is a file where a directory must go (rsync refuses it too): a source's
 * `contents` (given with a trailing /), or a `directory` (INTO_DIR) placed under it.
 */
export function notDirectoryFor(what: 'contents' | 'directory', dest: Buffer | string): FcpError {
  const why = what === 'contents' ? "a source with a trailing / copies a directory's contents" : 'a directory is copied into it';
  return new FcpError('FCP_ERR_NOT_DIRECTORY', `destination ${showName(dest)} is not a directory, and ${why}`, {
    hint: 'choose a directory (or a new name) as the destination',
  });
}

export function stripSlashes(path: Buffer): Buffer {
  let end = path.length;
  while (end > 1 && path[end - 1] === SLASH) end--;
  return path.subarray(0, end);
}

/**
 * MODE's CONTENTS (sources given as `dir/`, rsync's rule): each top-level directory is the
 * destination itself, an existing directory or a new one in an existing parent.
 */
function contentsDestination(given: Buffer): Destination {
  const dest = stripSlashes(given);
  let stat: Stats | undefined;
  try {
    stat = statSync(dest, { throwIfNoEntry: false });
  } catch (err) {
    throw fsError(err, 'access destination', dest);
  }
  if (stat && !stat.isDirectory()) {
    throw notDirectoryFor('contents', dest);
  }
  if (!stat) {
    const parent = Buffer.from(dirname(dest.toString('latin1')), 'latin1');
    if (!statSync(parent, { throwIfNoEntry: false })?.isDirectory()) throw new FcpError('FCP_ERR_NOT_DIRECTORY', `${showName(parent)} is not a directory`);
  }
  return destinationPaths(dest, false);
}

/** MODE's INTO_DIR and no destination: a file becomes it, a directory goes under it (rsync's placement). */
function intoNewDirectory(dest: Buffer, asNewName: Destination): Destination {
  let paths = asNewName;
  return {
    root: dest,
    get isDirectory() {
      return paths.isDirectory;
    },
    localPath: (entryPath) => paths.localPath(entryPath),
    topLevelDirectory(create) {
      if (paths !== asNewName) return;
      if (create) {
        try {
          mkdirSync(dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, 'create directory', dest);
        }
      }
      // A file in its place (it was there before the transfer): a directory cannot go under it, as rsync refuses.
      if (statSync(dest, { throwIfNoEntry: false })?.isDirectory() === false) {
        throw notDirectoryFor('directory', dest);
      }
      paths = destinationPaths(dest, true);
    },
  };
}

/** Where each entry goes, once it is known whether `dest` is an existing directory. */
export function destinationPaths(dest: Buffer, isDir: boolean): Destination {
  // A directory given as "dir/" (or "/") joins its entries without doubling the slash.
  let dirEnd = dest.length;
  while (isDir && dirEnd > 0 && dest[dirEnd - 1] === SLASH) dirEnd--;
  const dirPrefix = Buffer.concat([dest.subarray(0, dirEnd), Buffer.from('/')]);
  return {
    root: dest,
    isDirectory: isDir,
    localPath(entryPath: Buffer): Buffer {
      if (isDir) return joined(dirPrefix, entryPath);
      // The one source becomes dest: its first component (one name for all, EntryScope's E4) is replaced.
      const firstSlash = entryPath.indexOf(SLASH);
      return firstSlash < 0 ? dest : joined(dest, entryPath.subarray(firstSlash));
    },
  };
}

/** `a` then `b` in a new Buffer: made for every entry, where Buffer.concat's array and checks cost twice as much. */
function joined(a: Buffer, b: Buffer): Buffer {
  const path = Buffer.allocUnsafe(a.length + b.length);
  path.set(a, 0);
  path.set(b, a.length);
  return path;
}

/**
 * Whether the destination `root` holds anything an entry could land on (feature DEST_STATE,
 * PROTOCOL.md §7.4): false only when there is nothing there or an empty directory. What cannot
 * be inspected counts as holding something: the files are then announced and checked one by one.
 */
export function holdsEntries(root: Buffer): boolean {
  let dir: Dir | undefined;
  try {
    const stat = statSync(root, { throwIfNoEntry: false });
    if (!stat) return false;
    if (!stat.isDirectory()) return true;
    dir = opendirSync(root);
    return dir.readSync() !== null;
  } catch {
    return true;
  } finally {
    dir?.closeSync();
  }
}
