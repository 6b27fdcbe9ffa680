/** The bandwidth limit's token bucket, and a throttled stream that still carries every byte in order. */
import { Duplex, PassThrough } from 'node:stream';
import fc from 'fast-check';
import { Limiters, MAX_THROTTLE_SLICE_BYTES, MIN_THROTTLE_SLICE_BYTES, RateLimiter, throttled } from '../../../src/wire/throttle';

describe('RateLimiter', () => {
  test('lets a burst through, then makes the average rate hold', () => {
    const limiter = new RateLimiter(1_000_000, 0);
    expect(limiter.reserve(100_000, 0)).toBe(0);
    // The burst (a tenth of a second's worth) is spent: 50 KB more waits 50 ms.
    expect(limiter.reserve(50_000, 0)).toBe(50);
    // 50 ms later the debt is paid, and 100 ms more refill 100 KB (capped at the burst).
    expect(limiter.reserve(0, 50)).toBe(0);
    expect(limiter.reserve(100_000, 150)).toBe(0);
  });

  test('over any run of reservations, the waits add up to what the rate asks for', () => {
    fc.assert(
      fc.property(fc.integer({ min: 8_000, max: 10_000_000 }), fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 50 }), (rate, sizes) => {
        const limiter = new RateLimiter(rate, 0);
        let now = 0;
        for (const size of sizes) now += limiter.reserve(size, now);
        const total = sizes.reduce((a, b) => a + b, 0);
        const burst = Math.max(limiter.sliceBytes, rate / 10);
        // Everything past the first burst took at least its time at the rate (1 ms of rounding per reservation).
        expect(now + sizes.length).toBeGreaterThanOrEqual(((total - burst) * 1000) / rate);
      }),
    );
  });
});

describe('slices', () => {
  test('a tenth of a second\'s worth, from 1 KiB to 64 KiB; several limits move at the smallest slice', () => {
    expect(new RateLimiter(32 * 1024).sliceBytes).toBe(3276);
    expect(new RateLimiter(1024).sliceBytes).toBe(MIN_THROTTLE_SLICE_BYTES);
    expect(new RateLimiter(100 * 1024 * 1024).sliceBytes).toBe(MAX_THROTTLE_SLICE_BYTES);
    const both = new Limiters();
    expect(both.sliceBytes).toBe(MAX_THROTTLE_SLICE_BYTES);
    both.add(new RateLimiter(10 * 1024 * 1024));
    both.add(new RateLimiter(64 * 1024));
    expect(both.sliceBytes).toBe(6553);
  });

  test('at 32 KiB/s, what waits behind a slice taken waits a tenth of a second, not the 2 s a 64 KiB slice made it', () => {
    const limiter = new RateLimiter(32 * 1024, 0);
    expect(limiter.reserve(limiter.sliceBytes, 0)).toBe(0);
    expect(limiter.reserve(limiter.sliceBytes, 0)).toBe(100);
    // A handshake's few hundred bytes, asked for at the same moment.
    expect(limiter.reserve(300, 0)).toBeLessThanOrEqual(110);
  });
});

describe('throttled', () => {
  /** Two throttled ends joined back to back. */
  function pair(rate: number): [Duplex, Duplex] {
    const aToB = new PassThrough();
    const bToA = new PassThrough();
    const limiter = new RateLimiter(rate);
    const a = Duplex.from({ readable: bToA, writable: aToB });
    const b = Duplex.from({ readable: aToB, writable: bToA });
    return [throttled(a, limiter), b];
  }

  test('a large write moves in slices as the limit allows, not whole after one long wait', async () => {
    const [near, far] = pair(1024 * 1024);
    const first = new Promise<number>((resolve) => far.once('data', (chunk: Buffer) => resolve(chunk.length)));
    const written = new Promise((resolve) => near.write(Buffer.alloc(1024 * 1024), resolve));
    expect(await first).toBeLessThanOrEqual(new RateLimiter(1024 * 1024).sliceBytes);
    far.resume();
    await written;
    near.end();
    await new Promise((resolve) => far.on('end', resolve));
  });

  test('a large read is passed on in slices too, every byte in order, and the end after the last', async () => {
    const rate = 4 * 1024 * 1024;
    const [near, far] = pair(rate);
    const chunks: number[] = [];
    const received: Buffer[] = [];
    near.on('data', (chunk: Buffer) => {
      chunks.push(chunk.length);
      received.push(chunk);
    });
    const ended = new Promise((resolve) => near.on('end', resolve));
    const sent = Buffer.alloc(3 * 64 * 1024).map((_, i) => i % 253);
    far.write(sent);
    far.end();
    await ended;
    expect(Math.max(...chunks)).toBeLessThanOrEqual(new RateLimiter(rate).sliceBytes);
    expect(Buffer.concat(received).equals(sent)).toBe(true);
  });

  test('delivers every byte in order both ways, and ends', async () => {
    const [near, far] = pair(4 * 1024 * 1024);
    const sent = Buffer.alloc(1024 * 1024, 7).map((_, i) => i % 251);
    const received: Buffer[] = [];
    far.on('data', (chunk: Buffer) => received.push(chunk));
    const ended = new Promise((resolve) => far.on('end', resolve));
    for (let at = 0; at < sent.length; at += 100_000) near.write(sent.subarray(at, at + 100_000));
    near.end();
    await ended;
    expect(Buffer.concat(received).equals(sent)).toBe(true);

    const back: Buffer[] = [];
    near.on('data', (chunk: Buffer) => back.push(chunk));
    far.write(Buffer.from('reply'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Buffer.concat(back).toString()).toBe('reply');
  });
});
