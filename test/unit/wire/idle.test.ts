/**
 * The idle timeout and KEEPALIVE of FramedConnection, on fake clocks: a peer that stops answering
 * is a timeout, a quiet peer that keeps alive is not, even when its own timeout is far longer
 * than ours (each side sets its own --timeout).
 */
import { Duplex } from 'node:stream';
import type { FcpError } from '../../../src/errors';
import { PacketType } from '../../../src/protocol';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { FramedConnection } from '../../../src/wire/framedConnection';
import { KEEPALIVE_INTERVAL_MS } from '../../../src/timeouts';

/** Two in-memory streams joined both ways; a stopped side writes nothing to the other (SIGSTOP). */
function linkedPair(): { a: Duplex; b: Duplex; stop: (side: 'a' | 'b') => void; resume: (side: 'a' | 'b') => void } {
  const stopped = new Set<string>();
  const make = (name: string, other: () => Duplex): Duplex =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        if (!stopped.has(name)) other().push(chunk);
        done();
      },
    });
  const a: Duplex = make('a', () => b);
  const b: Duplex = make('b', () => a);
  return { a, b, stop: (side) => stopped.add(side), resume: (side) => stopped.delete(side) };
}

const SHORT_MS = 2000;
const LONG_MS = 60_000;

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

/** Advances the fake clock by ms, a second at a time, letting the streams deliver in between. */
async function pass(ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    jest.advanceTimersByTime(Math.min(1000, left));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function connectedPair(): Promise<{
  short: FramedConnection;
  long: FramedConnection;
  closed: (FcpError | undefined | 'open')[];
  stop: (side: 'a' | 'b') => void;
  resume: (side: 'a' | 'b') => void;
}> {
  const xxh = await loadXxhash();
  const { a, b, stop, resume } = linkedPair();
  const short = new FramedConnection(a, xxh, 'connection with --timeout 2', SHORT_MS);
  const long = new FramedConnection(b, xxh, 'peer with the default timeout', LONG_MS);
  const closed: (FcpError | undefined | 'open')[] = ['open', 'open'];
  short.start({ message: () => undefined, closed: (error) => (closed[0] = error) });
  long.start({ message: () => undefined, closed: (error) => (closed[1] = error) });
  short.startKeepalive();
  long.startKeepalive();
  return { short, long, closed, stop, resume };
}

test('an idle but healthy session is not timed out: KEEPALIVE covers ten times the shorter timeout', async () => {
  const { closed } = await connectedPair();
  await pass(10 * SHORT_MS);
  expect(closed).toEqual(['open', 'open']);
});

test('a peer that stops answering (SIGSTOP, a cut link): FCP_ERR_TIMEOUT naming the connection', async () => {
  const { closed, stop } = await connectedPair();
  stop('b');
  await pass(SHORT_MS + 2000);
  const error = closed[0] as FcpError;
  expect({ code: error.code, message: error.message }).toEqual({
    code: 'FCP_ERR_TIMEOUT',
    message: 'connection with --timeout 2: nothing received for 2 s',
  });
  expect(closed[1]).toBe('open');
});

test('bytes that came while this process was busy past the timeout are read before the verdict: no timeout', async () => {
  const { long, closed, stop, resume } = await connectedPair();
  stop('b');
  // One long turn: every timer due in it fires at its end, the idle check first, before any read.
  jest.advanceTimersByTime(SHORT_MS + 1000);
  // What the peer sent meanwhile, waiting in the socket for the poll phase.
  resume('b');
  long.send({ type: PacketType.KEEPALIVE });
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  expect(closed).toEqual(['open', 'open']);
});

test('a quiet connection writes at least every KEEPALIVE_INTERVAL_MS, even after a write just past a tick', async () => {
  const xxh = await loadXxhash();
  const { a, b } = linkedPair();
  const writes: number[] = [];
  const peer = new FramedConnection(a, xxh, 'peer with --timeout 2', SHORT_MS);
  peer.start({ message: () => void writes.push(Date.now()), closed: () => undefined });
  const quiet = new FramedConnection(b, xxh, 'quiet connection with the default timeout', LONG_MS);
  quiet.start({ message: () => undefined, closed: () => undefined });
  quiet.startKeepalive();
  await pass(KEEPALIVE_INTERVAL_MS);
  // Just past a tick: the next tick sees a write since the one before and sends nothing.
  jest.advanceTimersByTime(10);
  quiet.send({ type: PacketType.FILE_OK, fileId: 1 });
  for (let step = 0; step < 100; step++) {
    jest.advanceTimersByTime(50);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const gaps = writes.slice(1).map((at, i) => at - writes[i]!);
  expect(writes.length).toBeGreaterThan(4);
  expect(Math.max(...gaps)).toBeLessThanOrEqual(KEEPALIVE_INTERVAL_MS);
});
