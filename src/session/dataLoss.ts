/**
 * Bookkeeping for lost data connections (feature RECONNECT, PROTOCOL.md §7.3): which chunks a
 * sender wrote on a connection that the receiver has not acknowledged yet, and how often the
 * client may open a replacement. Pure: no I/O, and nothing allocated per chunk.
 */

/** The receiver acknowledges every this many chunks of a connection (CHUNK_ACK). */
export const ACK_EVERY = 128;
/**
 * Unacknowledged chunks one connection may carry: a sender waits for a CHUNK_ACK beyond this.
 * Several ACK_EVERY, so acknowledgements keep it from ever waiting on a healthy link.
 */
export const OUTSTANDING_CAPACITY = 8 * ACK_EVERY;

/** Counts of chunks are u32 on the wire and wrap. */
const u32 = (n: number): number => n >>> 0;

/**
 * The chunks written on one data connection since it was attached, in order, from the first the
 * receiver has not acknowledged: a ring of (file_id, chunk index) pairs. TCP delivers in order,
 * so the receiver's count of whole chunks says exactly which of them arrived.
 */
export class OutstandingChunks {
  private readonly fileIds: Uint32Array;
  private readonly indexes: Uint32Array;
  private readonly mask: number;
  /** Chunks written since the connection was attached (u32, wraps). */
  private written = 0;
  /** Chunks the receiver acknowledged (u32, wraps); the ring holds written − acked entries. */
  private acked = 0;

  /** capacity: a power of two. */
  constructor(readonly capacity: number = OUTSTANDING_CAPACITY) {
    if (capacity < 1 || (capacity & (capacity - 1)) !== 0) throw new RangeError(`ring capacity ${capacity} is not a power of two`);
    this.fileIds = new Uint32Array(capacity);
    this.indexes = new Uint32Array(capacity);
    this.mask = capacity - 1;
  }

  /** Chunks written and not acknowledged. */
  get size(): number {
    return u32(this.written - this.acked);
  }

  /** Chunks that may still be written before an acknowledgement is needed. */
  get room(): number {
    return this.capacity - this.size;
  }

  /** A chunk was written on the connection; the caller checked room first. */
  push(fileId: number, index: number): void {
    if (this.size === this.capacity) throw new RangeError('no room for another outstanding chunk');
    const slot = this.written & this.mask;
    this.fileIds[slot] = fileId;
    this.indexes[slot] = index;
    this.written = u32(this.written + 1);
  }

  /** The receiver got `chunks` whole chunks so far (CHUNK_ACK); why that cannot be, or undefined. */
  ack(chunks: number): string | undefined {
    const problem = this.checkCount(chunks);
    if (problem === undefined) this.acked = u32(chunks);
    return problem;
  }

  /**
   * The connection is gone and the receiver got `chunks` whole chunks on it (DATA_LOST): calls
   * `lost` for each chunk written after them, oldest first, and starts over empty for a
   * replacement. Returns why the count cannot be, or undefined.
   */
  lose(chunks: number, lost: (fileId: number, index: number) => void): string | undefined {
    const problem = this.checkCount(chunks);
    if (problem !== undefined) return problem;
    for (let n = u32(chunks); n !== this.written; n = u32(n + 1)) lost(this.fileIds[n & this.mask]!, this.indexes[n & this.mask]!);
    this.written = 0;
    this.acked = 0;
    return undefined;
  }

  /** A count must lie between what was acknowledged and what was written. */
  private checkCount(chunks: number): string | undefined {
    if (u32(chunks - this.acked) <= this.size) return undefined;
    return `${chunks} chunks received, but ${this.written} were sent (${this.acked} acknowledged before)`;
  }
}

/** Dial attempts for one replacement before its slot is given up. */
export const REOPEN_ATTEMPTS = 3;
/** Wait before the first attempt; each further attempt waits REOPEN_BACKOFF_FACTOR times longer. */
export const REOPEN_FIRST_DELAY_MS = 100;
export const REOPEN_BACKOFF_FACTOR = 4;
/** A slot whose connection was lost this many times is not reopened again: something about it keeps failing. */
export const SLOT_LOSSES_MAX = 3;
/** Replacements dialled in one session at most, whatever the slots (per connection of the session). */
export const REOPENS_PER_CONNECTION = 2;

/**
 * How often the client may reopen lost data connections: a few attempts per loss with a growing
 * delay, a few losses per slot, and a cap for the session, so that a connection that keeps
 * failing is not reopened forever.
 */
export class ReopenBudget {
  private readonly losses: Uint8Array;
  private dialsLeft: number;

  constructor(connections: number) {
    this.losses = new Uint8Array(connections + 1);
    this.dialsLeft = REOPENS_PER_CONNECTION * connections;
  }

  /** Slot connIndex was lost: false when it may not be reopened any more. */
  lost(connIndex: number): boolean {
    this.losses[connIndex] = Math.min(255, this.losses[connIndex]! + 1);
    return this.losses[connIndex]! < SLOT_LOSSES_MAX && this.dialsLeft > 0;
  }

  /**
   * The delay before dial number `attempt` (0-based) of a replacement, or undefined when no
   * more dials are allowed (the attempts of this loss, or the session's, are spent).
   */
  nextDial(attempt: number): number | undefined {
    if (attempt >= REOPEN_ATTEMPTS || this.dialsLeft <= 0) return undefined;
    this.dialsLeft--;
    return REOPEN_FIRST_DELAY_MS * REOPEN_BACKOFF_FACTOR ** attempt;
  }
}
