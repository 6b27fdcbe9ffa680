/**
 * Frames sealed and opened in threads (src/wire/cryptoThreads.ts): a connection hands its opening
 * (or sealing) over at a frame, and every later frame still reaches the handlers (or the peer)
 * in order, as it was sent, or the connection fails as it would have on the main thread.
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
import { cryptoThreadCount } from '../../../src/wire/cryptoThreads';

// The process's threads are counted once, at the first connection that asks for one.
process.env.FCP_CRYPTO_THREADS = '2';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

function idleStream(): Duplex {
  return new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
}

/** A stream that keeps what is written to it. */
function recordingStream(): { stream: Duplex; written: Buffer[] } {
  const written: Buffer[] = [];
  const stream = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      written.push(Buffer.from(chunk));
      done();
    },
  });
  return { stream, written };
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
  expect([1, 2, 3, 4, 6, 16].map((cpus) => cryptoThreadCount({}, cpus))).toEqual([0, 0, 0, 2, 4, 4]);
  expect(cryptoThreadCount({ FCP_CRYPTO_THREADS: '0' }, 16)).toBe(0);
  expect(cryptoThreadCount({ FCP_CRYPTO_THREADS: '3' }, 2)).toBe(3);
  for (const bad of ['-1', 'two', '1.5', '65']) {
    expect(() => cryptoThreadCount({ FCP_CRYPTO_THREADS: bad }, 8)).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
  }
});

describe('sealing', () => {
  /** Decodes what a connection wrote, opened with `key` from the first frame. */
  function decoded(written: Buffer[], key: Buffer): object[] {
    const decoder = new FrameDecoder(xxh);
    decoder.setSealing({ cipher: Cipher.AES_256_GCM, key }, ChksumCoverage.HEADER);
    decoder.push(Buffer.concat(written));
    const out: object[] = [];
    for (let raw = decoder.nextPieces(); raw; raw = decoder.nextPieces()) {
      out.push(whole('pieces' in raw ? parseDataPieces(raw.pieces) : raw.type === PacketType.DATA ? parseDataPieces([raw.payload]) : { type: raw.type, fileId: raw.payload.readUInt32BE(0) } as Message));
    }
    expect(decoder.pending).toBe(0);
    return out;
  }

  /** A connection that seals from its first frame, on the main thread until it hands its sealing over. */
  function sender(key: Buffer): { conn: FramedConnection; written: Buffer[] } {
    const { stream, written } = recordingStream();
    const conn = new FramedConnection(stream, xxh, 'data connection 1 to test', 60_000);
    conn.seal({ type: 'seal', direction: 'out', cipher: Cipher.AES_256_GCM, key, coverage: ChksumCoverage.HEADER });
    conn.start({ message: () => undefined, closed: () => undefined });
    return { conn, written };
  }

  test('frames written after the hand-off reach the peer sealed in order, messages and runs of DATA alike, each write called back once out', async () => {
    const key = randomBytes(32);
    const { conn, written } = sender(key);
    const sent = messages(200);
    conn.send(sent[0]!);
    expect(conn.sealInThread()).toBe(true);
    const flushed: number[] = [];
    for (let i = 1; i < sent.length; i++) {
      // Every fifth message in a buffer of its own encoded by the connection's encoder, as the pumps write DATA.
      if (i % 5 === 0) conn.write(conn.encoder.encode(sent[i]!), () => flushed.push(i));
      else conn.send(sent[i]!);
    }
    await conn.drain();
    await new Promise<void>((resolve) => conn.write(conn.encoder.encode({ type: PacketType.FILE_OK, fileId: 9_999 }), () => resolve()));
    expect(decoded(written, key)).toEqual([...sent, { type: PacketType.FILE_OK, fileId: 9_999 }].map(whole));
    expect(flushed).toEqual(sent.map((_, i) => i).filter((i) => i > 0 && i % 5 === 0));
  });

  test('drain() waits while 8 MiB wait for the thread or the socket; close() sends everything written first', async () => {
    const key = randomBytes(32);
    const { conn, written } = sender(key);
    expect(conn.sealInThread()).toBe(true);
    const frame = { type: PacketType.DATA, fileId: 1, seq: 0, data: randomBytes(DATA_FRAME_BYTES) } as const;
    const run = Buffer.concat(Array.from({ length: 64 }, () => conn.encoder.encode(frame)));
    let ready = true;
    for (let i = 0; i < 4 && ready; i++) ready = conn.write(Buffer.from(run));
    expect(ready).toBe(false);
    await conn.drain();
    conn.send({ type: PacketType.FILE_OK, fileId: 7 });
    conn.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const got = decoded(written, key);
    expect(got).toHaveLength(64 * 3 + 1);
    expect(got[got.length - 1]).toEqual({ type: PacketType.FILE_OK, fileId: 7 });
  });

  test('a connection whose checksum covers whole frames keeps its sealing (the thread would change what it covers)', () => {
    const encoder = new FrameEncoder(xxh);
    encoder.setSealing({ cipher: Cipher.AES_256_GCM, key: randomBytes(32) }, ChksumCoverage.FULL);
    expect(encoder.handOffSealing()).toBeUndefined();
    encoder.setSealing(undefined, ChksumCoverage.HEADER);
    expect(encoder.handOffSealing()).toBeUndefined();
  });
});
