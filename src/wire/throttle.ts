/**
 * A bandwidth limit (scp -l, rsync --bwlimit) for the client's connections to fcpd: one token
 * bucket shared by all of them, applied where bytes enter and leave this process. Writes wait
 * before they go, reads pause the socket, so TCP slows the peer down and neither the engines nor
 * fcpd need to know. Only the client is limited, as with scp and rsync.
 */
import { Duplex } from 'node:stream';

/**
 * A throttled write moves at most a tenth of a second's worth at once, within these bounds. Every
 * connection draws from one bucket, so a slice taken is a wait for all: at scp -l 256 (32 KiB/s)
 * a 64 KiB slice held the handshake of a connection opened behind it for two seconds, past a
 * `--timeout 2`; a tenth of a second's worth keeps what waits behind one slice short.
 */
export const MAX_THROTTLE_SLICE_BYTES = 64 * 1024;
export const MIN_THROTTLE_SLICE_BYTES = 1024;

/** What `throttled` draws from: how many ms to wait before `bytes` move, and how much to move at once. */
export interface Limiter {
  reserve(bytes: number, now?: number): number;
  readonly sliceBytes: number;
}

/** A token bucket: `bytesPerSecond` on average, bursts of up to a tenth of a second's worth (a slice at least). */
export class RateLimiter implements Limiter {
  private available: number;
  private readonly burst: number;
  readonly sliceBytes: number;

  constructor(
    private readonly bytesPerSecond: number,
    /** When the bucket starts full, in ms (Date.now() by default; tests pass their own clock). */
    private last = Date.now(),
  ) {
    const tenth = Math.floor(bytesPerSecond / 10);
    this.sliceBytes = Math.min(MAX_THROTTLE_SLICE_BYTES, Math.max(MIN_THROTTLE_SLICE_BYTES, tenth));
    this.burst = Math.max(this.sliceBytes, tenth);
    this.available = this.burst;
  }

  /** Takes `bytes` (going into debt if need be) and says how many ms to wait before they move. */
  reserve(bytes: number, now = Date.now()): number {
    this.available = Math.min(this.burst, this.available + (Math.max(0, now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    this.available -= bytes;
    return this.available >= 0 ? 0 : Math.ceil((-this.available * 1000) / this.bytesPerSecond);
  }
}

/**
 * Several limits on one stream (fcpd: its total, and the session's once the connection has joined
 * one): bytes move when the slowest of them allows.
 */
export class Limiters implements Limiter {
  private readonly parts: Limiter[] = [];

  add(limiter: Limiter | undefined): void {
    if (limiter) this.parts.push(limiter);
  }

  /** The smallest of the parts' slices (the largest there is without any). */
  get sliceBytes(): number {
    return this.parts.reduce((slice, part) => Math.min(slice, part.sliceBytes), MAX_THROTTLE_SLICE_BYTES);
  }

  reserve(bytes: number, now = Date.now()): number {
    return this.parts.reduce((wait, part) => Math.max(wait, part.reserve(bytes, now)), 0);
  }
}

/** `inner` with every byte in either direction drawn from `limiter`. */
export function throttled(inner: Duplex, limiter: Limiter): Duplex {
  /** The next slice read, waiting for the limit. */
  let held: NodeJS.Timeout | undefined;
  /** The next slice of a write, waiting for the limit. */
  let pacing: NodeJS.Timeout | undefined;
  let wanted = true;
  /**
   * What was read and is not passed on yet: a chunk read (up to 64 KiB) goes on a slice at a time,
   * as writes do, so that it does not put the shared bucket a whole chunk in debt at once.
   */
  let unread: Buffer | undefined;
  let ended = false;
  /** inner closed: outer is destroyed once what was read has been passed on. */
  let closed = false;
  const passOn = (): void => {
    while (unread !== undefined && wanted && !held) {
      const size = Math.min(unread.length, limiter.sliceBytes);
      const slice = size === unread.length ? unread : unread.subarray(0, size);
      unread = slice === unread ? undefined : unread.subarray(size);
      wanted = outer.push(slice);
      const wait = limiter.reserve(size);
      if (wait > 0) {
        held = setTimeout(() => {
          held = undefined;
          passOn();
        }, wait);
      }
    }
    if (unread !== undefined) return;
    if (ended) {
      ended = false;
      outer.push(null);
    }
    if (closed) outer.destroy();
    else if (wanted && !held) inner.resume();
  };
  const outer = new Duplex({
    read() {
      wanted = true;
      passOn();
    },
    write(chunk: Buffer, _encoding, callback) {
      // A frame moves in slices, each when the limit allows: a whole 1 MiB frame waiting
      // seconds under a low limit would look to the peer like a dead connection (--timeout).
      const sendFrom = (offset: number): void => {
        const end = Math.min(chunk.length, offset + limiter.sliceBytes);
        const slice = offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
        const go = (): void => {
          if (end === chunk.length) inner.write(slice, callback);
          else inner.write(slice, (error) => (error ? callback(error) : sendFrom(end)));
        };
        const wait = limiter.reserve(slice.length);
        if (wait === 0) go();
        else pacing = setTimeout(go, wait);
      };
      sendFrom(0);
    },
    final(callback) {
      inner.end(callback);
    },
    destroy(error, callback) {
      clearTimeout(held);
      clearTimeout(pacing);
      inner.destroy(error ?? undefined);
      callback(error);
    },
  });
  inner.on('data', (chunk: Buffer) => {
    inner.pause();
    unread = chunk;
    passOn();
  });
  inner.on('end', () => {
    ended = true;
    passOn();
  });
  inner.on('error', (error) => outer.destroy(error));
  inner.on('close', () => {
    closed = true;
    if (unread === undefined) outer.destroy();
  });
  return outer;
}
