/**
 * Frames sealed and opened on other cores (issue 14; docs/BENCHMARKS.md "Every core"). One core
 * seals about 1.3-1.6 GB/s and opens about 1.0-1.2 GB/s of AES-256-GCM in Node, which bounds a
 * side near 10 Gbit/s; on a host with cores to spare, a data connection's frames are sealed, or
 * opened and their tags checked, in worker threads, and its main thread keeps the rest: the
 * socket, cutting and checking frames, parsing, the session, the files.
 *
 * Each direction of a connection is a stream of one thread: its frames go there in order, in
 * batches, and come back in that order (a thread answers its messages in turn), so the count of
 * frames that makes each frame's nonce goes on there as it would have here (FrameCounter,
 * openSealed and sealInPlace are the same source in both places). Threads start when the first
 * connection needs one, streams take them in turn, and none keeps the process alive.
 *
 * How many: FCP_CRYPTO_THREADS (0-64; 0 turns them off) when set, else two fewer than the CPUs
 * and at most four, none below four CPUs: on two, fcp and fcpd already take a core each in a copy
 * on one host and a thread would have none (docs/BENCHMARKS.md "Every core").
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { FcpError } from '../errors';
import { GCM_TAG_SIZE, HEADER_SIZE, LENGTH_OFFSET } from '../protocol/constants';
import { CipherHandOff, cipherAlgorithm, FrameCounter, frameNotAuthentic, openSealed, sealInPlace } from '../protocol/frameCipher';
import type { SealedFrame } from '../protocol/frameDecoder';

/** Threads at most, whatever the CPUs (each is a V8 heap of its own, some MB). */
const MOST_THREADS = 4;
/** CPUs left to the main threads of fcp and fcpd when threads are counted from the CPUs. */
const CPUS_KEPT = 2;
const ENV = 'FCP_CRYPTO_THREADS';
/**
 * What a batch holds at most, and the size of the memory batches are copied into, which goes to
 * the thread and back for reuse: one postMessage a 64 KiB socket read cost the main thread 0.45 s
 * a GiB, and fresh memory for each batch about as much (docs/BENCHMARKS.md "Every core").
 */
export const CRYPTO_BATCH_BYTES = 1024 * 1024;
const SPARE_BATCH_BUFFERS = 2;

/** The thread's side: plain JavaScript, with the main thread's counter, opening and sealing as source. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv, createDecipheriv } = require('node:crypto');
const FrameCounter = (${FrameCounter.toString()});
const openSealed = (${openSealed.toString()});
const sealInPlace = (${sealInPlace.toString()});
const streams = new Map();
const aad = Buffer.alloc(3);
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
  if (m.seal) {
    // Whole frames back to back, each header written, each payload plaintext with room for its tag.
    const bytes = Buffer.from(m.bytes, 0, m.length);
    for (let at = 0; at < m.length; ) {
      const length = bytes.readUInt16BE(at + ${LENGTH_OFFSET});
      aad[0] = bytes[at];
      aad.writeUInt16BE(length, 1);
      const cipher = createCipheriv(s.algorithm, s.key, s.counter.next(), { authTagLength: m.tagLength });
      sealInPlace(cipher, aad, bytes, at + ${HEADER_SIZE}, length - m.tagLength);
      at += ${HEADER_SIZE} + length;
    }
    return parentPort.postMessage({ stream: m.stream, id: m.id, bytes: m.bytes }, [m.bytes]);
  }
  if (!s || s.broken) return parentPort.postMessage({ stream: m.stream, id: m.id, plain: new ArrayBuffer(0), failedAt: 0 });
  const bytes = Buffer.from(m.bytes);
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

/** How many crypto threads this process runs: FCP_CRYPTO_THREADS, else from the CPUs. */
export function cryptoThreadCount(env: NodeJS.ProcessEnv = process.env, cpus = availableParallelism()): number {
  const set = env[ENV];
  if (set === undefined || set === '') return cpus >= CPUS_KEPT + 2 ? Math.min(cpus - CPUS_KEPT, MOST_THREADS) : 0;
  if (!/^\d+$/.test(set) || Number(set) > 64) {
    throw new FcpError('FCP_ERR_USAGE', `${ENV} must be a number of threads from 0 to 64, not "${set}"`, {
      hint: `set it to 0 to seal and open frames on the main thread, or unset it to count the threads from the CPUs`,
    });
  }
  return Number(set);
}

