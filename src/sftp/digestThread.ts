/**
 * Whole-file digests of the bytes an SFTP copy moves, taken on a thread of their own: BLAKE2b of
 * 1 GiB is 1.2 CPU seconds, and on the main thread (with the SSH packets, the requests and the
 * garbage they make) it held a 1 GiB copy to 200 MB/s. Chunks are lent, not copied: a chunk's
 * memory (an ArrayBuffer of its own, mover.ts) is transferred to the thread and back with the
 * answer, in order. SharedArrayBuffers lent them before, but V8 copies shared memory with a
 * relaxed memmove, twelve times slower than a plain one: the chunk's copy into an SSH packet
 * (a push) or out of one (a pull) cost the main thread 0.3 CPU seconds a GiB more.
 */
import { Worker } from 'node:worker_threads';
import { FcpError } from '../errors';
import { CKSUM, cksumFactory, LocalHash, localHash } from './cksum';

/**
 * Files up to this size are hashed on the calling thread: three messages to the thread and back
 * (open, feed, end) cost about 50 us each, where the CRC of 4 KiB here costs 3 us; a verified push
 * of 10,000 files of 4 KiB spent 0.5 s of its main thread's CPU posting them.
 */
export const ON_THREAD_MAX_BYTES = 64 * 1024;

/**
 * The thread's code, as source: fcp runs bundled into one file (scripts/bundle.ts), so there is
 * no module of its own to load (cksum.ts's CRC comes as its source text). Messages: [id, algorithm] opens a hash, [id, memory, length]
 * feeds one (the memory transferred), [id] ends it; each gets one answer, in order: the memory
 * fed, transferred back, or the digest's hex.
 */
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const newCksum = (${cksumFactory.toString()})();
const hashes = new Map();
parentPort.on('message', ([id, what, length]) => {
  if (typeof what === 'string') {
    hashes.set(id, what === ${JSON.stringify(CKSUM)} ? newCksum() : createHash(what));
    parentPort.postMessage(null);
  } else if (what !== undefined) {
    hashes.get(id).update(new Uint8Array(what, 0, length));
    parentPort.postMessage(what, [what]);
  } else {
    const hash = hashes.get(id);
    hashes.delete(id);
    parentPort.postMessage(hash.digest('hex'));
  }
});
`;

/** What the thread answers: an opened hash's null, the memory it was fed, or a digest. */
type Answer = string | ArrayBuffer | null;

interface Waiting {
  resolve(answer: Answer): void;
  reject(err: FcpError): void;
}

export class DigestThread {
  private worker: Worker | undefined;
  /** One per message sent, in order: the thread answers in that order. */
  private readonly waiting: Waiting[] = [];
  private nextId = 0;
  private failure: FcpError | undefined;

  /**
   * A new hash of `algorithm` (a Node name: blake2b512, sha256, md5; or CKSUM) for a file of
   * `size` bytes: on the thread, or here for a small one (ON_THREAD_MAX_BYTES).
   */
  open(algorithm: string, size: number): MovedHash {
    if (size <= ON_THREAD_MAX_BYTES) return new HashHere(localHash(algorithm));
    const id = this.nextId++;
    void this.ask([id, algorithm]).catch(() => undefined);
    return new ThreadedHash(this, id);
  }

  /** Ends the thread; what is waiting fails. */
  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
    this.fail(new FcpError('FCP_ERR_INTERNAL', 'the digest thread was closed while hashing'));
  }

  /** Sends `message`, moving `transfer` to the thread; resolves with the thread's answer to it. */
  ask(message: unknown[], transfer: ArrayBuffer[] = []): Promise<Answer> {
    if (this.failure) return Promise.reject(this.failure);
    const worker = (this.worker ??= this.start());
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      worker.postMessage(message, transfer);
    });
  }

  private start(): Worker {
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    // The copy's own requests keep the process alive; an idle thread must not.
    worker.unref();
    worker.on('message', (answer: Answer) => this.waiting.shift()?.resolve(answer));
    worker.on('error', (err) => this.fail(new FcpError('FCP_ERR_INTERNAL', `the digest thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', () => this.fail(new FcpError('FCP_ERR_INTERNAL', 'the digest thread ended while hashing')));
    return worker;
  }

  private fail(error: FcpError): void {
    this.failure ??= error;
    for (const waiting of this.waiting.splice(0)) waiting.reject(error);
  }
}

/**
 * One file's hash of the bytes moved: fed in order, ended once. `update` takes chunks that start
 * an ArrayBuffer of their own and gives that memory back once it is hashed.
 */
export interface MovedHash {
  update(bytes: Buffer): Promise<ArrayBuffer>;
  digest(): Promise<string>;
}

/** A small file's hash, taken on the calling thread. */
class HashHere implements MovedHash {
  constructor(private readonly hash: LocalHash) {}

  update(bytes: Buffer): Promise<ArrayBuffer> {
    this.hash.update(bytes);
    return Promise.resolve(bytes.buffer as ArrayBuffer);
  }

  digest(): Promise<string> {
    return Promise.resolve(this.hash.digest('hex'));
  }
}

/** One file's hash on the thread. */
class ThreadedHash implements MovedHash {
  constructor(
    private readonly thread: DigestThread,
    private readonly id: number,
  ) {}

  /**
   * Hashes `bytes`, which must start an ArrayBuffer of their own: that memory goes to the thread
   * (`bytes` is empty from now on) and comes back, the resolved value, once it is hashed.
   */
  update(bytes: Buffer): Promise<ArrayBuffer> {
    const memory = bytes.buffer;
    if (bytes.byteOffset !== 0 || !(memory instanceof ArrayBuffer)) throw new TypeError('a threaded hash takes chunks that start an ArrayBuffer of their own');
    return this.thread.ask([this.id, memory, bytes.length], [memory]) as Promise<ArrayBuffer>;
  }

  /** The hex digest of everything fed. */
  async digest(): Promise<string> {
    return (await this.thread.ask([this.id])) as string;
  }
}
