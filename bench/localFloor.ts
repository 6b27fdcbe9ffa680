/**
 * The floor under a local copy in fcp's own process (issue 14): the system calls and hashing that
 * copy must make, from one Node process, with nothing else: no walk stream, no protocol machines,
 * no messages between a sender and a receiver, no events, no journals, no checks.
 *
 * Usage: localFloor.js [--in-fcp] [--threads | --lean | --binding | --copy-file] SRC DST (DST must not exist; SRC a file or a directory)
 *   A file of at most SMALL_MAX bytes is done as fcp does one, on the main thread with synchronous
 *   calls: lstat (the walk), open, read, fstat, close the source; xxh64 of its bytes; open the
 *   destination (O_EXCL), write, futimes, close. A larger file goes as fcp's chunks do: STREAMS
 *   pumps each read a CHUNK with a positional read through libuv's thread pool, hash it, and
 *   write it at its offset through the pool; then futimes. Directories get their mode and mtime.
 *
 * --threads: the floor of the two-thread shape (rsync runs its sender and receiver in parallel
 *   too). The main thread walks and reads (lstat; open, read, fstat, close; xxh64) straight into
 *   a slot of a SharedArrayBuffer ring; a worker_thread makes every call of the writing side
 *   (mkdir, open O_EXCL, write, futimes, close, the directories' chmod and utimes) from the
 *   records of each full slot, in order. The hand-over is an Atomics.store and notify a slot, and
 *   the wait of the side that ran ahead; both threads print where their time went (stderr, with
 *   FLOOR_TIMES=1). A large file drains the ring and is copied on the main thread, as above.
 *
 * Cheaper calls for a small file, each keeping what fcp keeps (content, mode, nanosecond mtime, an
 * xxh64 of the bytes; issue 14's seventh round, docs/BENCHMARKS.md "Local copies"):
 * --lean       the lstat and fstat from Node's fs binding into its shared array, as fcp's leanStat
 *              takes them (no BigIntStats and Dates a file); the other calls as above.
 * --binding    every call of a small file (lstat, open, read, fstat, close; open, write, futimes,
 *              close) straight to Node's fs binding: none of fs's argument checks and wrappers, the
 *              least JavaScript a Node process can put around the same system calls.
 * --copy-file  the kernel copies the bytes (fs.copyFileSync, COPYFILE_EXCL: libuv's open, fstat,
 *              open, fchmod, copy_file_range, close, close), the source is read for its xxh64
 *              (open, read, close), the mtime set by path (utimensat): fewer bytes through user
 *              space, more calls. A larger file likewise: fs.copyFile in libuv's pool while
 *              STREAMS pumps read the source a CHUNK at a time and hash it, as verification needs
 *              its bytes in memory once (the floor of a verified copy that lets the kernel write).
 *
 * --in-fcp     first loads fcp's bundle as bin/fcp does (dist/fcp.js with fcp's code cache), then
 *              copies as the shape after it says: the floor of fcp's shape, a Node process that
 *              holds fcp's code. Its command line, watchdog thread and engines are left out, so it
 *              is a lower bound of what fcp's start adds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadXxhash, XXHashAPI } from '../src/protocol/xxhash';
import { binding, STAT } from './fsBinding';

const SMALL_MAX = 16 * 1024;
const STREAMS = 4;
const CHUNK = 1024 * 1024;
const read = promisify(fs.read);
const write = promisify(fs.write);
const copyFile = promisify(fs.copyFile);

const small = Buffer.allocUnsafeSlow(SMALL_MAX);
const seconds = (ns: bigint): number => Number(ns) / 1e9;

/** How a small file's calls are made: Node's fs functions, or its binding (--lean: the stats only; --binding: every call), or --copy-file. */
type Calls = 'fs' | 'lean' | 'binding' | 'copy-file';

/** What the floor needs of a stat: type and permission bits, size, times in seconds. */
interface FloorStat {
  mode: number;
  size: number;
  atime: number;
  mtime: number;
}

const fromArray = (values: BigInt64Array): FloorStat => ({
  mode: Number(values[STAT.MODE]),
  size: Number(values[STAT.SIZE]),
  atime: Number(values[STAT.ATIME_SEC]) + Number(values[STAT.ATIME_SEC + 1]) / 1e9,
  mtime: Number(values[STAT.MTIME_SEC]) + Number(values[STAT.MTIME_SEC + 1]) / 1e9,
});

