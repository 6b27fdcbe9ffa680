/**
 * A chunk of a file sent as a delta (feature DELTA, PROTOCOL.md §7.7): the messages that carry it
 * on a data connection, in order: DELTA_COPY for each range the receiver takes from its old
 * version, DATA for the literal bytes between them, then CHUNK_SUM over the whole chunk as for
 * any chunk. The sender reads only the literal bytes; the chunk's hash is the one its scan of the file gave.
 */
import { DATA_FRAME_BYTES, DATA_HEADER_SIZE, DATA_UNIT, GCM_TAG_SIZE, HEADER_SIZE, PacketType } from '../protocol/constants';
import type { ChunkSumMessage, DataMessage, DeltaCopyMessage } from '../protocol/messages';
import type { XXHashAPI } from '../protocol/xxhash';
import type { Block, SignedBlock } from '../delta/blocks';
import { GuidedScanner } from '../delta/guidedScan';
import type { Piece } from '../delta/plan';
import { scanBlocks } from './deltaFiles';

/** DELTA_COPY's payload: file_id u32, offset u64, old_offset u64, length u32. */
const DELTA_COPY_SIZE = 24;
/** Frame bytes of a DELTA_COPY and of a DATA beyond its data, room for a GCM tag included. */
const COPY_FRAME_ROOM = HEADER_SIZE + DELTA_COPY_SIZE + GCM_TAG_SIZE;
const DATA_FRAME_OVERHEAD = HEADER_SIZE + DATA_HEADER_SIZE + GCM_TAG_SIZE;

/**
 * Frame bytes a delta chunk of `chunkSize` bytes may take beyond its DATA frames sent whole:
 * literal pieces start and end on DATA_UNIT boundaries, so a chunk has at most one literal per
 * unit and a copy between each two, each piece costing a frame header.
 */
export function deltaRoom(chunkSize: number): number {
  return (chunkSize / DATA_UNIT + 2) * (COPY_FRAME_ROOM + DATA_FRAME_OVERHEAD);
}

export type DeltaChunkMessage = DeltaCopyMessage | DataMessage | ChunkSumMessage;

/**
 * The messages of one delta chunk: `data` holds the chunk's bytes (from file offset `start`),
 * `pieces` its share of the plan, `hash` the xxh64 of all of it. DATA never crosses a frame's
 * worth of bytes, so the same messages fit a framed connection and an in-memory one.
 */
export function deltaChunkMessages(fileId: number, start: number, data: Buffer, pieces: readonly Piece[], hash: bigint): DeltaChunkMessage[] {
  const messages: DeltaChunkMessage[] = [];
  for (const piece of pieces) {
    if (piece.from !== undefined) {
      messages.push({ type: PacketType.DELTA_COPY, fileId, offset: piece.at, oldOffset: piece.from, length: piece.length });
      continue;
    }
    messages.push(...dataMessages(fileId, start, data, piece.at, piece.length));
  }
  messages.push({ type: PacketType.CHUNK_SUM, fileId, seq: start / DATA_UNIT, length: data.length, hash });
  return messages;
}

/**
 * DATA for the `length` bytes at file offset `at` of a chunk read into `data` (from file offset
 * `start`), a frame's worth at most each: `at` is on a DATA_UNIT boundary.
 */
export function dataMessages(fileId: number, start: number, data: Buffer, at: number, length: number): DataMessage[] {
  const messages: DataMessage[] = [];
  for (let from = at; from < at + length; from += DATA_FRAME_BYTES) {
    const end = Math.min(at + length, from + DATA_FRAME_BYTES);
    messages.push({ type: PacketType.DATA, fileId, seq: from / DATA_UNIT, data: data.subarray(from - start, end - start) });
  }
  return messages;
}

/** True when the chunk's pieces copy nothing: it goes as any chunk does. */
export function allLiteral(pieces: readonly Piece[]): boolean {
  return pieces.every((piece) => piece.from === undefined);
}

/** The xxh64 of each chunk of a stream of bytes fed in pieces of any size. */
class ChunkHasher {
  readonly hashes: bigint[] = [];
  private hasher: ReturnType<XXHashAPI['create64']>;
  private filled = 0;

  constructor(
    private readonly xxh: XXHashAPI,
    private readonly chunkSize: number,
  ) {
    this.hasher = xxh.create64(0n);
  }

  push(data: Buffer): void {
    for (let at = 0; at < data.length; ) {
      const take = Math.min(data.length - at, this.chunkSize - this.filled);
      this.hasher.update(data.subarray(at, at + take));
      at += take;
      this.filled += take;
      if (this.filled === this.chunkSize) this.close();
    }
  }

  end(): bigint[] {
    if (this.filled > 0) this.close();
    return this.hashes;
  }

  private close(): void {
    this.hashes.push(this.hasher.digest());
    this.hasher = this.xxh.create64(0n);
    this.filled = 0;
  }
}

/** A file's blocks and the xxh64 of each of its chunks, from one read of it. */
export interface FileScan {
  blocks: readonly Block[];
  chunkHashes: readonly bigint[];
}

/**
 * The blocks of the open file `fd` of `size` bytes and its chunks' hashes, worked out in one pass
 * (stopping early, undefined, when `stop` says so), so that no chunk is hashed again and only the
 * literal bytes of the plan are read again. The receiver's `signature` (all of it, or as much as
 * has come: it may grow meanwhile) guides the cutting (guidedScan.ts): the blocks are the same.
 * `progress` sees the scan so far after each read (its lists grow as it goes on), and `covered`:
 * the bytes from the start that its blocks and chunk hashes both describe.
 */
export async function scanFile(
  xxh: XXHashAPI,
  fd: number,
  size: number,
  chunkSize: number,
  signature: readonly SignedBlock[],
  stop: () => boolean,
  progress?: (scan: FileScan, covered: number) => void,
): Promise<FileScan | undefined> {
  const chunks = new ChunkHasher(xxh, chunkSize);
  const seen = progress && ((blocks: readonly Block[]) => {
    const last = blocks[blocks.length - 1];
    const covered = Math.min(last ? last.offset + last.length : 0, chunks.hashes.length * chunkSize);
    progress({ blocks, chunkHashes: chunks.hashes }, covered);
  });
  const blocks = await scanBlocks(fd, size, new GuidedScanner(xxh, signature), stop, (data) => chunks.push(data), seen);
  // A file that shrank since it was announced fails when its chunks are read, as any other.
  return blocks && { blocks, chunkHashes: chunks.end() };
}
