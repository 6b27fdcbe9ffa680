/**
 * The receiver's state of one partly received file (PROTOCOL.md §7.5), kept between runs so a
 * rerun resumes it: the data under a fixed hidden name, a journal of the chunks written and
 * verified beside it, and a lock while a run writes it.
 *
 *   .<name>.fcp-part          the data, at its final offsets (renamed into place when verified)
 *   .<name>.fcp-part.journal  header + one record per chunk written and verified (chunkJournal.ts)
 *   .<name>.fcp-part.lock     O_EXCL, holds the writer's pid while a run writes the file
 *
 * beside the destination file, or in `partialDir` (relative to the destination's directory) when
 * one is given (fcp --partial-dir).
 *
 * Durability: records are appended to a pooled buffer as chunks are written and verified, and
 * flushed at least every JOURNAL_FLUSH_MS or JOURNAL_FLUSH_BYTES of chunks: fdatasync of the data
 * first, then one write of the records, so a journal never claims data the disk may not have
 * (after a reboot a record that got out ahead would only be a wrong claim, which the sender's
 * check catches, but it would cost the resend). Flushes run in libuv's thread pool; keep() flushes
 * synchronously, for an interrupted run on its way out.
 *
 * Concurrency: two runs writing the same destination would corrupt each other's part file, so
 * the second one finds the lock taken by a live pid and gets no PartialFile (its caller then writes
 * a private temporary, as before resume existed, and the last rename wins). A lock whose pid is
 * no longer running (kill -9, a reboot) is stale and taken over. The pid is local to the host:
 * two hosts writing one NFS directory are not told apart.
 */
import * as fs from 'node:fs';
import type { XXHashAPI } from '../protocol/xxhash';
import { StaleReason } from '../protocol/constants';
import { showName } from '../showName';
import { takePidLock } from './pidLock';
import { unlinkIfPresent } from './unlinkIfPresent';
import {
  encodeHeader,
  headerCheck,
  JOURNAL_FLUSH_BYTES,
  JOURNAL_FLUSH_MS,
  JOURNAL_HEADER_SIZE,
  JOURNAL_RECORD_SIZE,
  JournalHeader,
  journalMatches,
  parseJournal,
  writeRecord,
} from './chunkJournal';

const SLASH = 0x2f;
const DOT = 0x2e;
export const PART_SUFFIX = '.fcp-part';
const JOURNAL_SUFFIX = '.journal';
const LOCK_SUFFIX = '.lock';
/** Longest name stem kept in a part file's name: room for the suffixes under NAME_MAX (255). */
const MAX_STEM = 200;
/**
 * A journal longer than this many records per chunk is not read (each run appends at most one
 * record per chunk it writes, and a file is seldom resumed more than a few times): memory stays
 * bounded by the file's chunk count whatever is on disk.
 */
const MAX_RECORDS_PER_CHUNK = 8;

/** Every PartialFile open in this process: an interrupted process keeps them all (keepAllPartials). */
const open = new Set<PartialFile>();

export interface PartialPaths {
  part: Buffer;
  journal: Buffer;
  lock: Buffer;
  /** The partial directory to create first, when one is used. */
  dir: Buffer | undefined;
}

/**
 * Why `dir` cannot be a --partial-dir (undefined when it can): it is taken under each destination
 * directory, so it is relative and never climbs out with `..`. fcp and fcpd both check it.
 */
export function partialDirProblem(dir: string): string | undefined {
  if (dir === '' || dir.startsWith('/') || dir.includes('\0') || dir.split('/').includes('..')) return 'must be a relative path without ..';
  return undefined;
}

/** Where the partial state of `final` lives: beside it, or in `partialDir` under its directory. */
export function partialPaths(final: Buffer, partialDir?: Buffer): PartialPaths {
  const stem = final.lastIndexOf(SLASH) + 1;
  const name = final.subarray(stem, Math.min(final.length, stem + MAX_STEM));
  const dir = partialDir ? Buffer.concat([final.subarray(0, stem), partialDir, Buffer.of(SLASH)]) : final.subarray(0, stem);
  return { ...partCompanions(Buffer.concat([dir, Buffer.of(DOT), name, Buffer.from(PART_SUFFIX, 'latin1')])), dir: partialDir ? dir : undefined };
}

/** A part file's path with its journal's and lock's. */
export function partCompanions(part: Buffer): Omit<PartialPaths, 'dir'> {
  return { part, journal: Buffer.concat([part, Buffer.from(JOURNAL_SUFFIX, 'latin1')]), lock: Buffer.concat([part, Buffer.from(LOCK_SUFFIX, 'latin1')]) };
}

