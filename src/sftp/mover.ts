/**
 * Moves a walked tree from one side to the other over N sessions: directories first (pre-order),
 * then symlinks, then files, chunk by chunk, WORKERS_PER_SESSION workers per session; a large
 * file's chunks are spread over the workers (CHUNKS_PER_SESSION at once), small files go to
 * whichever worker is free. Each file
 * is written under a hidden temporary name (resume.ts), closed, and then, while the workers go on
 * with other files, its size (and, when both sides can, its hash) checked, its mode and mtime set,
 * and renamed into place. This machine's side of the hash is taken of the bytes as they are moved
 * (a whole file's, in order, on a thread of its own unless the file is small: digestThread.ts), so
 * only the remote side reads the file again. The copy does not wait for the probe of the remote hash tool (a login
 * shell, seconds on some hosts): until it answers, the tool most hosts have is assumed, and a file
 * hashed with another is read again to be hashed. Directory modes and mtimes are set last,
 * deepest first, so that writing into them does not change them. A file's failure is its own
 * (a file event with the error); a lost session ends the copy.
 */
import { FcpError } from '../errors';
import { showName } from '../showName';
import type { FileEvent, TransferEvents, TransferSummary } from '../transfer/link';
import type { Entry } from '../transfer/walk';
import { hiddenTempPath } from '../transfer/fileWriter';
import { DigestThread, MovedHash } from './digestThread';
import { mayResume, resumableTempPath, resumeOffset, SFTP_CHUNK_BYTES, WINDOW_CHUNKS } from './resume';
import { STREAMED_DIGEST_MIN_BYTES, StreamedDigest } from './streamedDigest';
import type { FileHandle, Side } from './sides';
import { HASH_TOOLS, RemoteHashTool } from './verification';

/**
 * A large file's chunks in flight per session: while the oldest chunk's requests wait for their
 * answers, the others' are in flight and the next one is read, so a session's pipe (4 MiB of
 * requests, in pieces as large as the server takes: remoteFs.ts) never drains between chunks.
 */
export const CHUNKS_PER_SESSION = 4;
/**
 * Workers per session, each moving one chunk at a time: a small file is one chunk whose few
 * requests (open, write, close) wait on round trips, so many are in flight to keep a session busy.
 */
const WORKERS_PER_SESSION = 8;
/** Files being written at once, per session: enough to keep sessions busy between small files. */
const OPEN_FILES_PER_SESSION = 4;
/**
 * Files written and closed but not yet verified and renamed. Their hashes are asked for in
 * batches of up to 1,024 (remoteHasher.ts), one running while the next fills, and until the
 * remote probe answers (its login shell: 7.5 s on the loaded bench host) none can be asked for at
 * all: at 512 a 10,000-file push stood still for most of that wait. A file finishing holds no
 * handle, only its names and a digest's state: a few hundred bytes.
 */
const FILES_FINISHING = 8192;
/** Errors that end the whole copy rather than one file. */
const FATAL = new Set(['FCP_ERR_CONNECTION_LOST', 'FCP_ERR_TIMEOUT', 'FCP_ERR_CONNECT']);

export interface MoveOptions {
  source: Side;
  destination: Side;
  entries: Entry[];
  /** Where an entry goes on the destination side. */
  destinationPath(entryPath: Buffer): Buffer;
  /** SSH sessions at the start, numbered from 0 (addSession adds more). */
  sessions: number;
  /**
   * The hash both sides compare, when both can compute it: the remote probe's answer, awaited
   * only to verify; undefined when none is to be compared (--no-verify: sizes alone).
   */
  hash: Promise<RemoteHashTool | undefined> | undefined;
  events: TransferEvents;
  log(line: string): void;
}

/** The counts of an fcpd session's transfer, for an SFTP copy. */
export type MoveResult = TransferSummary;

type FileEntry = Extract<Entry, { kind: 'file' }>;

/**
 * Chunk memory used again: a chunk's is free once its writes are answered and its bytes hashed,
 * and a fresh megabyte per chunk kept the garbage collector at 8 % of a 1 GiB upload. Each chunk
 * has an ArrayBuffer of its own, so that it can be lent to the digest thread (digestThread.ts).
 */
class ChunkBuffers {
  private readonly free: ArrayBuffer[] = [];

  /** `length` bytes (at most a chunk) of uninitialised memory, starting an ArrayBuffer of its own. */
  take(length: number): Buffer {
    return Buffer.from(this.free.pop() ?? new ArrayBuffer(SFTP_CHUNK_BYTES), 0, length);
  }

