/**
 * Properties of the frame codec (src/protocol): round trips, stream slicing, corruption, hostile
 * input, typed errors, zero-copy, DATA runs and sticky errors, on plain and sealed connections.
 * `npm run fuzz` runs each property on FCP_FUZZ_RUNS inputs (see fuzzRuns.ts).
 */
import { createCipheriv } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { ERROR_CODES, FcpError, FcpErrorCode } from '../../../src/errors';
import {
  ChksumCoverage,
  Cipher,
  ChksumCoverageValue,
  DATA_FRAME_BYTES,
  INLINE_MAX,
  DATA_UNIT,
  FrameDecoder,
  GCM_TAG_SIZE,
  HEADER_SIZE,
  HELLO_MAGIC,
  loadXxhash,
  MAX_CHUNK_SIZE,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FILE_SIZE,
  MAX_PATH_BYTES,
  MAX_PAYLOAD,
  Message,
  PacketType,
  PacketTypeName,
  packetTypeName,
  parsePayload,
  XXHashAPI,
} from '../../../src/protocol';
import { parseDataPieces } from '../../../src/protocol/parser';
import { Field, LAYOUTS } from '../../../src/protocol/layouts';
import { arbMessage, fixedBytes, messageArbitraries, u32 } from './arbitraries';
import { allowLongFuzzRuns, numRuns } from './fuzzRuns';
import { Channel, decodeSlices, decoderFor, encodeMessages, encoderFor, toPlain, VECTORS } from './vectors';

const { FULL, HEADER } = ChksumCoverage;
const UNITS_PER_FRAME = DATA_FRAME_BYTES / DATA_UNIT;
const KEY = Buffer.alloc(32, 0x5a);

/** The three ways a connection frames (PROTOCOL.md sections 2 and 6). */
const CHANNELS: [string, Channel][] = [
  ['plain', { coverage: FULL }],
  ['sealed, header checksum', { coverage: HEADER, key: KEY }],
  ['sealed, full checksum', { coverage: FULL, key: KEY }],
  ['sealed with ChaCha20-Poly1305', { coverage: HEADER, key: KEY, cipher: Cipher.CHACHA20_POLY1305 }],
];
const PLAIN = CHANNELS[0]![1];
const arbChannel: fc.Arbitrary<Channel> = fc.oneof(
  fc.constant(PLAIN),
  fc.record({ coverage: fc.constantFrom(FULL, HEADER), key: fixedBytes(32), cipher: fc.constantFrom(Cipher.AES_256_GCM, Cipher.CHACHA20_POLY1305) }),
);

allowLongFuzzRuns();

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

// --- an independent encoder, written from the spec ------------------------------------------

/** Payload bytes of a message, WITHOUT the codec's checks (so invalid values can go on the wire). */
function rawPayload(message: Message): Buffer {
  const int = (width: number, write: (b: Buffer) => unknown) => {
    const b = Buffer.alloc(width);
    write(b);
    return b;
  };
  const raw = (field: Field, value: unknown): Buffer => {
    switch (field.kind) {
      case 'u8':
        return Buffer.of(value as number);
      case 'u16':
        return int(2, (b) => b.writeUInt16BE(value as number));
      case 'u32':
        return int(4, (b) => b.writeUInt32BE(value as number));
      case 'u64num':
        return int(8, (b) => b.writeBigUInt64BE(BigInt(value as number)));
      case 'u64':
        return int(8, (b) => b.writeBigUInt64BE(value as bigint));
      case 'i64':
        return int(8, (b) => b.writeBigInt64BE(value as bigint));
      case 'magic':
        return HELLO_MAGIC;
      case 'extension':
        return Buffer.alloc(0);
      case 'optU32':
        return value === undefined ? Buffer.alloc(0) : int(4, (b) => b.writeUInt32BE(value as number));
      case 'nameSuffix':
        return (value as Buffer | undefined) ?? Buffer.alloc(0);
      case 'accountName':
        return Buffer.concat([Buffer.of((value as Buffer).length), value as Buffer]);
      case 'text':
        return Buffer.from(value as string, 'utf8');
      case 'entryPathPrefixed':
        return Buffer.concat([int(2, (b) => b.writeUInt16BE((value as Buffer).length)), value as Buffer]);
      case 'userPathList':
        return Buffer.concat((value as Buffer[]).flatMap((p, i) => (i ? [Buffer.of(0), p] : [p])));
      default:
        return value as Buffer;
    }
  };
  const fields = message as unknown as Record<string, unknown>;
  return Buffer.concat(LAYOUTS[message.type]!.map((field) => raw(field, fields[field.name])));
}

/** Section 6: AES-256-GCM, nonce 00000000 ‖ n (u64), additional data flag ‖ length; ciphertext ‖ tag. */
function sealed(channel: Channel, n: number, type: number, plaintext: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(n), 4);
  const cipher =
    channel.cipher === Cipher.CHACHA20_POLY1305
      ? createCipheriv('chacha20-poly1305', channel.key!, nonce, { authTagLength: GCM_TAG_SIZE })
      : createCipheriv('aes-256-gcm', channel.key!, nonce, { authTagLength: GCM_TAG_SIZE });
  const aad = Buffer.alloc(3);
  aad[0] = type;
  aad.writeUInt16BE(plaintext.length + GCM_TAG_SIZE, 1);
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

/**
 * Section 2: flag, xxh32 (seed 0) with a zero chksum field over the frame (full: all of it but a
 * DATA frame's file bytes, which only its first 8 payload bytes precede) or its header, length.
 */
function frameOf(type: number, payload: Uint8Array, coverage: ChksumCoverageValue = FULL): Buffer {
  const frame = Buffer.alloc(HEADER_SIZE + payload.length);
  frame[0] = type;
  frame.writeUInt16BE(payload.length, 5);
  frame.set(payload, HEADER_SIZE);
  const covered = coverage === HEADER ? HEADER_SIZE : type === PacketType.DATA ? HEADER_SIZE + 8 : frame.length;
  frame.writeUInt32BE(xxh.h32Raw(frame.subarray(0, Math.min(covered, frame.length)), 0), 1);
  return frame;
}

