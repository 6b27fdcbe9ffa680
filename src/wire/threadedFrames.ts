/**
 * A connection's frames sealed and opened in a crypto thread (cryptoThreads.ts), in batches, in
 * order: what FramedConnection hands a direction to once openInThread or sealInThread found a
 * thread. Frames are still cut and checked, or written whole, on the main thread; these gather
 * them into batches, bound what is at the thread, and give back what came out in the order it
 * went in.
 */
import type { Duplex } from 'node:stream';
import { asFcpError, FcpError } from '../errors';
import type { SealedFrame } from '../protocol/frameDecoder';
import { CRYPTO_BATCH_BYTES, OpeningStream, SealingStream } from './cryptoThreads';

/**
 * Bytes a connection may have at its crypto threads: read and not yet opened before it stops
 * reading the socket, written and not yet on the socket before drain() waits.
 */
export const CRYPTO_IN_FLIGHT_MAX = 8 * 1024 * 1024;

/** What the opening needs of its connection. */
export interface OpeningHost {
  /** Whether frames opened are still wanted (the connection has not ended, nor gone deaf). */
  accepting(): boolean;
  /** Whether the connection has ended. */
  ended(): boolean;
  /** An opened frame, for the handlers; may throw for a frame that does not parse. */
  deliver(frame: SealedFrame, plaintext: Buffer): void;
  /** A frame that could not be opened or read: the connection fails. */
  failed(err: unknown): void;
  /** Stop reading the socket: CRYPTO_IN_FLIGHT_MAX bytes wait at the thread. */
  holdReading(): void;
  /** Read the socket again, unless the connection paused it for reasons of its own. */
  readAgain(): void;
}

/** Sealed frames read, opened in a thread, and delivered in the order read. */
export class ThreadedOpening {
  /** Settles once every frame sent to the thread so far was delivered. */
  private delivered: Promise<void> = Promise.resolve();
  private openingBytes = 0;
  /** Sealed frames read since the last batch went to the thread, for the next one. */
  private unopened: SealedFrame[] = [];
  private unopenedBytes = 0;
  private batchPlanned: NodeJS.Immediate | undefined;
  /** Batches at the thread: while one is, what is read waits to go with the next. */
  private batchesOut = 0;
  /** Reading stopped because CRYPTO_IN_FLIGHT_MAX bytes wait at the thread. */
  private held = false;

  constructor(
    private readonly thread: OpeningStream,
    private readonly host: OpeningHost,
  ) {}

  /** Whether the socket is not read for what waits at the thread. */
  get holdsReading(): boolean {
    return this.held;
  }

  /** A frame read, for the next batch. */
  add(frame: SealedFrame): void {
    this.unopened.push(frame);
    for (const piece of frame.sealed) this.unopenedBytes += piece.length;
  }

  /**
   * A socket read was cut into frames. A turn of the event loop reads about one 64 KiB read a
   * connection, and a message to the thread costs 10-30 µs: while a batch is out the frames read
   * gather for the next one, sent when it is back or once it holds CRYPTO_BATCH_BYTES; with none
   * out, at the end of the turn.
   */
  afterRead(): void {
    if (this.unopenedBytes >= CRYPTO_BATCH_BYTES) this.openBatch();
    else if (this.unopened.length > 0 && this.batchesOut === 0) this.batchPlanned ??= setImmediate(() => this.openBatch());
  }

  /** Runs `then` once every frame read has been delivered. */
  afterOpened(then: () => void): void {
    this.openBatch();
    void this.delivered.then(then);
  }

  /** Nothing more goes to the thread. */
  end(): void {
    this.thread.end();
  }

  /** The frames read so far, to the thread; delivered in order once opened. */
  private openBatch(): void {
    clearImmediate(this.batchPlanned);
    this.batchPlanned = undefined;
    const frames = this.unopened;
    const bytes = this.unopenedBytes;
    if (frames.length === 0 || this.host.ended()) return;
    this.unopened = [];
    this.unopenedBytes = 0;
    this.openingBytes += bytes;
    if (this.openingBytes > CRYPTO_IN_FLIGHT_MAX && !this.held) {
      this.held = true;
      this.host.holdReading();
    }
    const opened = this.thread.open(frames);
    this.batchesOut++;
    // Also why a failure of it is not unhandled while it waits for its turn below.
    const back = (): void => {
      if (--this.batchesOut === 0 && this.unopened.length > 0) this.openBatch();
    };
    opened.then(back, back);
    this.delivered = this.delivered
      .then(() => opened)
      .then(
        ({ plaintexts, failed }) => {
          this.openedBytes(bytes);
          try {
            for (let i = 0; i < plaintexts.length && this.host.accepting(); i++) this.host.deliver(frames[i]!, plaintexts[i]!);
          } catch (err) {
            return this.host.failed(err);
          }
          if (failed && !this.host.ended()) this.host.failed(failed);
        },
        (err: unknown) => {
          this.openedBytes(bytes);
          if (!this.host.ended()) this.host.failed(err);
        },
      );
  }

