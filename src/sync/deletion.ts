/**
 * --delete: the destination entries the source lacks, inside the directories the listing
 * announced and nowhere else. Every look is an lstat and every removal unlinks the name itself
 * (rmdir for a directory, emptied first), so a symlink planted in the destination is removed as
 * a link and whatever it points to is never read, listed or touched.
 */
import * as fs from 'node:fs';
import { FcpError } from '../errors';
import { fsError } from '../transfer/fsError';

const SLASH = Buffer.from('/');
/** fcp's own temporaries and part files (PROTOCOL.md §7.2, §7.5): kept for the run that owns them, or the next to resume. */
const OWN_TEMPORARY = /^\..*\.fcp-(part(\.journal|\.lock)?|[0-9a-z]+-[0-9a-z]+)$/s;

export interface DeletionScope {
  /** Directories the listing announced (by destination path and entry path), their names all listed. */
  directories: readonly { local: Buffer; entry: Buffer }[];
  /** Whether the listing announced this entry path. */
  listed(entryPath: Buffer): boolean;
  /** The name filters and itemized lines use for an entry path (relative to the transfer root). */
  relative(entryPath: Buffer): string;
  /** Filters' keep-hook: an entry it protects is not deleted (excluded files, unless --delete-excluded). */
  protect?: (relPath: string, isDir: boolean) => boolean;
  /** --partial-dir's first component: where partial files of this and later runs wait. */
  partialDir?: Buffer;
  /** -x: a directory on another file system than the one scanned is not gone into, so it stays, as rsync -x deletes. */
  oneFileSystem?: boolean;
}

export interface Deletion {
  local: Buffer;
  entry: Buffer;
  isDir: boolean;
}

/** What is at `local` (never following a symlink), or undefined when nothing is: one lstat gives the type and, for -x, the device. */
function lstatOf(local: Buffer): fs.Stats | undefined {
  return fs.lstatSync(local, { throwIfNoEntry: false });
}

function ownName(name: Buffer, partialDir: Buffer | undefined): boolean {
  return OWN_TEMPORARY.test(name.toString('latin1')) || (partialDir !== undefined && name.equals(partialDir));
}

/**
 * What --delete removes, deepest first (a directory after its contents) and in rsync's order. A
 * directory holding anything protected is kept, and so is the protected entry.
 */
export function planDeletions(scope: DeletionScope): Deletion[] {
  const plan: Deletion[] = [];
  const slash = scope.partialDir?.indexOf(SLASH) ?? -1;
  const partialName = slash < 0 ? scope.partialDir : scope.partialDir!.subarray(0, slash);
  for (const dir of scope.directories) {
    const stat = lstatOf(dir.local);
    if (!stat?.isDirectory()) continue;
    const device = scope.oneFileSystem ? stat.dev : undefined;
    for (const name of readNames(dir.local)) {
      if (ownName(name, partialName)) continue;
      const entry = Buffer.concat([dir.entry, SLASH, name]);
      if (!scope.listed(entry)) collect(scope, Buffer.concat([dir.local, SLASH, name]), entry, plan, device);
    }
  }
  return plan;
}

/**
 * Adds `local` and what it holds to the plan; false when something in it is protected, or it is a
 * directory on another device than `device` (-x), so that it stays.
 */
function collect(scope: DeletionScope, local: Buffer, entry: Buffer, plan: Deletion[], device?: number): boolean {
  const stat = lstatOf(local);
  const isDir = stat?.isDirectory() === true;
  if (scope.protect?.(scope.relative(entry), isDir)) return false;
  if (isDir && device !== undefined && stat!.dev !== device) return false;
  let whole = true;
  if (isDir) {
    for (const name of readNames(local)) {
      whole = collect(scope, Buffer.concat([local, SLASH, name]), Buffer.concat([entry, SLASH, name]), plan, device) && whole;
    }
  }
  if (whole) plan.push({ local, entry, isDir });
  return whole;
}

/** Everything inside directory `local` (entry path `entry`), deepest first: what replacing it by another type removes. */
export function contentsOf(local: Buffer, entry: Buffer): Deletion[] {
  const plan: Deletion[] = [];
  const scope: DeletionScope = { directories: [], listed: () => false, relative: (path) => path.toString('latin1') };
  for (const name of readNames(local)) collect(scope, Buffer.concat([local, SLASH, name]), Buffer.concat([entry, SLASH, name]), plan);
  return plan;
}

/**
 * The names in `dir` in the order rsync's --delete lists them: its file list sorted (files before
 * directories, each by bytes) and walked backwards, so directories last-first, then files last-first.
 */
function readNames(dir: Buffer): Buffer[] {
  let entries: fs.Dirent<Buffer>[];
  try {
    entries = fs.readdirSync(dir, { encoding: 'buffer', withFileTypes: true });
  } catch (err) {
    throw fsError(err, 'read directory', dir);
  }
  const byteOrder = (a: fs.Dirent<Buffer>, b: fs.Dirent<Buffer>): number => Buffer.compare(a.name, b.name);
  const dirs = entries.filter((entry) => entry.isDirectory()).sort(byteOrder);
  const others = entries.filter((entry) => !entry.isDirectory()).sort(byteOrder);
  return [...others, ...dirs].reverse().map((entry) => entry.name);
}

/**
 * Removes one planned entry: the name itself, never what a symlink points to. With --backup
 * (`backupSuffix`) a file or symlink is renamed to its backup name instead, as rsync -b deletes,
 * and a directory that keeps such backups stays: false, it was not removed.
 */
export function removeEntry(deletion: Deletion, backupSuffix?: Buffer): boolean {
  try {
    if (!deletion.isDir) {
      if (backupSuffix) fs.renameSync(deletion.local, Buffer.concat([deletion.local, backupSuffix]));
      else fs.unlinkSync(deletion.local);
    } else {
      fs.rmdirSync(deletion.local);
    }
    return true;
  } catch (err) {
    if (backupSuffix && deletion.isDir && (err as NodeJS.ErrnoException).code === 'ENOTEMPTY') return false;
    throw fsError(err, 'delete', deletion.local);
  }
}

/** --backup with --delete: backups (names ending in the suffix) are not deleted, as rsync adds `P *SUFFIX` then. */
export function isBackupName(relPath: string, backupSuffix: Buffer): boolean {
  return relPath.endsWith(backupSuffix.toString('latin1'));
}

/** --max-delete: the error for a plan of `planned` deletions when only `max` are allowed. */
export function maxDeleteError(planned: number, max: number): FcpError {
  return new FcpError('FCP_ERR_MAX_DELETE', `--max-delete ${max}: ${planned} destination entries were to be deleted; ${Math.max(planned - max, 0)} were not`, {
    hint: 'check the source and destination (a wrong path deletes much), then raise --max-delete',
  });
}