function floorStat(calls: Calls, source: string): FloorStat {
  if (calls === 'lean' || calls === 'binding') return fromArray(binding.lstat(source, true, undefined, true));
  const stat = fs.lstatSync(source, { bigint: true });
  return { mode: Number(stat.mode), size: Number(stat.size), atime: seconds(stat.atimeNs), mtime: seconds(stat.mtimeNs) };
}

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, S_IFMT, S_IFDIR, S_IFLNK } = fs.constants;
const CREATE = O_WRONLY | O_CREAT | O_EXCL;

/** --binding: the calls of copySmall, each straight to the binding. */
function copySmallBound(xxh: XXHashAPI, source: string, target: string, stat: FloorStat): void {
  const size = stat.size;
  const data = small.subarray(0, size);
  const input = binding.open(source, O_RDONLY, 0);
  for (let filled = 0; filled < size; ) filled += binding.read(input, data, filled, size - filled, filled);
  binding.fstat(input, true, undefined, false);
  binding.close(input);
  xxh.h64Raw(data);
  const output = binding.open(target, CREATE, stat.mode & 0o7777);
  const context: { errno?: number } = {};
  for (let written = 0; written < size; ) {
    written += binding.writeBuffer(output, data, written, size - written, written, undefined, context);
    if (context.errno !== undefined) throw new Error(`write of ${target} failed (errno ${context.errno})`);
  }
  binding.futimes(output, stat.atime, stat.mtime);
  binding.close(output);
}

/** --copy-file: the kernel copies (mode included), the source is read for its hash, the mtime set by path. */
function copySmallByKernel(xxh: XXHashAPI, source: string, target: string, stat: FloorStat): void {
  const data = small.subarray(0, stat.size);
  const input = fs.openSync(source, O_RDONLY);
  for (let filled = 0; filled < stat.size; ) filled += fs.readSync(input, data, filled, stat.size - filled, filled);
  fs.closeSync(input);
  xxh.h64Raw(data);
  fs.copyFileSync(source, target, fs.constants.COPYFILE_EXCL);
  fs.utimesSync(target, stat.atime, stat.mtime);
}

function copySmall(calls: Calls, xxh: XXHashAPI, source: string, target: string, stat: FloorStat): void {
  if (calls === 'binding') return copySmallBound(xxh, source, target, stat);
  if (calls === 'copy-file') return copySmallByKernel(xxh, source, target, stat);
  const size = stat.size;
  const data = small.subarray(0, size);
  const input = fs.openSync(source, O_RDONLY);
  for (let filled = 0; filled < size; ) filled += fs.readSync(input, data, filled, size - filled, filled);
  if (calls === 'lean') binding.fstat(input, true, undefined, false);
  else fs.fstatSync(input, { bigint: true });
  fs.closeSync(input);
  xxh.h64Raw(data);
  const output = fs.openSync(target, CREATE, stat.mode & 0o7777);
  for (let written = 0; written < size; ) written += fs.writeSync(output, data, written, size - written, written);
  fs.futimesSync(output, stat.atime, stat.mtime);
  fs.closeSync(output);
}

/**
 * STREAMS pumps over the file open at `input`, each reading a CHUNK at a time with a positional
 * read through libuv's pool and hashing it; `output`, when given, gets each piece at its offset.
 */
async function readAndHash(xxh: XXHashAPI, input: number, size: number, output?: number): Promise<void> {
  let next = 0;
  const pump = async (): Promise<void> => {
    const buffer = Buffer.allocUnsafeSlow(CHUNK);
    for (let offset = next; offset < size; offset = next) {
      next += CHUNK;
      const length = Math.min(CHUNK, size - offset);
      const piece = buffer.subarray(0, length);
      for (let filled = 0; filled < length; ) filled += (await read(input, piece, filled, length - filled, offset + filled)).bytesRead;
      xxh.h64Raw(piece);
      if (output === undefined) continue;
      for (let written = 0; written < length; ) written += (await write(output, piece, written, length - written, offset + written)).bytesWritten;
    }
  };
  await Promise.all(Array.from({ length: STREAMS }, pump));
}

