/**
 * The link of a local copy in one process (README "How it works"): the sending and the receiving
 * engine run side by side, each with its own TransferLink, joined by pairs of MemoryConnections.
 * A message goes to the other end as the object it is: no encoding, no frames, no sealing, no
 * socket. A chunk goes as a DATA message whose data is a pooled buffer the sender read the file
 * into; the receiver writes from that buffer and gives it back (TransferLink.returnChunk), so file
 * bytes are never copied in memory on their way from one file to the other.
 *
 * What the engines decide (the walk, the quick check, chunking, verification, the order of
 * commits, errors and their codes) is the same as over the network: only the carrier differs.
 */
import { FcpError, wireFromCode } from '../errors';
import { Cipher, PacketType, SESSION_ID_SIZE } from '../protocol/constants';
import type { Message, ParamsMessage } from '../protocol/messages';
import type { XXHashAPI } from '../protocol/xxhash';
import type { FramedConnectionEvents } from '../wire/framedConnection';
import type { LinkedConnection, TransferLink } from './link';
import { halvesOfProcessBudget } from './openFileBudget';
import { SliceArena } from './sliceArena';

/**
 * Messages one end may have waiting for its reader before drain() makes the writer wait: a data
 * connection's chunk is two (DATA, CHUNK_SUM), so a pump runs at most two chunks ahead of a
 * receiver that stopped reading (it pauses while its disk writes queue up).
 */
const WAITING_HIGH_WATER = 4;

/**
 * The sender's pace in one process (TransferLink.walkAhead, inlineBurst): what it walks and reads
 * ahead is handed to the receiver on the next turn, not across a network, so looking far ahead
 * buys nothing. Walking 256 entries ahead instead of 4,096 and reading 256 KiB of small files a
 * burst instead of 1 MiB took a sixth off the wall and CPU time of 10,000 × 4 KiB (docs/BENCHMARKS.md,
 * "Local copies"), the collector's time unchanged (--trace-gc). The first count still goes 4,096
 * ahead (sender.ts begin), so that a tree that size starts with its whole totals; with that, the
 * gain on that tree was within the noise of a loaded machine: measure again on a quiet one.
 */
const LOCAL_WALK_AHEAD = 256;
const LOCAL_INLINE_BURST = 256 * 1024;
/**
 * The blocks small files are read into, filled again once the receiver gave back every file of
 * one (SliceArena): a burst is written on the next turn, so a few blocks go round, their pages
 * touched once (10,000 × 4 KiB in new blocks made 10,000 page faults more than the floor's copy).
 */
const LOCAL_INLINE_BLOCK = 4 * LOCAL_INLINE_BURST;

/** Marks where the other end closed, among the messages waiting to be delivered. */
const PEER_CLOSED = Symbol('peer closed');

/**
 * Buffers of one chunk size lent to pumps and given back by the receiver once written. One that
 * never comes back (its file failed before the write) is not held here (a weak set knows the lent
 * ones): the garbage collector takes it, the pool makes a new one, and flow control bounds how
 * many are out.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];
  private readonly lent = new WeakSet<ArrayBufferLike>();

  constructor(private readonly chunkSize: number) {}

  /** `length` bytes (at most the chunk size) of a buffer lent until `give` returns it. */
  take(length: number): Buffer {
    // allocUnsafeSlow: a memory block of its own, never a slice of Node's shared pool.
    const whole = this.free.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize);
    this.lent.add(whole.buffer);
    return whole.subarray(0, length);
  }

  /** Gives back the buffers these parts are views of. */
  give(parts: readonly Buffer[]): void {
    for (const part of parts) if (this.lent.delete(part.buffer)) this.free.push(Buffer.from(part.buffer, 0, this.chunkSize));
  }
}

/**
 * The xxh64 the sender worked out over each view of bytes it hashed whole (a small file read
 * whole, a chunk; a chunk's is set again as it is sent), by that very view, which is what goes
 * over (a FILE_INLINE's data, a DATA's data): a pooled buffer is refilled only once the receiver
 * gave it back, and a fresh view is made for each fill, so a view's bytes are still the ones its
 * hash was worked out over.
 */
