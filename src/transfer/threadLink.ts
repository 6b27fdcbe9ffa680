/**
 * The link of a local copy whose receiving engine runs on a second thread (README "How it works"):
 * each thread has the memory pairs of memoryLink.ts, and a ThreadBridge on each side holds the
 * ends its engine does not, carrying what arrives at them to the other thread's bridge, which
 * hands it to its engine's end. The engines see what they see in one thread: the same messages,
 * in the same order, the same closes.
 *
 * Messages go as objects (structured clone, in C++: no JavaScript to warm up per message), a
 * batch of them per turn of the event loop in one postMessage. Chunks and small files are read
 * into SharedArrayBuffers, so their bytes go over as views of the same memory, never copied;
 * the receiving side gives each back by the id of its buffer once written (ids, since a buffer
 * that crossed twice is a different object on each side). The sender's xxh64 of each view goes
 * along with it, so the receiver does not hash again what the sender hashed.
 */
import { FcpError, wireFromCode } from '../errors';
import { PacketType } from '../protocol/constants';
import type { Message } from '../protocol/messages';
import type { FramedConnectionEvents } from '../wire/framedConnection';
import type { MemoryConnection, SentHashes } from './memoryLink';

/** What one side posts to the other, at most once a turn. */
export interface Post {
  /** Flat, four slots a message: connection index, message (null: the end closed), the sender's xxh64 of its data, its data's buffer id. */
  messages: unknown[];
  /** Per connection index: messages this side handed to its engine since its last post (flow control). */
  taken: number[] | undefined;
  /** Ids of buffers the receiving engine is done with. */
  returned: number[] | undefined;
  /** For the side's owner (threadLink's user): the receiver's item events, log lines, its end. */
  notes: unknown[] | undefined;
}

/** postMessage and 'message' of a Worker or of a worker's parentPort. */
export interface PostPort {
  postMessage(value: unknown): void;
  on(event: 'message', listener: (value: Post) => void): unknown;
}

const SLOTS = 4;
const POST_AT = Number(process.env.FCP_POST_AT ?? 256);
const FLUSH_MS = Number(process.env.FCP_FLUSH_MS ?? 1);

/**
 * Buffers shared between the threads, each with an id: where the sending side's chunks and small
 * files are read into. The map of ids holds them weakly: one never given back is the garbage
 * collector's, as in one thread.
 */
export class SharedBuffers {
  private readonly ids = new WeakMap<ArrayBufferLike, number>();
  private readonly byId = new Map<number, WeakRef<SharedArrayBuffer>>();
  private next = 1;

  readonly allocate = (size: number): Buffer => {
    const memory = new SharedArrayBuffer(size);
    const id = this.next++;
    this.ids.set(memory, id);
    this.byId.set(id, new WeakRef(memory));
    return Buffer.from(memory);
  };

  idOf(data: Uint8Array): number | undefined {
    return this.ids.get(data.buffer);
  }

  /** An empty view of the buffer with this id, for a pool's give(), which goes by its buffer; undefined once forgotten. */
  viewOf(id: number): Buffer | undefined {
    const memory = this.byId.get(id)?.deref();
    if (!memory) this.byId.delete(id);
    return memory && Buffer.from(memory, 0, 0);
  }
}

/** A structured clone's Uint8Array as the Buffer the engines expect (same memory). */
function asBuffer(value: Uint8Array): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** The Uint8Arrays a structured clone made of an object's Buffers (one level, and arrays of them), made Buffers again. */
export function withBuffers<T extends object>(value: T): T {
  const fields = value as Record<string, unknown>;
  for (const key in fields) {
    const field = fields[key];
    if (field instanceof Uint8Array) fields[key] = asBuffer(field);
    else if (Array.isArray(field) && field[0] instanceof Uint8Array) fields[key] = field.map(asBuffer);
  }
  return value;
}

export interface BridgeOptions {
  port: PostPort;
  /** By connection index: the ends of this thread's pairs that the other thread's engine stands for. */
  ends: MemoryConnection[];
  /** By connection index: messages sent over and not yet handed to the other engine, at most. */
  windows: number[];
  /** This side's hashes of what its engine sends (the sender's), or what it receives (the receiver's). */
  sent: SentHashes;
  /** The sending side: its shared buffers, whose ids go along with their views. */
  shared?: SharedBuffers;
  /** Ids the other side gave back. */
  returned?(id: number): void;
  note?(value: unknown): void;
}

export class ThreadBridge {
  private out: unknown[] = [];
  private returned: number[] = [];
  private notes: unknown[] = [];
  private scheduled = false;
  private readonly inFlight: number[];
  private readonly pausedHere: boolean[];
  /** Arrived from the other thread, not yet taken by this thread's engine end (it was full). */
  private readonly queued: unknown[][];
  /** By connection index: messages handed to the engine end, and of those, acknowledged to the other side. */
  private readonly pushed: number[];
  private readonly acked: number[];
  private readonly watching: boolean[];
  private readonly closing: boolean[];
  /** The receiving side: ids of the shared buffers its messages' views are of. */
  private readonly ids = new WeakMap<ArrayBufferLike, number>();

