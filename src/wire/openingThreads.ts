/**
 * Sealed frames opened on other cores (issue 14; docs/BENCHMARKS.md "Every core"). One core
 * opens about 1.0-1.2 GB/s of AES-256-GCM in Node, which bounds a receiving side near 10 Gbit/s;
 * on a host with cores to spare, a data connection's sealed payloads are opened and their tags
 * checked in worker threads, and its main thread keeps the rest: reading the socket, cutting and
 * checking frames, parsing, the session and the disk.
 *
 * A connection is a stream of one thread: its frames go there in order, one message for what one
 * socket read completed, and come back in that order (a thread answers its messages in turn), so
 * the count of frames that makes each frame's nonce goes on there as it would have here
 * (FrameCounter and openSealed are the same source in both places). Threads start when the first
 * connection needs one, connections take them in turn, and none keeps the process alive.
 *
 * How many: FCP_CRYPTO_THREADS (0-64; 0 turns them off) when set, else two fewer than the CPUs
 * and at most four, none below four CPUs: on two, fcp and fcpd already take a core each in a copy
 * on one host and a thread would have none (docs/BENCHMARKS.md "Every core").
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { FcpError } from '../errors';
import { GCM_TAG_SIZE } from '../protocol/constants';
import { cipherAlgorithm, FrameCounter, frameNotAuthentic, openSealed } from '../protocol/frameCipher';
import type { OpeningHandOff, SealedFrame } from '../protocol/frameDecoder';

/** Threads at most, whatever the CPUs (each is a V8 heap of its own, some MB). */
const MOST_THREADS = 4;
/** CPUs left to the main threads of fcp and fcpd when threads are counted from the CPUs. */
const CPUS_KEPT = 2;
const ENV = 'FCP_CRYPTO_THREADS';

/** The thread's side: plain JavaScript, with the main thread's counter and opening as source. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createDecipheriv } = require('node:crypto');
const FrameCounter = (${FrameCounter.toString()});
const openSealed = (${openSealed.toString()});
const streams = new Map();
parentPort.on('message', (m) => {
  if (m.start) {
    streams.set(m.stream, { algorithm: m.algorithm, key: Buffer.from(m.key), counter: new FrameCounter(m.low, m.high), broken: false });
    return;
  }
  if (m.end) {
    streams.delete(m.stream);
    return;
  }
  const s = streams.get(m.stream);
  if (!s || s.broken) return parentPort.postMessage({ stream: m.stream, id: m.id, plain: new ArrayBuffer(0), failedAt: 0 });
  const bytes = Buffer.from(m.bytes);
  const aad = Buffer.alloc(3);
  const opened = [];
  let total = 0;
  let failedAt;
  for (let i = 0, at = 0; i < m.types.length; i++) {
    const length = m.lengths[i];
    aad[0] = m.types[i];
    aad.writeUInt16BE(length, 1);
    const decipher = createDecipheriv(s.algorithm, s.key, s.counter.next(), { authTagLength: m.tagLength });
    const plain = openSealed(decipher, aad, [bytes.subarray(at, at + length)], m.tagLength);
    if (!plain) {
      s.broken = true;
      failedAt = i;
      break;
    }
    opened.push(plain);
    for (const piece of plain) total += piece.length;
    at += length;
  }
  const out = new ArrayBuffer(total);
  const view = Buffer.from(out);
  let to = 0;
  for (const plain of opened) for (const piece of plain) to += piece.copy(view, to);
  parentPort.postMessage({ stream: m.stream, id: m.id, plain: out, bytes: m.bytes, failedAt }, [out, m.bytes]);
});
`;

/** How many opening threads this process runs: FCP_CRYPTO_THREADS, else from the CPUs. */
export function openingThreadCount(env: NodeJS.ProcessEnv = process.env, cpus = availableParallelism()): number {
  const set = env[ENV];
  if (set === undefined || set === '') return cpus >= CPUS_KEPT + 2 ? Math.min(cpus - CPUS_KEPT, MOST_THREADS) : 0;
  if (!/^\d+$/.test(set) || Number(set) > 64) {
    throw new FcpError('FCP_ERR_USAGE', `${ENV} must be a number of threads from 0 to 64, not "${set}"`);
  }
  return Number(set);
}

/** A batch opened: the plaintext of each frame, in order, up to the first that failed its tag (FCP_ERR_DECRYPT). */
export interface Opened {
  plaintexts: Buffer[];
  failed?: FcpError;
}

interface Waiting {
  resolve(opened: Opened): void;
  reject(error: FcpError): void;
  timer: NodeJS.Timeout;
  types: Uint8Array;
  lengths: Uint32Array;
}

interface Answer {
  stream: number;
  id: number;
  plain?: ArrayBuffer;
  /** The sealed bytes' memory, back for the next batch (fresh memory costs a fault a page). */
  bytes?: ArrayBuffer;
  failedAt?: number;
}

/**
 * Memory a connection's batches of sealed bytes are copied into, kept for reuse: a batch is what
 * one turn of the event loop read (up to 32 reads of 64 KiB a connection), sent once it holds
 * OPENING_BATCH_BYTES or at the end of the turn; one postMessage a 64 KiB read cost the main
 * thread 0.45 s a GiB, new memory for each batch as much again.
 */
const SPARE_BATCH_BUFFERS = 2;
export const OPENING_BATCH_BYTES = 1024 * 1024;

