/**
 * The delta's file I/O: a file's blocks, read in large pieces through libuv's thread pool (a
 * signature or a plan of a large file takes a while, and other files go on meanwhile), and a
 * chunk put together from the old file's ranges and the literal bytes that came.
 */
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { DELTA_MIN_BLOCK, DELTA_MIN_FILE } from '../protocol/constants';
import type { XXHashAPI } from '../protocol/xxhash';
import { closeQuietly } from './fsError';
import { Block, BlockScanner, FileScanner, SignedBlock } from '../delta/blocks';
import type { CopyPiece } from '../delta/plan';
import { signatureLimit } from '../delta/signature';
import { ChunkBuffers } from './memoryLink';
import { FileIdentity, identityOf } from '../state/signatureCache';

const read = promisify(fs.read);

/**
 * Delta chunks put together at once at most, each in a buffer of its own until it is written:
 * DELTA_COPY messages are tiny, so the connection's flow control (a pause after a few waiting
 * writes) lets hundreds of them in at once, each a chunk's worth of memory.
 */
const ASSEMBLED_AT_ONCE = 8;

/** Bytes read at a time while scanning. */
const SCAN_READ = 4 * 1024 * 1024;

/**
 * The blocks of the first `size` bytes of the open file `fd`, as `scanner` cuts them (it may stop
 * early: `full`); stops early (undefined) when `stop` says so, between reads. A file shorter than
 * `size` gives the blocks of what it has. `also` sees every byte read, in order; `progress` the
 * blocks so far after each read. The next read is under way while a read's bytes are scanned.
 */
export async function scanBlocks(
  fd: number,
  size: number,
  scanner: FileScanner,
  stop: () => boolean,
  also?: (data: Buffer) => void,
  progress?: (blocks: readonly Block[]) => void,
): Promise<Block[] | undefined> {
  const length = Math.min(SCAN_READ, Math.max(1, size));
  const buffers = [Buffer.allocUnsafe(length), Buffer.allocUnsafe(length)] as const;
  const readAt = (position: number, turn: number): Promise<{ bytesRead: number }> | undefined =>
    position < size ? read(fd, buffers[turn % 2]!, 0, Math.min(length, size - position), position) : undefined;
  let pending = readAt(0, 0);
  try {
    for (let position = 0, turn = 0; pending && !scanner.full; turn++) {
      const { bytesRead } = await pending;
      pending = undefined;
      if (stop()) return undefined;
      if (bytesRead === 0) break;
      position += bytesRead;
      pending = readAt(position, turn + 1);
      const data = buffers[turn % 2]!.subarray(0, bytesRead);
      scanner.push(data);
      also?.(data);
      progress?.(scanner.closed);
    }
  } finally {
    // No read is left in flight on `fd` (its owner closes it once the scan is over).
    await pending?.catch(() => undefined);
  }
  return scanner.end();
}

/**
 * Fills `chunk` (the chunk at file offset `start`, whole) with its `copies` read from the old file
 * `oldFd` and, between them, the literal bytes of `data`, in order. Where the old file is shorter
 * than a copy needs (it changed since its signature) the copy reads zeros: the chunk then fails
 * its hash and comes again whole. The reads go through libuv's thread pool: other chunks are
 * hashed and written meanwhile.
 */
async function assembleChunk(oldFd: number, start: number, chunk: Buffer, data: readonly Buffer[], copies: readonly CopyPiece[]): Promise<void> {
  let at = 0;
  let literal = 0;
  let literalOffset = 0;
  const takeLiteral = (end: number): void => {
    while (at < end) {
      const buffer = data[literal]!;
      const take = Math.min(end - at, buffer.length - literalOffset);
      buffer.copy(chunk, at, literalOffset, literalOffset + take);
      at += take;
      literalOffset += take;
      if (literalOffset === buffer.length) {
        literal++;
        literalOffset = 0;
      }
    }
  };
  for (const copy of copies) {
    takeLiteral(copy.at - start);
    await readOld(oldFd, chunk.subarray(at, at + copy.length), copy.from);
    at += copy.length;
  }
  takeLiteral(chunk.length);
}

