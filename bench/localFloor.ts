/**
 * The floor under a local copy in fcp's own process (issue 14): the system calls and hashing that
 * copy must make, from one Node process, with nothing else: no walk stream, no protocol machines,
 * no messages between a sender and a receiver, no events, no journals, no checks.
 *
 * Usage: localFloor.js SRC DST (DST must not exist; SRC a file or a directory)
 *   A file of at most SMALL_MAX bytes is done as fcp does one, on the main thread with synchronous
 *   calls: lstat (the walk), open, read, fstat, close the source; xxh64 of its bytes; open the
 *   destination (O_EXCL), write, futimes, close. A larger file goes as fcp's chunks do: STREAMS
 *   pumps each read a CHUNK with a positional read through libuv's thread pool, hash it, and
 *   write it at its offset through the pool; then futimes. Directories get their mode and mtime.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { loadXxhash, XXHashAPI } from '../src/protocol/xxhash';

const SMALL_MAX = 16 * 1024;
const STREAMS = 4;
const CHUNK = 1024 * 1024;
const read = promisify(fs.read);
const write = promisify(fs.write);

const small = Buffer.allocUnsafeSlow(SMALL_MAX);

function copySmall(xxh: XXHashAPI, source: string, target: string, stat: fs.BigIntStats): void {
  const size = Number(stat.size);
  const data = small.subarray(0, size);
  const input = fs.openSync(source, fs.constants.O_RDONLY);
  for (let filled = 0; filled < size; ) filled += fs.readSync(input, data, filled, size - filled, filled);
  fs.fstatSync(input, { bigint: true });
  fs.closeSync(input);
  xxh.h64Raw(data);
  const output = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, Number(stat.mode) & 0o7777);
  for (let written = 0; written < size; ) written += fs.writeSync(output, data, written, size - written, written);
  fs.futimesSync(output, stat.atime, stat.mtime);
  fs.closeSync(output);
}

async function copyLarge(xxh: XXHashAPI, source: string, target: string, stat: fs.BigIntStats): Promise<void> {
  const size = Number(stat.size);
  const input = fs.openSync(source, fs.constants.O_RDONLY);
  const output = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, Number(stat.mode) & 0o7777);
  let next = 0;
  const pump = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafeSlow(CHUNK);
    for (let offset = next; offset < size; offset = next) {
      next += CHUNK;
      const length = Math.min(CHUNK, size - offset);
      const piece = buffer.subarray(0, length);
      for (let filled = 0; filled < length; ) filled += (await read(input, piece, filled, length - filled, offset + filled)).bytesRead;
      xxh.h64Raw(piece);
      for (let written = 0; written < length; ) written += (await write(output, piece, written, length - written, offset + written)).bytesWritten;
    }
  };
  await Promise.all(Array.from({ length: STREAMS }, pump));
  fs.futimesSync(output, stat.atime, stat.mtime);
  fs.closeSync(output);
  fs.closeSync(input);
}

async function copyEntry(xxh: XXHashAPI, source: string, target: string): Promise<void> {
  const stat = fs.lstatSync(source, { bigint: true });
  if (stat.isDirectory()) {
    fs.mkdirSync(target, { mode: 0o700 });
    for (const name of fs.readdirSync(source)) await copyEntry(xxh, path.join(source, name), path.join(target, name));
    fs.chmodSync(target, Number(stat.mode) & 0o7777);
    fs.utimesSync(target, stat.atime, stat.mtime);
  } else if (stat.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(source), target);
  } else if (stat.size <= SMALL_MAX) {
    copySmall(xxh, source, target, stat);
  } else {
    await copyLarge(xxh, source, target, stat);
  }
}

async function main(): Promise<void> {
  const [source, target] = process.argv.slice(2);
  if (!source || !target) throw new Error('usage: localFloor.js SRC DST');
  // As fcp sizes it for a local copy: a read and a write per stream.
  process.env.UV_THREADPOOL_SIZE ??= String(2 * STREAMS);
  await copyEntry(await loadXxhash(), source, target);
}

main().catch((err: Error) => {
  process.stderr.write(`localFloor: ${err.message}\n`);
  process.exit(1);
});