async function copyLarge(xxh: XXHashAPI, source: string, target: string, stat: FloorStat): Promise<void> {
  const input = fs.openSync(source, O_RDONLY);
  const output = fs.openSync(target, CREATE, stat.mode & 0o7777);
  await readAndHash(xxh, input, stat.size, output);
  fs.futimesSync(output, stat.atime, stat.mtime);
  fs.closeSync(output);
  fs.closeSync(input);
}

/** --copy-file for a larger file: the kernel's copy in the pool, beside the source read and hashed a chunk at a time. */
async function copyLargeByKernel(xxh: XXHashAPI, source: string, target: string, stat: FloorStat): Promise<void> {
  const input = fs.openSync(source, O_RDONLY);
  await Promise.all([copyFile(source, target, fs.constants.COPYFILE_EXCL), readAndHash(xxh, input, stat.size)]);
  fs.closeSync(input);
  fs.utimesSync(target, stat.atime, stat.mtime);
}

async function copyEntry(calls: Calls, xxh: XXHashAPI, source: string, target: string): Promise<void> {
  const stat = floorStat(calls, source);
  const type = stat.mode & S_IFMT;
  if (type === S_IFDIR) {
    fs.mkdirSync(target, { mode: 0o700 });
    for (const name of fs.readdirSync(source)) await copyEntry(calls, xxh, path.join(source, name), path.join(target, name));
    fs.chmodSync(target, stat.mode & 0o7777);
    fs.utimesSync(target, stat.atime, stat.mtime);
  } else if (type === S_IFLNK) {
    fs.symlinkSync(fs.readlinkSync(source), target);
  } else if (stat.size <= SMALL_MAX) {
    copySmall(calls, xxh, source, target, stat);
  } else if (calls === 'copy-file') {
    await copyLargeByKernel(xxh, source, target, stat);
  } else {
    await copyLarge(xxh, source, target, stat);
  }
}

// ---- --threads: the ring between the reading (main) and the writing (worker) thread ----

/** The ring: FLOOR_SLOTS slots of FLOOR_SLOT_KIB KiB (to try other shapes by hand). */
const SLOTS = Number(process.env.FLOOR_SLOTS ?? 16);
const SLOT_BYTES = Number(process.env.FLOOR_SLOT_KIB ?? 64) * 1024;
/** A slot's state in the control array: the reader fills an EMPTY one, the writer empties a FULL one. */
const EMPTY = 0;
const FULL = 1;
/** The record kinds of a slot, each: kind u8, path length u16, path, then what the kind needs. */
const enum Kind { EndOfSlot = 0, File = 1, Mkdir = 2, DirMeta = 3, Symlink = 4, End = 5 }
/** A record's fixed part at most: kind, path length, mode, atime, mtime, data length. */
const RECORD_HEAD = 1 + 2 + 4 + 8 + 8 + 4;

const now = (): number => performance.now();

class Ring {
  readonly control: Int32Array;
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** The slot being filled (reader) or emptied (writer), and the offset in it. */
  slot = 0;
  at = 0;
  waited = 0;

  constructor(readonly shared: { control: SharedArrayBuffer; data: SharedArrayBuffer }) {
    this.control = new Int32Array(shared.control);
    this.bytes = new Uint8Array(shared.data);
    this.view = new DataView(shared.data);
  }

  base(): number {
    return this.slot * SLOT_BYTES;
  }

  /** Waits until the current slot is no longer `state` (the other thread has it). */
  waitWhile(state: number): void {
    if (Atomics.load(this.control, this.slot) !== state) return;
    const started = now();
    while (Atomics.load(this.control, this.slot) === state) Atomics.wait(this.control, this.slot, state, 10_000);
    this.waited += now() - started;
  }

  hand(to: number): void {
    Atomics.store(this.control, this.slot, to);
    Atomics.notify(this.control, this.slot);
    this.slot = (this.slot + 1) % SLOTS;
    this.at = 0;
  }
}

/** The reading side's end of the ring: records are written straight into the slot being filled. */
class RingWriter extends Ring {
  packing = 0;
  records = 0;

  /** Room for a record of `extra` bytes after its head: the slot is handed over when full. */
  reserve(extra: number): number {
    // One byte more: the 0 that ends the slot's records.
    if (this.at + RECORD_HEAD + extra + 1 > SLOT_BYTES) this.flush();
    if (this.at === 0) this.waitWhile(FULL);
    return this.base() + this.at;
  }