/** What a fresh connection writes for these (type, plaintext payload) pairs, per the spec: frame n is sealed with nonce n. */
function specFrames(frames: [type: number, plaintext: Buffer][], channel: Channel): Buffer[] {
  return frames.map(([type, plaintext], n) => frameOf(type, channel.key ? sealed(channel, n, type, plaintext) : plaintext, channel.coverage));
}

/** A bare header declaring `length` bytes; its checksum is right for header coverage. */
function headerOf(type: number, length: number): Buffer {
  return frameOf(type, Buffer.alloc(length), HEADER).subarray(0, HEADER_SIZE);
}

// --- helpers --------------------------------------------------------------------------------

/**
 * expect(actual).toEqual(expected) without the cost of expect() when they are deep-equal: it
 * dominates a property's run time, and properties run millions of times when fuzzing.
 */
function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

/** The error fn throws, or undefined. */
function attempt(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** The error fn throws; fails the test when it throws none. */
function thrown(fn: () => unknown): unknown {
  const err = attempt(fn);
  if (err === undefined) throw new Error('expected an error, none was thrown');
  return err;
}

/** Runs fn, expects an FcpError with that code (not a RangeError or TypeError) and returns it. */
function expectFcpError(fn: () => unknown, code: FcpErrorCode): FcpError {
  const err = thrown(fn);
  if (!(err instanceof FcpError && err.code === code)) {
    expect(err).toBeInstanceOf(FcpError);
    expect((err as FcpError).code).toBe(code);
  }
  return err as FcpError;
}

/** An error that a peer's bytes may cause: an FcpError of the PROTOCOL category (never INTERNAL). */
function expectProtocolError(err: unknown): void {
  if (err instanceof FcpError && err.code.startsWith('FCP_ERR_') && ERROR_CODES[err.code]?.category === 'PROTOCOL') return;
  expect(err).toBeInstanceOf(FcpError);
  const { code } = err as FcpError;
  expect(code).toMatch(/^FCP_ERR_/);
  expect(ERROR_CODES[code].category).toBe('PROTOCOL');
}

/** How to cut a stream: at arbitrary positions, or into equal slices (size 1 = byte by byte). */
type Slicing = { cuts: number[] } | { size: number };
const arbSlicing: fc.Arbitrary<Slicing> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ cuts: fc.array(fc.nat(), { maxLength: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: 1, max: 16 }) }) },
);

function sliceStream(stream: Buffer, slicing: Slicing): Buffer[] {
  const ends =
    'size' in slicing
      ? Array.from({ length: Math.ceil(stream.length / slicing.size) }, (_, i) => (i + 1) * slicing.size)
      : [...slicing.cuts.map((c) => c % (stream.length + 1)), stream.length].sort((a, b) => a - b);
  let start = 0;
  return ends.map((end) => {
    const slice = stream.subarray(start, end); // empty when end <= start: pushing nothing is allowed
    start = Math.max(start, end);
    return slice;
  });
}

const encodeOne = (message: Message, channel: Channel) => encodeMessages(xxh, [message], channel)[0]!;

/** Whether a message fits one frame on the channel: sealing adds a tag, so a 65535-byte PULL does not. */
const fits = (message: Message, channel: Channel) =>
  rawPayload(message).length + (channel.key ? GCM_TAG_SIZE : 0) <= MAX_PAYLOAD;
const arbFramed = fc.tuple(arbMessage, arbChannel).filter(([message, channel]) => fits(message, channel));

// --- 1. round trip ---------------------------------------------------------------------------

describe('round trip', () => {
  it.each(Object.keys(messageArbitraries) as PacketTypeName[])('%s: encode writes the spec bytes, decode gives m back', (name) => {
    fc.assert(
      fc.property(messageArbitraries[name], (message) => {
        for (const [, channel] of CHANNELS) {
          if (!fits(message, channel)) {
            expectFcpError(() => encodeOne(message, channel), 'FCP_ERR_BAD_LENGTH');
            continue;
          }
          const frame = encodeOne(message, channel);
          const [expected] = specFrames([[message.type, rawPayload(message)]], channel);
          if (!frame.equals(expected!)) expect(frame.toString('hex')).toBe(expected!.toString('hex'));
          expectEqual(decodeSlices(xxh, [frame], channel).map(toPlain), [toPlain(message)]);
        }
      }),
      { numRuns: numRuns(100) },
    );
  });
});

// --- 2. slicing ------------------------------------------------------------------------------

describe('stream slicing', () => {
  it('any split of a stream of frames yields the same messages in order', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 6 }), arbChannel, arbSlicing, (messages, channel, slicing) => {
        fc.pre(messages.every((m) => fits(m, channel)));
        const stream = Buffer.concat(encodeMessages(xxh, messages, channel));
        const slices = sliceStream(stream, slicing);
        if (!Buffer.concat(slices).equals(stream)) throw new Error('sliceStream lost or reordered bytes');
        // decodeSlices ends the stream: end() must not throw after whole frames.
        expectEqual(decodeSlices(xxh, slices, channel).map(toPlain), messages.map(toPlain));
      }),
      { numRuns: numRuns(200) },
    );
  });
});

