/**
 * Sealed frames opened in threads (src/wire/openingThreads.ts): a connection hands its opening
 * over at a frame, and every later frame still reaches the handlers in order, as it was sent, or
 * the connection fails as it would have on the main thread.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import type { FcpError } from '../../../src/errors';
import { ChksumCoverage, Cipher, DATA_FRAME_BYTES, PacketType, SealingCipher } from '../../../src/protocol/constants';
import { FrameDecoder } from '../../../src/protocol/frameDecoder';
import { FrameOpener } from '../../../src/protocol/frameCipher';
import { FrameEncoder } from '../../../src/protocol/frameEncoder';
import type { Message } from '../../../src/protocol/messages';
import { parseDataPieces } from '../../../src/protocol/parser';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { FramedConnection } from '../../../src/wire/framedConnection';
import { openingThreadCount } from '../../../src/wire/openingThreads';

// The process's threads are counted once, at the first connection that asks for one.
process.env.FCP_CRYPTO_THREADS = '2';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

function idleStream(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
}

/** DATA of every size class (one byte, a few KiB, a full frame) between FILE_OKs, `count` messages. */
function messages(count: number): Message[] {
  const sizes = [1, 4096, DATA_FRAME_BYTES, 777];
  return Array.from({ length: count }, (_, i): Message =>
    i % 3 === 2 ? { type: PacketType.FILE_OK, fileId: i } : { type: PacketType.DATA, fileId: i, seq: i * 7, data: randomBytes(sizes[i % sizes.length]!) },
  );
}

/** A message to compare: DATA's bytes (its pieces joined) as their SHA-256, which jest compares quickly. */
function whole(message: Message): object {
  if (message.type !== PacketType.DATA) return message;
  const { more, data, ...rest } = message;
  return { ...rest, sha256: createHash('sha256').update(Buffer.concat([data, ...(more ?? [])])).digest('hex') };
}

/** `bytes` in slices of 1 to 70,000 bytes, as a socket may read them. */
function slices(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = [70_000, 1, 5, 65_536, 1_000][i % 5]!;
    out.push(bytes.subarray(at, at + size));
    at += size;
  }
  return out;
}

interface Received {
  messages: object[];
  closed: Promise<FcpError | undefined>;
  threaded: boolean[];
}

/**
 * A connection that receives `frames` sealed with `key` and hands its opening to a thread at
 * the first frame, as a data connection's handshake does; the frames arrive in `slices`.
 */
function receive(cipher: SealingCipher, key: Buffer, frames: Buffer, end: boolean): Received {
  const stream = idleStream();
  const conn = new FramedConnection(stream, xxh, 'data connection 1 to test', 60_000);
  conn.seal({ type: 'seal', direction: 'in', cipher, key, coverage: ChksumCoverage.HEADER });
  const received: Received = { messages: [], closed: Promise.resolve(undefined), threaded: [] };
  received.closed = new Promise((resolve) =>
    conn.start({
      message: (message) => {
        if (received.messages.length === 0) received.threaded.push(conn.openInThread());
        received.messages.push(whole(message));
      },
      closed: resolve,
    }),
  );
  for (const slice of slices(frames)) stream.push(slice);
  if (end) stream.push(null);
  return received;
}

function sealedFrames(cipher: SealingCipher, key: Buffer, sent: readonly Message[]): Buffer {
  const encoder = new FrameEncoder(xxh);
  encoder.setSealing({ cipher, key }, ChksumCoverage.HEADER);
  return Buffer.concat(sent.map((message) => encoder.encode(message)));
}

test.each([
  ['AES-256-GCM', Cipher.AES_256_GCM],
  ['ChaCha20-Poly1305', Cipher.CHACHA20_POLY1305],
] as const)('%s: every frame after the hand-off reaches the handlers as sent, in order, before the end', async (_name, cipher) => {
  const key = randomBytes(32);
  const sent = messages(600);
  const received = receive(cipher, key, sealedFrames(cipher, key, sent), true);
  const error = await received.closed;
  expect(received.threaded).toEqual([true]);
  expect(received.messages).toEqual(sent.map(whole));
  // The peer ended the stream: what it sent first was all handed over, then the loss reported.
  expect(error?.code).toBe('FCP_ERR_CONNECTION_LOST');
});

