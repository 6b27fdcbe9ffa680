/**
 * What the network fuzzer sends: one case per fresh connection, drawn by fast-check from the
 * valid-message arbitraries of the codec tests, then damaged. Case i of seed S is always the same
 * case (caseAt), so a failure is replayed with `--seed S --case i`.
 */
import fc from 'fast-check';
import { ChksumCoverage, DATA_FRAME_BYTES, DATA_UNIT, HEADER_SIZE, LENGTH_OFFSET, MAX_PAYLOAD, PacketType, packetTypeName } from '../../src/protocol/constants';
import { checksumOfFrame } from '../../src/protocol/chksum';
import { FrameEncoder } from '../../src/protocol/frameEncoder';
import { fixedWidth, LAYOUTS } from '../../src/protocol/layouts';
import type { Message } from '../../src/protocol/messages';
import type { XXHashAPI } from '../../src/protocol/xxhash';
import { arbMessage, messageArbitraries } from '../../test/unit/protocol/arbitraries';

export type CaseKind = 'random' | 'mutated' | 'truncated' | 'flood' | 'replay' | 'transfer';

export interface FuzzCase {
  kind: CaseKind;
  /**
   * preAuth: sent on a bare connection. postAuth: sent once a session is established with a
   * secret the daemon knows, on its control connection or on data connection 1.
   */
  phase: 'preAuth' | 'postAuth';
  /** postAuth: a PUSH (fcpd receives) or a PULL of the campaign's source tree (fcpd sends). */
  request: 'push' | 'pull';
  on: 'control' | 'data';
  /** postAuth: an encrypted session; its messages are sealed by the session's own encoder. */
  encrypt: boolean;
  /** Written as they are: preAuth, or postAuth on a plain session. */
  bytes: Buffer;
  /** postAuth: sent through the session's encoder after `bytes`. */
  messages: Message[];
  /** postAuth on data connection 1: what the control connection sends first (a file for DATA to land in). */
  controlMessages: Message[];
  /** After sending: 'fin' half-closes; 'hold' keeps the connection open until the case's time is up. */
  end: 'fin' | 'hold';
  /** One line saying what the case is. */
  what: string;
}

/** Bytes each recorded connection of a real session carried towards fcpd (index 0: control). */
export type Recording = Buffer[];

const FLOOD_MAX = 3000;
const RANDOM_MAX = 4096;

/** The case numbered `index` of campaign `seed`. */
export function caseAt(seed: number, index: number, arbitrary: fc.Arbitrary<FuzzCase>): FuzzCase {
  // A different stream per case, and not the next seed's: seed S case 1 is not seed S+1 case 0.
  const caseSeed = (Math.imul(seed ^ 0x5bd1e995, 0x01000193) + Math.imul(index, 0x9e3779b1)) | 0;
  return fc.sample(arbitrary, { seed: caseSeed, numRuns: 1 })[0]!;
}