describe('DATA in pieces', () => {
  /** A slice in memory of its own, so that a view of it is told apart from a copy. */
  const ownMemory = (slice: Buffer): Buffer => {
    const own = Buffer.from(new ArrayBuffer(slice.length));
    slice.copy(own);
    return own;
  };

  it('nextPieces: any split yields the same messages; a DATA payload spanning slices comes as views of them', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 6 }), arbChannel, arbSlicing, (messages, channel, slicing) => {
        fc.pre(messages.every((m) => fits(m, channel)));
        const slices = sliceStream(Buffer.concat(encodeMessages(xxh, messages, channel)), slicing).map(ownMemory);
        const decoder = decoderFor(xxh, channel);
        const decoded: Message[] = [];
        const copied: number[] = [];
        for (const slice of slices) {
          decoder.push(slice);
          for (let raw = decoder.nextPieces(); raw; raw = decoder.nextPieces()) {
            if (!('pieces' in raw)) {
              decoded.push(parsePayload(raw.type, raw.payload));
              continue;
            }
            // Sealed pieces are plaintext, of their own; plain ones must be views of what was pushed.
            if (!channel.key) copied.push(...raw.pieces.filter((piece) => !slices.some((s) => s.buffer === piece.buffer)).map((p) => p.length));
            const { more, ...message } = parseDataPieces(raw.pieces);
            expect(raw.type).toBe(PacketType.DATA);
            decoded.push({ ...message, data: Buffer.concat([message.data, ...(more ?? [])]) });
          }
        }
        decoder.end();
        expectEqual(decoded.map(toPlain), messages.map(toPlain));
        expectEqual(copied, []);
      }),
      { numRuns: numRuns(200) },
    );
  });

  it('file_id and seq split across pieces are read right', () => {
    const data = Buffer.from(Array.from({ length: 40 }, (_, i) => i));
    const frame = encodeOne({ type: PacketType.DATA, fileId: 0x01020304, seq: 0x0a0b0c0d, data }, PLAIN);
    for (const cut of [HEADER_SIZE + 1, HEADER_SIZE + 4, HEADER_SIZE + 7, HEADER_SIZE + 8, HEADER_SIZE + 9]) {
      const decoder = decoderFor(xxh, PLAIN);
      decoder.push(frame.subarray(0, cut));
      expect(decoder.nextPieces()).toBeUndefined();
      decoder.push(frame.subarray(cut));
      const raw = decoder.nextPieces()!;
      const { more, ...message } = parseDataPieces((raw as { pieces: Buffer[] }).pieces);
      expect({ ...message, data: Buffer.concat([message.data, ...(more ?? [])]) }).toEqual({ type: PacketType.DATA, fileId: 0x01020304, seq: 0x0a0b0c0d, data });
    }
  });
});

// --- 3. corruption ---------------------------------------------------------------------------

const CORRUPTION_CODES: FcpErrorCode[] = [
  'FCP_ERR_BAD_CHECKSUM',
  'FCP_ERR_UNKNOWN_TYPE',
  'FCP_ERR_BAD_LENGTH',
  'FCP_ERR_TRUNCATED',
  'FCP_ERR_DECRYPT',
];

// The checks below run per flipped bit or per cut, thousands of times per input: they report
// what went wrong as a string and leave a single expect() to the caller, since one expect()
// costs more than decoding a frame.

/** What went wrong when `bytes`, decoded as a whole stream, is not refused before any frame; undefined when it is. */
function notRejected(bytes: Buffer, channel: Channel): string | undefined {
  const decoder = decoderFor(xxh, channel);
  decoder.push(bytes);
  try {
    const frame = decoder.next();
    if (frame) return `accepted as ${packetTypeName[frame.type]}`;
    decoder.end();
    return 'accepted: no error';
  } catch (err) {
    if (!(err instanceof FcpError)) return `threw ${String(err)}`;
    return CORRUPTION_CODES.includes(err.code) ? undefined : `threw ${err.code}`;
  }
}

/** What went wrong when a stream holding `prefix` of a frame does not end in FCP_ERR_TRUNCATED. */
function notTruncated(prefix: Buffer, channel: Channel): string | undefined {
  const decoder = decoderFor(xxh, channel);
  decoder.push(prefix);
  try {
    if (decoder.next() !== undefined) return 'a frame came out';
    if (decoder.pending !== prefix.length) return `pending ${decoder.pending}`;
    decoder.end();
    return 'end() did not throw';
  } catch (err) {
    return err instanceof FcpError && err.code === 'FCP_ERR_TRUNCATED' ? undefined : `threw ${String(err)}`;
  }
}

/** Runs check on each input and lists the failures, labelled, for one expect(...).toEqual([]). */
function failures<T>(inputs: T[], check: (input: T) => string | undefined): string[] {
  return inputs.flatMap((input) => {
    const why = check(input);
    return why === undefined ? [] : [`${String(input)}: ${why}`];
  });
}

/**
 * Every bit of a small frame; the header bits and a sample of the rest of a big one. A plain
 * DATA frame's file bytes are not the frame's to protect (the chunk hash is: section 2), so its
 * bits stop after file_id and seq.
 */
const EXHAUSTIVE_BITS = 128 * 8;
function bitsToFlip(frame: Buffer, channel: Channel, sample: number[]): number[] {
  const bits = (frame[0] === PacketType.DATA && !channel.key ? HEADER_SIZE + 8 : frame.length) * 8;
  if (bits <= EXHAUSTIVE_BITS) return Array.from({ length: bits }, (_, i) => i);
  return [...Array.from({ length: HEADER_SIZE * 8 }, (_, i) => i), ...sample.map((s) => s % bits)];
}

function flipBit(frame: Buffer, bit: number): Buffer {
  const copy = Buffer.from(frame);
  copy[bit >> 3] ^= 0x80 >> (bit & 7);
  return copy;
}