  /** A chunk's memory, taken before (or come back from the digest thread). */
  give(memory: ArrayBufferLike): void {
    this.free.push(memory as ArrayBuffer);
  }
}

/** The remote probe's answer, once it has come: until then the hash most hosts have is assumed. */
class HashChoice {
  private answer: { tool: RemoteHashTool | undefined } | undefined;

  constructor(probed: Promise<RemoteHashTool | undefined> | undefined) {
    if (probed) void probed.then((tool) => (this.answer = { tool }));
    else this.answer = { tool: undefined };
  }

  /** The Node name of the hash to take of a file's bytes as they move; undefined: none will be compared. */
  get expected(): string | undefined {
    return this.answer ? this.answer.tool?.tool.node : HASH_TOOLS[0]!.node;
  }
}

/** What a copy's files share: their chunks' memory, the digest thread, the hash to take, the sessions moving them. */
interface Shared {
  buffers: ChunkBuffers;
  digests: DigestThread;
  hash: HashChoice;
  sessions: number;
}

const seconds = (mtimeNs: bigint): number => Number(mtimeNs / 1_000_000_000n);

class FileJob {
  readonly chunks: number;
  /** The next chunk to hand out, and the first one not yet written (the resume window's base). */
  next = 0;
  firstUnwritten = 0;
  private readonly written = new Set<number>();
  inFlight = 0;
  error: FcpError | undefined;
  /** The hash both sides agreed on, when one was compared. */
  digest: string | undefined;
  /** Chunks an earlier run wrote (resume), and whether that has been looked at yet. */
  private resumedChunks = 0;
  /** Bytes an earlier run's temporary already held (resume by size): not sent again. */
  resumedBytes = 0;
  private ready = false;
  readonly final: Buffer;
  readonly temp: Buffer;
  private prepared: Promise<void> | undefined;
  /** Per session (or one for all): source and destination handles. */
  private readonly handles = new Map<number, Promise<[FileHandle, FileHandle]>>();
  private freshFirst = true;
  /** The first opener's create: later openers wait for it before they open the file in place. */
  private created: Promise<unknown> = Promise.resolve();
  /**
   * The hash of the bytes moved (Node's name of it in movedAlgorithm), fed chunk by chunk in file
   * order (chunks written out of order wait in `unhashed`: at most one per worker), when the whole
   * file is moved in this run.
   */
  private moved: MovedHash | undefined;
  private movedAlgorithm: string | undefined;
  private readonly unhashed = new Map<number, Buffer>();
  private hashedChunks = 0;
  /**
   * A large file's other side of the hash, taken while the copy runs rather than after it: the
   * remote destination's fed as chunks are hashed here (streamedDigest.ts), or the remote source's
   * asked for at once.
   */
  private streamed: StreamedDigest | undefined;
  private sourceDigest: Promise<string | undefined> | undefined;
  private abandoned = false;

  constructor(
    readonly entry: FileEntry,
    private readonly options: MoveOptions,
    private readonly shared: Shared,
  ) {
    this.chunks = Math.max(1, Math.ceil(entry.size / SFTP_CHUNK_BYTES));
    this.final = options.destinationPath(entry.path);
    this.temp = resumableTempPath(this.final, entry.size, seconds(entry.mtimeNs));
  }

  get handedOut(): boolean {
    return this.next >= this.chunks;
  }

  /** Whether a chunk may be handed out now: one is left, within the window (resume.ts). */
  get available(): boolean {
    return (
      this.ready &&
      !this.error &&
      !this.handedOut &&
      this.next < this.firstUnwritten + WINDOW_CHUNKS &&
      this.inFlight < this.shared.sessions * CHUNKS_PER_SESSION
    );
  }

  get finished(): boolean {
    return this.inFlight === 0 && (this.error !== undefined || this.written.size + this.resumedChunks === this.chunks);
  }