type SentHashes = WeakMap<Uint8Array, bigint>;

/**
 * The sender's hash in one process: xxh64 that keeps what it works out by the view hashed. So
 * send() need not look at what it hands over: a check of each message's type there read the
 * type of a dozen shapes of message, and each shape that first came after send (and the sender's
 * apply, which inlines it) was optimized threw that code away (docs/BENCHMARKS.md, "Local
 * copies", eighth round).
 */
function keepingHashes(xxh: XXHashAPI, sent: SentHashes): XXHashAPI {
  return {
    ...xxh,
    h64Raw: (input, seed = 0n) => {
      const hash = xxh.h64Raw(input, seed);
      if (seed === 0n) sent.set(input, hash);
      return hash;
    },
  };
}

/**
 * The receiver's hash in one process: for bytes the sender hashed and handed over as they are,
 * its xxh64 is what hashing them again would give; anything else is hashed.
 */
function hashingOnce(xxh: XXHashAPI, sent: SentHashes): XXHashAPI {
  return { ...xxh, h64Raw: (input, seed = 0n) => (seed === 0n ? sent.get(input) : undefined) ?? xxh.h64Raw(input, seed) };
}

/** One end of an in-memory connection: what the engines use of a FramedConnection. */
export class MemoryConnection {
  private peer!: MemoryConnection;
  private handlers: FramedConnectionEvents | undefined;
  /** Sent by the other end, not yet delivered to this end's handlers. */
  private readonly waiting: (Message | typeof PEER_CLOSED)[] = [];
  private delivered = 0;
  private scheduled = false;
  private paused = false;
  private ended = false;
  /** Writers at the other end waiting for this end to take what is waiting. */
  private readonly drainWaiters: (() => void)[] = [];
  private readonly closeWaiters: (() => void)[] = [];

  constructor(
    readonly name: string,
    private readonly buffers: ChunkBuffers,
    private readonly sent: SentHashes,
  ) {}

