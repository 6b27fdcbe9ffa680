/**
 * The receiver's signature cache (feature SIG_CACHE, PROTOCOL.md §7.7): the blocks of each file
 * fcp wrote as a delta, as the sender cut it (NEW_SIG), kept so that the next delta of that file
 * sends its signature (DELTA_SIG) without reading the file.
 *
 * One record file per destination file under $XDG_STATE_HOME/fcp/signatures (0700), named by the
 * file's device and inode, holding the identity the file had once in place: device, inode, size,
 * mtime and ctime in nanoseconds. A file whose identity differs in any of them (a touch, an edit
 * in place that kept size and mtime: the kernel moved its ctime) is read as before. A record is
 * written to a temporary name and renamed over the old one, and ends with the xxh64 of what
 * precedes it: a torn or corrupt record, or one of another version, is not used (and removed), and
 * two runs that write the same record leave one of them whole. The cache is advice only: a chunk
 * copied by a wrong record fails its hash and comes whole, and the whole-file digest verifies
 * every file as always. Bounded: past SIGNATURE_CACHE_MAX_BYTES the oldest records go (trim).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DELTA_MAX_BLOCK, DELTA_SIG_ENTRY_SIZE } from '../protocol/constants';
import type { XXHashAPI } from '../protocol/xxhash';
import type { SignedBlock } from '../delta/blocks';
import { encodeEntries, newSignatureLimit, SignatureCollector } from '../delta/signature';
import { ensurePrivateDir, fcpStateDir } from './controlSocket';

/** Bytes all records take at most (about 90 GiB of files' signatures): trim removes the oldest past it. */
export const SIGNATURE_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** A temporary record older than this was left by a run that died: trim removes it. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const MAGIC = Buffer.from('FCPS', 'latin1');
/** The record format's version: a record of another one is not used. */
export const RECORD_VERSION = 1;
/** magic 4 | version u32 | dev, ino, size, mtime_ns, ctime_ns u64 each | block count u32. */
const HEAD_SIZE = 4 + 4 + 5 * 8 + 4;
/** The record's xxh64 (seed 0) over everything before it. */
const TAIL_SIZE = 8;
const TEMP_SUFFIX = '.tmp';

/** What a file's record is valid for (its times in nanoseconds): any difference, and the file changed since. */
const IDENTITY_FIELDS = ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'] as const;
export type FileIdentity = Record<(typeof IDENTITY_FIELDS)[number], bigint>;

/** The identity of the file at `file` (lstat: never through a symlink), or undefined when it is not a regular file. */
export function identityOf(file: Buffer | string): FileIdentity | undefined {
  const stats = fs.lstatSync(file, { bigint: true, throwIfNoEntry: false });
  if (!stats?.isFile()) return undefined;
  return { dev: stats.dev, ino: stats.ino, size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs };
}

/** The signature cache of this process's user; `dir` for tests. */
export class SignatureCache {
  /** Records written by this process since the last trim. */
  private written = 0;

  constructor(
    private readonly xxh: XXHashAPI,
    readonly dir = path.join(fcpStateDir(), 'signatures'),
  ) {}

  /** The blocks of the file whose identity is `identity`, when a record for it checks; else undefined. */
  lookup(identity: FileIdentity): SignedBlock[] | undefined {
    const file = this.recordPath(identity);
    let record: Buffer;
    try {
      record = fs.readFileSync(file);
    } catch {
      return undefined;
    }
    const blocks = this.decode(record, identity);
    if (blocks === undefined) {
      this.remove(file);
      return undefined;
    }
    // A record used is young again: trim removes the least recently used first.
    fs.promises.utimes(file, new Date(), new Date()).catch(() => undefined);
    return blocks;
  }

