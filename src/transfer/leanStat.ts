/**
 * lstat, stat and fstat as the walk and a small file's read check need them: a few fields with
 * nanosecond times, from fewer objects than Node's BigIntStats. A BigIntStats holds 18 BigInts and
 * 4 Dates that Node 20 makes at once; the sender made two for every file (the walk's lstat and the
 * fstat after the read), half of the bytes it allocated for a 16-100 B file (about 2.9 of 5.8 KB,
 * V8's sampling heap profiler, 100,000 files pushed; docs/BENCHMARKS.md "Per-file cost, sixth
 * round"), all of it garbage for the collector to sweep.
 *
 * Node's fs binding (`process.binding('fs')`, the one lstatSync itself calls) writes a stat into a
 * shared BigInt64Array and returns it; this module reads the fields it needs out of it. It is used
 * only when the binding looks as Node 20 makes it and nothing checks fs calls (the permission
 * model) or warns of process.binding (--pending-deprecation); otherwise, and for a path that holds
 * a NUL byte (which lstatSync refuses), the same fields come from lstatSync, statSync and fstatSync.
 * Errors are those of the fs calls (the binding throws them with their code, syscall and path).
 */
import { constants, fstatSync, lstatSync, statSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { unwatchedFsBinding } from './fsBinding';

const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK } = constants;

/** Indexes into the binding's stat array (node's src/node_file.h FsStatsOffset). */
const DEV = 0;
const MODE = 1;
const NLINK = 2;
const UID = 3;
const GID = 4;
const INO = 7;
const SIZE = 8;
const BLOCKS = 9;
const MTIME_SEC = 12;
const MTIME_NSEC = 13;
const CTIME_SEC = 14;
const CTIME_NSEC = 15;
/** Fields of the array (kFsStatsFieldsNumber): two stats' worth, the second for fs.watchFile. */
const STAT_FIELDS = 18;

const NS_PER_SECOND = 1_000_000_000n;

/** What the walk and the read's check ask of a stat: type, mode, owner, links, size, identity and nanosecond times. */
export class LeanStat {
  constructor(
    readonly mode: number,
    readonly uid: number,
    readonly gid: number,
    readonly nlink: number,
    readonly size: number,
    readonly blocks: number,
    readonly dev: bigint,
    readonly ino: bigint,
    readonly mtimeNs: bigint,
    readonly ctimeNs: bigint,
  ) {}

  private isOfType(type: number): boolean {
    return (this.mode & S_IFMT) === type;
  }

  isDirectory(): boolean {
    return this.isOfType(S_IFDIR);
  }

  isFile(): boolean {
    return this.isOfType(S_IFREG);
  }

  isSymbolicLink(): boolean {
    return this.isOfType(S_IFLNK);
  }

  isFIFO(): boolean {
    return this.isOfType(S_IFIFO);
  }

  isSocket(): boolean {
    return this.isOfType(S_IFSOCK);
  }

  isCharacterDevice(): boolean {
    return this.isOfType(S_IFCHR);
  }

  isBlockDevice(): boolean {
    return this.isOfType(S_IFBLK);
  }
}

/** A BigIntStats as a LeanStat: where the binding is not used, and for a stat made elsewhere. */
export function leanOf(stat: BigIntStats): LeanStat {
  return new LeanStat(Number(stat.mode), Number(stat.uid), Number(stat.gid), Number(stat.nlink), Number(stat.size), Number(stat.blocks), stat.dev, stat.ino, stat.mtimeNs, stat.ctimeNs);
}

/** The binding's array as 32-bit halves (little-endian, which readsAsNodeDoes confirms), and the array they alias. */
let halves: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
let halvesOf: BigInt64Array | undefined;

/**
 * Field `index` of `values` as a Number, without the BigInt that reading a BigInt64Array element
 * makes (16 B of garbage each; six a stat): exact for the values below 2^53 these fields hold, as
 * Number() of the BigInt is.
 */
function numberAt(values: BigInt64Array, index: number): number {
  const words = wordsOf(values);
  return words[2 * index]! + words[2 * index + 1]! * 2 ** 32;
}

/** The binding's array as its 32-bit halves (made once for the array). */
function wordsOf(values: BigInt64Array): Uint32Array<ArrayBufferLike> {
  if (halvesOf !== values) {
    halves = new Uint32Array(values.buffer, values.byteOffset, 2 * values.length);
    halvesOf = values;
  }
  return halves;
}

function fromArray(values: BigInt64Array): LeanStat {
  return new LeanStat(
    numberAt(values, MODE),
    numberAt(values, UID),
    numberAt(values, GID),
    numberAt(values, NLINK),
    numberAt(values, SIZE),
    numberAt(values, BLOCKS),
    values[DEV]!,
    values[INO]!,
    values[MTIME_SEC]! * NS_PER_SECOND + values[MTIME_NSEC]!,
    values[CTIME_SEC]! * NS_PER_SECOND + values[CTIME_NSEC]!,
  );
}