export interface OpenPartialOptions {
  /** What the sender announced: a journal is used only when it was written for exactly this. */
  header: JournalHeader;
  /** Mode for a new part file. */
  mode: number;
  /** Use what an earlier run left (false: --no-resume, or a peer without RESUME: start over). */
  reuse: boolean;
  partialDir?: Buffer;
}

function closeSilently(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed, or its error is of no use on the way out.
  }
}

/** The journal at `path` when it parses, is not oversized, and was written for `header`; else why not. */
function readJournal(xxh: XXHashAPI, path: Buffer, header: JournalHeader): Map<number, bigint> | number | undefined {
  let bytes: Buffer;
  try {
    const chunks = Math.ceil(header.size / header.chunkSize);
    const limit = JOURNAL_HEADER_SIZE + chunks * MAX_RECORDS_PER_CHUNK * JOURNAL_RECORD_SIZE;
    if (fs.statSync(path).size > limit) return StaleReason.UNREADABLE;
    bytes = fs.readFileSync(path);
  } catch {
    return undefined;
  }
  const journal = parseJournal(xxh, bytes);
  if (!journal) return StaleReason.UNREADABLE;
  return journalMatches(journal.header, header) ? journal.chunks : StaleReason.CHANGED;
}

export class PartialFile {
  /** The part file, open for writing at the chunks' offsets. */
  readonly fd: number;
  readonly part: Buffer;
  /** Chunks an earlier run wrote and verified, by index: what the receiver claims (CHUNKS_HELD). */
  readonly held: ReadonlyMap<number, bigint>;
  /** Why what an earlier run left was not used (StaleReason), when it was not. */
  readonly stale: number | undefined;
  private readonly paths: PartialPaths;
  private readonly check: number;
  /** Records not yet flushed; `spare` takes them while a flush is in flight. */
  private pending: Buffer;
  private pendingLength = 0;
  private spare: Buffer;
  /** Chunk bytes the pending records stand for. */
  private pendingBytes = 0;
  /** Where the next flushed record goes in the journal. */
  private journalEnd: number;
  /** The records being flushed, and where they go: keep() writes them too should it come first. */
  private flushing: { records: Buffer; at: number } | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Some chunk is vouched for (held from an earlier run, or recorded in this one): worth keeping. */
  private worthKeeping: boolean;

  /**
   * Opens the partial state of `final`, reusing what an earlier run left when its journal matches
   * options.header; undefined when another running process writes the same file.
   */
  static open(xxh: XXHashAPI, final: Buffer, options: OpenPartialOptions): PartialFile | undefined {
    const paths = partialPaths(final, options.partialDir);
    if (paths.dir) fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    if (!takePidLock(paths.lock)) return undefined;
    try {
      return new PartialFile(xxh, paths, options);
    } catch (err) {
      unlinkIfPresent(paths.lock);
      throw err;
    }
  }

  private constructor(
    private readonly xxh: XXHashAPI,
    paths: PartialPaths,
    options: OpenPartialOptions,
  ) {
    this.paths = paths;
    this.part = paths.part;
    const found = options.reuse ? readJournal(xxh, paths.journal, options.header) : undefined;
    const held = found instanceof Map && found.size > 0 && fs.existsSync(paths.part) ? found : undefined;
    this.held = held ?? new Map();
    this.stale = typeof found === 'number' ? found : undefined;
    this.worthKeeping = held !== undefined;
    const header = encodeHeader(xxh, options.header);
    this.check = headerCheck(header);
    // Without a journal to trust, the part file starts over: empty, then sized by the caller.
    const truncate = held ? 0 : fs.constants.O_TRUNC;
    this.fd = fs.openSync(paths.part, fs.constants.O_RDWR | fs.constants.O_CREAT | truncate, options.mode);
    try {
      if (held) {
        this.journalEnd = fs.statSync(paths.journal).size;
        // A torn last record is cut off, so that what this run appends lines up with the grid.
        this.journalEnd -= (this.journalEnd - JOURNAL_HEADER_SIZE) % JOURNAL_RECORD_SIZE;
      } else {
        fs.writeFileSync(paths.journal, header, { mode: 0o600 });
        this.journalEnd = header.length;
      }
    } catch (err) {
      closeSilently(this.fd);
      throw err;
    }
    const flushRecords = Math.max(1, Math.ceil(JOURNAL_FLUSH_BYTES / options.header.chunkSize));
    this.pending = Buffer.allocUnsafe(2 * flushRecords * JOURNAL_RECORD_SIZE);
    this.spare = Buffer.allocUnsafe(this.pending.length);
    open.add(this);
  }