describe('corruption', () => {
  const samples = fc.array(fc.nat(), { minLength: 64, maxLength: 64 });

  // Plain frames: the checksum covers every bit but DATA's file bytes. Sealed ones: the checksum or the GCM tag does.
  it('every single-bit flip of a frame is rejected, never decoded', () => {
    fc.assert(
      fc.property(arbFramed, samples, ([message, channel], sample) => {
        const frame = encodeOne(message, channel);
        const bits = bitsToFlip(frame, channel, sample);
        expect(failures(bits, (bit) => notRejected(flipBit(frame, bit), channel))).toEqual([]);
      }),
      { numRuns: numRuns(100) },
    );
  });

  it("a plain DATA frame's file bytes are left to the chunk hash: a flipped one decodes as it arrived", () => {
    const data = Buffer.alloc(100, 7);
    const frame = encodeOne({ type: PacketType.DATA, fileId: 3, seq: 5, data }, PLAIN);
    const decoder = decoderFor(xxh, PLAIN);
    decoder.push(flipBit(frame, (HEADER_SIZE + 8 + 50) * 8));
    const decoded = parsePayload(PacketType.DATA, decoder.next()!.payload);
    expect(decoded).toMatchObject({ fileId: 3, seq: 5 });
    expect((decoded as { data: Buffer }).data.equals(data)).toBe(false);
  });

  it('a frame cut short anywhere makes end() throw FCP_ERR_TRUNCATED', () => {
    fc.assert(
      fc.property(arbFramed, samples, ([message, channel], sample) => {
        const frame = encodeOne(message, channel);
        const lengths =
          frame.length <= 256
            ? Array.from({ length: frame.length - 1 }, (_, i) => i + 1)
            : sample.map((s) => 1 + (s % (frame.length - 1)));
        expect(failures(lengths, (length) => notTruncated(frame.subarray(0, length), channel))).toEqual([]);
      }),
      { numRuns: numRuns(100) },
    );
  });
});

// --- 4. hostile input ------------------------------------------------------------------------

