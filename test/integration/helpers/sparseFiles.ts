/**
 * Sparse files for the tests of feature SPARSE: made with ftruncate and positional writes (so
 * only the written extents are allocated), and what a copy of one may occupy.
 */
import * as fs from 'node:fs';

/** Bytes at a file offset. */
export type Extent = [offset: number, bytes: Buffer];

/** A file of `size` bytes holding only `extents`: the rest is holes. */
export function makeSparse(file: string, size: number, extents: readonly Extent[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const [offset, bytes] of extents) fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes the file system allocated for the file (st_blocks counts 512-byte units). */
export function allocated(file: string): number {
  return fs.statSync(file).blocks * 512;
}

/**
 * What a copy of a sparse source may occupy: what the source does, and per extent up to two
 * 8 KiB units (the granularity of HOLE) that its bytes touch without filling.
 */
export function sparseCopyLimit(source: string, extents: number): number {
  return allocated(source) + extents * 2 * 8192;
}