interface Answer {
  stream: number;
  id: number;
  /** The batch's memory, back for the next batch (sealed in place, when sealing). */
  bytes?: ArrayBuffer;
  plain?: ArrayBuffer;
  failedAt?: number;
}

const hintOff = { hint: `run again with ${ENV}=0 to seal and open frames on the main thread` };

/** One thread and the streams it serves. */
class CryptoThread {
  readonly streams = new Map<number, ThreadStream<unknown>>();
  private readonly worker: Worker;
  private failure: FcpError | undefined;

  constructor() {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.on('message', (answer: Answer) => this.streams.get(answer.stream)?.answered(answer));
    const stopped = (why: string): void => {
      this.failure ??= new FcpError('FCP_ERR_INTERNAL', `a crypto thread stopped (${why})`, hintOff);
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

let threads: CryptoThread[] | undefined;
let nextThread = 0;
let nextStream = 0;

/**
 * The next thread in turn, the threads started at the first call; undefined when this process
 * runs none. Threads that could not be started (a worker refused: out of memory, say) are done
 * without: the main thread seals and opens, as it does without any.
 */
function nextCryptoThread(): CryptoThread | undefined {
  if (!threads) {
    const count = cryptoThreadCount();
    threads = [];
    try {
      for (let i = 0; i < count; i++) threads.push(new CryptoThread());
    } catch {
      // Those started serve; none started, none used.
    }
  }
  return threads.length === 0 ? undefined : threads[nextThread++ % threads.length];
}

interface Waiting<A> {
  resolve(answer: A): void;
  reject(error: FcpError): void;
  timer: NodeJS.Timeout;
}

/** One direction of a connection, to and from its thread in order: batches and their answers. */
abstract class ThreadStream<A> {
  private readonly waiting = new Map<number, Waiting<A>>();
  private readonly spare: ArrayBuffer[] = [];
  private readonly id = ++nextStream;
  private nextId = 0;
  private failure: FcpError | undefined;

  constructor(
    private readonly thread: CryptoThread,
    protected readonly handOff: CipherHandOff,
    private readonly timeoutMs: number,
  ) {
    thread.streams.set(this.id, this);
    const [low, high] = handOff.count;
    const key = new Uint8Array(handOff.sealing.key);
    this.failure = thread.post({ start: true, stream: this.id, algorithm: cipherAlgorithm(handOff.sealing.cipher), key, low, high });
  }

  /** Memory for a batch of `bytes`: one the thread gave back, or new. */
  protected batchMemory(bytes: number): ArrayBuffer {
    const spare = this.spare.findIndex((buffer) => buffer.byteLength >= bytes);
    return spare >= 0 ? this.spare.splice(spare, 1)[0]! : new ArrayBuffer(Math.max(bytes, CRYPTO_BATCH_BYTES));
  }

  /** A batch's memory may be used again. */
  protected reuse(memory: ArrayBuffer): void {
    if (this.spare.length < SPARE_BATCH_BUFFERS) this.spare.push(memory);
  }

  /** Posts a batch (its memory transferred); resolves with the thread's answer, as answer() reads it. */
  protected ask(message: object, memory: ArrayBuffer): Promise<A> {
    if (this.failure) return Promise.reject(this.failure);
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.failAll(new FcpError('FCP_ERR_TIMEOUT', `a crypto thread did not answer within ${this.timeoutMs / 1000} s`, hintOff)), this.timeoutMs);
      timer.unref();
      this.waiting.set(id, { resolve, reject, timer });
      const refused = this.thread.post({ ...message, stream: this.id, id, bytes: memory, tagLength: GCM_TAG_SIZE }, [memory]);
      if (refused) this.failAll(refused);
    });
  }

  /** What the thread's answer to one batch means. */
  protected abstract read(answer: Answer): A;

