/**
 * The floor under fcp's figures in bench/transfer.ts: the least that any design of two Node
 * processes joined by loopback TCP (the shape the engine issue asks for: fcp spawns fcpd, data
 * crosses sockets) pays on this machine. No protocol, no framing, no hashing, no temporary
 * names, no metadata: a sender that reads and writes raw bytes to sockets, a receiver that
 * writes them out. Whatever fcp adds is on top of this.
 *
 * Usage: floorCopy.js file|tree SRC DST [aes][,verify][,meta][,check] [--host ADDRESS] [--connections N] [--receiver-netns NS]
 *   file:   SRC split into CONNECTIONS contiguous ranges, one per connection, read in 1 MiB pieces
 *           and written at their offsets (positional reads and writes, as fcp does).
 *   tree:   one connection; per file a header (kind u8, name length u16, size u32), the name and the
 *           bytes; the receiver creates directories and files as `cp -r` does (no mode or mtime).
 *   meta:   (tree only) the least a per-file copy that keeps metadata makes of each file, over the
 *           same one connection: the sender lstats every entry (into the fs binding's array, for
 *           nanosecond mtimes without BigIntStats, as fcp's walk), opens, reads and closes a file,
 *           and writes a record (kind u8, name length u16, size u32, mode u16, mtime seconds u32
 *           and nanoseconds u32, the name, the bytes) straight into a pooled batch; the receiver
 *           makes each directory and opens (O_EXCL, the mode), writes, sets the mtime of (futimes)
 *           and closes each file. No directory's own mode or mtime, no hashes, no checks: the
 *           floor of issue 14's many-file tree (bench/suite's floor rows of the tree cases).
 *   check:  (meta only) the sender also fstats each file after its read and fails when the inode,
 *           size, mtime or ctime differ from its lstat: the check that no write came while it was
 *           read, which fcp and tar both make (a file's fifth call).
 *   aes:    every byte also goes through AES-256-GCM on both sides (one stream per connection).
 *   verify: (file only) what a verified copy must add, and nothing else: each 1 MiB piece goes as
 *           length u32, bytes, xxh64; the sender hashes the piece it read, the receiver hashes
 *           what arrives (streamed, as the pieces come off the socket) and fails on a mismatch.
 *   --host: the receiver listens at ADDRESS and the sender connects to it (127.0.0.1).
 *   --connections: the file's connections (CONNECTIONS).
 *   --receiver-netns: the receiver runs in network namespace NS (`ip netns exec`), so that the
 *           bytes cross the emulated WAN between two namespaces (bench/suite/links.ts).
 */
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { XXHashAPI } from 'xxhash-wasm' with { 'resolution-mode': 'import' };
import { binding, STAT } from './fsBinding';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadXxhash = require('xxhash-wasm') as () => Promise<XXHashAPI>;

const CONNECTIONS = 4;
const LOOPBACK = '127.0.0.1';
const PIECE = 1024 * 1024;
const SEAL_SLICE = 64 * 1024;
const KEY = Buffer.alloc(32, 7);
const IV = Buffer.alloc(12, 1);
const KIND_DIR = 1;
const KIND_FILE = 2;
const HEADER = 7;
/** verify: a piece's length before its bytes, its xxh64 after them. */
const PIECE_LENGTH = 4;
const PIECE_HASH = 8;

interface Options {
  aes: boolean;
  /** tree: a per-file record with mode and mtime, and the calls that keep them (see meta above). */
  meta: boolean;
  /** meta: an fstat after each file's read, compared with its lstat (see check above). */
  check: boolean;
  /** xxh64 of every piece on both sides, checked by the receiver; undefined without verify. */
  xxh: XXHashAPI | undefined;
}

/** Where the bytes go: the receiver's address, the file's connection count, the receiver's namespace. */
interface Route {
  host: string;
  connections: number;
  netns?: string;
}

/** The --NAME VALUE options out of argv, and the positional arguments left. */
function parseArgs(argv: string[]): { positional: string[]; route: Route; flags: string[] } {
  const positional: string[] = [];
  const flags: string[] = [];
  const route: Route = { host: LOOPBACK, connections: CONNECTIONS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const value = argv[++i];
    if (value === undefined) fail(new Error(`${arg} needs a value`));
    flags.push(arg, value);
    if (arg === '--host') route.host = value;
    else if (arg === '--connections' && Number(value) >= 1) route.connections = Math.floor(Number(value));
    else if (arg === '--receiver-netns') route.netns = value;
    else fail(new Error(`unknown option ${arg} ${value}`));
  }
  return { positional, route, flags };
}