  /** Two ends joined to each other. */
  static pair(names: [string, string], buffers: ChunkBuffers, sent: SentHashes): [MemoryConnection, MemoryConnection] {
    const a = new MemoryConnection(names[0], buffers, sent);
    const b = new MemoryConnection(names[1], buffers, sent);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  start(handlers: FramedConnectionEvents): void {
    this.handlers = handlers;
    this.schedule();
  }

  send(message: Message): boolean {
    if (this.ended) return false;
    this.peer.arrive(message);
    return !this.peer.full;
  }

  /** A chunk in a buffer from chunkBuffer(), and its xxh64: DATA and CHUNK_SUM to the other end. */
  sendChunk(fileId: number, seq: number, data: Buffer, hash: bigint): void {
    this.sent.set(data, hash);
    this.send({ type: PacketType.DATA, fileId, seq, data });
    this.send({ type: PacketType.CHUNK_SUM, fileId, seq, length: data.length, hash });
  }

  /** Gives back a buffer from chunkBuffer() that went to the receiver in no DATA (a chunk of holes). */
  returnBuffer(data: Buffer): void {
    this.buffers.give([data]);
  }

  /** A buffer to read a chunk of `length` bytes into; the receiver gives it back once written. */
  chunkBuffer(length: number): Buffer {
    return this.buffers.take(length);
  }

  get isOpen(): boolean {
    return !this.ended;
  }

  /** Messages are delivered once per turn of the event loop already, a batch of them at a time. */
  batchSends(): void {}

  /** Resolves when the other end has taken what was waiting for it, or when this end is over. */
  drain(): Promise<void> {
    if (this.ended || !this.peer.full) return Promise.resolve();
    return new Promise((resolve) => this.peer.drainWaiters.push(resolve));
  }

  /** Stop delivering (receiver flow control): the other end's writer then waits in drain(). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  /** Resolves once this end is closed (by its owner, or by the other end's close). */
  whenClosed(): Promise<void> {
    if (this.ended) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  fail(error: FcpError, notifyPeer: boolean): void {
    if (this.ended) return;
    if (notifyPeer) this.send({ type: PacketType.ERROR, code: wireFromCode(error.code), message: error.message.slice(0, 1024) });
    this.close(error);
  }

  close(error?: FcpError): void {
    if (this.ended) return;
    this.peer.arrive(PEER_CLOSED);
    this.end(error);
  }

  private get full(): boolean {
    return this.waiting.length - this.delivered >= WAITING_HIGH_WATER;
  }

  private arrive(item: Message | typeof PEER_CLOSED): void {
    if (this.ended) return;
    this.waiting.push(item);
    this.schedule();
  }

  /** Delivery happens on a later turn, as from a socket: an engine's step never runs inside the other's. */
  private schedule(): void {
    if (this.scheduled || this.paused || !this.handlers || this.delivered === this.waiting.length) return;
    this.scheduled = true;
    setImmediate(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    while (this.delivered < this.waiting.length && !this.paused && !this.ended && this.handlers) {
      const item = this.waiting[this.delivered++]!;
      if (item === PEER_CLOSED) {
        this.end(new FcpError('FCP_ERR_CONNECTION_LOST', `${this.peer.name} closed before the transfer ended`));
        break;
      }
      this.handlers.message(item);
    }
    if (this.delivered === this.waiting.length) {
      this.waiting.length = 0;
      this.delivered = 0;
    }
    if (!this.full || this.ended) this.wakeWriters();
  }

  private end(error: FcpError | undefined): void {
    this.ended = true;
    // Writers on either side stop waiting: nothing more is delivered through this pair.
    this.wakeWriters();
    this.peer.wakeWriters();
    for (const wake of this.closeWaiters.splice(0)) wake();
    const handlers = this.handlers;
    this.handlers = undefined;
    handlers?.closed(error);
  }

  private wakeWriters(): void {
    for (const wake of this.drainWaiters.splice(0)) wake();
  }
}

export interface MemoryLinks {
  sender: TransferLink;
  receiver: TransferLink;
}

/**
 * The two links of a copy in one process: a control pair and `params.connections` data pairs.
 * Nothing is sealed (params.cipher becomes NONE). `xxh` is what both engines hash chunks with.
 */
export function memoryLinks(params: ParamsMessage, xxh: XXHashAPI, idleMs: number, log: (line: string) => void): MemoryLinks {
  const shared = { ...params, cipher: Cipher.NONE };
  const buffers = new ChunkBuffers(shared.chunkSize);
  const inlineBuffers = new SliceArena(LOCAL_INLINE_BLOCK, true);
  const sent: SentHashes = new WeakMap();
  const sessionId = Buffer.alloc(SESSION_ID_SIZE);
  const linked = (conn: MemoryConnection, role: 'control' | 'data', connIndex: number): LinkedConnection => ({
    conn,
    established: { role, params: shared, sessionId, connIndex, early: [] },
  });
  const pairs = Array.from({ length: shared.connections + 1 }, (_, i) =>
    MemoryConnection.pair(i === 0 ? ['reader of the sources', 'writer of the destination'] : [`reader ${i}`, `writer ${i}`], buffers, sent),
  );
  const budgets = halvesOfProcessBudget();
  const side = (end: 0 | 1, peerName: string, hasher: XXHashAPI): TransferLink => ({
    control: linked(pairs[0]![end], 'control', 0),
    data: pairs.slice(1).map((pair, i) => linked(pair[end], 'data', i + 1)),
    params: shared,
    xxh: hasher,
    peerName,
    idleMs,
    log,
    descriptorBudget: budgets[end],
    walkAhead: LOCAL_WALK_AHEAD,
    inlineBurst: LOCAL_INLINE_BURST,
  });
  return {
    sender: { ...side(0, 'the destination', keepingHashes(xxh, sent)), inlineBuffers },
    receiver: { ...side(1, 'the source side', hashingOnce(xxh, sent)), returnChunk: (data) => buffers.give(data), returnInline: (data) => inlineBuffers.give(data) },
  };
}