  /** Once per file, before its first chunk: resume from an earlier run's temporary, or start it. */
  prepare(): Promise<void> {
    return (this.prepared ??= (async () => {
      const offset = mayResume(this.entry.size) ? resumeOffset(await this.options.destination.fileSize(this.temp), this.entry.size) : 0;
      this.freshFirst = offset === 0;
      if (offset > 0) {
        this.options.log(`${this.entry.path.toString('utf8')}: resuming from ${offset} bytes of an earlier run`);
        this.options.events.bytes?.(offset);
      }
      const skipped = offset / SFTP_CHUNK_BYTES;
      this.next = Math.max(this.next, skipped);
      this.firstUnwritten = skipped;
      this.resumedChunks = skipped;
      this.resumedBytes = offset;
      const { hash, source, destination } = this.options;
      const algorithm = this.shared.hash.expected;
      if (algorithm && offset === 0) {
        this.moved = this.shared.digests.open(algorithm, this.entry.size);
        this.movedAlgorithm = algorithm;
      }
      if (this.entry.size >= STREAMED_DIGEST_MIN_BYTES) {
        if (!source.local) {
          this.sourceDigest = hash?.then((tool) => tool && source.hash(this.entry.source, tool, this.entry.size));
          this.sourceDigest?.catch(() => undefined);
        } else if (this.moved && hash) {
          // Chunks hashed before the probe answered are told to the stream at once.
          void hash.then((tool) => {
            if (!tool || tool.tool.node !== this.movedAlgorithm || this.abandoned) return;
            this.streamed = destination.streamDigest?.(this.temp, tool);
            this.streamed?.feed(this.hashedChunks);
          });
        }
      }
      this.ready = true;
    })());
  }

  handlesFor(session: number): Promise<[FileHandle, FileHandle]> {
    const { source, destination } = this.options;
    const key = source.perSession || destination.perSession ? session : 0;
    let opened = this.handles.get(key);
    if (!opened) {
      // Only the first opener creates (and truncates); later ones write into what it made.
      const fresh = this.freshFirst;
      this.freshFirst = false;
      const writing = this.created.then(() => destination.openWrite(this.temp, session, fresh, this.entry.perm));
      if (fresh) this.created = writing.catch(() => undefined);
      opened = Promise.all([source.openRead(this.entry.source, session), writing]);
      this.handles.set(key, opened);
    }
    return opened;
  }

  /**
   * `bytes`'s memory goes back to the chunk buffers once it is hashed (or at once when nothing is);
   * resolves when the chunks it let be hashed are, so that a worker does not run ahead of the
   * digest thread.
   */
  async chunkWritten(index: number, bytes: Buffer): Promise<void> {
    const { buffers } = this.shared;
    this.written.add(index);
    while (this.written.has(this.firstUnwritten)) this.firstUnwritten++;
    if (!this.moved) return buffers.give(bytes.buffer);
    this.unhashed.set(index, bytes);
    const inOrder: Buffer[] = [];
    for (let next = this.unhashed.get(this.hashedChunks); next; next = this.unhashed.get(this.hashedChunks)) {
      inOrder.push(next);
      this.unhashed.delete(this.hashedChunks++);
    }
    this.streamed?.feed(inOrder.length);
    const moved = this.moved;
    await Promise.all(inOrder.map((chunk) => moved.update(chunk).then((memory) => buffers.give(memory))));
  }

  /** The hex digest of the file as `side` holds it at `path`: taken during the copy where it could be. */
  async digestOn(side: Side, path: Buffer, tool: RemoteHashTool): Promise<string> {
    if (side.local) {
      const moved = await this.movedDigest(tool);
      if (moved) return moved;
    } else if (side === this.options.source && this.sourceDigest) {
      const early = await this.sourceDigest;
      if (early) return early;
    } else if (this.streamed) {
      const stream = this.streamed;
      this.streamed = undefined;
      const streamed = await stream.finish(this.entry.size);
      if (streamed) return streamed;
      const why = stream.complaint.trim();
      this.options.log(`sftp: the digest of ${showName(path)} taken while it was written failed${why ? ` (${showName(why)})` : ''}; hashing it again`);
    }
    return side.hash(path, tool, this.entry.size);
  }

  /** Once the file is done with, or failed: its remote stream and its digest on the thread are not waited for. */
  release(): void {
    this.abandoned = true;
    this.streamed?.close();
    this.streamed = undefined;
    void this.endMoved()?.catch(() => undefined);
  }

  /** The digest of the bytes moved, when they are the whole file and hashed with `tool`. */
  private async movedDigest(tool: RemoteHashTool): Promise<string | undefined> {
    const whole = this.hashedChunks === this.chunks && this.movedAlgorithm === tool.tool.node;
    const digest = this.endMoved();
    if (whole) return digest;
    void digest?.catch(() => undefined);
    return undefined;
  }

  /** Ends the thread's hash of the moved bytes, once. */
  private endMoved(): Promise<string> | undefined {
    const digest = this.moved?.digest();
    this.moved = undefined;
    return digest;
  }

  async closeHandles(): Promise<FcpError | undefined> {
    let failure: FcpError | undefined;
    for (const opened of this.handles.values()) {
      const pair = await opened.catch(() => undefined);
      for (const handle of pair ?? []) await handle.close().catch((err: FcpError) => (failure ??= err));
    }
    this.handles.clear();
    return failure;
  }
}