describe('hostile input', () => {
  /**
   * A hostile stream: noise, and frames with the right checksum (and, on sealed channels, the
   * right tag for their position) around valid payloads or garbage ones, cut anywhere.
   */
  const arbPiece = fc.oneof(
    fc.record({ noise: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
    arbMessage.filter((m) => fits(m, { coverage: FULL, key: KEY })).map((m) => ({ frame: [m.type, rawPayload(m)] as [number, Buffer] })),
    fc
      .tuple(fc.oneof(fc.constantFrom(...Object.values(PacketType)), fc.nat(0xff)), fc.uint8Array({ maxLength: 80 }))
      .map(([type, payload]) => ({ frame: [type, Buffer.from(payload)] as [number, Buffer] })),
  );
  const arbHostile = fc.record({
    channel: arbChannel,
    pieces: fc.array(arbPiece, { minLength: 1, maxLength: 8 }),
    slicing: arbSlicing,
  });

  function hostileStream(pieces: ({ noise: Uint8Array } | { frame: [number, Buffer] })[], channel: Channel): Buffer {
    const frames = specFrames(
      pieces.flatMap((p) => ('frame' in p ? [p.frame] : [])),
      channel,
    );
    let n = 0;
    return Buffer.concat(pieces.map((p) => ('noise' in p ? p.noise : frames[n++]!)));
  }

  let allocations: jest.SpyInstance[] = [];
  beforeEach(() => {
    allocations = (['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const).map((name) => jest.spyOn(Buffer, name));
  });
  afterEach(() => allocations.forEach((spy) => spy.mockRestore()));

  it('only FcpErrors of the protocol category, no allocation beyond the bytes received', () => {
    fc.assert(
      fc.property(arbHostile, ({ channel, pieces, slicing }) => {
        const slices = sliceStream(hostileStream(pieces, channel), slicing);
        const decoder = decoderFor(xxh, channel);
        allocations.forEach((spy) => spy.mockClear());
        let pushed = 0;
        let framed = 0;
        let failure: unknown;
        const problems: string[] = [];
        for (const slice of slices) {
          failure = attempt(() => {
            decoder.push(slice);
            pushed += slice.length;
            for (let frame = decoder.next(); frame; frame = decoder.next()) {
              framed += HEADER_SIZE + frame.payload.length + (channel.key ? GCM_TAG_SIZE : 0);
              parsePayload(frame.type, frame.payload);
            }
          });
          if (failure) break;
          // Exact accounting: every byte pushed is either in a returned frame or pending.
          if (decoder.pending !== pushed - framed) problems.push(`pending ${decoder.pending}, expected ${pushed - framed}`);
          for (const [size] of allocations.flatMap((spy) => spy.mock.calls as [number][])) {
            if (size > Math.min(MAX_PAYLOAD, pushed)) problems.push(`allocated ${size} bytes after receiving ${pushed}`);
          }
        }
        expectEqual(problems, []);
        failure ??= attempt(() => decoder.end());
        if (failure) expectProtocolError(failure);
      }),
      { numRuns: numRuns(300) },
    );
  });
});

// --- 5. typed errors -------------------------------------------------------------------------

/** Plaintext payload bounds of every type, as PROTOCOL.md section 4 lists them. */
const SPEC_BOUNDS: Record<PacketTypeName, [number, number]> = {
  PUSH: [1, 4096],
  PULL: [1, 65535],
  SESSION: [16, 16],
  ATTACH: [18, 18],
  MODE: [4, 259],
  DIR_INFO: [11, 4106],
  FILE_INFO: [39, 4134],
  FILE_COUNT: [12, 12],
  FILE_READY: [4, 4],
  DATA: [9, 57352],
  DATA_Z: [13, 57356],
  DONE: [0, 0],
  ERROR: [2, 4098],
  HELLO: [40, 65535],
  AUTH: [48, 48],
  AUTH_OK: [32, 32],
  PARAMS: [13, 17],
  SYMLINK: [12, 8202],
  CHUNK_SUM: [20, 20],
  RESEND: [12, 12],
  FILE_DONE: [20, 20],
  FILE_OK: [4, 4],
  FILE_SAME: [4, 4],
  FILE_SAME_INODE: [12, 12],
  SOURCE_KEPT: [5, 8196],
  CHUNKS_HELD: [16, 65512],
  CHUNK_KEPT: [8, 8],
  PARTIAL_STALE: [5, 5],
  DATA_LOST: [6, 6],
  CHUNK_ACK: [6, 6],
  DELTA_SIG: [24, 65508],
  NEW_SIG: [24, 65508],
  DELTA_COPY: [24, 24],
  HOLE: [12, 12],
  FILE_ERROR: [6, 4102],
  KEEPALIVE: [0, 0],
  BATCH: [6, 65535],
  FILE_INLINE: [25, 20504],
  ENTRY_ERROR: [5, 8196],
  HARDLINK: [4, 8194],
  OWNER: [10, 520],
  SYNC: [8, 8],
  SIZE_LIMITS: [16, 16],
  ITEM: [13, 4108],
  FILTER_RULES: [4, 65519],
  LOGIN: [1, 256],
  RENAME: [4, 8194],
  APPEND: [29, 57372],
  FOLLOW: [1, 4097],
  FILES_FROM: [2, 65515],
  DEST_STATE: [1, 1],
  DIR_STATE: [2, 4097],
  FILE_WANT: [4, 4],
  FILE_WHOLE: [12, 16396],
  TWO_WAY: [51, 4147],
  TWO_WAY_SIDE: [51, 4147],
  TWO_WAY_MOVE: [5, 8195],
  TWO_WAY_NODE: [37, 8228],
  TWO_WAY_NODE_OP: [37, 8228],
  TWO_WAY_SCOPE: [1, 4097],
};
const TYPE_NAMES = Object.keys(SPEC_BOUNDS) as PacketTypeName[];

const bytes = (s: string) => Buffer.from(s, 'latin1');
/** The messages that carry an entry path, with `path` in it. */
const entryPathCarriers = (path: Buffer): Message[] => [
  { type: PacketType.DIR_INFO, perm: 0o755, mtimeNs: 0n, path },
  { type: PacketType.FILE_INFO, fileId: 1, perm: 0o644, size: 0, mtimeNs: 0n, digest: Buffer.alloc(16), path },
  { type: PacketType.SYMLINK, mtimeNs: 0n, path, target: bytes('t') },
  { type: PacketType.FILE_INLINE, fileId: 1, perm: 0o644, mtimeNs: 0n, hash: 0n, path, data: bytes('x') },
  { type: PacketType.ENTRY_ERROR, code: 35, path, message: 'x' },
  { type: PacketType.SOURCE_KEPT, code: 35, path, message: 'x' },
  { type: PacketType.HARDLINK, path, target: bytes('t') },
  { type: PacketType.HARDLINK, path: bytes('t'), target: path },
];
const fileInfo = (change: object): Message => ({ ...entryPathCarriers(bytes('f'))[1]!, ...change }) as Message;
const inEntryPaths = (path: Buffer, label: string, code: FcpErrorCode): [string, Message, FcpErrorCode][] =>
  entryPathCarriers(path).map((m) => [`${packetTypeName[m.type]} path ${label}`, m, code]);

/** Messages that a decoder refuses on the wire and an encoder refuses to write, with the code. */
const INVALID: [string, Message, FcpErrorCode][] = [
  ...['../x', '/abs', 'a//b', 'a/./b', 'a\0b', 'x/', '.', '..', 'a/..'].flatMap((p) =>
    inEntryPaths(bytes(p), JSON.stringify(p), 'FCP_ERR_BAD_PATH'),
  ),
  // An empty entry path breaks the 1..4096 length bound, which is checked first (for DIR_INFO
  // and FILE_INFO from the frame header alone), so it is a length error, not a path error.
  ...inEntryPaths(bytes(''), '""', 'FCP_ERR_BAD_LENGTH'),
  ...inEntryPaths(Buffer.alloc(MAX_PATH_BYTES + 1, 'a'), 'of 4097 bytes', 'FCP_ERR_BAD_LENGTH'),
  ['MODE backup suffix with a /', { type: PacketType.MODE, flags: 0x20, backupSuffix: bytes('.old/x') }, 'FCP_ERR_BAD_PATH'],
  ['MODE backup suffix with NUL', { type: PacketType.MODE, flags: 0x20, backupSuffix: bytes('~\0') }, 'FCP_ERR_BAD_PATH'],
  ['MODE backup suffix of 256 bytes', { type: PacketType.MODE, flags: 0x20, backupSuffix: Buffer.alloc(256, '~') }, 'FCP_ERR_BAD_LENGTH'],
  ['OWNER user name with NUL', { type: PacketType.OWNER, uid: 1, gid: 1, user: bytes('a\0b'), group: bytes('g') }, 'FCP_ERR_BAD_FIELD'],
  ['PUSH path with NUL', { type: PacketType.PUSH, path: bytes('a\0b') }, 'FCP_ERR_BAD_PATH'],
  ['PUSH path of 4097 bytes', { type: PacketType.PUSH, path: Buffer.alloc(4097, 'a') }, 'FCP_ERR_BAD_LENGTH'],
  ['PULL with an empty path', { type: PacketType.PULL, paths: [bytes('a'), bytes('')] }, 'FCP_ERR_BAD_PATH'],
  ['PULL path of 4097 bytes', { type: PacketType.PULL, paths: [Buffer.alloc(4097, 'a')] }, 'FCP_ERR_BAD_LENGTH'],
  ['SYMLINK target with NUL', { type: PacketType.SYMLINK, mtimeNs: 0n, path: bytes('l'), target: bytes('a\0') }, 'FCP_ERR_BAD_PATH'],
  ['DIR_INFO perm 0o10000', { type: PacketType.DIR_INFO, perm: 0o10000, mtimeNs: 0n, path: bytes('d') }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO perm 0o10000', fileInfo({ perm: 0o10000 }), 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO size over MAX_FILE_SIZE', fileInfo({ size: MAX_FILE_SIZE + 1 }), 'FCP_ERR_BAD_FIELD'],
  ['FILE_COUNT totalBytes 2^53', { type: PacketType.FILE_COUNT, count: 1, totalBytes: 2 ** 53 }, 'FCP_ERR_BAD_FIELD'],
  ['ATTACH connIndex 0', { type: PacketType.ATTACH, sessionId: Buffer.alloc(16), connIndex: 0 }, 'FCP_ERR_BAD_FIELD'],
  ['ATTACH connIndex 65', { type: PacketType.ATTACH, sessionId: Buffer.alloc(16), connIndex: 65 }, 'FCP_ERR_BAD_FIELD'],
  ['HELLO minVersion 0', { type: PacketType.HELLO, minVersion: 0, maxVersion: 1, nonce: Buffer.alloc(32) }, 'FCP_ERR_BAD_FIELD'],
  ...[0, MAX_CHUNK_SIZE + 1].flatMap((length): [string, Message, FcpErrorCode][] => [
    [`CHUNK_SUM length ${length}`, { type: PacketType.CHUNK_SUM, fileId: 1, seq: 0, length, hash: 0n }, 'FCP_ERR_BAD_FIELD'],
    [`RESEND length ${length}`, { type: PacketType.RESEND, fileId: 1, seq: 0, length }, 'FCP_ERR_BAD_FIELD'],
  ]),
  ['FILE_INLINE over INLINE_MAX', { type: PacketType.FILE_INLINE, fileId: 1, perm: 0o644, mtimeNs: 0n, hash: 0n, path: bytes('f'), data: Buffer.alloc(INLINE_MAX + 1) }, 'FCP_ERR_BAD_LENGTH'],
  ['DATA without data', { type: PacketType.DATA, fileId: 1, seq: 0, data: Buffer.alloc(0) }, 'FCP_ERR_BAD_LENGTH'],
  ['DATA_Z without data', { type: PacketType.DATA_Z, fileId: 1, seq: 0, rawLength: 10, data: Buffer.alloc(0) }, 'FCP_ERR_BAD_LENGTH'],
  ['DATA_Z of raw_length 0', { type: PacketType.DATA_Z, fileId: 1, seq: 0, rawLength: 0, data: Buffer.alloc(1) }, 'FCP_ERR_BAD_FIELD'],
  ['DATA_Z of raw_length over DATA_FRAME_BYTES', { type: PacketType.DATA_Z, fileId: 1, seq: 0, rawLength: DATA_FRAME_BYTES + 1, data: Buffer.alloc(1) }, 'FCP_ERR_BAD_FIELD'],
  ['DATA over DATA_FRAME_BYTES', { type: PacketType.DATA, fileId: 1, seq: 0, data: Buffer.alloc(DATA_FRAME_BYTES + 1) }, 'FCP_ERR_BAD_LENGTH'],
  // 2 bytes per 'é': the limit counts UTF-8 bytes, not characters.
  ['ERROR text of 4097 bytes', { type: PacketType.ERROR, code: 1, message: 'é'.repeat(MAX_ERROR_MESSAGE_BYTES / 2) + 'a' }, 'FCP_ERR_BAD_LENGTH'],
];

/** JS values no wire can carry: the encoder must still refuse them with an FcpError. */
const UNREPRESENTABLE: [string, Message][] = [
  ...[-1, 2 ** 32, 1.5, NaN].map((fileId): [string, Message] => [`fileId ${fileId}`, { type: PacketType.FILE_OK, fileId }]),
  // Its u8 length cannot say 256.
  ['OWNER group name of 256 bytes', { type: PacketType.OWNER, uid: 1, gid: 1, user: bytes('u'), group: Buffer.alloc(256, 'g') }],
  ['mtimeNs 2^63', { type: PacketType.DIR_INFO, perm: 0, mtimeNs: 1n << 63n, path: bytes('d') }],
  ['hash -1n', { type: PacketType.CHUNK_SUM, fileId: 1, seq: 0, length: 1, hash: -1n }],
  ['hash 2^64', { type: PacketType.CHUNK_SUM, fileId: 1, seq: 0, length: 1, hash: 1n << 64n }],
  ['size -1', fileInfo({ size: -1 })],
  ['digest of 15 bytes', fileInfo({ digest: Buffer.alloc(15) })],
  ['sessionId of 17 bytes', { type: PacketType.SESSION, sessionId: Buffer.alloc(17) }],
  ['cipher 256', { type: PacketType.PARAMS, chunkSize: 1, connections: 1, hashAlgs: 1, cipher: 256, features: 0 }],
];

describe('typed errors', () => {
  it('an unknown or reserved type is refused from the header, before its payload', () => {
    const known = new Set<number>(Object.values(PacketType));
    for (let type = 0; type <= 0xff; type++) {
      if (known.has(type)) continue;
      const decoder = decoderFor(xxh, PLAIN);
      decoder.push(headerOf(type, 100));
      expectFcpError(() => decoder.next(), 'FCP_ERR_UNKNOWN_TYPE');
    }
  });

  describe.each(CHANNELS)('%s', (_, channel) => {
    const tag = channel.key ? GCM_TAG_SIZE : 0;
    const onWire = (lengths: number[]) => lengths.map((l) => l + tag).filter((l) => l >= 0 && l <= MAX_PAYLOAD);

    it.each(TYPE_NAMES)('%s: a length outside the spec bounds is refused from the header alone', (name) => {
      const [min, max] = SPEC_BOUNDS[name];
      for (const length of onWire([min - 1, max + 1])) {
        const decoder = decoderFor(xxh, channel);
        decoder.push(headerOf(PacketType[name], length));
        expectFcpError(() => decoder.next(), 'FCP_ERR_BAD_LENGTH');
      }
      // Lengths at the bounds pass the header: the decoder waits for the payload.
      for (const length of onWire([min, Math.min(max, MAX_PAYLOAD - tag)]).filter((l) => l > 0)) {
        const decoder = decoderFor(xxh, channel);
        decoder.push(headerOf(PacketType[name], length));
        expect(decoder.next()).toBeUndefined();
      }
    });

    it('a wrong checksum is FCP_ERR_BAD_CHECKSUM', () => {
      fc.assert(
        fc.property(arbMessage.filter((m) => fits(m, channel)), fc.integer({ min: 1, max: 0xffffffff }), (message, delta) => {
          const frame = encodeOne(message, channel);
          frame.writeUInt32BE((frame.readUInt32BE(1) + delta) % 2 ** 32, 1);
          expectFcpError(() => decodeSlices(xxh, [frame], channel), 'FCP_ERR_BAD_CHECKSUM');
        }),
        { numRuns: numRuns(50) },
      );
    });

    it.each(INVALID)('%s: the decoder and the encoder both refuse it', (_, message, code) => {
      const [frame] = specFrames([[message.type, rawPayload(message)]], channel);
      expectFcpError(() => decodeSlices(xxh, [frame!], channel), code);
      expectFcpError(() => encoderFor(xxh, channel).encode(message), code);
    });
  });

  it('a sealed payload that leaves no room for its tag is refused with FCP_ERR_BAD_LENGTH', () => {
    const pull = (lastPath: number): Message => ({
      type: PacketType.PULL,
      paths: [...Array<Buffer>(15).fill(Buffer.alloc(4095, 'a')), Buffer.alloc(lastPath, 'b')],
    });
    const sealedChannel = CHANNELS[1]![1];
    // 15 × 4095 + 4079 + 15 NULs = 65519 bytes, the largest plaintext that fits with its tag.
    expect(encodeOne(pull(4079), sealedChannel).length).toBe(HEADER_SIZE + MAX_PAYLOAD);
    expectFcpError(() => encodeOne(pull(4080), sealedChannel), 'FCP_ERR_BAD_LENGTH');
  });

  it('SESSION with a 17-byte payload: FCP_ERR_BAD_LENGTH at the header', () => {
    const decoder = decoderFor(xxh, PLAIN);
    decoder.push(headerOf(PacketType.SESSION, 17));
    expectFcpError(() => decoder.next(), 'FCP_ERR_BAD_LENGTH');
  });

  it('with header coverage a wrong checksum is refused before the payload arrives', () => {
    const header = headerOf(PacketType.DATA, 100);
    header[1] ^= 1;
    const decoder = decoderFor(xxh, CHANNELS[1]![1]);
    decoder.push(header);
    expectFcpError(() => decoder.next(), 'FCP_ERR_BAD_CHECKSUM');
  });

  describe('parsePayload on fixed-size payloads', () => {
    const isFixed = (type: number) => {
      const [min, max] = SPEC_BOUNDS[packetTypeName[type]!];
      return min === max;
    };
    const fixed = VECTORS.filter((v) => !v.key && isFixed(v.message.type)).map((v) => [v.name, v.message] as const);
    const payloadOf = (message: Message) => encodeOne(message, PLAIN).subarray(HEADER_SIZE);

    it.each(fixed)('%s: one byte more is FCP_ERR_TRAILING_BYTES', (_, message) => {
      const payload = Buffer.concat([payloadOf(message), Buffer.of(0)]);
      expectFcpError(() => parsePayload(message.type, payload), 'FCP_ERR_TRAILING_BYTES');
    });

    it.each(fixed.filter(([, m]) => SPEC_BOUNDS[packetTypeName[m.type]!][0] > 0))(
      '%s: one byte less is FCP_ERR_BAD_LENGTH',
      (_, message) => {
        expectFcpError(() => parsePayload(message.type, payloadOf(message).subarray(1)), 'FCP_ERR_BAD_LENGTH');
      },
    );

    it('FILE_READY with 5 bytes is FCP_ERR_TRAILING_BYTES', () => {
      expectFcpError(() => parsePayload(PacketType.FILE_READY, Buffer.alloc(5)), 'FCP_ERR_TRAILING_BYTES');
    });
  });

  it('HELLO ignores extension bytes after the nonce and more_features', () => {
    fc.assert(
      fc.property(messageArbitraries.HELLO, fc.uint8Array({ minLength: 1, maxLength: 64 }), (hello, extension) => {
        const withMore = { ...hello, moreFeatures: hello.moreFeatures ?? 7 };
        const payload = Buffer.concat([rawPayload(withMore), extension]);
        expect(toPlain(parsePayload(PacketType.HELLO, payload))).toEqual(toPlain(withMore));
      }),
      { numRuns: numRuns(50) },
    );
  });

  it('HELLO with another magic is FCP_ERR_PROTOCOL', () => {
    const hello = rawPayload({ type: PacketType.HELLO, minVersion: 1, maxVersion: 1, nonce: Buffer.alloc(32) });
    hello.write('SSH-', 0, 'latin1');
    expectFcpError(() => decodeSlices(xxh, [frameOf(PacketType.HELLO, hello)], PLAIN), 'FCP_ERR_PROTOCOL');
  });

  it.each(UNREPRESENTABLE)('%s: the encoder refuses it with FCP_ERR_BAD_FIELD', (_, message) => {
    expectFcpError(() => encoderFor(xxh, PLAIN).encode(message), 'FCP_ERR_BAD_FIELD');
  });
});

// --- 6. zero-copy ----------------------------------------------------------------------------

describe('zero-copy', () => {
  it('a plain frame inside one pushed slice comes back as a view of that slice', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 4 }), fc.nat(16), (messages, offset) => {
        const frames = encodeMessages(xxh, messages, PLAIN);
        // A slice of its own ArrayBuffer, not of Buffer's shared pool, so "same buffer" means "no copy".
        const memory = new ArrayBuffer(offset + Buffer.concat(frames).length);
        const slice = Buffer.from(memory, offset);
        Buffer.concat(frames).copy(slice);
        const decoder = decoderFor(xxh, PLAIN);
        decoder.push(slice);
        // Where each payload lies in `memory`. An empty payload has no bytes to share: the decoder
        // may hand out any empty Buffer.
        const where = (payload: Buffer) =>
          payload.length === 0 ? 'empty' : payload.buffer === memory ? [payload.byteOffset, payload.length] : 'a copy';
        let at = offset;
        const expected = frames.map((frame) => {
          const place = frame.length === HEADER_SIZE ? 'empty' : [at + HEADER_SIZE, frame.length - HEADER_SIZE];
          at += frame.length;
          return place;
        });
        expectEqual([...frames.map(() => where(decoder.next()!.payload)), decoder.next()], [...expected, undefined]);
      }),
      { numRuns: numRuns(100) },
    );
  });
});

