/**
 * --remove-source-files, as rsync has it: the sender removes each source file, symlink and other
 * name of a hard-linked file once the receiver has it in place (verified, or found the same by
 * the quick check); never a directory, never an entry that failed, and never one that is no
 * longer what was sent (another type, size, mtime or inode than when it was walked, or a file that
 * grew while it was read), nor one that is its own destination: the receiver's inode tag of a file
 * it found the same equals the source's (on this host, over SSH; PROTOCOL.md §7.5).
 */
import * as fs from 'node:fs';
import { FcpError, type FcpErrorCode } from '../errors';
import { fsError } from './fsError';
import { inodeTag } from './inodeTag';
import { showName } from '../showName';
import type { Entry } from './walk';

export type RemovableEntry = Exclude<Entry, { kind: 'dir' }>;

/** Why a source was kept, and the code of that reason: what the user is told, and what the summary counts (the copy is partial, as rsync's exit 23). */
export interface KeptSource {
  code: FcpErrorCode;
  why: string;
}

/** A source that is its own destination. */
export const IS_ITS_DESTINATION: KeptSource = { code: 'FCP_ERR_CONFLICT', why: 'it is the destination itself (the same file, on this host)' };
/** Another name of such a file. */
export const NAME_OF_OWN_DESTINATION: KeptSource = { code: 'FCP_ERR_CONFLICT', why: 'the file it names is its own destination (on this host), and so is this name' };
/** A file that grew while it was read: the destination has less than the source now holds. */
export const GREW: KeptSource = { code: 'FCP_ERR_SOURCE_CHANGED', why: 'it grew while it was read' };
const CHANGED: KeptSource = { code: 'FCP_ERR_SOURCE_CHANGED', why: 'it is not what was read (a symlink that was followed, or its type, size, mtime or inode changed)' };

/** Whether the source is the file whose inode tag the receiver sent (FILE_SAME_INODE); one that cannot be inspected is removed by no one. */
export function isItsDestination(source: Buffer, destinationTag: bigint): boolean {
  try {
    const stat = fs.lstatSync(source, { bigint: true });
    return inodeTag(stat.dev, stat.ino) === destinationTag;
  } catch {
    return false;
  }
}

/**
 * Removes the source of an entry that is in place at the destination; returns why it was kept,
 * or undefined when it is gone (one that was gone already too, as rsync's "sender file already
 * removed": what the move was for is done).
 */
export function removeSource(entry: RemovableEntry): KeptSource | undefined {
  let stat: fs.BigIntStats;
  try {
    stat = fs.lstatSync(entry.source, { bigint: true });
  } catch (err) {
    return gone(err) ? undefined : failedTo('inspect', entry.source, err);
  }
  if (!isAsWalked(entry, stat)) return CHANGED;
  try {
    fs.unlinkSync(entry.source);
  } catch (err) {
    return gone(err) ? undefined : failedTo('remove', entry.source, err);
  }
  return undefined;
}

function gone(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

function failedTo(operation: string, source: Buffer, err: unknown): KeptSource {
  const error = fsError(err, operation, source);
  return { code: error.code, why: error.message };
}

/** A source kept, as the user is told and the summary counts it (the copy is partial). */
export function keptError(source: Buffer, kept: KeptSource): FcpError {
  return new FcpError(kept.code, `${showName(source)} was not removed (--remove-source-files): ${kept.why}`);
}

function isAsWalked(entry: RemovableEntry, stat: fs.BigIntStats): boolean {
  if (stat.mtimeNs !== entry.mtimeNs) return false;
  // Another inode under the name: a file put in its place, such as the copy itself renamed over it
  // when the destination is the source (its mtime set to the microsecond may equal the source's).
  const walkedIno = entry.kind === 'file' ? entry.walked?.ino : entry.ino;
  if (walkedIno !== undefined && stat.ino !== walkedIno) return false;
  return entry.kind === 'symlink' ? stat.isSymbolicLink() : stat.isFile() && stat.size === BigInt(entry.size);
}