/** The binding's calls this module makes, as Node 20 declares them (lib/fs.js: path or fd, bigint, no request, throwIfNoEntry). */
export interface StatBinding {
  lstat(path: Buffer, bigint: true, request: undefined, throwIfNoEntry: boolean): BigInt64Array | undefined;
  stat(path: Buffer, bigint: true, request: undefined, throwIfNoEntry: boolean): BigInt64Array | undefined;
  fstat(fd: number, bigint: true, request: undefined, throwIfNoEntry: boolean): BigInt64Array | undefined;
  bigintStatValues: BigInt64Array;
}

/**
 * Whether the binding's array holds the fields where this module reads them: an internal layout
 * another Node could order differently with the same length, which would give every file a wrong
 * mtime without an error. Checked once at load against lstatSync of Node's own binary (a file
 * every process can stat), every field compared.
 */
export function readsAsNodeDoes(binding: StatBinding): boolean {
  const known = Buffer.from(process.execPath);
  const values = binding.lstat(known, true, undefined, false);
  if (values === undefined) return false;
  return fieldsOf(fromArray(values)) === fieldsOf(leanOf(lstatSync(known, { bigint: true })));
}

/** Every field of a stat as one string, to compare two. */
const fieldsOf = (stat: LeanStat): string => JSON.stringify({ ...stat }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));

/** The fs binding when it is safe to use as above; undefined otherwise. */
function statBinding(): StatBinding | undefined {
  const binding = unwatchedFsBinding<StatBinding>();
  if (binding === undefined) return undefined;
  const { lstat, stat, fstat, bigintStatValues } = binding;
  if (typeof lstat !== 'function' || typeof stat !== 'function' || typeof fstat !== 'function') return undefined;
  // By its tag, not instanceof: a test runner's context has BigInt64Array of its own.
  if (Object.prototype.toString.call(bigintStatValues) !== '[object BigInt64Array]' || bigintStatValues!.length !== 2 * STAT_FIELDS) return undefined;
  try {
    return readsAsNodeDoes(binding as StatBinding) ? (binding as StatBinding) : undefined;
  } catch {
    return undefined;
  }
}

const binding = statBinding();

/** Whether the binding serves this path: lstatSync refuses a NUL byte, which the binding would read as the path's end. */
const direct = (path: Buffer): boolean => binding !== undefined && !path.includes(0);

/** lstat (follow: stat) of `path`; throws as lstatSync does. */
export function leanStat(path: Buffer, follow: boolean): LeanStat {
  if (!direct(path)) return leanOf(follow ? statSync(path, { bigint: true }) : lstatSync(path, { bigint: true }));
  return fromArray((follow ? binding!.stat(path, true, undefined, true) : binding!.lstat(path, true, undefined, true))!);
}

/** lstat of `path`, or undefined when nothing is there (no exception made for it: the quick check of every new file asks). */
export function leanLstatIfAny(path: Buffer): LeanStat | undefined {
  if (!direct(path)) {
    const stat = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    return stat && leanOf(stat);
  }
  const values = binding!.lstat(path, true, undefined, false);
  return values && fromArray(values);
}

/** The fields that say a file is still the one a stat saw: its inode, size, mtime and ctime. */
const IDENTITY_FIELDS = [INO, SIZE, MTIME_SEC, MTIME_NSEC, CTIME_SEC, CTIME_NSEC];
/** The last leanFstat through the binding, and its IDENTITY_FIELDS as the array's 32-bit words. */
let identified: LeanStat | undefined;
const identity = new Uint32Array(2 * IDENTITY_FIELDS.length);

/** fstat of an open descriptor; throws as fstatSync does. */
export function leanFstat(fd: number): LeanStat {
  if (binding === undefined) return leanOf(fstatSync(fd, { bigint: true }));
  const values = binding.fstat(fd, true, undefined, false)!;
  const stat = fromArray(values);
  const words = wordsOf(values);
  for (let i = 0; i < IDENTITY_FIELDS.length; i++) {
    identity[2 * i] = words[2 * IDENTITY_FIELDS[i]!]!;
    identity[2 * i + 1] = words[2 * IDENTITY_FIELDS[i]! + 1]!;
  }
  identified = stat;
  return stat;
}

/**
 * Whether the file open at `fd` still has the inode, size, mtime and ctime that `stat` saw, when
 * `stat` is the last leanFstat taken (the walk's fstat of a small file it reads right away):
 * its words compared with the new fstat's, without the ten BigInts and the object a LeanStat
 * makes (about 270 B a small file, and 0.1-0.2 µs). Undefined for any other stat.
 */
export function fstatStillMatches(fd: number, stat: object): boolean | undefined {
  if (stat !== identified) return undefined;
  const words = wordsOf(binding!.fstat(fd, true, undefined, false)!);
  for (let i = 0; i < IDENTITY_FIELDS.length; i++) {
    if (identity[2 * i] !== words[2 * IDENTITY_FIELDS[i]!] || identity[2 * i + 1] !== words[2 * IDENTITY_FIELDS[i]! + 1]) return false;
  }
  return true;
}

/** Whether the binding is in use (the unit test checks both ways give the same fields). */
export const usesBinding = binding !== undefined;