// --- 7. DATA runs ----------------------------------------------------------------------------

describe('FrameEncoder.encodeData', () => {
  const F = DATA_FRAME_BYTES;
  const arbLength = fc.oneof(fc.integer({ min: 1, max: 3 * F + 1 }), fc.constantFrom(1, F - 1, F, F + 1, 2 * F));
  const arbRun = arbLength.chain((length) =>
    fc.record({
      fileId: u32,
      // The last frame's seq must still fit in a u32.
      seq: fc.integer({ min: 0, max: 0xffffffff - (Math.ceil(length / F) - 1) * UNITS_PER_FRAME }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 97 }).map((head) => Buffer.alloc(length, head)),
      // no `out`, one a byte too small, one just large enough, one with room to spare
      outSlack: fc.constantFrom(undefined, -1, 0, 100),
      channel: fc.constantFrom(...CHANNELS.map(([, c]) => c)),
    }),
  );

  it('writes dataLength(n) bytes of consecutive full DATA frames, into `out` when it fits', () => {
    fc.assert(
      fc.property(arbRun, ({ fileId, seq, bytes, outSlack, channel }) => {
        const encoder = encoderFor(xxh, channel);
        const frameCount = Math.ceil(bytes.length / F);
        const length = frameCount * (HEADER_SIZE + 8 + (channel.key ? GCM_TAG_SIZE : 0)) + bytes.length;
        const out = outSlack === undefined ? undefined : Buffer.alloc(length + outSlack, 0xee);
        const run = encoder.encodeData(fileId, seq, bytes, out);
        // Exactly the frames that encode() writes for each DATA message in turn.
        const messages: Message[] = Array.from({ length: frameCount }, (_, i) => ({
          type: PacketType.DATA,
          fileId,
          seq: seq + i * UNITS_PER_FRAME,
          data: bytes.subarray(i * F, (i + 1) * F),
        }));
        const decoded = decodeSlices(xxh, [run], channel);
        const fitsOut = out !== undefined && out.length >= length;
        expectEqual(
          {
            dataLength: encoder.dataLength(bytes.length),
            length: run.length,
            inOut: run.buffer === out?.buffer && run.byteOffset === out.byteOffset,
            outUntouched: fitsOut || out === undefined || out.every((b) => b === 0xee),
            sameAsEncode: run.equals(Buffer.concat(encodeMessages(xxh, messages, channel))),
            decoded: decoded.map(toPlain),
            data: Buffer.concat(decoded.map((m) => (m.type === PacketType.DATA ? m.data : Buffer.alloc(0)))).equals(bytes),
          },
          { dataLength: length, length, inOut: fitsOut, outUntouched: true, sameAsEncode: true, decoded: messages.map(toPlain), data: true },
        );
      }),
      { numRuns: numRuns(50) },
    );
  });

  it.each([
    ['no bytes', 1, 0, 0],
    ['a last seq past 2^32 - 1', 1, 0xffffffff - UNITS_PER_FRAME + 1, F + 1],
    ['fileId -1', -1, 0, 1],
    ['fileId 2^32', 2 ** 32, 0, 1],
    ['seq -1', 1, -1, 1],
    ['a fractional seq', 1, 1.5, 1],
  ])('refuses %s with FCP_ERR_BAD_FIELD', (_, fileId, seq, n) => {
    expectFcpError(() => encoderFor(xxh, PLAIN).encodeData(fileId, seq, Buffer.alloc(n)), 'FCP_ERR_BAD_FIELD');
  });
});

