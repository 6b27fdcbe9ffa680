/**
 * The in-process link (src/transfer/memoryLink.ts): messages arrive in order on a later turn,
 * never inside the sender's call; a paused end holds them and its writer waits in drain(); a
 * close reaches the other end after what was sent before it; chunk buffers come back for reuse;
 * the receiver's hash of bytes handed over is the sender's.
 */
import { FcpError } from '../../../src/errors';
import { PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { makeOffer } from '../../../src/session/params';
import { ChunkBuffers, memoryLinks, MemoryConnection } from '../../../src/transfer/memoryLink';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Seen {
  messages: Message[];
  closed: (FcpError | undefined)[];
}

function listen(conn: MemoryConnection): Seen {
  const seen: Seen = { messages: [], closed: [] };
  conn.start({ message: (m) => seen.messages.push(m), closed: (e) => seen.closed.push(e) });
  return seen;
}

function pair(): [MemoryConnection, MemoryConnection] {
  return MemoryConnection.pair(['a', 'b'], new ChunkBuffers(64 * 1024), new WeakMap());
}

const done = (n: number): Message => ({ type: PacketType.FILE_OK, fileId: n });

test('messages arrive as the same objects, in order, on a later turn', async () => {
  const [a, b] = pair();
  const seen = listen(b);
  const sent = [done(1), done(2), done(3)];
  for (const m of sent) a.send(m);
  expect(seen.messages).toEqual([]);
  await turn();
  expect(seen.messages).toHaveLength(3);
  seen.messages.forEach((m, i) => expect(m).toBe(sent[i]));
});

test('a paused end holds what arrives, and its writer waits in drain() until it reads on', async () => {
  const [a, b] = pair();
  const seen = listen(b);
  b.pause();
  for (let i = 0; i < 6; i++) a.send(done(i));
  let drained = false;
  void a.drain().then(() => (drained = true));
  await turn();
  await turn();
  expect({ delivered: seen.messages.length, drained }).toEqual({ delivered: 0, drained: false });
  b.resume();
  await turn();
  await turn();
  expect({ delivered: seen.messages.length, drained }).toEqual({ delivered: 6, drained: true });
});

test('a close reaches the other end after the messages sent before it, as a lost connection', async () => {
  const [a, b] = pair();
  const seenA = listen(a);
  const seenB = listen(b);
  a.send(done(7));
  a.close();
  expect(seenA.closed).toEqual([undefined]);
  await turn();
  expect(seenB.messages).toEqual([done(7)]);
  expect(seenB.closed.map((e) => e?.code)).toEqual(['FCP_ERR_CONNECTION_LOST']);
  expect(a.send(done(8))).toBe(false);
});

test('fail() tells the other end why (ERROR with the code), then closes', async () => {
  const [a, b] = pair();
  listen(a);
  const seen = listen(b);
  a.fail(new FcpError('FCP_ERR_NO_SPACE', 'disk full'), true);
  await turn();
  expect(seen.messages).toMatchObject([{ type: PacketType.ERROR, message: 'disk full' }]);
  expect(seen.closed).toHaveLength(1);
});

test('chunk buffers are lent once and come back for reuse; one never given back is not reused', () => {
  const buffers = new ChunkBuffers(1024);
  const first = buffers.take(100);
  const second = buffers.take(1024);
  expect(first.buffer).not.toBe(second.buffer);
  buffers.give([first]);
  buffers.give([first]);
  const third = buffers.take(10);
  expect(third.buffer).toBe(first.buffer);
  expect(buffers.take(10).buffer).not.toBe(second.buffer);
});

test("the receiver's hash of a chunk handed over is the sender's; other bytes are hashed", async () => {
  const xxh = await loadXxhash();
  const links = memoryLinks(makeOffer({ encrypt: false, connections: 1 }), xxh, 1000, () => undefined);
  const conn = links.sender.data[0]!.conn as MemoryConnection;
  const data = conn.chunkBuffer(4096).fill(7);
  const real = xxh.h64Raw(data, 0n);
  conn.sendChunk(0, 0, data, real + 1n);
  expect(links.receiver.xxh.h64Raw(data, 0n)).toBe(real + 1n);
  const copy = Buffer.from(data);
  expect(links.receiver.xxh.h64Raw(copy, 0n)).toBe(real);
  expect(links.sender.xxh.h64Raw(data, 0n)).toBe(real);
  expect(links.receiver.params.cipher).toBe(0);
});

test("the receiver's hash of a small file's bytes the sender hashed is the sender's, without hashing them again", async () => {
  const real = await loadXxhash();
  let hashed = 0;
  const xxh = { ...real, h64Raw: (input: Uint8Array, seed?: bigint) => (hashed++, real.h64Raw(input, seed)) };
  const links = memoryLinks(makeOffer({ encrypt: false, connections: 1 }), xxh, 1000, () => undefined);
  const data = Buffer.alloc(100, 3);
  const hash = links.sender.xxh.h64Raw(data, 0n);
  expect(hash).toBe(real.h64Raw(data, 0n));
  hashed = 0;
  expect(links.receiver.xxh.h64Raw(data, 0n)).toBe(hash);
  expect(hashed).toBe(0);
  // Another view of the same bytes, and a seeded hash, are worked out.
  expect(links.receiver.xxh.h64Raw(data.subarray(0), 0n)).toBe(hash);
  expect(links.receiver.xxh.h64Raw(data, 5n)).toBe(real.h64Raw(data, 5n));
  expect(hashed).toBe(2);
});
