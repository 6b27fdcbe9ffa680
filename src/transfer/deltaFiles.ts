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
import { Block, BlockScanner, SignedBlock } from '../delta/blocks';
import type { CopyPiece } from '../delta/plan';
import { signatureLimit } from '../delta/signature';

const read = promisify(fs.read);

/** Bytes read at a time while scanning. */
const SCAN_READ = 4 * 1024 * 1024;

/**
 * The blocks of the first `size` bytes of the open file `fd`, at most `limit` of them; stops early
 * (undefined) when `stop` says so, between reads. A file shorter than `size` gives the blocks of
 * what it has. `also` sees every byte read, in order.
 */
export async function scanBlocks(xxh: XXHashAPI, fd: number, size: number, limit: number, stop: () => boolean, also?: (data: Buffer) => void): Promise<Block[] | undefined> {
  const scanner = new BlockScanner(xxh, limit);
  const buffer = Buffer.allocUnsafe(Math.min(SCAN_READ, Math.max(1, size)));
  for (let position = 0; position < size && !scanner.full; ) {
    const { bytesRead } = await read(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (stop()) return undefined;
    if (bytesRead === 0) break;
    scanner.push(buffer.subarray(0, bytesRead));
    also?.(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return scanner.end();
}

/**
 * The bytes of a chunk of `length` bytes at file offset `start`, in order: its `copies` read from
 * the old file `oldFd`, and between them the literal bytes of `data`, in order. Where the old file
 * is shorter than a copy needs (it changed since its signature) the copy reads zeros: the chunk
 * then fails its hash and comes again whole.
 */
export function assembleChunk(oldFd: number, start: number, length: number, data: readonly Buffer[], copies: readonly CopyPiece[]): Buffer[] {
  const parts: Buffer[] = [];
  let at = start;
  let literal = 0;
  let literalOffset = 0;
  const takeLiteral = (count: number): void => {
    while (count > 0) {
      const buffer = data[literal]!;
      const take = Math.min(count, buffer.length - literalOffset);
      parts.push(buffer.subarray(literalOffset, literalOffset + take));
      count -= take;
      literalOffset += take;
      if (literalOffset === buffer.length) {
        literal++;
        literalOffset = 0;
      }
    }
  };
  for (const copy of copies) {
    takeLiteral(copy.at - at);
    const old = Buffer.allocUnsafe(copy.length);
    for (let filled = 0; filled < copy.length; ) {
      const bytesRead = fs.readSync(oldFd, old, filled, copy.length - filled, copy.from + filled);
      if (bytesRead === 0) {
        old.fill(0, filled);
        break;
      }
      filled += bytesRead;
    }
    parts.push(old);
    at = copy.at + copy.length;
  }
  takeLiteral(start + length - at);
  return parts;
}

/** The destination's old version of a file: a regular file (never followed through a symlink). */
export interface OldVersion {
  path: Buffer;
  size: number;
}

/**
 * The old version at `path` worth a delta for a new file of `newSize` bytes: none for a new file
 * smaller than DELTA_MIN_FILE, nor for an old one shorter than a block, nor for anything but a
 * regular file (or nothing).
 */
export function oldVersion(path: Buffer, newSize: number): OldVersion | undefined {
  if (newSize < DELTA_MIN_FILE) return undefined;
  const existing = fs.lstatSync(path, { throwIfNoEntry: false });
  return existing?.isFile() && existing.size >= DELTA_MIN_BLOCK ? { path, size: existing.size } : undefined;
}

/**
 * The signature of `old` for a new file of `newSize` bytes (at most signatureLimit blocks); empty
 * when it cannot be read, or `stop` said so: the file is then sent whole.
 */
export async function signOldVersion(xxh: XXHashAPI, old: OldVersion, newSize: number, stop: () => boolean): Promise<SignedBlock[]> {
  let fd: number | undefined;
  try {
    fd = fs.openSync(old.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    return (await scanBlocks(xxh, fd, old.size, signatureLimit(newSize), stop)) ?? [];
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/**
 * assembleChunk with the old file at `oldPath`, opened for the chunk; when it cannot be opened
 * (it went away since its signature) the literal bytes alone, which fail the chunk's hash: the
 * chunk then comes again whole.
 */
export function readChunkWithCopies(oldPath: Buffer, start: number, length: number, data: readonly Buffer[], copies: readonly CopyPiece[]): Buffer[] {
  let fd: number | undefined;
  try {
    fd = fs.openSync(oldPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    return assembleChunk(fd, start, length, data, copies);
  } catch {
    return [...data];
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}
