/**
 * What a sync's receiver reads and changes at the destination besides writing files: what is
 * under an entry's name (lstat: a symlink is never followed), metadata applied without data, and
 * an entry of another type removed before its replacement is created.
 */
import * as fs from 'node:fs';
import { PERM_MASK } from '../protocol/constants';
import type { FileOwner } from '../transfer/fileWriter';
import { seconds } from '../transfer/fileWriter';
import { FcpError } from '../errors';
import { showName } from '../showName';
import { fsError } from '../transfer/fsError';
import type { FoundEntry, ListedEntry } from './compare';

export interface Inspected {
  found: FoundEntry;
  uid: number;
  gid: number;
  /** Which file (with dev): two names of one file have the same. */
  ino: bigint;
  dev: bigint;
}

/** What is at `local`, or undefined when nothing is (or a parent is not a directory). */
export function inspect(local: Buffer): Inspected | undefined {
  let stat: fs.BigIntStats | undefined;
  try {
    stat = fs.lstatSync(local, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw fsError(err, 'inspect', local);
  }
  if (!stat) return undefined;
  const kind = stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'symlink' : 'other';
  const target = kind === 'symlink' ? fs.readlinkSync(local, { encoding: 'buffer' }) : undefined;
  return {
    found: { kind, size: Number(stat.size), mtimeNs: stat.mtimeNs, perm: Number(stat.mode) & PERM_MASK, target },
    uid: Number(stat.uid),
    gid: Number(stat.gid),
    ino: stat.ino,
    dev: stat.dev,
  };
}

/**
 * Gives the entry at `local` the listed mode and mtime (and owner), its data untouched. A
 * directory's are applied at the end, after its contents, by the writer: only the owner here.
 */
export function applyMetadata(local: Buffer, listed: ListedEntry, existing: Inspected, owner: FileOwner | undefined): void {
  try {
    // A chown clears setuid and setgid: the mode is set after it.
    const chown = owner !== undefined && (existing.uid !== owner.uid || existing.gid !== owner.gid);
    if (chown) fs.lchownSync(local, owner.uid, owner.gid);
    if (listed.kind === 'dir') return;
    if (listed.kind === 'file' && (chown || existing.found.perm !== listed.perm)) fs.chmodSync(local, listed.perm);
    fs.lutimesSync(local, Date.now() / 1000, seconds(listed.mtimeNs));
  } catch (err) {
    throw fsError(err, 'set the metadata of', local);
  }
}

/**
 * Why what is at `local` may not make way for an entry of another type, or undefined when it may
 * (rsync's rule): anything but a directory may; a directory when it is empty, or, with --delete
 * (`deletes`) and without --backup (which would lose what is in it), whatever it holds.
 */
export function replacementRefusal(local: Buffer, existing: FoundEntry, backupSuffix: Buffer | undefined, deletes: boolean): FcpError | undefined {
  if (existing.kind !== 'dir' || (deletes && !backupSuffix)) return undefined;
  let names: string[];
  try {
    names = fs.readdirSync(local);
  } catch (err) {
    return fsError(err, 'read directory', local);
  }
  if (names.length === 0) return undefined;
  return new FcpError('FCP_ERR_IS_DIRECTORY', `${showName(local)} is a directory that is not empty: an entry of another type does not replace it ${deletes ? 'with --backup' : 'without --delete'}`, {
    hint: deletes ? 'with --backup, move or remove the directory first' : 'rsync refuses it too; with --delete it goes, with everything in it',
  });
}

/**
 * Removes what is at `local` so that an entry of another type can take its place, once
 * replacementRefusal allowed it: a directory with everything in it (`deletes`: symlinks inside are
 * removed as links, never followed) or empty, anything else renamed to its backup name with
 * --backup, else unlinked.
 */
export function removeForReplacement(local: Buffer, existing: FoundEntry, backupSuffix: Buffer | undefined, deletes: boolean): void {
  try {
    if (existing.kind === 'dir') {
      if (deletes && !backupSuffix) fs.rmSync(local, { recursive: true, force: true });
      else fs.rmdirSync(local);
    } else if (backupSuffix) fs.renameSync(local, Buffer.concat([local, backupSuffix]));
    else fs.unlinkSync(local);
  } catch (err) {
    throw fsError(err, 'replace', local);
  }
}