  /** Writes a record's head at `offset`; returns where its data goes. */
  head(offset: number, kind: Kind, target: Buffer, mode: number, atime: number, mtime: number, length: number): number {
    const view = this.view;
    view.setUint8(offset, kind);
    view.setUint16(offset + 1, target.length);
    this.bytes.set(target, offset + 3);
    let at = offset + 3 + target.length;
    view.setUint32(at, mode);
    view.setFloat64(at + 4, atime);
    view.setFloat64(at + 12, mtime);
    view.setUint32(at + 20, length);
    at += 24;
    this.at = at + length - this.base();
    this.records++;
    return at;
  }

  record(kind: Kind, target: Buffer, mode = 0, atime = 0, mtime = 0, data?: Buffer): void {
    const started = now() - this.waited;
    const offset = this.reserve(target.length + (data?.length ?? 0));
    const at = this.head(offset, kind, target, mode, atime, mtime, data?.length ?? 0);
    if (data) this.bytes.set(data, at);
    this.packing += now() - started - this.waited;
  }

  flush(): void {
    if (this.at > 0) {
      this.view.setUint8(this.base() + this.at, 0);
      this.hand(FULL);
    }
  }

  /** Waits until the writer emptied every slot (before a large file, and at the end). */
  drain(): void {
    this.flush();
    for (let i = 0; i < SLOTS; i++, this.slot = (this.slot + 1) % SLOTS) this.waitWhile(FULL);
  }
}

interface Times { read: number; hash: number; walk: number }

function readInto(ring: RingWriter, xxh: XXHashAPI, source: string, target: string, stat: FloorStat, times: Times): void {
  const size = stat.size;
  const name = Buffer.from(target);
  const started = now() - ring.waited;
  const offset = ring.reserve(name.length + size);
  const at = ring.head(offset, Kind.File, name, stat.mode & 0o7777, stat.atime, stat.mtime, size);
  const packed = now();
  // Time spent waiting for a free slot is counted apart (ring.waited).
  ring.packing += packed - started - ring.waited;
  const data = Buffer.from(ring.bytes.buffer, at, size);
  const input = fs.openSync(source, fs.constants.O_RDONLY);
  for (let filled = 0; filled < size; ) filled += fs.readSync(input, data, filled, size - filled, filled);
  fs.fstatSync(input, { bigint: true });
  fs.closeSync(input);
  const read = now();
  times.read += read - packed;
  xxh.h64Raw(data);
  times.hash += now() - read;
}

async function walkInto(ring: RingWriter, xxh: XXHashAPI, source: string, target: string, times: Times): Promise<void> {
  let started = now();
  const stat = floorStat('fs', source);
  const type = stat.mode & S_IFMT;
  times.walk += now() - started;
  if (type === S_IFDIR) {
    ring.record(Kind.Mkdir, Buffer.from(target));
    started = now();
    const names = fs.readdirSync(source);
    times.walk += now() - started;
    for (const name of names) await walkInto(ring, xxh, path.join(source, name), path.join(target, name), times);
    ring.record(Kind.DirMeta, Buffer.from(target), stat.mode & 0o7777, stat.atime, stat.mtime);
  } else if (type === S_IFLNK) {
    ring.record(Kind.Symlink, Buffer.from(target), 0, 0, 0, Buffer.from(fs.readlinkSync(source)));
  } else if (stat.size <= SMALL_MAX) {
    readInto(ring, xxh, source, target, stat, times);
  } else {
    ring.drain();
    await copyLarge(xxh, source, target, stat);
  }
}

