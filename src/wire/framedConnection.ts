/**
 * One connection's frames over any byte stream: encodes messages into single writes, decodes
 * incoming bytes into messages, applies seal actions at the exact frame where they take effect,
 * and turns stream trouble (close mid-frame, socket errors, silence) into FcpErrors. The stream
 * is injected (a TCP socket, an SSH channel, an in-memory pair in tests).
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { asFcpError, FcpError, wireFromCode } from '../errors';
import { FrameDecoder, PiecesFrame, RawFrame } from '../protocol/frameDecoder';
import { FrameEncoder } from '../protocol/frameEncoder';
import type { Message } from '../protocol/messages';
import { parseAt, parseDataPieces } from '../protocol/parser';
import { batchEntryLength, unbatch } from '../protocol/batch';
import { BATCH_ROOM, BATCHABLE_TYPES, PacketType } from '../protocol/constants';
import type { XXHashAPI } from '../protocol/xxhash';
import type { SealAction } from '../session/actions';
import { ANSWERS_WAITING_MAX } from '../session/transfer';
import { CONNECTION_TICK_MS } from '../timeouts';
import { openingStream, sealingStream } from './cryptoThreads';
import { ThreadedOpening, ThreadedSealing } from './threadedFrames';

export interface FramedConnectionEvents {
  /** A whole message arrived; seal actions applied inside this call affect the next frame. */
  message(message: Message): void;
  /** The connection is over: error is undefined after a clean end that the owner asked for. */
  closed(error: FcpError | undefined): void;
}

export class FramedConnection {
  readonly encoder: FrameEncoder;
  private readonly decoder: FrameDecoder;
  private ended = false;
  /** One interval does both idle detection and keepalives; the hot path only stores timestamps. */
  private ticker: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private wroteSinceTick = false;
  /** Bytes written to and read from the stream: what the connection carried (the connection tuner's goodput). */
  private moved = 0;
  private keepalive = false;
  private paused = false;
  /** Set by deafen(): what the peer sends is no longer read. */
  private deaf = false;
  private started = false;
  /** Writes within one tick are corked into one syscall (many small control frames). */
  private corked = false;
  private handlers: FramedConnectionEvents | undefined;
  /** Batching (PROTOCOL.md §4, BATCH): messages waiting for this tick's flush, or (all of them may wait) for the end of this turn of the event loop. */
  private batching = false;
  private batchTypes: ReadonlySet<number> | undefined;
  private readonly queued: Message[] = [];
  /** A flush is planned for the end of this tick. */
  private flushPlanned = false;
  /** The flush of messages that may wait, at the end of this turn of the event loop, unless one is planned sooner. */
  private turnFlush: NodeJS.Immediate | undefined;
  /**
   * A TCP socket gathers corked writes into one writev: a sealed batch goes out in pieces there
   * (encodeBatchApart). Another stream (an SSH channel when the connection is tunnelled, the
   * --bwlimit throttle) would send each piece on its own (an SSH packet each): it gets the frame whole.
   */
  private readonly gathersWrites: boolean;
  /** How the connection ended while no handlers were set, for the next ones. */
  private closedWith: { error: FcpError | undefined } | undefined;
  /** Where sealed frames are opened once openInThread found a thread: in order, off the main thread. */
  private opening: ThreadedOpening | undefined;
  /** Where written frames are sealed once sealInThread found a thread: in order, off the main thread. */
  private sealing: ThreadedSealing | undefined;

  constructor(
    private readonly stream: Duplex,
    xxh: XXHashAPI,
    /** How this connection is named in errors: "connection 3 to 10.0.0.2:7523". */
    readonly name: string,
    /** Silence (no byte received) longer than this fails the connection with FCP_ERR_TIMEOUT. */
    private readonly idleMs: number,
  ) {
    this.encoder = new FrameEncoder(xxh);
    this.gathersWrites = stream instanceof Socket;
    this.decoder = new FrameDecoder(xxh);
    // Listening from the start: a dialled connection that waits for its handshake (data
    // connections wait for SESSION) may be reset meanwhile, and an 'error' nobody listens to
    // would end the process. What happened is reported to the handlers start() is given.
    stream.on('error', (err: Error) => this.finish(this.lost(err)));
    // Frames read before the close are handed over first, as they are without an opening thread.
    stream.on('close', () => this.afterOpened(() => this.finish(this.ended ? undefined : this.lost())));
  }

