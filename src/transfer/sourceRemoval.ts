/**
 * --remove-source-files, as rsync has it: the sender removes each source file, symlink and other
 * name of a hard-linked file once the receiver has it in place (verified, or found the same by
 * the quick check); never a directory, never an entry that failed, and never one that is no
 * longer what was sent (another type, size, mtime or inode than when it was walked, or a file that
 * grew while it was read).
 */
import * as fs from 'node:fs';
import { fsError } from './fsError';
import { showName } from '../showName';
import type { Entry } from './walk';

export type RemovableEntry = Exclude<Entry, { kind: 'dir' }>;

/** Removes the source of an entry that is in place at the destination; returns why it was kept, or undefined when it is gone. */
export function removeSource(entry: RemovableEntry): string | undefined {
  let stat: fs.BigIntStats;
  try {
    stat = fs.lstatSync(entry.source, { bigint: true });
  } catch (err) {
    return keptBecause(entry.source, fsError(err, 'inspect', entry.source).message);
  }
  if (!isAsWalked(entry, stat)) return keptBecause(entry.source, 'it is not what was read (a symlink that was followed, or its type, size or mtime changed)');
  try {
    fs.unlinkSync(entry.source);
  } catch (err) {
    return keptBecause(entry.source, fsError(err, 'remove', entry.source).message);
  }
  return undefined;
}

export function keptBecause(source: Buffer, why: string): string {
  return `${showName(source)} was not removed (--remove-source-files): ${why}`;
}

function isAsWalked(entry: RemovableEntry, stat: fs.BigIntStats): boolean {
  if (stat.mtimeNs !== entry.mtimeNs) return false;
  // Another inode under the name: a file put in its place, such as the copy itself renamed over it
  // when the destination is the source (its mtime set to the microsecond may equal the source's).
  if (entry.kind === 'file' && entry.walked && stat.ino !== entry.walked.ino) return false;
  return entry.kind === 'symlink' ? stat.isSymbolicLink() : stat.isFile() && stat.size === BigInt(entry.size);
}
