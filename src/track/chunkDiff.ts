/**
 * Which chunks of a file differ from its content at the last sync, from the xxh64 of each chunk
 * of both (trackDb keeps them): the runs of differing chunks, as chunk indexes and byte ranges.
 * Pure. A chunk past the end of either side differs (the file grew or shrank).
 */
import { CHUNK_HASH_BYTES } from '../state/trackDb';

export interface ChunkRange {
  /** Chunk indexes, both included. */
  firstChunk: number;
  lastChunk: number;
  /** Bytes [start, end). */
  start: number;
  end: number;
}

/**
 * The differing runs of `now` against `base` (concatenated chunk hashes), `extent` the larger of
 * the two sizes (where the last chunk ends).
 */
export function changedRanges(now: Buffer, base: Buffer, chunkSize: number, extent: number): ChunkRange[] {
  const ranges: ChunkRange[] = [];
  const count = Math.max(now.length, base.length) / CHUNK_HASH_BYTES;
  let run: ChunkRange | undefined;
  for (let chunk = 0; chunk < count; chunk++) {
    const at = chunk * CHUNK_HASH_BYTES;
    const end = at + CHUNK_HASH_BYTES;
    if (end <= now.length && end <= base.length && now.compare(base, at, end, at, end) === 0) {
      run = undefined;
      continue;
    }
    const bytesEnd = Math.min((chunk + 1) * chunkSize, extent);
    if (run) {
      run.lastChunk = chunk;
      run.end = bytesEnd;
    } else {
      run = { firstChunk: chunk, lastChunk: chunk, start: chunk * chunkSize, end: bytesEnd };
      ranges.push(run);
    }
  }
  return ranges;
}