type Transform = (data: Buffer) => Buffer;
const identity: Transform = (data) => data;
const encryptor = (aes: boolean): Transform => {
  if (!aes) return identity;
  const cipher = createCipheriv('aes-256-gcm', KEY, IV);
  return (data) => cipher.update(data);
};
const decryptor = (aes: boolean): Transform => {
  if (!aes) return identity;
  const decipher = createDecipheriv('aes-256-gcm', KEY, IV);
  return (data) => decipher.update(data);
};

function fail(err: Error): never {
  process.stderr.write(`floorCopy: ${err.message}\n`);
  process.exit(1);
}

/** Writes to a socket and resolves once the kernel took it (so the buffer may be reused). */
const send = (socket: net.Socket, data: Buffer): Promise<void> =>
  new Promise((resolve, reject) => socket.write(data, (err) => (err ? reject(err) : resolve())));

/**
 * Sends data through seal in slices of at most SEAL_SLICE: node:crypto returns a new Buffer per
 * update, and a new megabyte each time would be fresh memory (page faults) on every piece.
 */
function sendSealed(socket: net.Socket, data: Buffer, seal: Transform): Promise<void> {
  if (seal === identity) return send(socket, data);
  let last = Promise.resolve();
  for (let at = 0; at < data.length; at += SEAL_SLICE) last = send(socket, seal(data.subarray(at, at + SEAL_SLICE)));
  return last;
}

async function sendRange(fd: number, start: number, end: number, port: number, host: string, options: Options): Promise<void> {
  const { aes, xxh } = options;
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const offset = Buffer.alloc(8);
  offset.writeBigUInt64BE(BigInt(start));
  const seal = encryptor(aes);
  await send(socket, seal(offset));
  // With verify, a piece's buffer holds its length, its bytes and their hash, sent in one write.
  const before = xxh ? PIECE_LENGTH : 0;
  const after = xxh ? PIECE_HASH : 0;
  const buffers = [Buffer.allocUnsafe(before + PIECE + after), Buffer.allocUnsafe(before + PIECE + after)];
  let writing: Promise<void> = Promise.resolve();
  for (let position = start, turn = 0; position < end; position += PIECE, turn ^= 1) {
    const length = Math.min(PIECE, end - position);
    const buffer = buffers[turn]!;
    const read = await new Promise<number>((resolve, reject) =>
      fs.read(fd, buffer, before, length, position, (err, n) => (err ? reject(err) : resolve(n))),
    );
    if (xxh) {
      buffer.writeUInt32BE(read, 0);
      buffer.writeBigUInt64BE(xxh.h64Raw(buffer.subarray(before, before + read), 0n), before + read);
    }
    await writing;
    writing = sendSealed(socket, buffer.subarray(0, before + read + after), seal);
  }
  await writing;
  socket.end();
}

async function sendFile(source: string, port: number, route: Route, options: Options): Promise<void> {
  const fd = fs.openSync(source, 'r');
  const size = fs.fstatSync(fd).size;
  const share = Math.ceil(size / route.connections);
  const ranges = Array.from({ length: route.connections }, (_, i) => [i * share, Math.min(size, (i + 1) * share)] as const);
  await Promise.all(ranges.map(([start, end]) => sendRange(fd, start, end, port, route.host, options)));
}

async function sendTree(source: string, port: number, host: string, aes: boolean): Promise<void> {
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const seal = encryptor(aes);
  const pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const batch = Buffer.concat(pending, pendingBytes);
    pending.length = 0;
    pendingBytes = 0;
    await sendSealed(socket, batch, seal);
  };
  const entry = async (kind: number, name: string, data?: Buffer): Promise<void> => {
    const nameBytes = Buffer.from(name);
    const header = Buffer.allocUnsafe(HEADER);
    header.writeUInt8(kind, 0);
    header.writeUInt16BE(nameBytes.length, 1);
    header.writeUInt32BE(data?.length ?? 0, 3);
    pending.push(header, nameBytes);
    pendingBytes += HEADER + nameBytes.length;
    if (data) {
      pending.push(data);
      pendingBytes += data.length;
    }
    if (pendingBytes >= PIECE) await flush();
  };
  const walk = async (dir: string, relative: string): Promise<void> => {
    await entry(KIND_DIR, relative);
    for (const child of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, child.name);
      const name = path.join(relative, child.name);
      if (child.isDirectory()) await walk(full, name);
      else await entry(KIND_FILE, name, fs.readFileSync(full));
    }
  };
  await walk(source, '.');
  await flush();
  socket.end();
}

