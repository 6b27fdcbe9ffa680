/**
 * Small files created on a second thread, for trees of many files. A receiver spends most of a
 * small file on its four calls (open with O_CREAT|O_EXCL, write, futimes, close: about 10 µs of a
 * tmpfs file's 15, docs/BENCHMARKS.md "The million-file tree again"), on the one thread that also
 * opens the frames and runs the session; tar x's receiving side is two processes. Here the calls
 * of a file written whole into a directory this process made go to a worker thread, in batches
 * (one copy of path and bytes a file into a batch buffer, moved to the worker and back, never
 * allocated again), while the main thread goes on with the next frames. The worker starts only
 * once a tree has passed some thousands of such files (CREATION_THREAD_AFTER): its start (a second
 * V8, about 40 ms of its own) would cost a small copy more than it saves.
 *
 * What the worker does for a file is what fileWriter.ts createWhole does without an owner to give:
 * open O_WRONLY|O_CREAT|O_EXCL with the creation mode, write, fchmod when the mode differs, futimes
 * (now, mtime), close; on an error after the open, the file is removed. Something at the name
 * already (EEXIST) is left for the caller to write the usual way. A batch unanswered within the
 * write timeout (a hung disk) is a failure of the whole session, as a chunk write that never
 * completes is (fileWriter.ts writeTimedOut).
 */
import { constants } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { FcpError } from '../errors';
import { HANG_DISK_ENV } from '../diskWatch';

/** What FCP_TEST_HANG_DISK names to make the worker hang (a test's hung disk). */
export const HANG_OPERATION = 'create away';
/** Files written whole into new directories before the worker is started. */
export const CREATION_THREAD_AFTER = 16 * 1024;
/**
 * A batch goes to the worker once it holds this many files or bytes, or when the worker has nothing
 * to do (at the end of a turn of the event loop, or when it answers): a post costs tens of
 * microseconds, and a batch a turn made thousands of small ones. The sender's window of files
 * not yet acknowledged bounds the batches in flight; their buffers are kept for the next ones.
 */
const BATCH_FILES = 256;
/** A batch's paths and bytes: a whole small file (INLINE_MAX) and its path always fit an empty one. */
const BATCH_BYTES = 256 * 1024;
/**
 * Files handed over and not yet made, at most: past this the caller makes them itself (both
 * threads then create files), so that what waits for the worker, and the memory it holds, stays
 * bounded when the disk is slower than the network.
 */
export const CREATIONS_PENDING_MAX = 4 * BATCH_FILES;
/** The numbers a file takes in a batch: path start, path length, data start, data length, creation mode, mode, mtime (s). */
const FIELDS = 7;

/** Why the worker could not create a file: the error's code, errno, syscall and message, and the step ('create', 'write' or 'finish'). */
export interface CreationFailure {
  operation: string;
  error: NodeJS.ErrnoException;
}

/**
 * A file of a batch: created, or failed (failure), with its path and bytes as views into the batch
 * buffer until the callback returns, and the mode and mtime (s) it was to get.
 */
export type CreatedCallback = (token: number, failure: CreationFailure | undefined, final: Buffer, data: Buffer, perm: number, mtime: number) => void;

interface Batch {
  id: number;
  buffer: ArrayBuffer;
  bytes: Buffer;
  meta: Float64Array;
  tokens: number[];
  used: number;
  sentAt: number;
}