export class Mover {
  private readonly files: FileEntry[];
  private nextFile = 0;
  private readonly active: FileJob[] = [];
  private wake: (() => void)[] = [];
  /** Files being verified and renamed (settle), each promise removing itself when done. */
  private readonly finishing = new Set<Promise<void>>();
  /** The workers moving chunks, each removing itself when no chunk is left; sessions added later add theirs. */
  private readonly workers = new Set<Promise<void>>();
  private filesStarted = false;
  private fatal: FcpError | undefined;
  private readonly shared: Shared;
  private readonly result: MoveResult = { filesOk: 0, filesFailed: 0, entriesFailed: 0, bytes: 0, bytesSent: 0, bytesResumed: 0, errors: [] };

  constructor(private readonly options: MoveOptions) {
    this.files = options.entries.filter((entry): entry is FileEntry => entry.kind === 'file');
    this.shared = { buffers: new ChunkBuffers(), digests: new DigestThread(), hash: new HashChoice(options.hash), sessions: options.sessions };
  }

  async run(): Promise<MoveResult> {
    try {
      return await this.moveAll();
    } finally {
      this.shared.digests.close();
    }
  }

  private async moveAll(): Promise<MoveResult> {
    const { entries, destination, destinationPath } = this.options;
    // A directory that could not be made is reported once: its mode and mtime are not set later.
    const dirs = [];
    for (const dir of entries) {
      if (dir.kind === 'dir' && (await this.entryStep(dir.path, () => destination.makeDirectory(destinationPath(dir.path), dir.perm | 0o700)))) dirs.push(dir);
    }
    for (const link of entries) {
      if (link.kind !== 'symlink') continue;
      const final = destinationPath(link.path);
      const temp = hiddenTempPath(final, `.fcp-sftp-link-${process.pid.toString(36)}`);
      await this.entryStep(link.path, async () => {
        await destination.symlink(link.target, temp);
        await destination.rename(temp, final);
      });
    }
    this.filesStarted = true;
    for (let session = 0; session < this.shared.sessions; session++) this.startWorkers(session);
    while (this.workers.size > 0) await Promise.all(this.workers);
    while (this.finishing.size > 0) await Promise.all(this.finishing);
    if (this.fatal) throw this.fatal;
    for (const dir of dirs.reverse()) {
      await this.entryStep(dir.path, () => destination.setAttributes(destinationPath(dir.path), dir.perm, seconds(dir.mtimeNs)));
    }
    return this.result;
  }

  /** Session number `sessions` (the count so far) is open: its workers join in, now or once the files start moving. */
  addSession(): void {
    const session = this.shared.sessions++;
    if (this.filesStarted) this.startWorkers(session);
  }

  private startWorkers(session: number): void {
    for (let worker = 0; worker < WORKERS_PER_SESSION; worker++) {
      const working: Promise<void> = this.worker(session).finally(() => this.workers.delete(working));
      this.workers.add(working);
    }
  }

  /** A directory or symlink step: its failure is an entry error; a lost session ends the copy. */
  private async entryStep(path: Buffer, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (err) {
      const error = err as FcpError;
      if (FATAL.has(error.code)) throw error;
      this.result.entriesFailed++;
      this.result.errors.push(error);
      this.options.events.entryFailed?.(path, error);
      return false;
    }
  }

  private notify(): void {
    const waiting = this.wake;
    this.wake = [];
    for (const resume of waiting) resume();
  }

  /** The next chunk for a worker, or undefined once every file is handed out. */
  private async take(): Promise<{ job: FileJob; index: number } | undefined> {
    for (;;) {
      if (this.fatal) return undefined;
      const job = this.active.find((candidate) => candidate.available);
      if (job) {
        job.inFlight++;
        return { job, index: job.next++ };
      }
      if (this.nextFile < this.files.length && this.active.length < this.shared.sessions * OPEN_FILES_PER_SESSION && this.finishing.size < FILES_FINISHING) {
        const started = new FileJob(this.files[this.nextFile++]!, this.options, this.shared);
        this.active.push(started);
        // Resuming moves the first chunk: prepare before handing one out.
        started.inFlight++;
        try {
          await started.prepare();
        } catch (err) {
          this.fail(started, err);
        }
        started.inFlight--;
        await this.settle(started);
        continue;
      }
      if (this.active.length === 0 && this.nextFile >= this.files.length) return undefined;
      await new Promise<void>((resume) => this.wake.push(resume));
    }
  }

