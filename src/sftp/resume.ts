/**
 * Resume by size for SFTP copies. A file is written under `.<name>.fcp-sftp-<size>-<mtime>`, the
 * source's size and mtime (seconds) in the name: a later run for the same source finds it and
 * continues from its length, less a margin. The mover never writes more than WINDOW_CHUNKS
 * chunks ahead of the first chunk not yet written, so every byte below (length - margin) was
 * written: holes left by parallel writes lie above it.
 */
import { hiddenTempPath } from '../transfer/fileWriter';

/** The unit SFTP copies split files into, and the margin's unit: fixed, so that runs agree. */
export const SFTP_CHUNK_BYTES = 1024 * 1024;
/** How far ahead of the first unwritten chunk a file's writes may go. */
export const WINDOW_CHUNKS = 16;
export const RESUME_MARGIN_BYTES = WINDOW_CHUNKS * SFTP_CHUNK_BYTES;

/**
 * Whether an earlier run's temporary could let a file of `size` bytes resume at all: below the
 * margin plus a chunk, resumeOffset is 0 whatever the temporary holds, so looking for one (a
 * round trip per file, most of a small file's cost) is skipped.
 */
export function mayResume(size: number): boolean {
  return size >= RESUME_MARGIN_BYTES + SFTP_CHUNK_BYTES;
}

export function resumableTempPath(final: Buffer, size: number, mtimeSeconds: number): Buffer {
  return hiddenTempPath(final, `.fcp-sftp-${size}-${mtimeSeconds}`);
}

/**
 * Where to continue a file of `size` bytes whose temporary holds `tempSize` bytes (undefined:
 * there is none): a chunk boundary at least the margin below its length, or 0. A temporary
 * longer than the source is not this source's: it is started again.
 */
export function resumeOffset(tempSize: number | undefined, size: number): number {
  if (tempSize === undefined || tempSize > size) return 0;
  const trusted = Math.max(0, tempSize - RESUME_MARGIN_BYTES);
  return Math.floor(trusted / SFTP_CHUNK_BYTES) * SFTP_CHUNK_BYTES;
}