export function caseArbitrary(xxh: XXHashAPI, recording: Recording): fc.Arbitrary<FuzzCase> {
  const frames = new Frames(xxh);
  const helloFirst = fc.boolean().map((hello) => (hello ? frames.hello() : Buffer.alloc(0)));
  const end = fc.constantFrom<'fin' | 'hold'>('fin', 'hold');
  const base = { on: 'control' as const, request: 'push' as const, encrypt: false, messages: [] as Message[], controlMessages: [] as Message[] };

  const random = fc.record({ hello: helloFirst, noise: bytes(RANDOM_MAX), end }).map(
    ({ hello, noise, end }): FuzzCase => ({ ...base, kind: 'random', phase: 'preAuth', bytes: Buffer.concat([hello, noise]), end, what: `${noise.length} random bytes${hello.length ? ' after a HELLO' : ''}` }),
  );
  const mutated = fc.record({ hello: helloFirst, message: arbMessage, mutation: mutationOf(), end }).map(({ hello, message, mutation, end }): FuzzCase => {
    const { frame, what } = frames.mutate(message, mutation);
    return { ...base, kind: 'mutated', phase: 'preAuth', bytes: Buffer.concat([hello, frame]), end, what: `${what}${hello.length ? ' after a HELLO' : ''}` };
  });
  const truncated = fc.record({ messages: fc.array(arbMessage, { minLength: 1, maxLength: 4 }), cut: fc.double({ min: 0, max: 1, noNaN: true }), end }).map(({ messages, cut, end }): FuzzCase => {
    const whole = Buffer.concat([frames.hello(), ...messages.map((m) => frames.encode(m))]);
    const at = Math.floor(cut * whole.length);
    return { ...base, kind: 'truncated', phase: 'preAuth', bytes: whole.subarray(0, at), end, what: `HELLO and ${messages.map(name).join(', ')} cut at byte ${at} of ${whole.length}` };
  });
  const flood = fc.record({ message: floodable, count: fc.integer({ min: 2, max: FLOOD_MAX }), end }).map(({ message, count, end }): FuzzCase => ({
    ...base,
    kind: 'flood',
    phase: 'preAuth',
    bytes: Buffer.concat(Array.from({ length: count }, () => frames.encode(message))),
    end,
    what: `${count} ${name(message)} frames`,
  }));
  const replay = fc.record({ connection: fc.nat(), damage: fc.constantFrom('whole', 'cut', 'flip'), at: fc.nat(), end }).map(({ connection, damage, at, end }): FuzzCase => {
    const index = connection % recording.length;
    const recorded = recording[index]!;
    const position = at % recorded.length;
    let replayed = recorded;
    if (damage === 'cut') replayed = recorded.subarray(0, position);
    if (damage === 'flip') (replayed = Buffer.from(recorded))[position] ^= 0x01;
    const where = damage === 'whole' ? 'whole' : `${damage} at byte ${position} of ${recorded.length}`;
    return { ...base, kind: 'replay', phase: 'preAuth', bytes: replayed, end, what: `replay of connection ${index} of a recorded session, ${where}` };
  });
  const preAuth = fc.oneof(random, mutated, truncated, flood, replay);

  // After authentication: hostile transfer messages sealed by the session, or raw bytes on a plain one.
  const onControl = fc.record({ count: fileCount, messages: fc.array(transferMessage, { maxLength: 8 }), plausible: fc.boolean() }).map(({ count, messages, plausible }) => ({
    on: 'control' as const,
    messages: [count, ...(plausible ? plausibleOrder(messages) : messages)],
    controlMessages: [],
  }));
  const onData = fc.oneof(fc.array(dataMessage, { minLength: 1, maxLength: 8 }), fullDataFrames).map((messages) => ({ on: 'data' as const, messages, controlMessages: ANNOUNCED_FILE }));
  const transfer = fc.record({ target: fc.oneof(onControl, onData), end }).map(({ target, end }): FuzzCase => {
    const announced = target.controlMessages.length ? `after ${target.controlMessages.map(describe).join(', ')}, ` : '';
    return { ...target, kind: 'transfer', phase: 'postAuth', request: 'push', encrypt: true, bytes: Buffer.alloc(0), end, what: `after PUSH, ${announced}on the ${target.on} connection: ${target.messages.map(describe).join(', ')}` };
  });
  // A PULL: fcpd sends the source tree and is told, with any values, which files are ready, which
  // chunks to send again, which files were written.
  const pull = fc.record({ messages: fc.array(pullAnswer, { minLength: 1, maxLength: 12 }), end }).map(({ messages, end }): FuzzCase => ({
    ...base,
    kind: 'transfer',
    phase: 'postAuth',
    request: 'pull',
    encrypt: true,
    messages,
    bytes: Buffer.alloc(0),
    end,
    what: `after PULL of the source tree, on the control connection: ${messages.map(describe).join(', ')}`,
  }));
  const raw = fc.record({ target: fc.constantFrom(CONTROL, DATA_AFTER_FILE), inner: fc.oneof(random, mutated, flood) }).map(
    ({ target, inner }): FuzzCase => ({ ...inner, ...target, phase: 'postAuth', what: `after PUSH, on the ${target.on} connection (plain): ${inner.what}` }),
  );
  return fc.oneof({ weight: 5, arbitrary: preAuth }, { weight: 3, arbitrary: transfer }, { weight: 2, arbitrary: pull }, { weight: 2, arbitrary: raw });
}