/** One thread and the streams it opens for. */
class OpeningThread {
  readonly streams = new Map<number, OpeningStream>();
  private readonly worker: Worker;
  private failure: FcpError | undefined;

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (answer: Answer) => this.streams.get(answer.stream)?.answered(answer));
    const stopped = (why: string): void => {
      this.failure ??= new FcpError('FCP_ERR_INTERNAL', `an opening thread stopped (${why})`, { hint: `run again with ${ENV}=0 to open frames on the main thread` });
      for (const stream of this.streams.values()) stream.failAll(this.failure);
    };
    this.worker.on('error', (err) => stopped(err.message));
    this.worker.on('exit', (code) => stopped(`exit code ${code}`));
    // After the listeners: adding a 'message' listener refs the worker again.
    this.worker.unref();
  }

  post(message: object, transfer?: ArrayBuffer[]): FcpError | undefined {
    if (this.failure) return this.failure;
    this.worker.postMessage(message, transfer);
    return undefined;
  }
}

let threads: OpeningThread[] | undefined;
let nextThread = 0;
let nextStream = 0;

/**
 * A connection's frames, from where handOff() leaves the count, opened by the next thread in
 * turn; undefined, and handOff not called, when this process runs no opening threads (or when
 * handOff finds nothing sealed). Each batch is answered within timeoutMs.
 */
export function openingStream(handOff: () => OpeningHandOff | undefined, timeoutMs: number): OpeningStream | undefined {
  if (!threads) {
    const count = openingThreadCount();
    threads = [];
    for (let i = 0; i < count; i++) threads.push(new OpeningThread());
  }
  if (threads.length === 0) return undefined;
  const handedOff = handOff();
  if (!handedOff) return undefined;
  const thread = threads[nextThread++ % threads.length]!;
  return new OpeningStream(thread, ++nextStream, handedOff, timeoutMs);
}

/** One connection's frames, in order, to and from its thread. */
export class OpeningStream {
  private readonly waiting = new Map<number, Waiting>();
  private readonly spare: ArrayBuffer[] = [];
  private nextId = 0;
  private failure: FcpError | undefined;

  constructor(
    private readonly thread: OpeningThread,
    private readonly id: number,
    private readonly handOff: OpeningHandOff,
    private readonly timeoutMs: number,
  ) {
    thread.streams.set(id, this);
    const [low, high] = handOff.count;
    const key = new Uint8Array(handOff.sealing.key);
    this.failure = thread.post({ start: true, stream: id, algorithm: cipherAlgorithm(handOff.sealing.cipher), key, low, high });
  }

  /**
   * The plaintext of each frame, in order, up to the first that fails its tag (and every frame
   * of a later batch fails); rejects when the thread stopped or did not answer in time.
   */
  open(frames: readonly SealedFrame[]): Promise<Opened> {
    if (this.failure) return Promise.reject(this.failure);
    const types = new Uint8Array(frames.length);
    const lengths = new Uint32Array(frames.length);
    let total = 0;
    for (let i = 0; i < frames.length; i++) {
      types[i] = frames[i]!.type;
      for (const piece of frames[i]!.sealed) lengths[i] += piece.length;
      total += lengths[i]!;
    }
    // One copy into memory of the stream's, which goes to the thread and back without another.
    const spare = this.spare.findIndex((buffer) => buffer.byteLength >= total);
    const bytes = spare >= 0 ? this.spare.splice(spare, 1)[0]! : new ArrayBuffer(Math.max(total, OPENING_BATCH_BYTES));
    const view = Buffer.from(bytes);
    let at = 0;
    for (const frame of frames) for (const piece of frame.sealed) at += piece.copy(view, at);
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.failAll(new FcpError('FCP_ERR_TIMEOUT', `an opening thread did not answer within ${this.timeoutMs / 1000} s`, { hint: `run again with ${ENV}=0 to open frames on the main thread` })),
        this.timeoutMs,
      );
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer, types, lengths });
      const refused = this.thread.post({ stream: this.id, id, bytes, types, lengths, tagLength: GCM_TAG_SIZE }, [bytes]);
      if (refused) this.failAll(refused);
    });
  }

  /** The thread's answer to batch `answer.id`. */
  answered(answer: Answer): void {
    const waiting = this.waiting.get(answer.id);
    if (!waiting) return;
    this.waiting.delete(answer.id);
    clearTimeout(waiting.timer);
    if (answer.bytes && this.spare.length < SPARE_BATCH_BUFFERS) this.spare.push(answer.bytes);
    const plain = Buffer.from(answer.plain!);
    const plaintexts: Buffer[] = [];
    const opened = answer.failedAt ?? waiting.lengths.length;
    for (let i = 0, at = 0; i < opened; i++) {
      const plainLength = waiting.lengths[i]! - GCM_TAG_SIZE;
      plaintexts.push(plain.subarray(at, at + plainLength));
      at += plainLength;
    }
    if (answer.failedAt === undefined) return waiting.resolve({ plaintexts });
    const failed = frameNotAuthentic(waiting.types[answer.failedAt]!, this.handOff.sealing.cipher);
    waiting.resolve({ plaintexts, failed });
    this.failAll(failed);
  }

  /** Every batch still waiting fails with `error`, and so does every later one. */
  failAll(error: FcpError): void {
    this.failure ??= error;
    for (const waiting of this.waiting.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
    this.waiting.clear();
  }

  /** The connection is over: the thread forgets its key and count. */
  end(): void {
    this.failAll(new FcpError('FCP_ERR_CONNECTION_LOST', 'the connection ended'));
    this.thread.streams.delete(this.id);
    this.thread.post({ end: true, stream: this.id });
  }
}
