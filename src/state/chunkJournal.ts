/**
 * The on-disk format of a resume journal (PROTOCOL.md §7.5): which chunks of a partly received
 * file were written and verified, with their xxh64. One header, then fixed-size records appended
 * as chunks land:
 *
 *   header  magic "FCPJ" | version u16 | reserved u16 (0) | size u64 | mtime_ns i64 | chunk_size u32 | check u32
 *   record  index u32 | hash u64 | check u32
 *
 * The header's check is xxh32 (seed 0) of the 28 bytes before it; a record's is xxh32 of its 12
 * bytes seeded with the header's check, so a record is bound to the header it was written under.
 * Parsing never trusts what does not check: a bad header means "no journal" (start the file
 * over), a bad or torn record is skipped. A wrong hash that still passed its check would only be
 * a claim: the sender compares every claimed hash with its own data before it counts a chunk.
 *
 * Pure: bytes in, bytes out. Integers are big-endian, as on the wire.
 */
import type { XXHashAPI } from '../protocol/xxhash';

export const JOURNAL_MAGIC = Buffer.from('FCPJ', 'latin1');
export const JOURNAL_VERSION = 1;
export const JOURNAL_HEADER_SIZE = 32;
export const JOURNAL_RECORD_SIZE = 16;
/** A journal is flushed (fsync) at least this often while chunks land... */
export const JOURNAL_FLUSH_MS = 1000;
/** ...and at least every this many bytes of chunks recorded, whichever comes first. */
export const JOURNAL_FLUSH_BYTES = 64 * 1024 * 1024;

const HEADER_CHECKED = JOURNAL_HEADER_SIZE - 4;
const RECORD_CHECKED = JOURNAL_RECORD_SIZE - 4;

/** What a journal was written for: a rerun trusts it only when all of these still match. */
export interface JournalHeader {
  /** Size and mtime of the source, as FILE_INFO announced them. */
  size: number;
  mtimeNs: bigint;
  chunkSize: number;
}

export interface ParsedJournal {
  header: JournalHeader;
  /** Hash of every chunk a valid record names, by chunk index (a later record wins). */
  chunks: Map<number, bigint>;
}

export function encodeHeader(xxh: XXHashAPI, header: JournalHeader): Buffer {
  const bytes = Buffer.alloc(JOURNAL_HEADER_SIZE);
  JOURNAL_MAGIC.copy(bytes, 0);
  bytes.writeUInt16BE(JOURNAL_VERSION, 4);
  bytes.writeBigUInt64BE(BigInt(header.size), 8);
  bytes.writeBigInt64BE(header.mtimeNs, 16);
  bytes.writeUInt32BE(header.chunkSize, 24);
  bytes.writeUInt32BE(xxh.h32Raw(bytes.subarray(0, HEADER_CHECKED), 0), HEADER_CHECKED);
  return bytes;
}

/** One record for chunk `index`; `headerCheck` is the check field of the journal's header. */
export function encodeRecord(xxh: XXHashAPI, headerCheck: number, index: number, hash: bigint): Buffer {
  const bytes = Buffer.alloc(JOURNAL_RECORD_SIZE);
  writeRecord(xxh, headerCheck, index, hash, bytes, 0);
  return bytes;
}

/** Writes the record of encodeRecord into `buf` at `at` (a journal's pooled buffer); returns where it ends. */
export function writeRecord(xxh: XXHashAPI, headerCheck: number, index: number, hash: bigint, buf: Buffer, at: number): number {
  buf.writeUInt32BE(index, at);
  buf.writeBigUInt64BE(hash, at + 4);
  buf.writeUInt32BE(xxh.h32Raw(buf.subarray(at, at + RECORD_CHECKED), headerCheck), at + RECORD_CHECKED);
  return at + JOURNAL_RECORD_SIZE;
}

/** The check field of an encoded header (the seed of its records' checks). */
export function headerCheck(header: Buffer): number {
  return header.readUInt32BE(HEADER_CHECKED);
}

/**
 * The chunks a journal vouches for, or undefined when its header does not parse (too short, wrong
 * magic or version, bad check, a chunk size that is not a power of two): the file starts over.
 * Records that do not check, a torn last record, and indexes past the file's last chunk are skipped.
 */
export function parseJournal(xxh: XXHashAPI, bytes: Buffer): ParsedJournal | undefined {
  if (bytes.length < JOURNAL_HEADER_SIZE) return undefined;
  if (!bytes.subarray(0, 4).equals(JOURNAL_MAGIC) || bytes.readUInt16BE(4) !== JOURNAL_VERSION || bytes.readUInt16BE(6) !== 0) {
    return undefined;
  }
  const check = bytes.readUInt32BE(HEADER_CHECKED);
  if (xxh.h32Raw(bytes.subarray(0, HEADER_CHECKED), 0) !== check) return undefined;
  const size = bytes.readBigUInt64BE(8);
  const chunkSize = bytes.readUInt32BE(24);
  if (size > BigInt(Number.MAX_SAFE_INTEGER) || chunkSize === 0 || (chunkSize & (chunkSize - 1)) !== 0) return undefined;
  const header: JournalHeader = { size: Number(size), mtimeNs: bytes.readBigInt64BE(16), chunkSize };
  const chunkTotal = Math.ceil(header.size / chunkSize);
  const chunks = new Map<number, bigint>();
  for (let at = JOURNAL_HEADER_SIZE; at + JOURNAL_RECORD_SIZE <= bytes.length; at += JOURNAL_RECORD_SIZE) {
    const record = bytes.subarray(at, at + JOURNAL_RECORD_SIZE);
    if (xxh.h32Raw(record.subarray(0, RECORD_CHECKED), check) !== record.readUInt32BE(RECORD_CHECKED)) continue;
    const index = record.readUInt32BE(0);
    if (index < chunkTotal) chunks.set(index, record.readBigUInt64BE(4));
  }
  return { header, chunks };
}

/** The journal was written for exactly this source and chunk size. */
export function journalMatches(journal: JournalHeader, wanted: JournalHeader): boolean {
  return journal.size === wanted.size && journal.mtimeNs === wanted.mtimeNs && journal.chunkSize === wanted.chunkSize;
}