test('a frame altered on the way fails the connection with FCP_ERR_DECRYPT; the frames before it arrive', async () => {
  const key = randomBytes(32);
  const sent = messages(40);
  const encoder = new FrameEncoder(xxh);
  encoder.setSealing({ cipher: Cipher.AES_256_GCM, key }, ChksumCoverage.HEADER);
  const frames = sent.map((message) => encoder.encode(message));
  // A bit of the 31st frame's ciphertext flipped: its header and checksum still pass.
  frames[30]![20] ^= 0x01;
  const received = receive(Cipher.AES_256_GCM, key, Buffer.concat(frames), false);
  const error = await received.closed;
  expect(error?.code).toBe('FCP_ERR_DECRYPT');
  expect(error?.message).toMatch(/data connection 1 to test: DATA frame failed authentication \(AES-256-GCM tag\)/);
  expect(received.messages).toEqual(sent.slice(0, 30).map(whole));
});

test('frames sealed under another key fail at the first one opened in the thread', async () => {
  const sent = messages(5);
  const key = randomBytes(32);
  const encoder = new FrameEncoder(xxh);
  encoder.setSealing({ cipher: Cipher.AES_256_GCM, key }, ChksumCoverage.HEADER);
  const first = encoder.encode(sent[0]!);
  encoder.setSealing({ cipher: Cipher.AES_256_GCM, key: randomBytes(32) }, ChksumCoverage.HEADER);
  const rest = sent.slice(1).map((message) => encoder.encode(message));
  const received = receive(Cipher.AES_256_GCM, key, Buffer.concat([first, ...rest]), false);
  expect((await received.closed)?.code).toBe('FCP_ERR_DECRYPT');
  expect(received.messages).toEqual([whole(sent[0]!)]);
});

test("the decoder's hand-off: later frames come sealed, and open with the count it handed over", () => {
  const key = randomBytes(32);
  const sent = messages(9);
  const decoder = new FrameDecoder(xxh);
  expect(decoder.handOffOpening()).toBeUndefined();
  decoder.setSealing({ cipher: Cipher.AES_256_GCM, key }, ChksumCoverage.HEADER);
  decoder.push(sealedFrames(Cipher.AES_256_GCM, key, sent));
  for (let i = 0; i < 4; i++) decoder.nextPieces();
  const handOff = decoder.handOffOpening()!;
  expect(handOff.count).toEqual([4, 0]);
  expect(() => decoder.nextPieces()).toThrow(/opened elsewhere/);
  // Here the main thread opens what a thread would: a FrameOpener whose count goes on from the hand-off.
  const opener = new FrameOpener(handOff.sealing);
  for (let i = 0; i < 4; i++) opener.counter.next();
  const opened: object[] = [];
  for (let frame = decoder.nextSealed(); frame; frame = decoder.nextSealed()) {
    const header = Buffer.from([frame.type, 0, 0, 0, 0, 0, 0]);
    header.writeUInt16BE(frame.sealed.reduce((total, piece) => total + piece.length, 0), 5);
    const plain = opener.openPieces(header, frame.sealed);
    opened.push(whole(frame.type === PacketType.DATA ? parseDataPieces(plain) : { type: PacketType.FILE_OK, fileId: Buffer.concat(plain).readUInt32BE(0) }));
  }
  expect(opened).toEqual(sent.slice(4).map(whole));
});

test('the thread count: FCP_CRYPTO_THREADS when set, else two fewer than the CPUs, none below four, at most four', () => {
  expect([1, 2, 3, 4, 6, 16].map((cpus) => openingThreadCount({}, cpus))).toEqual([0, 0, 0, 2, 4, 4]);
  expect(openingThreadCount({ FCP_CRYPTO_THREADS: '0' }, 16)).toBe(0);
  expect(openingThreadCount({ FCP_CRYPTO_THREADS: '3' }, 2)).toBe(3);
  for (const bad of ['-1', 'two', '1.5', '65']) {
    expect(() => openingThreadCount({ FCP_CRYPTO_THREADS: bad }, 8)).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
  }
});