  /** Chunk `index` (`length` bytes) is written at its offset and verified: it goes into the journal. */
  record(index: number, hash: bigint, length: number): void {
    if (this.closed) return;
    this.worthKeeping = true;
    if (this.pendingLength + JOURNAL_RECORD_SIZE > this.pending.length) this.growPending();
    this.pendingLength = writeRecord(this.xxh, this.check, index, hash, this.pending, this.pendingLength);
    this.pendingBytes += length;
    if (this.pendingBytes >= JOURNAL_FLUSH_BYTES) this.flush();
    else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), JOURNAL_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /**
   * An interrupted run: what was recorded is flushed now (data first), and the part file and its
   * journal stay for the next run (unless no chunk of it was recorded: then they go). Synchronous, so that a process on its way out can call it.
   */
  keep(): void {
    if (this.closed) return;
    // A part file with no chunk in it would only be an orphan: nothing of it can be resumed.
    if (!this.worthKeeping) return this.remove();
    try {
      fs.fdatasyncSync(this.fd);
      const journal = fs.openSync(this.paths.journal, fs.constants.O_WRONLY);
      try {
        if (this.flushing) fs.writeSync(journal, this.flushing.records, 0, this.flushing.records.length, this.flushing.at);
        if (this.pendingLength > 0) fs.writeSync(journal, this.pending, 0, this.pendingLength, this.journalEnd);
        fs.fdatasyncSync(journal);
      } finally {
        fs.closeSync(journal);
      }
    } catch {
      // A journal that could not be written only means more is sent again next time.
    }
    this.close();
  }

  /** The file failed (or is not to be resumed): its part file and journal go. */
  remove(): void {
    this.close();
    unlinkIfPresent(this.paths.part);
    unlinkIfPresent(this.paths.journal);
  }

  /** The caller has renamed the part file into place (closing fd first): the journal goes. */
  committed(): void {
    this.close();
    unlinkIfPresent(this.paths.journal);
    if (this.paths.dir) {
      try {
        fs.rmdirSync(this.paths.dir);
      } catch {
        // Other partial files are still in it.
      }
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this);
    clearTimeout(this.flushTimer);
    // The data descriptor is the writer's to close (after its last write has landed).
    unlinkIfPresent(this.paths.lock);
  }

  /** Writes the pending records behind an fdatasync of the data they claim, in the thread pool. */
  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.closed || this.flushing || this.pendingLength === 0) return;
    const records = this.pending.subarray(0, this.pendingLength);
    const at = this.journalEnd;
    this.flushing = { records, at };
    this.journalEnd += records.length;
    [this.pending, this.spare] = [this.spare, this.pending];
    this.pendingLength = 0;
    this.pendingBytes = 0;
    const done = (): void => {
      this.flushing = undefined;
      if (!this.closed && this.pendingBytes >= JOURNAL_FLUSH_BYTES) this.flush();
    };
    // The journal is opened per flush, not held: a file being received costs one descriptor, as the open-file budget counts.
    fs.fdatasync(this.fd, (syncError) => {
      if (this.closed || syncError) return done();
      fs.open(this.paths.journal, fs.constants.O_WRONLY, (openError, journal) => {
        if (openError) return done();
        fs.write(journal, records, 0, records.length, at, () => fs.close(journal, () => done()));
      });
    });
  }

  /** More records than two flush intervals' worth came while a flush was in flight (a slow disk). */
  private growPending(): void {
    const bigger = Buffer.allocUnsafe(this.pending.length * 2);
    this.pending.copy(bigger, 0, 0, this.pendingLength);
    this.pending = bigger;
    this.spare = Buffer.allocUnsafe(bigger.length);
  }
}

/** Keeps every partial file of this process (flushed, for the next run): an interrupted process calls it on its way out (interrupted.ts). */
export function keepAllPartials(): void {
  for (const partial of [...open]) partial.keep();
}

/** What the user is told about a file whose partial state was not used (a StaleReason): it was sent whole. */
export function staleNotice(path: Buffer, reason: number): string {
  const why = reason === StaleReason.CHANGED ? 'changed since the interrupted run' : 'had partial state from an interrupted run that could not be read';
  return `${showName(path)} ${why}; sent whole`;
}
