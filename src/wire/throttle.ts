/**
 * A bandwidth limit (scp -l, rsync --bwlimit) for the client's connections to fcpd: one token
 * bucket shared by all of them, applied where bytes enter and leave this process. Writes wait
 * before they go, reads pause the socket, so TCP slows the peer down and neither the engines nor
 * fcpd need to know. Only the client is limited, as with scp and rsync.
 */
import { Duplex } from 'node:stream';

/** A throttled write moves at most this much at once. */
export const THROTTLE_SLICE_BYTES = 64 * 1024;

/** What `throttled` draws from: how many ms to wait before `bytes` move. */
export interface Limiter {
  reserve(bytes: number, now?: number): number;
}

/** A token bucket: `bytesPerSecond` on average, bursts of up to a tenth of a second's worth. */
export class RateLimiter implements Limiter {
  private available: number;
  private readonly burst: number;

  constructor(
    private readonly bytesPerSecond: number,
    /** When the bucket starts full, in ms (Date.now() by default; tests pass their own clock). */
    private last = Date.now(),
  ) {
    // At least one full DATA frame fits a burst, so a low limit still moves whole frames.
    this.burst = Math.max(64 * 1024, bytesPerSecond / 10);
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

  reserve(bytes: number, now = Date.now()): number {
    return this.parts.reduce((wait, part) => Math.max(wait, part.reserve(bytes, now)), 0);
  }
}

/** `inner` with every byte in either direction drawn from `limiter`. */
export function throttled(inner: Duplex, limiter: Limiter): Duplex {
  let held: NodeJS.Timeout | undefined;
  /** The next slice of a write, waiting for the limit. */
  let pacing: NodeJS.Timeout | undefined;
  let wanted = true;
  const outer = new Duplex({
    read() {
      wanted = true;
      if (!held) inner.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      // A frame moves in slices, each when the limit allows: a whole 1 MiB frame waiting
      // seconds under a low limit would look to the peer like a dead connection (--timeout).
      const sendFrom = (offset: number): void => {
        const end = Math.min(chunk.length, offset + THROTTLE_SLICE_BYTES);
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
    wanted = outer.push(chunk);
    const wait = limiter.reserve(chunk.length);
    if (!wanted || wait > 0) inner.pause();
    if (wait > 0) {
      held = setTimeout(() => {
        held = undefined;
        if (wanted) inner.resume();
      }, wait);
    }
  });
  inner.on('end', () => outer.push(null));
  inner.on('error', (error) => outer.destroy(error));
  inner.on('close', () => outer.destroy());
  return outer;
}
