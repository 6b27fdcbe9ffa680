/**
 * Whole-file digests of the bytes an SFTP copy moves, taken on a thread of their own: BLAKE2b of
 * 1 GiB is 1.2 CPU seconds, and on the main thread (with the SSH packets, the requests and the
 * garbage they make) it held a 1 GiB copy to 200 MB/s. Chunks are lent, not copied: they live
 * in SharedArrayBuffers (mover.ts), and the thread answers each message in order once it is
 * done with it, so the main thread knows when a chunk's memory may be used again.
 */
import { Worker } from 'node:worker_threads';
import { FcpError } from '../errors';

/**
 * The thread's code, as source: fcp runs bundled into one file (scripts/bundle.ts), so there is
 * no module of its own to load. Messages: [id, algorithm] opens a hash, [id, buffer, length]
 * feeds one, [id] ends it; each gets one answer, in order (the digest's is the hex).
 */
const THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', ([id, what, length]) => {
  if (typeof what === 'string') {
    hashes.set(id, createHash(what));
    parentPort.postMessage(null);
  } else if (what !== undefined) {
    hashes.get(id).update(new Uint8Array(what, 0, length));
    parentPort.postMessage(null);
  } else {
    const hash = hashes.get(id);
    hashes.delete(id);
    parentPort.postMessage(hash.digest('hex'));
  }
});
`;

interface Waiting {
  resolve(answer: string | null): void;
  reject(err: FcpError): void;
}

export class DigestThread {
  private worker: Worker | undefined;
  /** One per message sent, in order: the thread answers in that order. */
  private readonly waiting: Waiting[] = [];
  private nextId = 0;
  private failure: FcpError | undefined;

  /** A new hash of `algorithm` (a Node name: blake2b512, sha256, md5). */
  open(algorithm: string): ThreadedHash {
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

  ask(message: unknown[]): Promise<string | null> {
    if (this.failure) return Promise.reject(this.failure);
    const worker = (this.worker ??= this.start());
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      worker.postMessage(message);
    });
  }

  private start(): Worker {
    const worker = new Worker(THREAD_SOURCE, { eval: true });
    // The copy's own requests keep the process alive; an idle thread must not.
    worker.unref();
    worker.on('message', (answer: string | null) => this.waiting.shift()?.resolve(answer));
    worker.on('error', (err) => this.fail(new FcpError('FCP_ERR_INTERNAL', `the digest thread failed: ${err.message}`, { cause: err })));
    worker.on('exit', () => this.fail(new FcpError('FCP_ERR_INTERNAL', 'the digest thread ended while hashing')));
    return worker;
  }

  private fail(error: FcpError): void {
    this.failure ??= error;
    for (const waiting of this.waiting.splice(0)) waiting.reject(error);
  }
}

/** One file's hash on the thread: fed in order, ended once. */
export class ThreadedHash {
  constructor(
    private readonly thread: DigestThread,
    private readonly id: number,
  ) {}

  /** Resolves once the thread is done with `bytes`, which must live in a SharedArrayBuffer. */
  update(bytes: Buffer): Promise<unknown> {
    if (bytes.byteOffset !== 0 || !(bytes.buffer instanceof SharedArrayBuffer)) throw new TypeError('a threaded hash takes whole SharedArrayBuffer chunks');
    return this.thread.ask([this.id, bytes.buffer, bytes.length]);
  }

  /** The hex digest of everything fed. */
  async digest(): Promise<string> {
    return (await this.thread.ask([this.id]))!;
  }
}