/** meta: a record's header (kind u8, name length u16, size u32, mode u16, mtime s u32, mtime ns u32). */
const META_HEADER = 17;
/** meta: a batch of records is sent (and sealed) once it holds this much, as fcp's BATCH frames of 64 KiB. */
const META_BATCH = 64 * 1024;
/** meta: a file larger than this goes in a batch of its own (the floor is for small files; any size is copied). */
const META_SMALL = 16 * 1024;

/**
 * meta: what the floor keeps of an entry's stat, read out of the fs binding's shared array (the
 * seconds and nanoseconds apart, exact as doubles), as fcp's leanStat does: no BigIntStats, no Dates.
 */
interface MetaStat {
  mode: number;
  size: number;
  ino: number;
  mtimeSec: number;
  mtimeNsec: number;
  ctimeSec: number;
  ctimeNsec: number;
}

const metaStat = (values: Float64Array): MetaStat => ({
  mode: values[STAT.MODE]!,
  size: values[STAT.SIZE]!,
  ino: values[STAT.INO]!,
  mtimeSec: values[STAT.MTIME_SEC]!,
  mtimeNsec: values[STAT.MTIME_SEC + 1]!,
  ctimeSec: values[STAT.CTIME_SEC]!,
  ctimeNsec: values[STAT.CTIME_SEC + 1]!,
});

/** check: whether the file open at `fd` is still what `stat` saw (inode, size, mtime, ctime). */
function unchanged(fd: number, stat: MetaStat): boolean {
  const now = binding.fstat(fd, false, undefined, true);
  return now[STAT.INO] === stat.ino && now[STAT.SIZE] === stat.size && now[STAT.MTIME_SEC] === stat.mtimeSec && now[STAT.MTIME_SEC + 1] === stat.mtimeNsec && now[STAT.CTIME_SEC] === stat.ctimeSec && now[STAT.CTIME_SEC + 1] === stat.ctimeNsec;
}

const leanLstat = (file: string): MetaStat => metaStat(binding.lstat(file, false, undefined, true));

/**
 * meta: walks `source` (lstat of every entry), reading every file into the batch being filled
 * (open, read, with `check` an fstat, close), and sends each full batch while the next one fills:
 * two batches take turns, so that no record is allocated and a batch is reused once the kernel took it.
 */
async function sendTreeMeta(source: string, port: number, host: string, aes: boolean, check: boolean): Promise<void> {
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const seal = encryptor(aes);
  const batches = [Buffer.allocUnsafeSlow(META_BATCH + META_HEADER + 4096 + META_SMALL), Buffer.allocUnsafeSlow(META_BATCH + META_HEADER + 4096 + META_SMALL)];
  let turn = 0;
  let filled = 0;
  let sending: Promise<void> = Promise.resolve();
  const flush = async (): Promise<void> => {
    const batch = batches[turn]!.subarray(0, filled);
    await sending;
    sending = sendSealed(socket, batch, seal);
    turn ^= 1;
    filled = 0;
  };
  const record = async (kind: number, name: string, stat: MetaStat, full?: string): Promise<void> => {
    const size = full === undefined ? 0 : stat.size;
    if (size > META_SMALL) return fail(new Error(`${full}: larger than the meta floor's ${META_SMALL} bytes`));
    let batch = batches[turn]!;
    const nameLength = Buffer.byteLength(name);
    if (filled + META_HEADER + nameLength + size > META_BATCH) {
      await flush();
      batch = batches[turn]!;
    }
    batch.writeUInt8(kind, filled);
    batch.writeUInt16BE(nameLength, filled + 1);
    batch.writeUInt32BE(size, filled + 3);
    batch.writeUInt16BE(stat.mode & 0o7777, filled + 7);
    batch.writeUInt32BE(stat.mtimeSec, filled + 9);
    batch.writeUInt32BE(stat.mtimeNsec, filled + 13);
    batch.write(name, filled + META_HEADER);
    const at = filled + META_HEADER + nameLength;
    if (full !== undefined) {
      const fd = fs.openSync(full, fs.constants.O_RDONLY);
      for (let got = 0; got < size; ) got += fs.readSync(fd, batch, at + got, size - got, got);
      if (check && !unchanged(fd, stat)) fail(new Error(`${full}: changed as it was read`));
      fs.closeSync(fd);
    }
    filled = at + size;
  };
  const walk = async (dir: string, relative: string, stat: MetaStat): Promise<void> => {
    await record(KIND_DIR, relative, stat);
    for (const name of fs.readdirSync(dir)) {
      const full = `${dir}/${name}`;
      const child = leanLstat(full);
      const named = relative === '' ? name : `${relative}/${name}`;
      if ((child.mode & fs.constants.S_IFMT) === fs.constants.S_IFDIR) await walk(full, named, child);
      else await record(KIND_FILE, named, child, full);
    }
  };
  await walk(source, '', leanLstat(source));
  if (filled > 0) await flush();
  await sending;
  socket.end();
}

