/** FramedConnection over an in-memory stream: failures that happen before anyone listens. */
import { AddressInfo, connect, createServer, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { FcpError } from '../../../src/errors';
import { BATCHABLE_TYPES, ChksumCoverage, Cipher, PacketType } from '../../../src/protocol/constants';
import { FrameDecoder } from '../../../src/protocol/frameDecoder';
import { FrameEncoder } from '../../../src/protocol/frameEncoder';
import type { Message } from '../../../src/protocol/messages';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { ANSWERS_WAITING_MAX, INLINE_WINDOW_FILES } from '../../../src/session/transfer';
import { FramedConnection } from '../../../src/wire/framedConnection';

function idleStream(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
}

test('a connection reset before start() does not throw; start() then reports it as lost', async () => {
  const stream = idleStream();
  const conn = new FramedConnection(stream, await loadXxhash(), 'data connection 2 to test', 60_000);
  // Without a listener this 'error' would be thrown by the stream and end the process.
  stream.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
  await new Promise((resolve) => setImmediate(resolve));
  const closed = await new Promise<FcpError | undefined>((resolve) => conn.start({ message: () => undefined, closed: resolve }));
  expect(closed?.code).toBe('FCP_ERR_CONNECTION_LOST');
  expect(closed?.message).toMatch(/data connection 2 to test closed unexpectedly: read ECONNRESET/);
});

test('a connection the owner closed before start() reports a clean close', async () => {
  const conn = new FramedConnection(idleStream(), await loadXxhash(), 'data connection 1 to test', 60_000);
  conn.close();
  const closed = await new Promise<FcpError | undefined>((resolve) => conn.start({ message: () => undefined, closed: resolve }));
  expect(closed).toBeUndefined();
});

test.each([
  ['between two frames', 0],
  ['inside a frame header', 3],
  ['inside a payload', 9],
])('a stream the peer ends %s is a lost connection (FCP_ERR_CONNECTION_LOST), wherever the cut fell', async (_where, partial) => {
  const xxh = await loadXxhash();
  const stream = idleStream();
  const conn = new FramedConnection(stream, xxh, 'data connection 1 to test', 60_000);
  const received: Message[] = [];
  const closed = new Promise<FcpError | undefined>((resolve) => conn.start({ message: (m) => received.push(m), closed: resolve }));
  // A whole KEEPALIVE frame, then the first bytes of a FILE_OK frame, then the end of the stream.
  const encoder = new FrameEncoder(xxh);
  stream.push(encoder.encode({ type: PacketType.KEEPALIVE }));
  if (partial > 0) stream.push(encoder.encode({ type: PacketType.FILE_OK, fileId: 7 }).subarray(0, partial));
  stream.push(null);
  const error = await closed;
  expect({ code: error?.code, received: received.map((m) => m.type) }).toEqual({ code: 'FCP_ERR_CONNECTION_LOST', received: [PacketType.KEEPALIVE] });
  expect(error?.message).toMatch(partial > 0 ? /closed unexpectedly \(stream ended inside a frame/ : /closed unexpectedly$/);
});

describe('BATCH', () => {
  /** Two connected in-memory streams; `sent` collects what the first one wrote. */
  function pipePair(): { a: Duplex; b: Duplex; sent: Buffer[] } {
    const sent: Buffer[] = [];
    const a: Duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        sent.push(chunk);
        b.push(chunk);
        done();
      },
    });
    const b: Duplex = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
    return { a, b, sent };
  }

  async function framesIn(bytes: Buffer[]): Promise<number[]> {
    const decoder = new FrameDecoder(await loadXxhash());
    decoder.push(Buffer.concat(bytes));
    const types: number[] = [];
    for (let frame = decoder.next(); frame; frame = decoder.next()) types.push(frame.type);
    return types;
  }

  const fileOk = (fileId: number): Message => ({ type: PacketType.FILE_OK, fileId });
  const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  /** A batching sender and a receiver that allows batches, joined in memory. */
  async function batchingPair(): Promise<{ sender: FramedConnection; sent: Buffer[]; received: Message[] }> {
    const xxh = await loadXxhash();
    const { a, b, sent } = pipePair();
    const sender = new FramedConnection(a, xxh, 'control connection to test', 60_000);
    const receiver = new FramedConnection(b, xxh, 'client test', 60_000);
    const received: Message[] = [];
    receiver.allowBatches(BATCHABLE_TYPES);
    receiver.start({ message: (m) => received.push(m), closed: () => undefined });
    sender.batchSends();
    return { sender, sent, received };
  }

  test('messages sent in one tick go out as one BATCH frame and arrive one by one, in order', async () => {
    const { sender, sent, received } = await batchingPair();
    for (let id = 0; id < 5; id++) sender.send(fileOk(id));
    await nextTurn();
    expect(await framesIn(sent)).toEqual([PacketType.BATCH]);
    expect(received).toEqual([0, 1, 2, 3, 4].map(fileOk));
    // One message alone needs no batch.
    sender.send(fileOk(9));
    await nextTurn();
    expect(await framesIn(sent)).toEqual([PacketType.BATCH, PacketType.FILE_OK]);
  });

  test('what one frame cannot hold goes in the next; a message that cannot be batched keeps its place', async () => {
    const { sender, sent, received } = await batchingPair();
    const error = (i: number): Message => ({ type: PacketType.ERROR, code: 1, message: `${i} `.padEnd(4000, 'x') });
    const expected: Message[] = [];
    for (let i = 0; i < 40; i++) expected.push(error(i));
    expected.push({ type: PacketType.PUSH, path: Buffer.from('/not/batchable') });
    expected.push(fileOk(1), fileOk(2));
    for (const message of expected) sender.send(message);
    await nextTurn();
    // 40 x 4 KiB of entries fill three frames; PUSH flushes them and goes alone.
    expect(await framesIn(sent)).toEqual([PacketType.BATCH, PacketType.BATCH, PacketType.BATCH, PacketType.PUSH, PacketType.BATCH]);
    expect(received.map(toPlainMessage)).toEqual(expected.map(toPlainMessage));
  });

  test('afterEncoded runs once the queued messages are in a frame: a Buffer they held may then be filled again', async () => {
    const { sender, received } = await batchingPair();
    const data = Buffer.from('first file');
    const inline = (fileId: number, bytes: Buffer): Message => ({ type: PacketType.FILE_INLINE, fileId, perm: 0o644, mtimeNs: 1n, hash: 2n, path: Buffer.from(`f${fileId}`), data: bytes });
    sender.send(inline(0, data));
    sender.send(inline(1, Buffer.from('second')));
    const order: string[] = [];
    sender.afterEncoded(() => {
      order.push('encoded');
      data.fill(0x78);
    });
    // Nothing queued: at once.
    await nextTurn();
    sender.afterEncoded(() => order.push('at once'));
    order.push('after the call');
    await nextTurn();
    expect(order).toEqual(['encoded', 'at once', 'after the call']);
    expect(received.map((m) => (m as { data: Buffer }).data.toString())).toEqual(['first file', 'second']);
  });

  test('a sealed batch goes to a TCP socket as header, ciphertext and tag (three corked writes), to another stream whole, and arrives the same', async () => {
    const xxh = await loadXxhash();
    const key = Buffer.alloc(32, 3);
    const seal = (direction: 'in' | 'out') => ({ type: 'seal' as const, direction, cipher: Cipher.AES_256_GCM, key, coverage: ChksumCoverage.HEADER });
    const messages = [0, 1, 2].map(fileOk);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
      const dialled = connect((server.address() as AddressInfo).port, '127.0.0.1');
      await new Promise((resolve) => dialled.once('connect', resolve));
      const far = await accepted;
      const writes = (stream: Duplex): Buffer[] => {
        const seen: Buffer[] = [];
        const write = stream.write.bind(stream) as (chunk: Buffer) => boolean;
        stream.write = ((chunk: Buffer) => (seen.push(chunk), write(chunk))) as typeof stream.write;
        return seen;
      };
      const { a, b } = pipePair();
      for (const [stream, farEnd, pieces] of [[dialled, far, 3], [a, b, 1]] as const) {
        const seen = writes(stream);
        const sender = new FramedConnection(stream, xxh, 'control connection to test', 60_000);
        const receiver = new FramedConnection(farEnd, xxh, 'client test', 60_000);
        const received: Message[] = [];
        const all = new Promise<void>((resolve) => receiver.start({ message: (m) => received.push(m) === messages.length && resolve(), closed: () => undefined }));
        receiver.allowBatches(BATCHABLE_TYPES);
        sender.seal(seal('out'));
        receiver.seal(seal('in'));
        sender.batchSends();
        for (const message of messages) sender.send(message);
        await all;
        expect({ writes: seen.length, received }).toEqual({ writes: pieces, received: messages });
        sender.close();
        receiver.close();
      }
    } finally {
      server.close();
    }
  });

  describe('answers that may wait for the end of the turn (FILE_OK, FILE_SAME, FILE_WANT)', () => {
    /** The end of this turn of the event loop and the tick after it (where corked writes leave). */
    const turnEnds = async (): Promise<void> => {
      await nextTurn();
      await new Promise((resolve) => process.nextTick(resolve));
    };

    test('the answers of one turn wait past its ticks and go together in one frame', async () => {
      const { sender, sent, received } = await batchingPair();
      sender.send(fileOk(0), true);
      await new Promise((resolve) => process.nextTick(resolve));
      sender.send({ type: PacketType.FILE_SAME, fileId: 1 }, true);
      sender.send({ type: PacketType.FILE_WANT, fileId: 2 }, true);
      await new Promise((resolve) => process.nextTick(resolve));
      expect(sent).toEqual([]);
      await turnEnds();
      expect(await framesIn(sent)).toEqual([PacketType.BATCH]);
      expect(received).toEqual([fileOk(0), { type: PacketType.FILE_SAME, fileId: 1 }, { type: PacketType.FILE_WANT, fileId: 2 }]);
      // The next turn's answer goes in its own frame.
      sender.send(fileOk(3), true);
      await turnEnds();
      expect(await framesIn(sent)).toEqual([PacketType.BATCH, PacketType.FILE_OK]);
    });

    test('a send that may not wait takes those waiting along, in order, this tick', async () => {
      const { sender, sent, received } = await batchingPair();
      sender.send(fileOk(0), true);
      sender.send(fileOk(1), true);
      sender.send({ type: PacketType.FILE_READY, fileId: 2 });
      sender.send(fileOk(3), true);
      await new Promise((resolve) => process.nextTick(resolve));
      await new Promise((resolve) => process.nextTick(resolve));
      expect(await framesIn(sent)).toEqual([PacketType.BATCH]);
      expect(received).toEqual([fileOk(0), fileOk(1), { type: PacketType.FILE_READY, fileId: 2 }, fileOk(3)]);
      // A message that is never batched sends them first too.
      sender.send(fileOk(4), true);
      sender.send({ type: PacketType.PUSH, path: Buffer.from('/x') });
      await turnEnds();
      expect(received.slice(4).map((m) => m.type)).toEqual([PacketType.FILE_OK, PacketType.PUSH]);
    });

    test(`no more than ${ANSWERS_WAITING_MAX} wait: a turn of tiny files does not hold the sender's inline window (${INLINE_WINDOW_FILES})`, async () => {
      expect(ANSWERS_WAITING_MAX * 4).toBeLessThanOrEqual(INLINE_WINDOW_FILES);
      const { sender, received } = await batchingPair();
      for (let id = 0; id < ANSWERS_WAITING_MAX - 1; id++) sender.send(fileOk(id), true);
      await new Promise((resolve) => process.nextTick(resolve));
      await new Promise((resolve) => process.nextTick(resolve));
      expect(received.length).toBe(0);
      sender.send(fileOk(ANSWERS_WAITING_MAX - 1), true);
      await new Promise((resolve) => process.nextTick(resolve));
      await new Promise((resolve) => process.nextTick(resolve));
      expect(received.length).toBe(ANSWERS_WAITING_MAX);
    });

    test('closing sends what waits; nothing is left to fire after', async () => {
      const { sender, received } = await batchingPair();
      sender.send(fileOk(0), true);
      sender.close();
      await turnEnds();
      expect(received).toEqual([fileOk(0)]);
    });

    test('afterEncoded does not wait for the turn: what waits is encoded first, this tick', async () => {
      const { sender, sent } = await batchingPair();
      sender.send(fileOk(0), true);
      const encoded = new Promise<number>((resolve) => sender.afterEncoded(() => resolve(sender.bytesMoved)));
      expect(await encoded).toBeGreaterThan(0);
      await turnEnds();
      expect(await framesIn(sent)).toEqual([PacketType.FILE_OK]);
    });

    test('without batching an answer goes at once', async () => {
      const xxh = await loadXxhash();
      const { a, sent } = pipePair();
      const sender = new FramedConnection(a, xxh, 'control connection to test', 60_000);
      sender.send(fileOk(0), true);
      await new Promise((resolve) => process.nextTick(resolve));
      expect(await framesIn(sent)).toEqual([PacketType.FILE_OK]);
    });
  });

  test('a BATCH where none was negotiated fails the connection with FCP_ERR_UNEXPECTED_MESSAGE', async () => {
    const xxh = await loadXxhash();
    const { a, b } = pipePair();
    const sender = new FramedConnection(a, xxh, 'control connection to test', 60_000);
    const receiver = new FramedConnection(b, xxh, 'client test', 60_000);
    const closed = new Promise<FcpError | undefined>((resolve) => receiver.start({ message: () => undefined, closed: resolve }));
    sender.batchSends();
    sender.send(fileOk(1));
    sender.send(fileOk(2));
    const error = await closed;
    expect(error?.code).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
    expect(error?.message).toMatch(/BATCH on a connection that did not negotiate it/);
  });
});

function toPlainMessage(message: Message): unknown {
  return JSON.parse(JSON.stringify(message, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)));
}
