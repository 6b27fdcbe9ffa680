/**
 * Sparse files (feature SPARSE, PROTOCOL.md §7.3): what the sender and the receiver share about
 * runs of zeros. The sender looks for zeros only in files whose allocated blocks cover less than
 * their size (as `cp --sparse=auto` does), so a dense file's chunks cost no scan; in such a file
 * each DATA_UNIT of zeros travels as part of a HOLE, with no bytes. The receiver writes nothing for
 * a hole in a file it created this run (its bytes there are zeros already: the file was sized
 * with ftruncate, which allocates nothing), so the destination stays sparse.
 */
import * as fs from 'node:fs';
import { DATA_UNIT, DEFAULT_CHUNK_SIZE, PacketType } from '../protocol/constants';
import type { ChunkSumMessage, DataMessage, HoleMessage } from '../protocol/messages';
import type { HolePiece } from '../session/transfer';
import { chunkHash, XXHashAPI } from '../protocol/xxhash';
import { dataMessages } from './deltaFrames';

/** st_blocks counts 512-byte units whatever the file system's block size (POSIX). */
const STAT_BLOCK = 512;

/** Zeros to compare with and to hash holes over: a chunk's worth, used in slices. */
let zeros: Buffer | undefined;
function zeroBuffer(): Buffer {
  zeros ??= Buffer.alloc(DEFAULT_CHUNK_SIZE);
  return zeros;
}

/** A file whose allocated blocks hold less than its size has holes: it is worth scanning for zeros. */
export function hasHoles(stats: { blocks: number | bigint; size: number | bigint }): boolean {
  return BigInt(stats.blocks) * BigInt(STAT_BLOCK) < BigInt(stats.size);
}

/**
 * True when bytes[from, to) are all 0: memcmp against pooled zeros (about 10 GB/s here), with no
 * view allocated (a chunk has 128 units to check).
 */
export function isZero(bytes: Uint8Array, from = 0, to = bytes.length): boolean {
  const reference = zeroBuffer();
  for (let at = from; at < to; at += reference.length) {
    const length = Math.min(to - at, reference.length);
    if (reference.compare(bytes, at, at + length, 0, length) !== 0) return false;
  }
  return true;
}

/** `length` zero bytes as views of the pooled zeros (nothing is allocated). */
export function zeroSlices(length: number): Buffer[] {
  const reference = zeroBuffer();
  const slices: Buffer[] = [];
  for (let left = length; left > 0; left -= reference.length) slices.push(reference.subarray(0, Math.min(left, reference.length)));
  return slices;
}

/** xxh64 of `length` zeros, worked out once per length and hasher (a file of holes has one or two lengths). */
const zeroHashes = new WeakMap<XXHashAPI, Map<number, bigint>>();
export function zeroHash(xxh: XXHashAPI, length: number): bigint {
  let byLength = zeroHashes.get(xxh);
  if (!byLength) zeroHashes.set(xxh, (byLength = new Map()));
  let hash = byLength.get(length);
  if (hash === undefined) byLength.set(length, (hash = chunkHash(xxh, zeroSlices(length))));
  return hash;
}

export type SparseChunkMessage = HoleMessage | DataMessage | ChunkSumMessage;

/**
 * A chunk of a sparse source read whole into `data` (from file offset `start`), scanned once:
 * its hash (a chunk of zeros is not hashed: its hash is known) and its messages, a HOLE for each
 * run of DATA_UNITs of zeros, DATA for the bytes between them (never more than a frame's worth
 * each), then CHUNK_SUM over the whole chunk as for any chunk.
 */
export function sparseChunk(xxh: XXHashAPI, fileId: number, start: number, data: Buffer): { hash: bigint; messages: SparseChunkMessage[] } {
  const messages: SparseChunkMessage[] = [];
  let runStart = 0;
  let runIsHole = true;
  const closeRun = (end: number): void => {
    if (end === runStart) return;
    if (runIsHole) messages.push({ type: PacketType.HOLE, fileId, seq: (start + runStart) / DATA_UNIT, length: end - runStart });
    else messages.push(...dataMessages(fileId, start, data, start + runStart, end - runStart));
    runStart = end;
  };
  // A chunk of zeros (the common case in a sparse file) is checked in one go.
  const zeros = isZero(data);
  for (let at = 0; at < data.length && !zeros; at += DATA_UNIT) {
    // A short last unit of zeros goes as DATA: a HOLE for it could take more frame bytes than it saves.
    const unitIsHole = at + DATA_UNIT <= data.length && isZero(data, at, at + DATA_UNIT);
    if (unitIsHole !== runIsHole) {
      closeRun(at);
      runIsHole = unitIsHole;
    }
  }
  if (zeros && data.length < DATA_UNIT) runIsHole = false;
  closeRun(data.length);
  const hash = zeros ? zeroHash(xxh, data.length) : chunkHash(xxh, [data]);
  messages.push({ type: PacketType.CHUNK_SUM, fileId, seq: start / DATA_UNIT, length: data.length, hash });
  return { hash, messages };
}

/** Where each received DATA byte of a chunk with holes goes: runs of buffers by file offset. */
export interface DataRun {
  at: number;
  buffers: Buffer[];
}

/**
 * The chunk at `offset`: its DATA payloads (in order) laid between its holes (in order, as the
 * receiver's machine checked them: together they cover the chunk). Also the parts to hash, in
 * order, zeros standing for the holes.
 */
export function layOut(offset: number, data: readonly Buffer[], holes: readonly HolePiece[]): { runs: DataRun[]; hashParts: Buffer[] } {
  const runs: DataRun[] = [];
  const hashParts: Buffer[] = [];
  let next = 0;
  let at = offset;
  const takeUntil = (end: number): void => {
    const run: DataRun = { at, buffers: [] };
    while (at < end && next < data.length) {
      const buffer = data[next++]!;
      run.buffers.push(buffer);
      hashParts.push(buffer);
      at += buffer.length;
    }
    if (run.buffers.length > 0) runs.push(run);
  };
  for (const hole of holes) {
    takeUntil(hole.at);
    hashParts.push(...zeroSlices(hole.length));
    at = hole.at + hole.length;
  }
  takeUntil(Infinity);
  return { runs, hashParts };
}

/** The hash of a chunk laid out with holes: one of zeros only is not hashed again. */
export function laidOutHash(xxh: XXHashAPI, runs: readonly DataRun[], hashParts: readonly Buffer[], length: number): bigint {
  return runs.length === 0 ? zeroHash(xxh, length) : chunkHash(xxh, hashParts);
}

/**
 * True when the file's bytes in the hole are zeros already. A part file reused from an earlier
 * run may hold bytes of a chunk written but never recorded: its holes are read before they are
 * skipped. Reading a hole costs no disk access.
 */
export function zerosOnDisk(fd: number, hole: HolePiece): boolean {
  const scratch = Buffer.allocUnsafe(Math.min(hole.length, DEFAULT_CHUNK_SIZE));
  for (let at = hole.at; at < hole.at + hole.length; ) {
    const want = Math.min(scratch.length, hole.at + hole.length - at);
    const read = fs.readSync(fd, scratch, 0, want, at);
    // Past the end of the file reads nothing: the file is extended with zeros there.
    if (read === 0) return true;
    if (!isZero(scratch.subarray(0, read))) return false;
    at += read;
  }
  return true;
}