/** Fills `into` from the old file at `from`; zeros past its end. */
async function readOld(oldFd: number, into: Buffer, from: number): Promise<void> {
  for (let filled = 0; filled < into.length; ) {
    const { bytesRead } = await read(oldFd, into, filled, into.length - filled, from + filled);
    if (bytesRead === 0) {
      into.fill(0, filled);
      return;
    }
    filled += bytesRead;
  }
}

/** Pooled buffers for delta chunks, ASSEMBLED_AT_ONCE lent at a time; who asks for more waits its turn, in order. */
export class ChunkAssembly {
  private readonly buffers: ChunkBuffers;
  private readonly waiting: (() => void)[] = [];
  private lent = 0;

  constructor(chunkSize: number) {
    this.buffers = new ChunkBuffers(chunkSize);
  }

  /** Runs `use` with `length` bytes of a buffer once one is free; `use` calls `free` once it is done with them. */
  withBuffer(length: number, use: (chunk: Buffer, free: () => void) => void): void {
    if (this.lent === ASSEMBLED_AT_ONCE) {
      this.waiting.push(() => this.withBuffer(length, use));
      return;
    }
    this.lent++;
    const chunk = this.buffers.take(length);
    use(chunk, () => {
      this.buffers.give([chunk]);
      this.lent--;
      this.waiting.shift()?.();
    });
  }
}

/** The destination's old version of a file: a regular file (never followed through a symlink). */
export interface OldVersion {
  path: Buffer;
  size: number;
  /** What the signature cache knows the file by. */
  identity: FileIdentity;
}

/**
 * The old version at `path` worth a delta for a new file of `newSize` bytes: none for a new file
 * smaller than DELTA_MIN_FILE, nor for an old one shorter than a block, nor for anything but a
 * regular file (or nothing).
 */
export function oldVersion(path: Buffer, newSize: number): OldVersion | undefined {
  if (newSize < DELTA_MIN_FILE) return undefined;
  const identity = identityOf(path);
  return identity && identity.size >= DELTA_MIN_BLOCK ? { path, size: Number(identity.size), identity } : undefined;
}

/**
 * Reads `old` for a new file of `newSize` bytes and hands its blocks (at most signatureLimit of
 * them) to `describe` as they are cut, in order, a read's worth at a time, the last with the file's
 * last block; stops (quietly) when it cannot be read on, or `stop` says so: what was described stands.
 */
export async function signOldVersion(xxh: XXHashAPI, old: OldVersion, newSize: number, stop: () => boolean, describe: (blocks: readonly SignedBlock[]) => void): Promise<void> {
  let fd: number | undefined;
  let described = 0;
  const describeNew = (blocks: readonly SignedBlock[]): void => {
    if (blocks.length > described) describe(blocks.slice(described));
    described = blocks.length;
  };
  try {
    fd = fs.openSync(old.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const blocks = await scanBlocks(fd, old.size, new BlockScanner(xxh, signatureLimit(newSize)), stop, undefined, describeNew);
    if (blocks) describeNew(blocks);
  } catch {
    // Unreadable (or gone): the blocks described so far are all the sender gets.
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/**
 * assembleChunk into `chunk` with the old file at `oldPath`, opened for the chunk: the chunk's
 * bytes; when the old file cannot be opened (it went away since its signature) the literal bytes
 * alone, which fail the chunk's hash: the chunk then comes again whole.
 */
export async function readChunkWithCopies(oldPath: Buffer, start: number, chunk: Buffer, data: readonly Buffer[], copies: readonly CopyPiece[]): Promise<Buffer[]> {
  let fd: number | undefined;
  try {
    fd = fs.openSync(oldPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    await assembleChunk(fd, start, chunk, data, copies);
    return [chunk];
  } catch {
    return [...data];
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}