/** How one encoded frame is damaged; the checksum is made right again except for 'checksum'. */
type Mutation =
  | { kind: 'type'; value: number }
  | { kind: 'checksum'; value: number }
  | { kind: 'length'; value: number }
  | { kind: 'field'; pick: number; fill: 'zeros' | 'ones' | 'random'; noise: Uint8Array }
  | { kind: 'resize'; delta: number; noise: Uint8Array }
  | { kind: 'byte'; pick: number; mask: number };

function mutationOf(): fc.Arbitrary<Mutation> {
  const noise = fc.uint8Array({ minLength: 1, maxLength: 64 });
  return fc.oneof(
    fc.record({ kind: fc.constant('type' as const), value: fc.integer({ min: 0, max: 0xff }) }),
    fc.record({ kind: fc.constant('checksum' as const), value: fc.integer({ min: 0, max: 0xffffffff }) }),
    fc.record({ kind: fc.constant('length' as const), value: fc.integer({ min: 0, max: MAX_PAYLOAD }) }),
    fc.record({ kind: fc.constant('field' as const), pick: fc.nat(), fill: fc.constantFrom('zeros' as const, 'ones' as const, 'random' as const), noise }),
    fc.record({ kind: fc.constant('resize' as const), delta: fc.integer({ min: -64, max: 64 }), noise }),
    fc.record({ kind: fc.constant('byte' as const), pick: fc.nat(), mask: fc.integer({ min: 1, max: 0xff }) }),
  );
}

/** Plain frames (no session yet, or a plain session): FULL checksum coverage. */
class Frames {
  private readonly encoder: FrameEncoder;

  constructor(private readonly xxh: XXHashAPI) {
    this.encoder = new FrameEncoder(xxh);
  }

  encode(message: Message): Buffer {
    return this.encoder.encode(message);
  }

  hello(): Buffer {
    return this.encode({ type: PacketType.HELLO, minVersion: 1, maxVersion: 1, nonce: Buffer.alloc(32, 7) });
  }

  mutate(message: Message, mutation: Mutation): { frame: Buffer; what: string } {
    let frame = Buffer.from(this.encode(message));
    const payload = frame.length - HEADER_SIZE;
    let what: string;
    switch (mutation.kind) {
      case 'type':
        frame[0] = mutation.value;
        what = `type byte set to 0x${mutation.value.toString(16)}`;
        break;
      case 'checksum':
        frame.writeUInt32BE(mutation.value, 1);
        return { frame, what: `${name(message)} with checksum 0x${mutation.value.toString(16)}` };
      case 'length':
        frame.writeUInt16BE(mutation.value, LENGTH_OFFSET);
        what = `length ${payload} set to ${mutation.value}`;
        break;
      case 'field': {
        const fields = fieldSpans(message.type, payload);
        if (fields.length === 0) return this.mutate(message, { kind: 'resize', delta: 1, noise: mutation.noise });
        const field = fields[mutation.pick % fields.length]!;
        for (let i = 0; i < field.width; i++) {
          frame[HEADER_SIZE + field.offset + i] = mutation.fill === 'zeros' ? 0 : mutation.fill === 'ones' ? 0xff : mutation.noise[i % mutation.noise.length]!;
        }
        what = `field ${field.name} filled with ${mutation.fill}`;
        break;
      }
      case 'resize': {
        const length = Math.min(MAX_PAYLOAD, Math.max(0, payload + mutation.delta));
        const extra = Buffer.from(mutation.noise).subarray(0, Math.max(0, length - payload));
        frame = Buffer.concat([frame.subarray(0, HEADER_SIZE + Math.min(length, payload)), extra, Buffer.alloc(Math.max(0, length - payload - extra.length))]);
        frame.writeUInt16BE(length, LENGTH_OFFSET);
        what = `payload resized from ${payload} to ${length} bytes`;
        break;
      }
      case 'byte': {
        if (payload === 0) return this.mutate(message, { kind: 'resize', delta: 1, noise: Uint8Array.of(mutation.mask) });
        const at = mutation.pick % payload;
        frame[HEADER_SIZE + at] ^= mutation.mask;
        what = `payload byte ${at} XOR 0x${mutation.mask.toString(16)}`;
        break;
      }
    }
    // A right checksum: the damage reaches the parser and the state machines, not the first check.
    frame.writeUInt32BE(0, 1);
    if (frame.length - HEADER_SIZE === frame.readUInt16BE(LENGTH_OFFSET)) frame.writeUInt32BE(checksumOfFrame(this.xxh, frame, ChksumCoverage.FULL), 1);
    return { frame, what: `${name(message)}: ${what}` };
  }
}