/**
 * Calls `record` for each whole record of a tree's stream (kind u8, name length u16, size u32, then
 * `header - 7` bytes of the format's own, the name, the bytes), as the records come; `done` at the end.
 */
function onRecords(socket: net.Socket, aes: boolean, header: number, record: (stash: Buffer, at: number, nameLength: number, size: number) => void, done: () => void): void {
  const open = decryptor(aes);
  let stash: Buffer = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    stash = stash.length === 0 ? open(data) : Buffer.concat([stash, open(data)]);
    let at = 0;
    while (stash.length - at >= header) {
      const nameLength = stash.readUInt16BE(at + 1);
      const size = stash.readUInt32BE(at + 3);
      const end = at + header + nameLength + size;
      if (end > stash.length) break;
      record(stash, at, nameLength, size);
      at = end;
    }
    stash = stash.subarray(at);
  });
  socket.on('end', done);
}

/** meta: makes each directory, and opens, writes, sets the mtime of and closes each file, as the records come. */
function receiveTreeMeta(socket: net.Socket, destination: string, aes: boolean, done: () => void): void {
  const create = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;
  onRecords(socket, aes, META_HEADER, (stash, at, nameLength, size) => {
    // The top directory's name is empty: it is the destination itself.
    const target = nameLength === 0 ? destination : `${destination}/${stash.toString('utf8', at + META_HEADER, at + META_HEADER + nameLength)}`;
    const mode = stash.readUInt16BE(at + 7);
    if (stash[at] === KIND_DIR) {
      fs.mkdirSync(target, { mode });
    } else {
      const mtime = stash.readUInt32BE(at + 9) + stash.readUInt32BE(at + 13) / 1e9;
      const fd = fs.openSync(target, create, mode);
      for (let written = 0; written < size; ) written += fs.writeSync(fd, stash, at + META_HEADER + nameLength + written, size - written);
      fs.futimesSync(fd, mtime, mtime);
      fs.closeSync(fd);
    }
  }, done);
}

/**
 * verify: cuts a range's stream into its pieces (length u32, bytes, xxh64), hashing the bytes as
 * they come; calls `data` with the bytes to write (views of what arrived, never the length or hash).
 */
function pieceChecker(xxh: XXHashAPI, data: (bytes: Buffer) => void): (arrived: Buffer) => void {
  const field = Buffer.alloc(PIECE_HASH);
  let fieldAt = 0;
  let left = -1;
  let hasher = xxh.create64(0n);
  return (arrived) => {
    for (let at = 0; at < arrived.length; ) {
      if (left > 0) {
        const bytes = arrived.subarray(at, at + left);
        hasher.update(bytes);
        data(bytes);
        left -= bytes.length;
        at += bytes.length;
        continue;
      }
      // A length (before a piece, left < 0) or a hash (after one, left === 0), perhaps split over reads.
      const want = left < 0 ? PIECE_LENGTH : PIECE_HASH;
      const taken = arrived.copy(field, fieldAt, at, at + want - fieldAt);
      fieldAt += taken;
      at += taken;
      if (fieldAt < want) break;
      fieldAt = 0;
      if (left < 0) {
        left = field.readUInt32BE(0);
        continue;
      }
      if (field.readBigUInt64BE(0) !== hasher.digest()) fail(new Error('a piece does not hash to the xxh64 sent with it'));
      hasher = xxh.create64(0n);
      left = -1;
    }
  };
}