  /**
   * Starts delivering events to handlers; later calls hand the connection to new handlers (the
   * transfer engine takes it over from the handshake).
   */
  start(handlers: FramedConnectionEvents): void {
    this.handlers = handlers;
    if (this.ended) {
      // It closed before anyone listened: tell these handlers, as an event would have.
      const closedWith = this.closedWith;
      this.closedWith = undefined;
      if (closedWith) process.nextTick(() => this.notifyClosed(closedWith.error));
      return;
    }
    if (this.started) return;
    this.started = true;
    this.stream.on('data', (slice: Buffer) => this.onData(slice));
    this.stream.on('end', () => this.onEnd());
    this.ticker = setInterval(() => this.tick(), Math.min(CONNECTION_TICK_MS, Math.max(10, this.idleMs / 4)));
    this.ticker.unref();
  }

  /**
   * Encodes and writes one message; false when the stream wants the writer to wait for drain().
   * `mayWait` (a batched session only): an answer to what came in, which may wait for the end of
   * this turn of the event loop (setImmediate runs after every read the poll found ready) and go
   * in one frame with the answers to the rest: never later than the turn that read its question,
   * and no more than ANSWERS_WAITING_MAX of them (a turn may read tens of thousands of tiny files).
   */
  send(message: Message, mayWait = false): boolean {
    if (this.batching && BATCHABLE_TYPES.has(message.type)) {
      this.queued.push(message);
      if (mayWait && this.queued.length < ANSWERS_WAITING_MAX) this.flushAfterTurn();
      else this.flushThisTick();
      return !this.stream.writableNeedDrain;
    }
    this.flushQueued();
    return this.write(this.encoder.encode(message));
  }

  private flushThisTick(): void {
    if (this.flushPlanned) return;
    this.flushPlanned = true;
    process.nextTick(() => {
      this.flushPlanned = false;
      this.flushQueued();
    });
  }

  private flushAfterTurn(): void {
    if (this.flushPlanned || this.turnFlush) return;
    this.turnFlush = setImmediate(() => {
      this.turnFlush = undefined;
      this.flushQueued();
    });
  }

  /**
   * Calls `encoded` once every message sent so far is encoded (its bytes copied into a frame), so
   * that the Buffers it referenced may be filled again: now when none waits for this tick's flush,
   * else right after that flush (a tick callback queued behind it).
   */
  afterEncoded(encoded: () => void): void {
    if (this.queued.length === 0) return encoded();
    this.flushThisTick();
    process.nextTick(encoded);
  }

  /** Accept BATCH frames of these types from the peer (a session that negotiated BATCH). */
  allowBatches(types: ReadonlySet<number>): void {
    this.batchTypes = types;
  }

  /** From now on, control messages sent in one tick go out as BATCH frames (one seal for all). */
  batchSends(): void {
    this.batching = true;
  }

  /** Writes the queued messages: alone when one, else as few BATCH frames as hold them. */
  private flushQueued(): void {
    clearImmediate(this.turnFlush);
    this.turnFlush = undefined;
    const messages = this.queued.splice(0);
    let group: Message[] = [];
    let size = 0;
    const writeGroup = (): void => {
      if (group.length === 1) this.write(this.encoder.encode(group[0]!));
      // A sealed batch in pieces (header, ciphertext, tag): corked, they leave in one writev.
      else if (group.length > 1 && this.gathersWrites) for (const piece of this.encoder.encodeBatchApart(group, size)) this.write(piece);
      else if (group.length > 1) this.write(this.encoder.encodeBatch(group, size));
      group = [];
      size = 0;
    };
    for (const message of messages) {
      const entry = batchEntryLength(message);
      if (size + entry > BATCH_ROOM) writeGroup();
      group.push(message);
      size += entry;
    }
    writeGroup();
  }

