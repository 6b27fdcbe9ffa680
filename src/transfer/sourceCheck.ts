/**
 * Whether a source file changed while it was read. The sender fstats the open descriptor when it
 * opens a file and again after every read: a read that overlapped a write is always followed by
 * an fstat that sees the write (its mtime and ctime, or its size), so a file whose reads all
 * passed the check was read whole from one version of it. One fstat on an open descriptor costs
 * about a microsecond, next to a chunk's read of up to 64 MiB.
 *
 * A file that is written in place (same size, new mtime or ctime) or got shorter fails with
 * FCP_ERR_SOURCE_CHANGED: what was read is a mix of two versions. A file that got longer is taken
 * to have been appended to, as a log file is: its first `size` bytes, as announced, are sent, and
 * it is reported as changed while read (tar's "file changed as we read it").
 */
import { FcpError } from '../errors';
import { showName } from '../showName';
import { fstatStillMatches, leanFstat } from './leanStat';
import type { WalkedFile } from './walk';

export interface SourceState {
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Allocated 512-byte units: fewer than the size needs means the file has holes (sparse.ts). */
  blocks: number;
}

/**
 * The open file's state, through the fs binding (leanStat.ts): fstatSync's BigIntStats made four
 * Dates and twenty BigInts for it, twice for every file read in chunks (about 4 µs a file).
 */
export function sourceState(fd: number): SourceState {
  return leanFstat(fd);
}

export function sourceChanged(source: Buffer, how: string): FcpError {
  return new FcpError('FCP_ERR_SOURCE_CHANGED', `${showName(source)} ${how} while it was being read; not copied`, {
    hint: 'copy it again once nothing writes to it',
  });
}

/**
 * Checks the open file against its state when opened; throws FCP_ERR_SOURCE_CHANGED when it was
 * written in place or got shorter than `size` (the size announced), and says whether it grew.
 */
export function checkSource(fd: number, opened: SourceState, source: Buffer, size: number): { grew: boolean } {
  const now = sourceState(fd);
  if (now.size < size) throw sourceChanged(source, 'shrank');
  const grew = now.size > size;
  if (now.size === opened.size && (now.mtimeNs !== opened.mtimeNs || now.ctimeNs !== opened.ctimeNs)) {
    throw sourceChanged(source, 'was modified');
  }
  return { grew };
}

/**
 * Whether the open file, read whole, is still the one the walk's lstat saw: the same inode, size,
 * mtime and ctime after the read mean that no write came between the walk and the end of the
 * read, so one fstat checks a small file (the opening fstat of checkSource is not needed). It is
 * a LeanStat: a BigIntStats for every small file was a quarter of what the sender allocated for it.
 */
export function unchangedSinceWalk(fd: number, size: number, mtimeNs: bigint, walked: WalkedFile): boolean {
  // The walk's own fstat of a file it reads as it finds it (walked is that LeanStat): no LeanStat made.
  const matches = fstatStillMatches(fd, walked);
  if (matches !== undefined) return matches;
  const now = leanFstat(fd);
  return now.ino === walked.ino && now.size === size && now.mtimeNs === mtimeNs && now.ctimeNs === walked.ctimeNs;
}

/** The warning for a file that grew while it was read: what was sent is its start. */
export function grewWarning(source: Buffer, size: number): string {
  return `${showName(source)}: file changed as we read it (it grew); its first ${size} bytes were copied`;
}