/** The fields of a type's layout that sit at a known offset: the fixed ones, and the first variable one (to the end). */
function fieldSpans(type: number, payload: number): { name: string; offset: number; width: number }[] {
  const spans: { name: string; offset: number; width: number }[] = [];
  let offset = 0;
  for (const field of LAYOUTS[type] ?? []) {
    const width = fixedWidth(field);
    spans.push({ name: field.name, offset, width: Math.min(width ?? payload - offset, payload - offset) });
    if (width === undefined) break;
    offset += width;
  }
  return spans.filter((span) => span.width > 0);
}

const bytes = (max: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const name = (message: Message): string => packetTypeName[message.type] ?? `type 0x${message.type.toString(16)}`;

/** A message as the case's description shows it: its type and its numbers, not its bytes. */
function describe(message: Message): string {
  const numbers = Object.entries(message).filter(([key, value]) => key !== 'type' && (typeof value === 'number' || typeof value === 'bigint'));
  return numbers.length ? `${name(message)}(${numbers.map(([key, value]) => `${key}=${value}`).join(' ')})` : name(message);
}

/**
 * The messages with what a receiver checks first made right: announced files numbered 0, 1, ...
 * in order, and entry paths of one component (no parent directory to send first), so that the
 * values left hostile reach the checks behind those.
 */
function plausibleOrder(messages: Message[]): Message[] {
  let nextId = 0;
  return messages.map((message) => {
    const flat = 'path' in message && message.type !== PacketType.PUSH ? { path: lastComponent(message.path) } : {};
    if (message.type === PacketType.FILE_INFO || message.type === PacketType.FILE_INLINE) return { ...message, ...flat, fileId: nextId++ };
    return { ...message, ...flat } as Message;
  });
}

function lastComponent(entryPath: Buffer): Buffer {
  const slash = entryPath.lastIndexOf(0x2f);
  return slash < 0 || slash === entryPath.length - 1 ? entryPath : entryPath.subarray(slash + 1);
}

/** The file a data-connection case's control connection announces, so that its DATA has somewhere to go. */
const ANNOUNCED_ID = 0;
const ANNOUNCED_SIZE = 3 * 1024 * 1024;
const ANNOUNCED_FILE: Message[] = [
  { type: PacketType.FILE_COUNT, count: 1, totalBytes: ANNOUNCED_SIZE },
  { type: PacketType.FILE_INFO, fileId: ANNOUNCED_ID, perm: 0o644, size: ANNOUNCED_SIZE, mtimeNs: 0n, digest: Buffer.alloc(16), path: Buffer.from('fuzzed') },
];
const CONTROL = { on: 'control' as const, controlMessages: [] };
const DATA_AFTER_FILE = { on: 'data' as const, controlMessages: ANNOUNCED_FILE };

const A = messageArbitraries;
/** The announced file's id or the next one as often as any id. */
const nearId = fc.oneof(fc.constantFrom(ANNOUNCED_ID, ANNOUNCED_ID + 1), fc.integer({ min: 0, max: 0xffffffff }));
/** Ids of the files a PULL of the source tree announces (a handful), and any id. */
const pulledId = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 0xffffffff }));
/** Chunk starts of the default 1 MiB chunks (128 units of 8 KiB), any unit in or just past the file, anything. */
const nearSeq = fc.oneof(fc.constantFrom(0, 128, 256, 384), fc.integer({ min: 0, max: ANNOUNCED_SIZE / 8192 + 2 }), fc.integer({ min: 0, max: 0xffffffff }));
/**
 * Up to ~11 MiB of full DATA frames for the announced file, from any unit on, each frame at the
 * next unit or all at the same one, never closed by a CHUNK_SUM: what fcpd holds meanwhile must
 * stay bounded.
 */