  /**
   * Writes bytes already encoded with this connection's encoder (batches of DATA frames), whole
   * frames; `bytes` must stay as they are until onFlushed is called.
   */
  write(bytes: Buffer, onFlushed?: (err?: Error | null) => void): boolean {
    if (this.ended) {
      onFlushed?.();
      return false;
    }
    this.wroteSinceTick = true;
    this.moved += bytes.length;
    if (this.sealing) return this.sealing.write(bytes, onFlushed);
    if (!this.corked) {
      this.corked = true;
      this.stream.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stream.uncork();
      });
    }
    return this.stream.write(bytes, onFlushed);
  }

  /**
   * Once authenticated (KEEPALIVE is refused before), send KEEPALIVE at a tick when nothing else
   * was written since the one before, so that a quiet but healthy connection writes at least every
   * KEEPALIVE_INTERVAL_MS and never times out.
   */
  startKeepalive(): void {
    this.keepalive = true;
  }

  /** Bytes this connection wrote and read so far. */
  get bytesMoved(): number {
    return this.moved;
  }

  /** Frames may still be written: the connection has not ended. */
  get isOpen(): boolean {
    return !this.ended;
  }

  /** Resolves once the underlying stream has closed (both directions done, or destroyed). */
  whenClosed(): Promise<void> {
    if (this.stream.closed) return Promise.resolve();
    return new Promise((resolve) => this.stream.once('close', () => resolve()));
  }

  /** Resolves when the stream can take more, or when the connection ends. */
  drain(): Promise<void> {
    // With a sealing thread, what waits there or for the socket.
    if (this.sealing && !this.ended) return this.sealing.room();
    if (this.ended || this.sealing || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  seal(action: SealAction): void {
    (action.direction === 'in' ? this.decoder : this.encoder).setSealing(action, action.coverage);
  }

  /**
   * From the next frame on, sealed payloads are opened in one of the process's crypto threads
   * (cryptoThreads.ts), when it runs any; the frames still reach the handlers in order. True
   * when they are.
   */
  openInThread(): boolean {
    if (this.opening || this.ended) return this.opening !== undefined;
    const thread = openingStream(() => this.decoder.handOffOpening(), this.idleMs);
    this.opening =
      thread &&
      new ThreadedOpening(thread, {
        accepting: () => !this.ended && !this.deaf,
        ended: () => this.ended,
        deliver: (frame, plaintext) => this.dispatch(parseAt(frame.type, plaintext, 0, plaintext.length)),
        failed: (err) => this.failedReading(err),
        holdReading: () => this.stream.pause(),
        readAgain: () => {
          if (!this.paused && !this.deaf && !this.ended) this.stream.resume();
        },
      });
    return this.opening !== undefined;
  }

  /**
   * From now on, frames written are sealed in one of the process's crypto threads
   * (cryptoThreads.ts), when it runs any, and reach the socket in the order written. True when
   * they are.
   */
  sealInThread(): boolean {
    if (this.sealing || this.ended) return this.sealing !== undefined;
    const thread = sealingStream(() => this.encoder.handOffSealing(), this.idleMs);
    this.sealing = thread && new ThreadedSealing(thread, this.stream, this.name, (error) => this.finish(error));
    return this.sealing !== undefined;
  }

  /** Stop reading (receiver flow control) or read on. */
  pause(): void {
    this.paused = true;
    this.stream.pause();
  }

  /**
   * Reads nothing more from the peer, not even frames already received: a refusal held back
   * (fcpd's delay after a failed login) is not cut short by what the peer sent after it.
   */
  deafen(): void {
    this.deaf = true;
    this.stream.pause();
  }

  resume(): void {
    this.paused = false;
    this.lastReceived = Date.now();
    if (!this.opening?.holdsReading) this.stream.resume();
  }

  /** Tells the peer why, when it can still read it, then closes. */
  fail(error: FcpError, notifyPeer: boolean): void {
    if (this.ended) return;
    if (notifyPeer) {
      this.send({ type: PacketType.ERROR, code: wireFromCode(error.code), message: error.message.slice(0, 1024) });
    }
    this.close(error);
  }

  /** Ends the connection after pending writes; the closed event reports `error`. */
  close(error?: FcpError): void {
    if (this.ended) return;
    this.flushQueued();
    this.ended = true;
    this.opening?.end();
    clearInterval(this.ticker);
    if (this.sealing) {
      // What was written goes out sealed first; drain() waits no more.
      this.sealing.release();
      this.sealing.endAfterWritten();
    } else {
      this.stream.end();
    }
    // A peer that never reads would hold the socket open: destroy after a grace period.
    setTimeout(() => this.stream.destroy(), 5000).unref();
    this.notifyClosed(error);
  }

  private onData(slice: Buffer): void {
    // Once ended (or deaf) nothing is decoded: what the peer still sends is dropped, not kept.
    if (this.deaf || this.ended) return;
    this.lastReceived = Date.now();
    this.moved += slice.length;
    try {
      this.decoder.push(slice);
      // Nothing more is decoded once the connection ended or went deaf: the next frame may be sealed with a key never set.
      while (!this.ended && !this.deaf) {
        // A handler may have handed the opening to a thread (openInThread) at the frame before.
        if (this.opening) {
          const frame = this.decoder.nextSealed();
          if (!frame) break;
          this.opening.add(frame);
          continue;
        }
        const raw = this.decoder.nextPieces();
        if (!raw) break;
        this.dispatch(parsed(raw));
      }
    } catch (err) {
      return this.failedReading(err);
    }
    this.opening?.afterRead();
  }

  /** One message to the handlers; a BATCH as the messages it holds. */
  private dispatch(message: Message): void {
    if (message.type !== PacketType.BATCH) return this.handlers!.message(message);
    if (!this.batchTypes) {
      throw new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', 'BATCH on a connection that did not negotiate it');
    }
    for (const inner of unbatch(message, this.batchTypes)) {
      if (this.ended) break;
      this.handlers!.message(inner);
    }
  }

  /** Runs `then` once every frame read has reached the handlers (at once without an opening thread). */
  private afterOpened(then: () => void): void {
    if (!this.opening) return then();
    this.opening.afterOpened(then);
  }

  /** A frame that could not be read ends the connection, the peer told why. */
  private failedReading(err: unknown): void {
    const error = asFcpError(err, this.name);
    this.fail(new FcpError(error.code, `${this.name}: ${error.message}`, { cause: error, hint: error.hint }), true);
  }

  /**
   * The peer ended the stream. Inside a frame or between two, that is a lost connection: the peer
   * (or the network) closed it, whatever it was writing. A frame whose bytes were damaged fails
   * in onData with its checksum or decryption error before; only a cut is reported here, always
   * the same way, so the exit code does not depend on where the cut fell.
   */
  private onEnd(): void {
    if (this.ended) return;
    let where: string | undefined;
    try {
      this.decoder.end();
    } catch (err) {
      where = (err as Error).message;
    }
    this.afterOpened(() => this.finish(this.lost(undefined, where)));
  }

  private lost(cause?: Error, where?: string): FcpError {
    const detail = cause ? `: ${cause.message}` : where ? ` (${where})` : '';
    return new FcpError('FCP_ERR_CONNECTION_LOST', `${this.name} closed unexpectedly${detail}`, {
      cause,
      hint: 'the peer process ended or the network dropped the connection; run again with -v for details',
    });
  }

  private finish(error: FcpError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.opening?.end();
    this.sealing?.end();
    clearInterval(this.ticker);
    this.stream.destroy();
    this.notifyClosed(error);
  }

  private notifyClosed(error: FcpError | undefined): void {
    const handlers = this.handlers;
    this.handlers = undefined;
    if (handlers) handlers.closed(error);
    else this.closedWith = { error };
  }

  private tick(): void {
    if (this.keepalive && !this.wroteSinceTick && !this.stream.writableNeedDrain) this.send({ type: PacketType.KEEPALIVE });
    this.wroteSinceTick = false;
    // A paused connection is quiet because we stopped reading it, not because the peer went away;
    // what it waits for has its own deadline (a disk write: FileWriter's write timeout).
    if (this.silentTooLong()) {
      // After a long synchronous turn of this process, timers run before the poll phase reads
      // what the peer sent meanwhile: the verdict waits for that read (setImmediate runs after it).
      setImmediate(() => {
        if (this.ended || !this.silentTooLong()) return;
        const seconds = Math.round(this.idleMs / 1000);
        this.fail(
          new FcpError('FCP_ERR_TIMEOUT', `${this.name}: nothing received for ${seconds} s`, {
            hint: 'the peer stopped answering; check the network and the remote host',
          }),
          true,
        );
      });
    }
  }

  private silentTooLong(): boolean {
    return !this.paused && Date.now() - this.lastReceived > this.idleMs;
  }
}

/** A frame as the message it carries. */
function parsed(raw: RawFrame | PiecesFrame): Message {
  return 'pieces' in raw ? parseDataPieces(raw.pieces) : parseAt(raw.type, raw.payload, 0, raw.payload.length);
}