  /**
   * Keeps `blocks` (covering the whole file) for the regular file at `file`, under the identity it
   * has now; quietly nothing when the state directory or the record cannot be written.
   */
  store(file: Buffer | string, blocks: readonly SignedBlock[]): void {
    const identity = identityOf(file);
    if (identity === undefined) return;
    const record = this.encode(identity, blocks);
    const target = this.recordPath(identity);
    const temp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}${TEMP_SUFFIX}`;
    try {
      ensurePrivateDir(this.dir);
      fs.writeFileSync(temp, record, { mode: 0o600 });
      fs.renameSync(temp, target);
      this.written++;
    } catch {
      this.remove(temp);
    }
  }

  /** Removes the record of `identity`'s file (its signature misled a delta). */
  forget(identity: FileIdentity): void {
    this.remove(this.recordPath(identity));
  }

  /**
   * After a run that wrote records: removes temporary records left by runs that died, then the
   * least recently used records until all of them take SIGNATURE_CACHE_MAX_BYTES at most.
   */
  trim(maxBytes = SIGNATURE_CACHE_MAX_BYTES): void {
    if (this.written === 0) return;
    this.written = 0;
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    const records: { file: string; size: number; mtimeMs: number }[] = [];
    for (const name of names) {
      const file = path.join(this.dir, name);
      const stats = fs.lstatSync(file, { throwIfNoEntry: false });
      if (!stats?.isFile()) continue;
      if (!name.endsWith(TEMP_SUFFIX)) records.push({ file, size: stats.size, mtimeMs: stats.mtimeMs });
      else if (Date.now() - stats.mtimeMs > STALE_TEMP_MS) this.remove(file);
    }
    let total = records.reduce((sum, record) => sum + record.size, 0);
    records.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const record of records) {
      if (total <= maxBytes) break;
      this.remove(record.file);
      total -= record.size;
    }
  }

  private recordPath(identity: FileIdentity): string {
    return path.join(this.dir, `${identity.dev.toString(16)}-${identity.ino.toString(16)}`);
  }

  private encode(identity: FileIdentity, blocks: readonly SignedBlock[]): Buffer {
    const head = Buffer.alloc(HEAD_SIZE);
    MAGIC.copy(head, 0);
    head.writeUInt32BE(RECORD_VERSION, 4);
    IDENTITY_FIELDS.forEach((field, i) => head.writeBigUInt64BE(BigInt.asUintN(64, identity[field]), 8 + i * 8));
    head.writeUInt32BE(blocks.length, HEAD_SIZE - 4);
    const body = Buffer.concat([head, encodeEntries(blocks)]);
    const tail = Buffer.alloc(TAIL_SIZE);
    tail.writeBigUInt64BE(this.xxh.h64Raw(body, 0n));
    return Buffer.concat([body, tail]);
  }

  /** The blocks of a record that checks (format, version, hash, identity, blocks covering the file), else undefined. */
  private decode(record: Buffer, identity: FileIdentity): SignedBlock[] | undefined {
    if (record.length < HEAD_SIZE + TAIL_SIZE || !record.subarray(0, 4).equals(MAGIC) || record.readUInt32BE(4) !== RECORD_VERSION) return undefined;
    const body = record.subarray(0, record.length - TAIL_SIZE);
    if (this.xxh.h64Raw(body, 0n) !== record.readBigUInt64BE(body.length)) return undefined;
    const same = IDENTITY_FIELDS.every((field, i) => record.readBigUInt64BE(8 + i * 8) === BigInt.asUintN(64, identity[field]));
    const count = record.readUInt32BE(HEAD_SIZE - 4);
    if (!same || body.length !== HEAD_SIZE + count * DELTA_SIG_ENTRY_SIZE) return undefined;
    const size = Number(identity.size);
    const blocks = new SignatureCollector(newSignatureLimit(size), DELTA_MAX_BLOCK, size);
    if (blocks.add(0, body.subarray(HEAD_SIZE)) !== undefined || blocks.extent !== size) return undefined;
    return blocks.blocks;
  }

  private remove(file: string): void {
    try {
      fs.unlinkSync(file);
    } catch {
      // Gone already (another run removed it), or never written.
    }
  }
}