  private fail(job: FileJob, err: unknown): void {
    const error = err instanceof FcpError ? err : new FcpError('FCP_ERR_IO', String(err), { cause: err });
    if (FATAL.has(error.code)) this.fatal ??= error;
    job.error ??= error;
  }

  private async worker(session: number): Promise<void> {
    for (let task = await this.take(); task; task = await this.take()) {
      const { job, index } = task;
      try {
        await job.chunkWritten(index, await this.copyChunk(job, index, session));
      } catch (err) {
        this.fail(job, err);
      }
      job.inFlight--;
      await this.settle(job);
      // A written chunk may move the file's window: workers waiting for a chunk look again.
      this.notify();
    }
    this.notify();
  }

  /** Resolves with the bytes it moved. */
  private async copyChunk(job: FileJob, index: number, session: number): Promise<Buffer> {
    const [from, to] = await job.handlesFor(session);
    const position = index * SFTP_CHUNK_BYTES;
    const { buffers } = this.shared;
    const buffer = buffers.take(Math.min(SFTP_CHUNK_BYTES, job.entry.size - position));
    if (buffer.length === 0) return buffer;
    // A failed read or write keeps its buffer: a request of it may still be answered into it.
    const got = await from.read(buffer, position);
    if (got !== buffer.length) {
      buffers.give(buffer.buffer);
      throw new FcpError('FCP_ERR_IO', `${job.entry.source.toString('utf8')} shrank while it was copied (${job.entry.size} bytes when the copy began)`, {
        hint: 'copy it again once it no longer changes',
      });
    }
    await to.write(buffer, position);
    this.options.events.bytes?.(buffer.length);
    return buffer;
  }

  /**
   * When a file has no chunk left in flight and is complete or failed: close it, once, and let the
   * workers move on while it is verified and renamed.
   */
  private async settle(job: FileJob): Promise<void> {
    if (!job.finished || !this.active.includes(job)) return;
    this.active.splice(this.active.indexOf(job), 1);
    // Every handle is closed first: a server may hold writes back until close.
    const closeError = await job.closeHandles();
    if (!job.error && closeError) this.fail(job, closeError);
    const finishing = this.finish(job).finally(() => {
      this.finishing.delete(finishing);
      this.notify();
    });
    this.finishing.add(finishing);
    this.notify();
  }

  private async finish(job: FileJob): Promise<void> {
    if (!job.error) {
      try {
        await this.commit(job);
      } catch (err) {
        this.fail(job, err);
      }
    }
    job.release();
    // A file that failed on its own is not resumable: its temporary goes (a lost session keeps it).
    if (job.error && !this.fatal) await this.options.destination.remove(job.temp).catch(() => undefined);
    this.report(job);
  }

  /**
   * Size check, hash check, mode and mtime (asked for together), then the final name. A file this
   * run wrote whole, into a temporary it created, has the size its acknowledged writes give it:
   * only a resumed one, part of which an earlier run wrote, is measured again.
   */
  private async commit(job: FileJob): Promise<void> {
    const { source, destination } = this.options;
    const { entry, temp, final } = job;
    const hash = await this.options.hash;
    const [size, digests] = await Promise.all([
      job.resumedBytes > 0 ? destination.fileSize(temp) : entry.size,
      hash && Promise.all([job.digestOn(source, entry.source, hash), job.digestOn(destination, temp, hash)]),
      destination.setAttributes(temp, entry.perm, seconds(entry.mtimeNs)),
    ]);
    if (size !== entry.size) {
      throw new FcpError('FCP_ERR_VERIFY', `${final.toString('utf8')} has ${size ?? 'no'} bytes after the copy, not ${entry.size}`);
    }
    if (digests) {
      const [want, got] = digests;
      if (want !== got) throw new FcpError('FCP_ERR_VERIFY', `${final.toString('utf8')}: its ${hash!.tool.name} after the copy differs from the source's`, { hint: 'copy it again' });
      job.digest = want;
    }
    await destination.rename(temp, final);
  }

  private report(job: FileJob): void {
    const { entry } = job;
    const event: FileEvent = { path: entry.path, size: entry.size, error: job.error, digest: job.error ? undefined : job.digest };
    if (job.error) {
      this.result.filesFailed++;
      this.result.errors.push(job.error);
    } else {
      this.result.filesOk++;
      this.result.bytes += entry.size;
      this.result.bytesResumed += job.resumedBytes;
      this.result.bytesSent += entry.size - job.resumedBytes;
    }
    this.options.events.file?.(event);
  }
}