// --- 8. sticky errors ------------------------------------------------------------------------

describe('sticky errors', () => {
  type Breakage = 'checksum' | 'type' | 'truncated' | 'tag';

  /** A decoder that has just failed on a broken copy of `frame`, and the error it failed with. */
  function brokenDecoder(frame: Buffer, breakage: Breakage, channel: Channel): [FrameDecoder, FcpError] {
    const decoder = decoderFor(xxh, channel);
    if (breakage === 'truncated') {
      decoder.push(frame.subarray(0, frame.length - 1));
      expect(decoder.next()).toBeUndefined();
      return [decoder, expectFcpError(() => decoder.end(), 'FCP_ERR_TRUNCATED')];
    }
    let broken: Buffer = Buffer.from(frame);
    if (breakage === 'checksum') broken[1] ^= 0xff;
    if (breakage === 'type') broken[0] = 0xfe; // a type no version defines
    // A flipped tag bit under a valid checksum: only GCM can tell.
    if (breakage === 'tag') broken = frameOf(frame[0]!, flipBit(frame, frame.length * 8 - 1).subarray(HEADER_SIZE), channel.coverage);
    decoder.push(broken);
    const err = thrown(() => decoder.next());
    expectProtocolError(err);
    return [decoder, err as FcpError];
  }

  const arbCase = arbChannel.chain((channel) =>
    fc.record({
      channel: fc.constant(channel),
      message: arbMessage.filter((m) => fits(m, channel)),
      breakage: fc.constantFrom<Breakage>('checksum', 'type', 'truncated', ...(channel.key ? (['tag'] as const) : [])),
    }),
  );

  it('after an error, next(), push() and end() throw that same error', () => {
    fc.assert(
      fc.property(arbCase, ({ channel, message, breakage }) => {
        const frame = encodeOne(message, channel);
        const [decoder, err] = brokenDecoder(frame, breakage, channel);
        const calls = [() => decoder.next(), () => decoder.push(frame), () => decoder.end(), () => decoder.next()];
        expectEqual(
          calls.map((call) => attempt(call) === err),
          calls.map(() => true),
        );
      }),
      { numRuns: numRuns(100) },
    );
  });
});