const UNITS_PER_FULL_FRAME = DATA_FRAME_BYTES / DATA_UNIT;
const fullDataFrames: fc.Arbitrary<Message[]> = fc
  .record({ count: fc.integer({ min: 2, max: 200 }), seq: nearSeq, advance: fc.boolean(), fill: fc.integer({ min: 0, max: 0xff }) })
  .map(({ count, seq, advance, fill }) => {
    const data = Buffer.alloc(DATA_FRAME_BYTES, fill);
    return Array.from({ length: count }, (_, i): Message => ({ type: PacketType.DATA, fileId: ANNOUNCED_ID, seq: (seq + (advance ? i * UNITS_PER_FULL_FRAME : 0)) >>> 0, data }));
  });

/** What a receiver answers a sending fcpd, aimed at the files it announces. */
const pullAnswer: fc.Arbitrary<Message> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ message: A.FILE_READY, fileId: pulledId }).map(({ message, fileId }): Message => ({ ...message, fileId })) },
  { weight: 3, arbitrary: fc.record({ message: A.RESEND, fileId: pulledId, seq: nearSeq }).map(({ message, fileId, seq }): Message => ({ ...message, fileId, seq })) },
  { weight: 1, arbitrary: fc.record({ message: A.FILE_OK, fileId: pulledId }).map(({ message, fileId }): Message => ({ ...message, fileId })) },
  { weight: 1, arbitrary: fc.record({ message: A.FILE_ERROR, fileId: pulledId }).map(({ message, fileId }): Message => ({ ...message, fileId })) },
  { weight: 1, arbitrary: A.ENTRY_ERROR },
  { weight: 1, arbitrary: A.DONE },
  { weight: 1, arbitrary: arbMessage },
);

/** What a sender puts on a data connection, aimed at the announced file. */
const dataMessage: fc.Arbitrary<Message> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ message: A.DATA, fileId: nearId, seq: nearSeq }).map(({ message, fileId, seq }): Message => ({ ...message, fileId, seq })) },
  { weight: 2, arbitrary: fc.record({ message: A.CHUNK_SUM, fileId: nearId, seq: nearSeq }).map(({ message, fileId, seq }): Message => ({ ...message, fileId, seq })) },
  { weight: 1, arbitrary: fc.record({ message: A.FILE_DONE, fileId: nearId }).map(({ message, fileId }): Message => ({ ...message, fileId })) },
  { weight: 1, arbitrary: A.KEEPALIVE },
  { weight: 1, arbitrary: arbMessage },
);
const floodable: fc.Arbitrary<Message> = fc.oneof(A.KEEPALIVE, A.HELLO, A.FILE_COUNT, A.FILE_READY, A.DONE);
const fileCount: fc.Arbitrary<Message> = A.FILE_COUNT;
/** What a pushing client sends once its session is established, with any values. */
const transferMessage: fc.Arbitrary<Message> = fc.oneof(
  A.FILE_INFO,
  A.DIR_INFO,
  A.SYMLINK,
  A.FILE_INLINE,
  A.DATA,
  A.CHUNK_SUM,
  A.FILE_DONE,
  A.ENTRY_ERROR,
  A.FILE_COUNT,
  A.DONE,
  A.ERROR,
  A.KEEPALIVE,
  arbMessage,
);