/** The writing side: every record of each full slot, in order, until the End record. */
function writeRecords(ring: Ring): { calls: number; records: number } {
  const { bytes, view } = ring;
  let calls = 0;
  let records = 0;
  for (;;) {
    ring.waitWhile(EMPTY);
    const started = now();
    const base = ring.base();
    for (let at = base; ; ) {
      const kind = view.getUint8(at) as Kind;
      if (kind === Kind.EndOfSlot) break;
      if (kind === Kind.End) return { calls: calls + now() - started, records };
      const length = view.getUint16(at + 1);
      const target = Buffer.from(bytes.buffer, at + 3, length).toString();
      at += 3 + length;
      const mode = view.getUint32(at);
      const atime = view.getFloat64(at + 4);
      const mtime = view.getFloat64(at + 12);
      const size = view.getUint32(at + 20);
      const data = Buffer.from(bytes.buffer, at + 24, size);
      at += 24 + size;
      records++;
      if (kind === Kind.File) {
        const output = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, mode);
        for (let written = 0; written < size; ) written += fs.writeSync(output, data, written, size - written, written);
        fs.futimesSync(output, atime, mtime);
        fs.closeSync(output);
      } else if (kind === Kind.Mkdir) {
        fs.mkdirSync(target, { mode: 0o700 });
      } else if (kind === Kind.DirMeta) {
        fs.chmodSync(target, mode);
        fs.utimesSync(target, atime, mtime);
      } else if (kind === Kind.Symlink) {
        fs.symlinkSync(data.toString(), target);
      }
    }
    calls += now() - started;
    ring.hand(EMPTY);
  }
}

async function copyThreaded(xxh: XXHashAPI, source: string, target: string): Promise<void> {
  const started = now();
  const shared = { control: new SharedArrayBuffer(4 * SLOTS), data: new SharedArrayBuffer(SLOTS * SLOT_BYTES + 1) };
  const worker = new Worker(__filename, { workerData: shared });
  const finished = new Promise<{ calls: number; records: number; waited: number; ready: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the writer thread exited (${code})`)));
  });
  const ring = new RingWriter(shared);
  const times: Times = { read: 0, hash: 0, walk: 0 };
  await walkInto(ring, xxh, source, target, times);
  ring.reserve(RECORD_HEAD);
  ring.view.setUint8(ring.base() + ring.at, Kind.End);
  ring.at += 1;
  ring.hand(FULL);
  const walked = now();
  const writer = await finished;
  const ended = now();
  if (process.env.FLOOR_TIMES) {
    const ms = (value: number): string => value.toFixed(1);
    process.stderr.write(
      `reader: walk ${ms(times.walk)} ms, read ${ms(times.read)}, xxh64 ${ms(times.hash)}, hand-over (packing) ${ms(ring.packing)}, waiting for a slot ${ms(ring.waited)}, ` +
        `done at ${ms(walked - started)}\nwriter: ready ${ms(writer.ready - performance.timeOrigin - started)} ms after the start, calls ${ms(writer.calls)}, waiting for a slot ${ms(writer.waited)}, ` +
        `${writer.records} records; the end seen ${ms(ended - walked)} ms after the reader's\n`,
    );
  }
  await worker.terminate();
}

function writerThread(): void {
  const ring = new Ring(workerData);
  const ready = performance.timeOrigin + now();
  const { calls, records } = writeRecords(ring);
  parentPort!.postMessage({ calls, records, waited: ring.waited, ready });
}

/** --in-fcp: fcp's bundle loaded as bin/fcp loads it (this file runs from dist/bench/), its command not run. */
function loadFcp(): void {
  const dist = path.join(__dirname, '..');
  const { loadWithCodeCache } = require(path.join(dist, 'src', 'cli', 'codeCache.js')) as typeof import('../src/cli/codeCache');
  loadWithCodeCache(path.join(dist, 'fcp.js'), 'fcp');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const inFcp = args[0] === '--in-fcp' && args.shift() !== undefined;
  const shape = args[0]?.startsWith('--') ? args.shift()!.slice(2) : 'fs';
  const [source, target] = args;
  if (!source || !target || !['fs', 'threads', 'lean', 'binding', 'copy-file'].includes(shape)) {
    throw new Error('usage: localFloor.js [--in-fcp] [--threads | --lean | --binding | --copy-file] SRC DST');
  }
  if (inFcp) loadFcp();
  // As fcp sizes it for a local copy: a read and a write per stream.
  process.env.UV_THREADPOOL_SIZE ??= String(2 * STREAMS);
  const xxh = await loadXxhash();
  if (shape === 'threads') await copyThreaded(xxh, source, target);
  else await copyEntry(shape as Calls, xxh, source, target);
}

if (isMainThread) {
  main().catch((err: Error) => {
    process.stderr.write(`localFloor: ${err.message}\n`);
    process.exit(1);
  });
} else {
  writerThread();
}