  constructor(private readonly options: BridgeOptions) {
    const count = options.ends.length;
    this.pushed = new Array<number>(count).fill(0);
    this.acked = new Array<number>(count).fill(0);
    this.inFlight = new Array<number>(count).fill(0);
    this.pausedHere = new Array<boolean>(count).fill(false);
    this.queued = Array.from({ length: count }, () => []);
    this.watching = new Array<boolean>(count).fill(false);
    this.closing = new Array<boolean>(count).fill(false);
    options.port.on('message', (post) => this.arrive(post));
    options.ends.forEach((end, index) => end.start(this.handlers(index)));
  }

  /** A note for the other side's owner, in the next post. */
  note(value: unknown): void {
    this.notes.push(value);
    this.schedule();
  }

  /** The receiving side: gives back the shared buffers these views are of. */
  giveBack(views: readonly Uint8Array[]): void {
    for (const view of views) {
      const id = this.ids.get(view.buffer);
      if (id !== undefined) this.returned.push(id);
    }
    this.schedule();
  }

  /** The other thread is gone: every end fails with `error`, told to this thread's engine as the other's ERROR. */
  failAll(error: FcpError): void {
    this.options.ends.forEach((end, index) => {
      this.closing[index] = true;
      if (index === 0) end.send({ type: PacketType.ERROR, code: wireFromCode(error.code), message: error.message.slice(0, 1024) });
      end.close(error);
    });
  }

  /** Posts what is waiting now, not on the next turn (before the thread ends). */
  flush(): void {
    this.scheduled = false;
    const taken = this.takenNow();
    if (this.out.length === 0 && !taken && this.returned.length === 0 && this.notes.length === 0) return;
    const post: Post = {
      messages: this.out,
      taken,
      returned: this.returned.length ? this.returned : undefined,
      notes: this.notes.length ? this.notes : undefined,
    };
    this.out = [];
    this.returned = [];
    this.notes = [];
    this.options.port.postMessage(post);
  }

  private handlers(index: number): FramedConnectionEvents {
    return {
      message: (message) => this.forward(index, message),
      closed: () => {
        if (this.closing[index]) return;
        this.out.push(index, null, undefined, undefined);
        this.schedule();
      },
    } as FramedConnectionEvents;
  }

  private forward(index: number, message: Message): void {
    const data = (message as { data?: unknown }).data;
    if (data instanceof Uint8Array) this.out.push(index, message, this.options.sent.get(data), this.options.shared?.idOf(data));
    else this.out.push(index, message, undefined, undefined);
    if (++this.inFlight[index]! >= this.options.windows[index]! && !this.pausedHere[index]) {
      this.pausedHere[index] = true;
      this.options.ends[index]!.pause();
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.out.length >= POST_AT * SLOTS) return this.flush();
    if (this.scheduled) return;
    this.scheduled = true;
    if (FLUSH_MS > 0) setTimeout(() => this.flush(), FLUSH_MS);
    else setImmediate(() => this.flush());
  }

  private arrive(post: Post): void {
    const { messages, taken, returned, notes } = post;
    for (let i = 0; i < messages.length; i += SLOTS) {
      const index = messages[i] as number;
      const message = messages[i + 1] as Message | null;
      if (message) {
        withBuffers(message);
        const data = (message as { data?: Buffer }).data;
        const hash = messages[i + 2] as bigint | undefined;
        const id = messages[i + 3] as number | undefined;
        if (data && hash !== undefined) this.options.sent.set(data, hash);
        if (data && id !== undefined) this.ids.set(data.buffer, id);
      }
      this.queued[index]!.push(message);
    }
    for (let index = 0; index < this.queued.length; index++) if (this.queued[index]!.length) this.pump(index);
    if (taken) taken.forEach((count, index) => this.acknowledged(index, count));
    if (returned) for (const id of returned) this.options.returned?.(id);
    if (notes) for (const value of notes) this.options.note?.(value);
  }

  /**
   * Hands what arrived for connection `index` to this thread's engine end at once (the other
   * side's window bounds it); it is acknowledged as that end delivers it (flush).
   */
  private pump(index: number): void {
    const queue = this.queued[index]!;
    const end = this.options.ends[index]!;
    for (const message of queue) {
      if (message) end.send(message as Message);
      else {
        this.closing[index] = true;
        end.close();
      }
    }
    this.pushed[index]! += queue.length;
    queue.length = 0;
    this.watch(index);
  }

  /** Posts an acknowledgement once the engine end has taken what waits for it (drain: at the end of its delivery). */
  private watch(index: number): void {
    if (this.watching[index]) return;
    this.watching[index] = true;
    void this.options.ends[index]!.drain().then(() => {
      this.watching[index] = false;
      this.schedule();
    });
  }

  /** Messages handed to the engine ends and delivered by them since the last post, by connection index. */
  private takenNow(): number[] | undefined {
    let any = false;
    const taken = this.options.ends.map((end, index) => {
      const delivered = this.pushed[index]! - (end.isOpen ? end.undelivered : 0);
      const count = delivered - this.acked[index]!;
      this.acked[index] = delivered;
      if (count > 0) any = true;
      return count;
    });
    return any ? taken : undefined;
  }

  private acknowledged(index: number, count: number): void {
    if (count === 0) return;
    this.inFlight[index]! -= count;
    if (this.pausedHere[index] && this.inFlight[index]! < this.options.windows[index]!) {
      this.pausedHere[index] = false;
      this.options.ends[index]!.resume();
    }
  }
}