/** The worker: the calls, as fileWriter.ts makes them for a whole small file, for each file of a batch. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const FLAGS = ${constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL};
const hangs = process.env.${HANG_DISK_ENV} === '${HANG_OPERATION}';
parentPort.on('message', ({ id, buffer, meta, count }) => {
  if (hangs) for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  const bytes = Buffer.from(buffer);
  const failures = [];
  const now = Date.now() / 1000;
  for (let i = 0; i < count; i++) {
    const at = i * ${FIELDS};
    const path = bytes.subarray(meta[at], meta[at] + meta[at + 1]);
    const start = meta[at + 2];
    const length = meta[at + 3];
    let fd = -1;
    let operation = 'create';
    try {
      fd = fs.openSync(path, FLAGS, meta[at + 4]);
      operation = 'write';
      for (let written = 0; written < length; ) {
        const step = fs.writeSync(fd, bytes, start + written, length - written, written);
        if (step === 0) throw Object.assign(new Error('EIO: write made no progress'), { code: 'EIO' });
        written += step;
      }
      operation = 'finish';
      if (meta[at + 4] !== meta[at + 5]) fs.fchmodSync(fd, meta[at + 5]);
      fs.futimesSync(fd, now, meta[at + 6]);
      const closing = fd;
      fd = -1;
      fs.closeSync(closing);
    } catch (err) {
      if (fd >= 0) {
        try { fs.closeSync(fd); } catch {}
        try { fs.rmSync(path, { force: true }); } catch {}
      }
      failures.push({ index: i, operation, code: err.code, errno: err.errno, syscall: err.syscall, message: err.message });
    }
  }
  parentPort.postMessage({ id, buffer, meta, failures }, [buffer, meta.buffer]);
});
`;

interface Reply {
  id: number;
  buffer: ArrayBuffer;
  meta: Float64Array;
  failures: { index: number; operation: string; code?: string; errno?: number; syscall?: string; message: string }[];
}

export class CreationThread {
  private readonly worker: Worker;
  private readonly free: Batch[] = [];
  private readonly inFlight = new Map<number, Batch>();
  private filling: Batch | undefined;
  private flushDue = false;
  private nextId = 0;
  private readonly deadline: NodeJS.Timeout;
  private closed = false;
  private handedOver = 0;
  /** finish() waits for the batches in flight: called once none is. */
  private drained: (() => void) | undefined;

  /**
   * onCreated: each file's outcome, in the order handed over within a batch. onStall: a batch
   * unanswered for timeoutMs (or the worker's end), after which nothing more is called.
   */
  constructor(
    private readonly onCreated: CreatedCallback,
    private readonly onStall: (error: FcpError) => void,
    private readonly timeoutMs: number,
  ) {
    // The environment as this module sees it (Node's default, but for a sandbox such as a test's).
    this.worker = new Worker(WORKER_SOURCE, { eval: true, env: process.env });
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => this.answered(reply));
    this.worker.on('error', (err) => this.stall(new FcpError('FCP_ERR_INTERNAL', `the file creation thread failed: ${err.message}`, { cause: err })));
    this.deadline = setInterval(() => this.checkDeadline(), Math.max(1000, Math.floor(timeoutMs / 4)));
    this.deadline.unref();
  }

  /** Files handed over and not yet answered. */
  get pending(): number {
    return this.handedOver;
  }

  /** Whether another file may be handed over (CREATIONS_PENDING_MAX). */
  get takes(): boolean {
    return this.handedOver < CREATIONS_PENDING_MAX;
  }

  /** Creates `final` with `data`, mode `perm` (created with `mode`, then set) and mtime `mtime` (seconds, not negative). */
  create(final: Buffer, data: Buffer, mode: number, perm: number, mtime: number, token: number): void {
    if (this.closed) throw new FcpError('FCP_ERR_INTERNAL', 'a file handed to a closed creation thread');
    this.add(final, data, mode, perm, mtime, token);
    this.handedOver++;
    if (this.inFlight.size === 0) this.flushSoon();
  }

  /**
   * Stops the worker once the batches in flight are answered (their files reported), or after
   * waitMs: a worker stopped within a file could leave it half made. Files not yet sent are dropped.
   */
  async finish(waitMs: number): Promise<void> {
    this.filling = undefined;
    if (this.inFlight.size > 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.close();
  }

  /** Stops the worker; what it had not answered is not reported. */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.deadline);
    void this.worker.terminate();
  }

  private newBatch(): Batch {
    const buffer = new ArrayBuffer(BATCH_BYTES);
    return { id: -1, buffer, bytes: Buffer.from(buffer), meta: new Float64Array(BATCH_FILES * FIELDS), tokens: [], used: 0, sentAt: 0 };
  }

  /** Copies the file into the batch being filled (the caller's bytes may be a view into a frame that is read again). */
  private add(final: Buffer, data: Buffer, mode: number, perm: number, mtime: number, token: number): void {
    if (this.filling === undefined) {
      const batch = this.free.pop() ?? this.newBatch();
      batch.tokens.length = 0;
      batch.used = 0;
      this.filling = batch;
    }
    const batch = this.filling;
    if (batch.used + final.length + data.length > batch.bytes.length) {
      if (batch.tokens.length === 0) throw new FcpError('FCP_ERR_INTERNAL', `a file of ${data.length} bytes handed to the creation thread`);
      this.send();
      return this.add(final, data, mode, perm, mtime, token);
    }
    const at = batch.tokens.length * FIELDS;
    const meta = batch.meta;
    meta[at] = batch.used;
    meta[at + 1] = final.length;
    batch.used += final.copy(batch.bytes, batch.used);
    meta[at + 2] = batch.used;
    meta[at + 3] = data.length;
    batch.used += data.copy(batch.bytes, batch.used);
    meta[at + 4] = mode;
    meta[at + 5] = perm;
    meta[at + 6] = mtime;
    batch.tokens.push(token);
    if (batch.tokens.length === BATCH_FILES) this.send();
  }

  /** At the end of this turn, the batch being filled goes to a worker that has none. */
  private flushSoon(): void {
    if (this.flushDue) return;
    this.flushDue = true;
    setImmediate(() => {
      this.flushDue = false;
      if (!this.closed && this.inFlight.size === 0 && this.filling && this.filling.tokens.length > 0) this.send();
    });
  }

  private send(): void {
    const batch = this.filling!;
    this.filling = undefined;
    batch.id = this.nextId++;
    batch.sentAt = Date.now();
    this.inFlight.set(batch.id, batch);
    this.worker.postMessage({ id: batch.id, buffer: batch.buffer, meta: batch.meta, count: batch.tokens.length }, [batch.buffer, batch.meta.buffer as ArrayBuffer]);
  }

  private answered(reply: Reply): void {
    if (this.closed) return;
    const batch = this.inFlight.get(reply.id)!;
    this.inFlight.delete(reply.id);
    // The buffers came back: the batch's views are made of them again.
    batch.buffer = reply.buffer;
    batch.bytes = Buffer.from(reply.buffer);
    batch.meta = reply.meta;
    let failed = 0;
    this.handedOver -= batch.tokens.length;
    for (let i = 0; i < batch.tokens.length && !this.closed; i++) {
      const failure = reply.failures[failed]?.index === i ? reply.failures[failed++] : undefined;
      const at = i * FIELDS;
      const final = batch.bytes.subarray(batch.meta[at], batch.meta[at] + batch.meta[at + 1]);
      const data = batch.bytes.subarray(batch.meta[at + 2], batch.meta[at + 2] + batch.meta[at + 3]);
      const error = failure && Object.assign(new Error(failure.message), { code: failure.code, errno: failure.errno, syscall: failure.syscall });
      this.onCreated(batch.tokens[i]!, failure && { operation: failure.operation, error: error! }, final, data, batch.meta[at + 5]!, batch.meta[at + 6]!);
    }
    if (this.closed) return;
    this.free.push(batch);
    if (this.drained && this.inFlight.size === 0) return this.drained();
    // What came meanwhile goes now, while the worker has the rest of its batches to do.
    if (this.filling && this.filling.tokens.length > 0) this.send();
  }

  private checkDeadline(): void {
    const now = Date.now();
    for (const batch of this.inFlight.values()) {
      if (now - batch.sentAt > this.timeoutMs) {
        return this.stall(new FcpError('FCP_ERR_TIMEOUT', `files being created did not complete within ${Math.round(this.timeoutMs / 1000)} s`, { hint: 'the destination disk or mount is not answering; check it, then copy again' }));
      }
    }
  }

  private stall(error: FcpError): void {
    if (this.closed) return;
    this.close();
    this.onStall(error);
  }
}