  answered(answer: Answer): void {
    const waiting = this.waiting.get(answer.id);
    if (!waiting) return;
    this.waiting.delete(answer.id);
    clearTimeout(waiting.timer);
    waiting.resolve(this.read(answer));
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

/** A batch opened: the plaintext of each frame, in order, up to the first that failed its tag (FCP_ERR_DECRYPT). */
export interface Opened {
  plaintexts: Buffer[];
  failed?: FcpError;
}

/** A connection's incoming frames, opened in a thread. */
export class OpeningStream extends ThreadStream<Opened> {
  private readonly batches: { types: Uint8Array; lengths: Uint32Array }[] = [];

  /**
   * The plaintext of each frame, in order, up to the first that fails its tag (and every frame
   * of a later batch fails); rejects when the thread stopped or did not answer in time.
   */
  open(frames: readonly SealedFrame[]): Promise<Opened> {
    const types = new Uint8Array(frames.length);
    const lengths = new Uint32Array(frames.length);
    let total = 0;
    for (let i = 0; i < frames.length; i++) {
      types[i] = frames[i]!.type;
      for (const piece of frames[i]!.sealed) lengths[i] += piece.length;
      total += lengths[i]!;
    }
    const memory = this.batchMemory(total);
    const view = Buffer.from(memory);
    let at = 0;
    for (const frame of frames) for (const piece of frame.sealed) at += piece.copy(view, at);
    this.batches.push({ types, lengths });
    return this.ask({ types, lengths }, memory);
  }

  protected read(answer: Answer): Opened {
    const { types, lengths } = this.batches.shift()!;
    if (answer.bytes) this.reuse(answer.bytes);
    const plain = Buffer.from(answer.plain!);
    const plaintexts: Buffer[] = [];
    const opened = answer.failedAt ?? lengths.length;
    for (let i = 0, at = 0; i < opened; i++) {
      const plainLength = lengths[i]! - GCM_TAG_SIZE;
      plaintexts.push(plain.subarray(at, at + plainLength));
      at += plainLength;
    }
    if (answer.failedAt === undefined) return { plaintexts };
    const failed = frameNotAuthentic(types[answer.failedAt]!, this.handOff.sealing.cipher);
    // Later batches fail too; this one is answered with what it opened before.
    queueMicrotask(() => this.failAll(failed));
    return { plaintexts, failed };
  }
}

/** A connection's outgoing frames, sealed in a thread. */
export class SealingStream extends ThreadStream<Buffer> {
  /**
   * `frames` (whole frames, headers written, payloads plaintext with room for their tags) sealed,
   * in one Buffer to write, in order; give it back with written() once the socket is done with it.
   */
  seal(frames: readonly Buffer[], total: number): Promise<Buffer> {
    const memory = this.batchMemory(total);
    const view = Buffer.from(memory);
    let at = 0;
    for (const frame of frames) at += frame.copy(view, at);
    return this.ask({ seal: true, length: total }, memory).then((sealed) => sealed.subarray(0, total));
  }

  protected read(answer: Answer): Buffer {
    return Buffer.from(answer.bytes!);
  }

  /** A sealed batch's memory, written to the socket, is free for the next. */
  written(sealed: Buffer): void {
    this.reuse(sealed.buffer as ArrayBuffer);
  }
}

/**
 * A connection's incoming frames, from where handOff() leaves the count, opened on the next
 * thread in turn; undefined, and handOff not called, when this process runs no crypto threads
 * (or when handOff finds nothing to hand over). Each batch is answered within timeoutMs.
 */
export function openingStream(handOff: () => CipherHandOff | undefined, timeoutMs: number): OpeningStream | undefined {
  const thread = nextCryptoThread();
  const handedOff = thread && handOff();
  return handedOff && new OpeningStream(thread!, handedOff, timeoutMs);
}

/** The same for a connection's outgoing frames, sealed on the next thread in turn. */
export function sealingStream(handOff: () => CipherHandOff | undefined, timeoutMs: number): SealingStream | undefined {
  const thread = nextCryptoThread();
  const handedOff = thread && handOff();
  return handedOff && new SealingStream(thread!, handedOff, timeoutMs);
}