  /** `bytes` came back from the thread: the socket is read again once half the room is free. */
  private openedBytes(bytes: number): void {
    this.openingBytes -= bytes;
    if (!this.held || this.openingBytes > CRYPTO_IN_FLIGHT_MAX / 2) return;
    this.held = false;
    this.host.readAgain();
  }
}

/** Frames written, sealed in a thread, and written to the socket in the order written. */
export class ThreadedSealing {
  /** Frames written since the last batch went to the thread, and what to call once they are on the socket. */
  private unsealed: Buffer[] = [];
  private unsealedBytes = 0;
  private unsealedFlushed: ((err?: Error | null) => void)[] = [];
  private sealPlanned = false;
  /** Bytes written and not yet handed to the socket (at the thread or waiting to go there). */
  private sealingBytes = 0;
  /** Settles once every batch sent to the thread so far was handed to the socket. */
  private sealedWritten: Promise<void> = Promise.resolve();
  private readonly roomWaiters: (() => void)[] = [];
  private released = false;

  constructor(
    private readonly thread: SealingStream,
    private readonly socket: Duplex,
    /** How the connection is named in errors. */
    private readonly name: string,
    /** The thread failed: nothing more can be sealed, the connection ends with `error`. */
    private readonly failed: (error: FcpError) => void,
  ) {}

  /**
   * Frames written, to be sealed in the next batch, which goes at the end of this tick or once
   * full; false when CRYPTO_IN_FLIGHT_MAX bytes wait at the thread or the socket (room() says when
   * there is room again).
   */
  write(bytes: Buffer, onFlushed: ((err?: Error | null) => void) | undefined): boolean {
    this.unsealed.push(bytes);
    this.unsealedBytes += bytes.length;
    this.sealingBytes += bytes.length;
    if (onFlushed) this.unsealedFlushed.push(onFlushed);
    if (this.unsealedBytes >= CRYPTO_BATCH_BYTES) this.sendBatch();
    else if (!this.sealPlanned) {
      this.sealPlanned = true;
      process.nextTick(() => this.sendBatch());
    }
    return !this.full;
  }

  /** Whether CRYPTO_IN_FLIGHT_MAX bytes wait at the thread or for the socket. */
  get full(): boolean {
    return this.sealingBytes >= CRYPTO_IN_FLIGHT_MAX;
  }

  /** Resolves once there is room again (or once released). */
  room(): Promise<void> {
    if (this.released || !this.full) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Whoever waits for room goes on now: the connection ended. */
  release(): void {
    this.released = true;
    this.wakeWaiters();
  }

  /** What was written goes out sealed, then the thread is done with and the socket ended. */
  endAfterWritten(): void {
    this.sendBatch();
    void this.sealedWritten.then(() => {
      this.thread.end();
      this.socket.end();
    });
  }

  /** Nothing more goes to the thread. */
  end(): void {
    this.thread.end();
    this.release();
  }

  /** The frames written so far, to the thread; then to the socket in order. */
  private sendBatch(): void {
    this.sealPlanned = false;
    const frames = this.unsealed;
    const total = this.unsealedBytes;
    const flushed = this.unsealedFlushed;
    if (frames.length === 0) return;
    this.unsealed = [];
    this.unsealedBytes = 0;
    this.unsealedFlushed = [];
    const thread = this.thread;
    const sealed = thread.seal(frames, total);
    const settled = (err?: Error | null): void => {
      this.sealingBytes -= total;
      this.wakeWaiters();
      for (const callback of flushed) callback(err);
    };
    // Also why a failure of it is not unhandled while it waits for its turn below.
    sealed.catch(() => undefined);
    this.sealedWritten = this.sealedWritten
      .then(() => sealed)
      .then(
        (bytes) => {
          if (this.socket.destroyed) return settled();
          this.socket.write(bytes, (err) => {
            thread.written(bytes);
            settled(err);
          });
        },
        (err: unknown) => {
          settled();
          // The peer cannot be told: nothing more can be sealed for it.
          this.failed(asFcpError(err, this.name));
        },
      );
  }

  private wakeWaiters(): void {
    if (!this.released && this.full) return;
    for (const wake of this.roomWaiters.splice(0)) wake();
  }
}