function receiveFile(socket: net.Socket, fd: number, options: Options, done: () => void): void {
  const open = decryptor(options.aes);
  let position = -1;
  let head = Buffer.alloc(0);
  const queue: Buffer[] = [];
  let writing = false;
  let ended = false;
  const drain = (): void => {
    if (writing) return;
    if (queue.length === 0) {
      if (ended) done();
      else socket.resume();
      return;
    }
    const buffers = queue.splice(0);
    const bytes = buffers.reduce((sum, b) => sum + b.length, 0);
    writing = true;
    fs.writev(fd, buffers, position, (err) => {
      if (err) fail(err);
      position += bytes;
      writing = false;
      drain();
    });
  };
  const enqueue = (bytes: Buffer): void => {
    queue.push(bytes);
  };
  const take = options.xxh ? pieceChecker(options.xxh, enqueue) : enqueue;
  socket.on('data', (data: Buffer) => {
    data = open(data);
    if (position < 0) {
      head = Buffer.concat([head, data]);
      if (head.length < 8) return;
      position = Number(head.readBigUInt64BE(0));
      data = head.subarray(8);
    }
    take(data);
    if (queue.length > 16) socket.pause();
    drain();
  });
  socket.on('end', () => {
    ended = true;
    drain();
  });
}

function receiveTree(socket: net.Socket, destination: string, aes: boolean, done: () => void): void {
  onRecords(socket, aes, HEADER, (stash, at, nameLength, size) => {
    const target = path.join(destination, stash.toString('utf8', at + HEADER, at + HEADER + nameLength));
    if (stash[at] === KIND_DIR) {
      fs.mkdirSync(target, { recursive: true });
    } else {
      const fd = fs.openSync(target, 'w');
      fs.writeSync(fd, stash, at + HEADER + nameLength, size);
      fs.closeSync(fd);
    }
  }, done);
}

function receive(kind: string, destination: string, route: Route, options: Options): void {
  const connections = kind === 'file' ? route.connections : 1;
  const fd = kind === 'file' ? fs.openSync(destination, 'w') : -1;
  let finished = 0;
  const server = net.createServer((socket) => {
    const done = (): void => {
      if (++finished === connections) process.exit(0);
    };
    if (kind === 'file') receiveFile(socket, fd, options, done);
    else if (options.meta) receiveTreeMeta(socket, destination, options.aes, done);
    else receiveTree(socket, destination, options.aes, done);
  });
  server.listen(0, route.host, () => process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`));
}

async function main(): Promise<void> {
  const { positional, route, flags } = parseArgs(process.argv.slice(2));
  const [kind, source, destination, words = 'plain', role] = positional;
  const verify = words.split(',').includes('verify');
  if (verify && kind !== 'file') fail(new Error('verify is for a file only'));
  const meta = words.split(',').includes('meta');
  if (meta && kind !== 'tree') fail(new Error('meta is for a tree only'));
  const check = words.split(',').includes('check');
  if (check && !meta) fail(new Error('check is for meta only'));
  const options: Options = { aes: words.split(',').includes('aes'), meta, check, xxh: verify ? await loadXxhash() : undefined };
  if (role === 'receive') return receive(kind!, destination!, route, options);
  const receiver = [process.execPath, __filename, kind!, source!, destination!, words, 'receive', ...flags];
  const [command, ...args] = route.netns ? ['ip', 'netns', 'exec', route.netns, ...receiver] : receiver;
  const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (line: Buffer) => resolve(Number(line))));
  const exited = new Promise<void>((resolve, reject) =>
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`receiver exited with ${code}`)))),
  );
  if (kind === 'file') await sendFile(source!, port, route, options);
  else if (options.meta) await sendTreeMeta(source!, port, route.host, options.aes, options.check);
  else await sendTree(source!, port, route.host, options.aes);
  await exited;
}

main().catch(fail);
