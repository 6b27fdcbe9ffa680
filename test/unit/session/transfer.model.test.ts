/**
 * Model-based tests of the transfer machines (PROTOCOL.md §7, §11.3). fast-check runs random
 * sequences of legal steps (announce, create, DATA, CHUNK_SUM, chunk written ok or bad, FILE_DONE,
 * commit, DONE, ...) against a small model that predicts every action; two runs in three also
 * commit one violation, which must fail the machine with the right code. Runs that did not fail
 * are then driven to CLOSED. A last property connects a TransferSender and a TransferReceiver
 * through an in-memory driver that plays both owners (small files inline, asked for whole with
 * FILE_WANT, or announced and sent in chunks).
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { codeFromWire, FcpError, FcpErrorCode, wireFromCode } from '../../../src/errors';
import {
  DATA_FRAME_BYTES,
  DATA_UNIT,
  DIGEST_SIZE,
  INLINE_MAX,
  loadXxhash,
  MAX_ERROR_MESSAGE_BYTES,
  MIN_CHUNK_SIZE,
  PacketType,
  PacketTypeName,
  packetTypeName,
  XXHashAPI,
} from '../../../src/protocol';
import type { DataMessage, FileErrorMessage, FileInfoMessage, Message, MessageOf } from '../../../src/protocol/messages';
import type { SendAction } from '../../../src/session/actions';
import { chunkCount, FileDigest } from '../../../src/session/digest';
import { EntryScope } from '../../../src/session/entryScope';
import {
  CompleteAction,
  DEFAULT_WINDOW_FILES,
  INLINE_WINDOW_BYTES,
  MAX_CHUNK_ATTEMPTS,
  ReceiverAction,
  SenderAction,
  TransferAction,
  TransferReceiver,
  TransferSender,
  WriteChunkAction,
} from '../../../src/session/transfer';
import { numRuns } from '../protocol/fuzzRuns';

// ─── Shared helpers ──────────────────────────────────────────────────────────────────────────

type Plain = Record<string, unknown>;

/** An action as plain data: errors by code, FILE_ERROR by code, writeChunk data by frame count. */
function plain(action: TransferAction): Plain {
  switch (action.type) {
    case 'send': {
      const { type, ...fields } = action.message as unknown as Plain & { type: number };
      if (type !== PacketType.FILE_ERROR && type !== PacketType.ENTRY_ERROR) return { send: packetTypeName[type], ...fields };
      expectEqual(Buffer.byteLength(fields.message as string) <= MAX_ERROR_MESSAGE_BYTES, true);
      const about = type === PacketType.FILE_ERROR ? { fileId: fields.fileId } : { path: fields.path };
      return { send: packetTypeName[type], ...about, code: codeFromWire(fields.code as number) };
    }
    case 'fail':
      return { fail: action.error.code, notifyPeer: action.notifyPeer };
    case 'fileFailed':
      return { type: 'fileFailed', fileId: action.fileId, code: action.error.code };
    case 'entryFailed':
      return { type: 'entryFailed', path: action.path, code: action.error.code };
    case 'writeChunk':
      return { ...action, data: action.data.length };
    default:
      return { ...action };
  }
}

/** expect(actual).toEqual(expected), with a fast path: the model tests make many thousands of these. */
function expectEqual(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

function expectActions(actual: readonly TransferAction[], expected: Plain[]): void {
  expectEqual(actual.map(plain), expected);
}

const sent = (name: PacketTypeName, fields: Plain = {}): Plain => ({ send: name, ...fields });
const failure = (code: FcpErrorCode, notifyPeer = true): Plain => ({ fail: code, notifyPeer });
const fileFailed = (fileId: number, code: FcpErrorCode): Plain => ({ type: 'fileFailed', fileId, code });
const entryFailed = (path: Buffer, code: FcpErrorCode): Plain => ({ type: 'entryFailed', path, code });
/** ENTRY_ERROR for a FIFO the sender skipped, or a symlink the receiver could not create. */
const SKIPPED = { path: Buffer.from('fifo'), code: wireFromCode('FCP_ERR_IO'), message: 'fifo is a FIFO; skipped' };

function expectInternal(run: () => unknown): void {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FcpError);
  expect((caught as FcpError).code).toBe('FCP_ERR_INTERNAL');
}

function choose<T>(items: readonly T[], pick: number): T | undefined {
  return items.length === 0 ? undefined : items[pick % items.length];
}

/**
 * One argument record for every step; each uses what it needs. step picks among the steps that
 * may run, pick among the files or chunks a step may act on, conn a data connection; ok is mostly
 * true (owner work succeeds, digests are right), hashOk is a fair coin for chunk hashes.
 */
interface Args { step: number; pick: number; conn: number; ok: boolean; hashOk: boolean }
const CONNS = 3;
const args: fc.Arbitrary<Args> = fc.record({
  step: fc.nat(),
  pick: fc.nat(),
  conn: fc.integer({ min: 1, max: CONNS }),
  ok: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  hashOk: fc.boolean(),
});

/** A model step: usable as a fast-check command and, with fixed arguments, by the drain. */
interface Step<M, R> { name: string; check(m: M, a: Args): boolean; run(m: M, r: R, a: Args): void }

/**
 * Commands that each run one of the steps that may run in the model's state, a step of weight w
 * counting w times, so that no command is wasted on a step the state does not allow. `after`
 * checks what must hold after every step.
 */
function commands<M extends object, R>(
  weighted: [Step<M, R>, number][],
  after: (m: M, r: R) => void,
): fc.Arbitrary<fc.Command<M, R>>[] {
  const runnable = (m: M, a: Args) => weighted.flatMap(([step, weight]) => (step.check(m, a) ? Array<Step<M, R>>(weight).fill(step) : []));
  return [
    args.map((a) => {
      let ran = '?';
      return {
        check: (m: Readonly<M>) => runnable(m as M, a).length > 0,
        run(m: M, r: R) {
          const step = choose(runnable(m, a), a.step)!;
          ran = step.name;
          step.run(m, r, a);
          after(m, r);
        },
        toString: () => `${ran} ${JSON.stringify(a)}`,
      };
    }),
  ];
}

const MAX_COMMANDS = 100;
/** Which violation a run commits, from which step on; undefined in a legal run. */
interface PlannedViolation { kind: number; from: number }
/** What violationStep and drain need of a model: steps counts the steps run so far. */
interface ViolationModel { state: string; violation: PlannedViolation | undefined; steps: number; draining: boolean }
/** Two runs in three aim at one violation; the others (and those whose chance never comes) end CLOSED. */
const plannedViolation: fc.Arbitrary<PlannedViolation | undefined> = fc.option(
  fc.record({ kind: fc.nat(), from: fc.nat(MAX_COMMANDS / 2) }),
  { nil: undefined, freq: 3 },
);
/** Steps run once a model is FAILED. */
const AFTER_FAILURE_STEPS = 3;

/** A message that breaks the protocol now, and the code it must fail with. */
interface Violation { conn: number; message: Message; code: FcpErrorCode; notifyPeer: boolean }

function refused(conn: number, message: Message, code: FcpErrorCode = 'FCP_ERR_PROTOCOL', notifyPeer = true): Violation {
  return { conn, message, code, notifyPeer };
}

/**
 * Drives a run on to its end (CLOSED, or FAILED when the planned violation comes on the way):
 * each time the first step in `order` that may run, over a few fixed argument sets. The drain
 * passes through every state on the way, so a planned violation gets its chance there.
 */
function drain<M extends ViolationModel, R>(m: M, r: R, order: Step<M, R>[], after: (m: M, r: R) => void): void {
  m.draining = true;
  const argSets: Args[] = [];
  for (let conn = 1; conn <= CONNS; conn++) argSets.push({ step: 0, pick: 0, conn, ok: true, hashOk: true });
  for (let steps = 0; m.state !== 'CLOSED' && m.state !== 'FAILED'; steps++) {
    if (steps > 10_000) throw new Error('drain: no progress');
    const next = order.flatMap((step) => argSets.map((a) => ({ step, a }))).find(({ step, a }) => step.check(m, a));
    if (next === undefined) throw new Error('drain: no legal step left before CLOSED');
    next.step.run(m, r, next.a);
    after(m, r);
  }
}

/** File sizes around the chunk grid: empty, one byte, chunk boundaries ± 1, up to 3 chunks. */
function sizeNear(chunkSize: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constantFrom(0, 1, DATA_FRAME_BYTES, chunkSize - 1, chunkSize, chunkSize + 1, 2 * chunkSize),
    fc.integer({ min: 0, max: 3 * chunkSize }),
  );
}

const pathOf = (fileId: number) => Buffer.from(`f${fileId}`);
const PERM = 0o640;
const MTIME = 1_700_000_000_123_456_789n;
const DIR_PATH = Buffer.from('tree');
/** Entries at the top level of a recursive push into a directory: the scope admits them all (entryScope.test.ts tests it). */
const anyScope = () => new EntryScope({ recursive: true, singleRoot: false });
const LINK_PATH = Buffer.from('link');
const LINK_TARGET = Buffer.from('../elsewhere');
/** DATA contents in the model tests: their bytes do not matter, only which view goes where. */
const PAYLOAD = Buffer.alloc(DATA_FRAME_BYTES, 0x5a);
const BAD_DIGEST = Buffer.alloc(DIGEST_SIZE, 0xee);
const IO_ERROR = new FcpError('FCP_ERR_IO', 'EIO while writing');
const NO_SPACE = new FcpError('FCP_ERR_NO_SPACE', 'ENOSPC while writing');
const PEER_FILE_ERROR = { code: wireFromCode('FCP_ERR_NOT_FOUND'), message: 'vanished' };

function dataMessage(fileId: number, offset: number, length: number): DataMessage {
  return { type: PacketType.DATA, fileId, seq: offset / DATA_UNIT, data: PAYLOAD.subarray(0, length) };
}

function chunkSum(fileId: number, offset: number, length: number, hash = 0n): Message {
  return { type: PacketType.CHUNK_SUM, fileId, seq: offset / DATA_UNIT, length, hash };
}

function fileInfo(fileId: number, size: number): Message {
  return { type: PacketType.FILE_INFO, fileId, perm: PERM, size, mtimeNs: MTIME, digest: Buffer.alloc(DIGEST_SIZE), path: pathOf(fileId) };
}

const id16 = Buffer.alloc(16, 1);
/** One message of every type; the mapped type makes a missing one a compile error. */
const ONE_OF_EACH: { [N in PacketTypeName]: MessageOf<(typeof PacketType)[N]> } = {
  PUSH: { type: PacketType.PUSH, path: Buffer.from('/dest') },
  PULL: { type: PacketType.PULL, paths: [Buffer.from('src')] },
  SESSION: { type: PacketType.SESSION, sessionId: id16 },
  ATTACH: { type: PacketType.ATTACH, sessionId: id16, connIndex: 1 },
  MODE: { type: PacketType.MODE, flags: 0 },
  DIR_INFO: { type: PacketType.DIR_INFO, perm: 0o755, mtimeNs: 0n, path: DIR_PATH },
  FILE_INFO: { type: PacketType.FILE_INFO, fileId: 0, perm: PERM, size: 0, mtimeNs: 0n, digest: Buffer.alloc(DIGEST_SIZE), path: pathOf(0) },
  FILE_COUNT: { type: PacketType.FILE_COUNT, count: 1, totalBytes: 0 },
  FILE_READY: { type: PacketType.FILE_READY, fileId: 0 },
  DATA: { type: PacketType.DATA, fileId: 0, seq: 0, data: PAYLOAD.subarray(0, 1) },
  DATA_Z: { type: PacketType.DATA_Z, fileId: 0, seq: 0, rawLength: 2, data: PAYLOAD.subarray(0, 1) },
  DONE: { type: PacketType.DONE },
  ERROR: { type: PacketType.ERROR, code: 2, message: 'broken' },
  HELLO: { type: PacketType.HELLO, minVersion: 1, maxVersion: 1, nonce: Buffer.alloc(32) },
  AUTH: { type: PacketType.AUTH, keyId: id16, mac: Buffer.alloc(32) },
  AUTH_OK: { type: PacketType.AUTH_OK, mac: Buffer.alloc(32) },
  PARAMS: { type: PacketType.PARAMS, chunkSize: MIN_CHUNK_SIZE, connections: 1, hashAlgs: 1, cipher: 0, features: 0 },
  SYMLINK: { type: PacketType.SYMLINK, mtimeNs: 0n, path: LINK_PATH, target: LINK_TARGET },
  CHUNK_SUM: { type: PacketType.CHUNK_SUM, fileId: 0, seq: 0, length: 1, hash: 0n },
  RESEND: { type: PacketType.RESEND, fileId: 0, seq: 0, length: 1 },
  FILE_DONE: { type: PacketType.FILE_DONE, fileId: 0, digest: BAD_DIGEST },
  FILE_OK: { type: PacketType.FILE_OK, fileId: 0 },
  FILE_SAME: { type: PacketType.FILE_SAME, fileId: 0 },
  FILE_SAME_INODE: { type: PacketType.FILE_SAME_INODE, fileId: 0, inodeTag: 0n },
  SOURCE_KEPT: { type: PacketType.SOURCE_KEPT, code: 35, path: pathOf(0), message: 'kept' },
  CHUNKS_HELD: { type: PacketType.CHUNKS_HELD, fileId: 0, firstIndex: 0, hashes: Buffer.alloc(8) },
  CHUNK_KEPT: { type: PacketType.CHUNK_KEPT, fileId: 0, index: 0 },
  PARTIAL_STALE: { type: PacketType.PARTIAL_STALE, fileId: 0, reason: 1 },
  DATA_LOST: { type: PacketType.DATA_LOST, connIndex: 1, chunks: 0 },
  CHUNK_ACK: { type: PacketType.CHUNK_ACK, connIndex: 1, chunks: 0 },
  DELTA_SIG: { type: PacketType.DELTA_SIG, fileId: 0, oldOffset: 0, entries: Buffer.alloc(12) },
  NEW_SIG: { type: PacketType.NEW_SIG, fileId: 0, offset: 0, entries: Buffer.alloc(12) },
  DELTA_COPY: { type: PacketType.DELTA_COPY, fileId: 0, offset: 0, oldOffset: 0, length: 1 },
  HOLE: { type: PacketType.HOLE, fileId: 0, seq: 0, length: 1 },
  FILE_ERROR: { type: PacketType.FILE_ERROR, fileId: 0, code: 30, message: 'gone' },
  KEEPALIVE: { type: PacketType.KEEPALIVE },
  BATCH: { type: PacketType.BATCH, entries: Buffer.alloc(6) },
  FILE_INLINE: { type: PacketType.FILE_INLINE, fileId: 0, perm: PERM, mtimeNs: 0n, hash: 0n, path: pathOf(0), data: PAYLOAD.subarray(0, 1) },
  ENTRY_ERROR: { type: PacketType.ENTRY_ERROR, code: 35, path: pathOf(0), message: 'skipped' },
  HARDLINK: { type: PacketType.HARDLINK, path: pathOf(1), target: pathOf(0) },
  OWNER: { type: PacketType.OWNER, uid: 0, gid: 0, user: Buffer.from('root'), group: Buffer.from('root') },
  SYNC: { type: PacketType.SYNC, flags: 0, maxDelete: 0 },
  SIZE_LIMITS: { type: PacketType.SIZE_LIMITS, minSize: 0, maxSize: 0 },
  ITEM: { type: PacketType.ITEM, item: Buffer.from('>f+++++++++'), isDir: 0, path: pathOf(0) },
  FILTER_RULES: { type: PacketType.FILTER_RULES, maxDepth: 1, rules: Buffer.from('- *.tmp') },
  LOGIN: { type: PacketType.LOGIN, user: Buffer.from('alice') },
  RENAME: { type: PacketType.RENAME, from: Buffer.from('src/a'), to: Buffer.from('src/b') },
  APPEND: { type: PacketType.APPEND, fileId: 0, offset: 0, mtimeNs: 0n, hash: 0n, data: PAYLOAD.subarray(0, 1) },
  FOLLOW: { type: PacketType.FOLLOW, event: 5, name: Buffer.alloc(0) },
  FILES_FROM: { type: PacketType.FILES_FROM, recursive: 0, paths: Buffer.from('a/b.txt') },
  DEST_STATE: { type: PacketType.DEST_STATE, holds: 1 },
  DIR_STATE: { type: PacketType.DIR_STATE, holds: 0, path: pathOf(0) },
  FILE_WANT: { type: PacketType.FILE_WANT, fileId: 0 },
  FILE_WHOLE: { type: PacketType.FILE_WHOLE, fileId: 0, hash: 0n, data: Buffer.alloc(0) },
  TWO_WAY: { type: PacketType.TWO_WAY, op: 2, mode: 0, size: 0, mtimeNs: 0n, digest: Buffer.alloc(32), path: Buffer.alloc(0) },
  TWO_WAY_SIDE: { type: PacketType.TWO_WAY_SIDE, event: 4, mode: 0, size: 0, mtimeNs: 0n, digest: Buffer.alloc(32), path: Buffer.alloc(0) },
  TWO_WAY_MOVE: { type: PacketType.TWO_WAY_MOVE, kind: 2, from: Buffer.from('a'), to: Buffer.from('b') },
  TWO_WAY_NODE: { type: PacketType.TWO_WAY_NODE, event: 1, kind: 1, digest: Buffer.alloc(32), path: Buffer.from('a'), target: Buffer.alloc(0) },
  TWO_WAY_NODE_OP: { type: PacketType.TWO_WAY_NODE_OP, op: 2, kind: 1, digest: Buffer.alloc(32), path: Buffer.from('a'), target: Buffer.alloc(0) },
  TWO_WAY_SCOPE: { type: PacketType.TWO_WAY_SCOPE, event: 2, path: Buffer.alloc(0) },
};
const ALL_MESSAGES: Message[] = Object.values(ONE_OF_EACH);

/** The chunk hashes the model tests use: distinct per file and chunk. */
const chunkHash = (fileId: number, index: number) => BigInt(fileId) * 1000n + BigInt(index) + 1n;

function modelDigest(fileId: number, size: number, chunkSize: number): Buffer {
  const digest = new FileDigest(size, chunkSize);
  for (let i = 0; i < digest.chunks; i++) digest.add(i, chunkHash(fileId, i));
  return digest.digest();
}

/** Length of the first DATA frame of the chunk at `offset`. */
function firstFrame(offset: number, size: number, chunkSize: number): number {
  return Math.min(DATA_FRAME_BYTES, Math.min(offset + chunkSize, size) - offset);
}

// ─── Receiver model ──────────────────────────────────────────────────────────────────────────

type ChunkPhase = 'unsent' | 'receiving' | 'writing' | 'resend' | 'verified';
interface RChunk { phase: ChunkPhase; attempts: number }
interface RFile {
  id: number;
  size: number;
  state: 'announced' | 'ready' | 'committing' | 'ok' | 'failed';
  /** FILE_READY was sent. */
  created: boolean;
  /** createFile is with the owner. */
  createPending: boolean;
  chunks: RChunk[];
  /** What the sender said at the end: nothing yet, FILE_DONE, or FILE_ERROR. */
  senderSaid: 'nothing' | 'done' | 'error';
  goodDigest: boolean;
  /** Answered FILE_SAME: OK without data (the quick check). */
  same: boolean;
}
/** The chunk open on a data connection: the frames sent so far. */
interface RLink { file: RFile; index: number; start: number; next: number; end: number; frames: Buffer[] }
interface ReceiverModel extends ViolationModel {
  chunkSize: number;
  plan: number[];
  files: RFile[];
  links: (RLink | undefined)[];
  state: 'RECEIVING' | 'SENDER_DONE' | 'FINISHING' | 'CLOSED' | 'FAILED';
  /** Steps run after FAILED: a few show that everything is ignored, more would only cost time. */
  afterFailure: number;
  /** Sends predicted so far, by type. */
  predicted: Record<string, number>;
  /** ENTRY_ERRORs either side sent. */
  entriesFailed: number;
}
class ReceiverReal {
  readonly machine: TransferReceiver;
  readonly sends: Record<string, number> = {};
  constructor(chunkSize: number) {
    this.machine = new TransferReceiver({ chunkSize, peerName: 'sender test', scope: anyScope() });
  }
  /** Counts the sends, so that the run can compare them with the model's at the end. */
  record(actions: readonly ReceiverAction[]): readonly ReceiverAction[] {
    for (const action of actions) {
      if (action.type === 'send') {
        const name = packetTypeName[action.message.type]!;
        this.sends[name] = (this.sends[name] ?? 0) + 1;
      }
    }
    return actions;
  }
  receive(conn: number, message: Message): readonly ReceiverAction[] {
    return this.record(this.machine.receive(conn, message));
  }
}
type RStep = Step<ReceiverModel, ReceiverReal>;

function expectSends(m: { predicted: Record<string, number> }, expected: Plain[]): Plain[] {
  for (const action of expected) {
    if (typeof action.send === 'string') m.predicted[action.send] = (m.predicted[action.send] ?? 0) + 1;
  }
  return expected;
}

/** `finish` when the sender's DONE is in and every file is settled. */
function settle(m: ReceiverModel, expected: Plain[]): Plain[] {
  if (m.state === 'SENDER_DONE' && m.files.every((f) => f.state === 'ok' || f.state === 'failed')) {
    m.state = 'FINISHING';
    expected.push({ type: 'finish' });
  }
  return expectSends(m, expected);
}

function failFile(m: ReceiverModel, f: RFile, code: FcpErrorCode, notifyPeer: boolean): Plain[] {
  f.state = 'failed';
  return settle(m, [
    ...(notifyPeer ? [sent('FILE_ERROR', { fileId: f.id, code })] : []),
    // A file that failed for want of space keeps its part file for a rerun (PROTOCOL.md §7.5).
    ...(f.created ? [code === 'FCP_ERR_NO_SPACE' ? { type: 'discardFile', fileId: f.id, keep: true } : { type: 'discardFile', fileId: f.id }] : []),
    fileFailed(f.id, code),
  ]);
}

function commitIfVerified(m: ReceiverModel, f: RFile): Plain[] {
  if (f.senderSaid !== 'done' || !f.chunks.every((c) => c.phase === 'verified')) return [];
  if (!f.goodDigest) return failFile(m, f, 'FCP_ERR_VERIFY', true);
  f.state = 'committing';
  return [{ type: 'commitFile', fileId: f.id }];
}

const live = (f: RFile) => f.state === 'ready';
/** The sender may still fail a file it has not finished, FILE_SAME's crossing its FILE_ERROR included. */
const senderMayFail = (f: RFile) => f.senderSaid === 'nothing' && (f.state !== 'ok' || f.same);
/** The sender may still send DATA for a file that failed after FILE_READY: it had not heard yet. */
const dataMayCome = (f: RFile) => f.created && (f.state === 'ready' || f.state === 'failed');

function chunksWhere(m: ReceiverModel, fileOk: (f: RFile) => boolean, phases: ChunkPhase[]): [RFile, number][] {
  return m.files.filter(fileOk).flatMap((f) =>
    f.chunks.flatMap((c, i): [RFile, number][] => (phases.includes(c.phase) ? [[f, i]] : [])),
  );
}

const openLink = (m: ReceiverModel, a: Args) => m.links[a.conn];
/** Length of the next DATA frame of an open chunk. */
const nextFrame = (link: RLink) => Math.min(DATA_FRAME_BYTES, link.end - link.next);
const idleConn = (m: ReceiverModel, a: Args) => m.state !== 'FAILED' && m.links[a.conn] === undefined;

/** A file whose createFile is with the owner, who may report on it now. */
const creationPending = (m: ReceiverModel, a: Args) => m.state !== 'FAILED' && choose(m.files.filter((f) => f.createPending), a.pick) !== undefined;
/** The file the owner reports on: its createFile is no longer pending. */
function takeCreation(m: ReceiverModel, a: Args): RFile {
  const f = choose(m.files.filter((x) => x.createPending), a.pick)!;
  f.createPending = false;
  return f;
}

const rSteps = {
  announceFile: {
    name: 'FILE_INFO',
    check: (m) => m.state === 'RECEIVING' && m.files.length < m.plan.length,
    run(m, r) {
      const id = m.files.length;
      const size = m.plan[id]!;
      expectActions(r.receive(0, fileInfo(id, size)), [
        { type: 'createFile', fileId: id, path: pathOf(id), perm: PERM, size, mtimeNs: MTIME, digest: Buffer.alloc(DIGEST_SIZE) },
      ]);
      const chunks = Array.from({ length: chunkCount(size, m.chunkSize) }, (): RChunk => ({ phase: 'unsent', attempts: 0 }));
      m.files.push({ id, size, state: 'announced', created: false, createPending: true, chunks, senderSaid: 'nothing', goodDigest: false, same: false });
    },
  },
  announceDir: {
    name: 'DIR_INFO',
    check: (m) => m.state === 'RECEIVING',
    run(_m, r) {
      const message: Message = { type: PacketType.DIR_INFO, perm: 0o755, mtimeNs: -5n, path: DIR_PATH };
      expectActions(r.receive(0, message), [{ type: 'createDir', path: DIR_PATH, perm: 0o755, mtimeNs: -5n }]);
    },
  },
  announceSymlink: {
    name: 'SYMLINK',
    check: (m) => m.state === 'RECEIVING',
    run(_m, r) {
      const message: Message = { type: PacketType.SYMLINK, mtimeNs: MTIME, path: LINK_PATH, target: LINK_TARGET };
      expectActions(r.receive(0, message), [{ type: 'createSymlink', path: LINK_PATH, target: LINK_TARGET, mtimeNs: MTIME }]);
    },
  },
  /** The owner finished creating a file: created (ok) or failed; also after the sender's FILE_ERROR. */
  create: {
    name: 'owner: file created / creation failed',
    check: creationPending,
    run(m, r, a) {
      const f = takeCreation(m, a);
      if (f.state === 'failed') {
        const actions = a.ok ? r.record(r.machine.fileCreated(f.id)) : r.record(r.machine.fileFailed(f.id, IO_ERROR));
        expectActions(actions, a.ok ? [{ type: 'discardFile', fileId: f.id }] : []);
      } else if (a.ok) {
        expectActions(r.record(r.machine.fileCreated(f.id)), expectSends(m, [sent('FILE_READY', { fileId: f.id })]));
        f.state = 'ready';
        f.created = true;
      } else {
        expectActions(r.record(r.machine.fileFailed(f.id, IO_ERROR)), failFile(m, f, 'FCP_ERR_IO', true));
      }
    },
  },
  /** Instead of creating it, the owner found the file at the destination (the quick check). */
  same: {
    name: 'owner: destination unchanged',
    check: creationPending,
    run(m, r, a) {
      const f = takeCreation(m, a);
      const actions = r.record(r.machine.fileSame(f.id));
      if (f.state === 'failed') return expectActions(actions, []);
      f.state = 'ok';
      f.same = true;
      expectActions(actions, settle(m, [sent('FILE_SAME', { fileId: f.id }), { type: 'fileOk', fileId: f.id, same: true }]));
    },
  },
  openChunk: {
    name: 'first DATA of a chunk',
    check: (m, a) => idleConn(m, a) && chunksWhere(m, dataMayCome, ['unsent', 'resend']).length > 0,
    run(m, r, a) {
      const [f, index] = choose(chunksWhere(m, dataMayCome, ['unsent', 'resend']), a.pick)!;
      const start = index * m.chunkSize;
      const message = dataMessage(f.id, start, firstFrame(start, f.size, m.chunkSize));
      expectActions(r.receive(a.conn, message), []);
      f.chunks[index]!.phase = 'receiving';
      const end = Math.min(start + m.chunkSize, f.size);
      m.links[a.conn] = { file: f, index, start, next: start + message.data.length, end, frames: [message.data] };
    },
  },
  dataFrame: {
    name: 'next DATA of a chunk',
    check(m, a) {
      const link = openLink(m, a);
      return m.state !== 'FAILED' && link !== undefined && link.next < link.end;
    },
    run(m, r, a) {
      const link = openLink(m, a)!;
      const message = dataMessage(link.file.id, link.next, nextFrame(link));
      expectActions(r.receive(a.conn, message), []);
      link.frames.push(message.data);
      link.next += message.data.length;
    },
  },
  chunkSum: {
    name: 'CHUNK_SUM',
    check(m, a) {
      const link = openLink(m, a);
      return m.state !== 'FAILED' && link !== undefined && link.next === link.end;
    },
    run(m, r, a) {
      const link = openLink(m, a)!;
      const { file: f, index, start, end } = link;
      m.links[a.conn] = undefined;
      const actions = r.receive(a.conn, chunkSum(f.id, start, end - start, chunkHash(f.id, index)));
      if (f.state === 'failed') {
        expectActions(actions, []);
        return;
      }
      const chunk = f.chunks[index]!;
      chunk.phase = 'writing';
      chunk.attempts++;
      expectActions(actions, [{
        type: 'writeChunk', fileId: f.id, seq: start / DATA_UNIT, length: end - start,
        hash: chunkHash(f.id, index), data: link.frames.length, attempt: chunk.attempts,
      }]);
      // The very views that came in DATA, in order: no copy, nothing lost or reordered.
      (actions[0] as WriteChunkAction).data.forEach((view, i) => expectEqual(view === link.frames[i], true));
    },
  },
  /** The owner hashed a chunk: ok, or a mismatch (RESEND, or FILE_ERROR at the last attempt). */
  written: {
    name: 'owner: chunk written / hash mismatch',
    check: (m, a) => m.state !== 'FAILED' && choose(chunksWhere(m, (f) => f.state !== 'ok', ['writing']), a.pick) !== undefined,
    run(m, r, a) {
      const [f, index] = choose(chunksWhere(m, (x) => x.state !== 'ok', ['writing']), a.pick)!;
      const chunk = f.chunks[index]!;
      const start = index * m.chunkSize;
      const actions = r.record(r.machine.chunkWritten(f.id, start / DATA_UNIT, a.hashOk, 7n));
      if (f.state === 'failed') {
        chunk.phase = 'verified'; // settled either way: it is out of the model's way
        expectActions(actions, []);
      } else if (a.hashOk) {
        chunk.phase = 'verified';
        expectActions(actions, commitIfVerified(m, f));
      } else if (chunk.attempts < MAX_CHUNK_ATTEMPTS) {
        chunk.phase = 'resend';
        const length = Math.min(m.chunkSize, f.size - start);
        expectActions(actions, expectSends(m, [sent('RESEND', { fileId: f.id, seq: start / DATA_UNIT, length })]));
      } else {
        expectActions(actions, failFile(m, f, 'FCP_ERR_VERIFY', true));
      }
    },
  },
  /** FILE_DONE with the right digest (ok) or a wrong one; dropped when the file already failed. */
  fileDone: {
    name: 'FILE_DONE',
    check: (m, a) => m.state !== 'FAILED' && choose(m.files.filter((f) => dataMayCome(f) && f.senderSaid === 'nothing'), a.pick) !== undefined,
    run(m, r, a) {
      const f = choose(m.files.filter((x) => dataMayCome(x) && x.senderSaid === 'nothing'), a.pick)!;
      const digest = a.ok ? modelDigest(f.id, f.size, m.chunkSize) : BAD_DIGEST;
      const actions = r.receive(0, { type: PacketType.FILE_DONE, fileId: f.id, digest });
      const wasFailed = f.state === 'failed';
      f.senderSaid = 'done';
      f.goodDigest = a.ok;
      expectActions(actions, wasFailed ? [] : commitIfVerified(m, f));
    },
  },
  commit: {
    name: 'owner: file committed / commit failed',
    check: (m, a) => m.state !== 'FAILED' && choose(m.files.filter((f) => f.state === 'committing'), a.pick) !== undefined,
    run(m, r, a) {
      const f = choose(m.files.filter((x) => x.state === 'committing'), a.pick)!;
      if (!a.ok) {
        expectActions(r.record(r.machine.fileFailed(f.id, IO_ERROR)), failFile(m, f, 'FCP_ERR_IO', true));
        return;
      }
      f.state = 'ok';
      expectActions(r.record(r.machine.fileCommitted(f.id)), settle(m, [sent('FILE_OK', { fileId: f.id }), { type: 'fileOk', fileId: f.id }]));
    },
  },
  writeFailed: {
    name: 'owner: write failed (an I/O error, or no space: an even pick)',
    check: (m, a) => m.state !== 'FAILED' && !a.ok && choose(m.files.filter(live), a.pick) !== undefined,
    run(m, r, a) {
      const f = choose(m.files.filter(live), a.pick)!;
      const error = a.pick % 2 === 0 ? IO_ERROR : NO_SPACE;
      expectActions(r.record(r.machine.fileFailed(f.id, error)), failFile(m, f, error.code, true));
    },
  },
  /** The sender could not read a file; dropped when the receiver failed it already, or answered FILE_SAME. */
  senderFileError: {
    name: 'FILE_ERROR from the sender',
    check: (m, a) => m.state !== 'FAILED' && !a.ok && choose(m.files.filter(senderMayFail), a.pick) !== undefined,
    run(m, r, a) {
      const f = choose(m.files.filter(senderMayFail), a.pick)!;
      const actions = r.receive(0, { type: PacketType.FILE_ERROR, fileId: f.id, ...PEER_FILE_ERROR });
      f.senderSaid = 'error';
      expectActions(actions, f.state === 'failed' || f.same ? [] : failFile(m, f, 'FCP_ERR_NOT_FOUND', false));
    },
  },
  done: {
    name: 'DONE from the sender',
    check: (m) => m.state === 'RECEIVING' && m.files.length === m.plan.length,
    run(m, r) {
      const actions = r.receive(0, { type: PacketType.DONE });
      m.state = 'SENDER_DONE';
      expectActions(actions, settle(m, []));
    },
  },
  finished: {
    name: 'owner: finished',
    check: (m) => m.state === 'FINISHING',
    run(m, r) {
      m.state = 'CLOSED';
      const ok = m.files.filter((f) => f.state === 'ok');
      const complete = {
        type: 'complete', filesOk: ok.length, filesFailed: m.files.length - ok.length, entriesFailed: m.entriesFailed, bytes: ok.reduce((sum, f) => sum + f.size, 0),
        bytesResumed: ok.filter((f) => f.same).reduce((sum, f) => sum + f.size, 0),
        filesSame: ok.filter((f) => f.same).length,
      };
      expectActions(r.record(r.machine.finished()), expectSends(m, [sent('DONE'), complete]));
    },
  },
  /** The sender skipped an entry: counted, nothing to create. */
  senderEntryError: {
    name: 'ENTRY_ERROR from the sender',
    check: (m, a) => m.state === 'RECEIVING' && !a.ok,
    run(m, r) {
      m.entriesFailed++;
      expectActions(r.receive(0, { type: PacketType.ENTRY_ERROR, ...SKIPPED }), [entryFailed(SKIPPED.path, 'FCP_ERR_IO')]);
    },
  },
  /** The owner could not create a directory or symlink, or apply a directory's metadata: the sender hears of it before DONE. */
  ownerEntryFailed: {
    name: 'owner: directory or symlink failed',
    check: (m, a) => (m.state === 'RECEIVING' || m.state === 'SENDER_DONE' || m.state === 'FINISHING') && !a.ok,
    run(m, r) {
      m.entriesFailed++;
      expectActions(r.record(r.machine.entryFailed(LINK_PATH, IO_ERROR)), expectSends(m, [
        sent('ENTRY_ERROR', { path: LINK_PATH, code: 'FCP_ERR_IO' }),
        entryFailed(LINK_PATH, 'FCP_ERR_IO'),
      ]));
    },
  },
  keepalive: {
    name: 'KEEPALIVE',
    check: (m, a) => m.state !== 'FAILED' && !a.ok,
    run(_m, r, a) {
      expectActions(r.receive(a.pick % (CONNS + 1), { type: PacketType.KEEPALIVE }), []);
    },
  },
} satisfies Record<string, RStep>;

/**
 * A way to break the protocol, built from the model's state (undefined when the state offers no
 * chance to). Each breaks one rule only: DATA frames have the length that would be right at their
 * place, RESENDs the right length, so that a missing check is not hidden by another one.
 */
type RViolation = [string, (m: ReceiverModel, a: Args) => Violation | undefined];

/** The first DATA of a chunk in one of `phases`, which may not come again without a RESEND. */
function chunkAgain(phases: ChunkPhase[]): RViolation[1] {
  return (m, a) => {
    const [f, index] = choose(chunksWhere(m, (x) => x.state === 'ready' || x.state === 'committing', phases), a.pick) ?? [];
    const offset = index! * m.chunkSize;
    const message = f && dataMessage(f.id, offset, firstFrame(offset, f.size, m.chunkSize));
    return message && idleConn(m, a) ? refused(a.conn, message) : undefined;
  };
}

/** A first DATA frame, right in every way but its file. */
function firstDataOf(which: (f: RFile) => boolean): RViolation[1] {
  return (m, a) => {
    const f = choose(m.files.filter((x) => which(x) && x.size > 0), a.pick);
    const message = f && dataMessage(f.id, 0, firstFrame(0, f.size, m.chunkSize));
    return message && idleConn(m, a) ? refused(a.conn, message) : undefined;
  };
}

/** On the data connections. */
const rDataViolations: RViolation[] = [
  ['DATA for a file never announced', (m, a) =>
    idleConn(m, a) ? refused(a.conn, dataMessage(m.plan.length + (a.pick % 3), 0, DATA_UNIT)) : undefined],
  ['DATA for a file not ready', firstDataOf((f) => f.state === 'announced')],
  ['DATA for a file already OK', firstDataOf((f) => f.state === 'ok')],
  ['DATA for a file that failed before it was ready', firstDataOf((f) => f.state === 'failed' && !f.created)],
  ['DATA past the end of the file', (m, a) => {
    const f = choose(m.files.filter(dataMayCome), a.pick);
    const offset = f && chunkCount(f.size, m.chunkSize) * m.chunkSize;
    return f && idleConn(m, a) ? refused(a.conn, dataMessage(f.id, offset!, 1)) : undefined;
  }],
  ['DATA off the chunk grid', (m, a) => {
    const offset = DATA_UNIT * (1 + (a.pick % (m.chunkSize / DATA_UNIT - 1)));
    const f = choose(m.files.filter((x) => live(x) && x.size > offset), a.pick);
    const length = f && Math.min(DATA_FRAME_BYTES, f.size - offset);
    return f && idleConn(m, a) ? refused(a.conn, dataMessage(f.id, offset, length!)) : undefined;
  }],
  ['a short DATA frame that is not the last of its chunk', (m, a) => {
    const big = chunksWhere(m, live, ['unsent', 'resend']).filter(([f, i]) => Math.min(m.chunkSize, f.size - i * m.chunkSize) > DATA_FRAME_BYTES);
    const [f, index] = choose(big, a.pick) ?? [];
    return f && idleConn(m, a) ? refused(a.conn, dataMessage(f.id, index! * m.chunkSize, DATA_UNIT)) : undefined;
  }],
  ['a verified chunk sent again', chunkAgain(['verified'])],
  ['a chunk sent again while it is received or written', chunkAgain(['receiving', 'writing'])],
  ['DATA that leaves a gap in its chunk', (m, a) => {
    const link = openLink(m, a);
    return link && link.next < link.end ? refused(a.conn, dataMessage(link.file.id, link.next + DATA_UNIT, nextFrame(link))) : undefined;
  }],
  ['DATA that repeats the start of its chunk', (m, a) => {
    const link = openLink(m, a);
    return link && link.next < link.end ? refused(a.conn, dataMessage(link.file.id, link.start, nextFrame(link))) : undefined;
  }],
  ['DATA for another file inside an open chunk', (m, a) => {
    const link = openLink(m, a);
    return link && link.next < link.end ? refused(a.conn, dataMessage(link.file.id + 1, link.next, nextFrame(link))) : undefined;
  }],
  ['DATA past the end of its chunk', (m, a) => {
    const link = openLink(m, a);
    const over = link && link.end - link.next + 1;
    return link && over! <= DATA_FRAME_BYTES ? refused(a.conn, dataMessage(link.file.id, link.next, over!)) : undefined;
  }],
  ['CHUNK_SUM before its chunk is complete', (m, a) => {
    const link = openLink(m, a);
    return link && link.next < link.end ? refused(a.conn, chunkSum(link.file.id, link.start, link.end - link.start)) : undefined;
  }],
  ['CHUNK_SUM with the wrong length', (m, a) => {
    const link = openLink(m, a);
    const length = link && (a.ok || link.end - link.start === 1 ? link.end - link.start + 1 : link.end - link.start - 1);
    return link && link.next === link.end ? refused(a.conn, chunkSum(link.file.id, link.start, length!)) : undefined;
  }],
  ['CHUNK_SUM for another chunk', (m, a) => {
    const link = openLink(m, a);
    return link && link.next === link.end ? refused(a.conn, chunkSum(link.file.id, link.start + m.chunkSize, link.end - link.start)) : undefined;
  }],
  ['CHUNK_SUM with no DATA before it', (m, a) => {
    const f = choose(m.files.filter((x) => live(x) && x.size > 0), a.pick);
    return f && idleConn(m, a) ? refused(a.conn, chunkSum(f.id, 0, Math.min(m.chunkSize, f.size))) : undefined;
  }],
];

/** On the control connection, or a message on the wrong connection. */
const rControlViolations: RViolation[] = [
  ['DATA on the control connection', (m, a) => {
    const f = choose(m.files.filter(live), a.pick);
    return f ? refused(0, dataMessage(f.id, 0, 1), 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined;
  }],
  ['CHUNK_SUM on the control connection', (m, a) => {
    const f = choose(m.files.filter(live), a.pick);
    return f ? refused(0, chunkSum(f.id, 0, 1), 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined;
  }],
  ['FILE_INFO on a data connection', (m, a) =>
    m.state === 'RECEIVING' && m.files.length < m.plan.length
      ? refused(a.conn, fileInfo(m.files.length, 0), 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['FILE_DONE on a data connection', (m, a) => {
    const f = choose(m.files.filter(live), a.pick);
    return f ? refused(a.conn, { type: PacketType.FILE_DONE, fileId: f.id, digest: BAD_DIGEST }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined;
  }],
  ['FILE_INFO with a file_id out of turn', (m, a) => {
    const id = a.ok && m.files.length > 0 ? m.files.length - 1 : m.files.length + 1 + (a.pick % 3);
    return m.state === 'RECEIVING' && m.files.length < m.plan.length ? refused(0, fileInfo(id, 0)) : undefined;
  }],
  ['FILE_INFO beyond FILE_COUNT', (m) =>
    m.state === 'RECEIVING' && m.files.length === m.plan.length ? refused(0, fileInfo(m.files.length, 0)) : undefined],
  ['FILE_INFO over total_bytes', (m) => {
    const unannounced = m.plan.slice(m.files.length).reduce((sum, size) => sum + size, 0);
    return m.state === 'RECEIVING' && m.files.length < m.plan.length
      ? refused(0, fileInfo(m.files.length, unannounced + 1)) : undefined;
  }],
  ['FILE_COUNT twice', (m) =>
    m.state !== 'FAILED' ? refused(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 1 }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['a message only a receiver or client sends', (m, a) => {
    const messages: Message[] = [
      { type: PacketType.FILE_READY, fileId: 0 },
      { type: PacketType.RESEND, fileId: 0, seq: 0, length: 1 },
      { type: PacketType.FILE_OK, fileId: 0 },
      { type: PacketType.MODE, flags: 0 },
    ];
    return m.state !== 'FAILED' ? refused(0, choose(messages, a.pick)!, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined;
  }],
  ['DONE before every file is announced', (m) =>
    m.state === 'RECEIVING' && m.files.length < m.plan.length ? refused(0, { type: PacketType.DONE }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['DONE twice', (m) =>
    m.state !== 'RECEIVING' && m.state !== 'FAILED' ? refused(0, { type: PacketType.DONE }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['DIR_INFO after DONE', (m) =>
    m.state !== 'RECEIVING' && m.state !== 'FAILED'
      ? refused(0, { type: PacketType.DIR_INFO, perm: 0, mtimeNs: 0n, path: DIR_PATH }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['ENTRY_ERROR after DONE', (m) =>
    m.state !== 'RECEIVING' && m.state !== 'FAILED' ? refused(0, { type: PacketType.ENTRY_ERROR, ...SKIPPED }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['ENTRY_ERROR on a data connection', (m, a) =>
    m.state !== 'FAILED' ? refused(1 + (a.conn % CONNS), { type: PacketType.ENTRY_ERROR, ...SKIPPED }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['FILE_DONE for a file not ready', (m, a) => {
    const f = choose(m.files.filter((x) => x.state === 'announced'), a.pick);
    return f ? refused(0, { type: PacketType.FILE_DONE, fileId: f.id, digest: BAD_DIGEST }) : undefined;
  }],
  ['FILE_DONE twice', (m, a) => {
    const f = choose(m.files.filter((x) => (x.state === 'ready' || x.state === 'committing') && x.senderSaid === 'done'), a.pick);
    return f ? refused(0, { type: PacketType.FILE_DONE, fileId: f.id, digest: BAD_DIGEST }) : undefined;
  }],
  ['FILE_ERROR after FILE_DONE', (m, a) => {
    const f = choose(m.files.filter((x) => (x.state === 'ready' || x.state === 'committing') && x.senderSaid === 'done'), a.pick);
    return f ? refused(0, { type: PacketType.FILE_ERROR, fileId: f.id, ...PEER_FILE_ERROR }) : undefined;
  }],
  ['FILE_DONE for a file already OK', (m, a) => {
    const f = choose(m.files.filter((x) => x.state === 'ok'), a.pick);
    return f ? refused(0, { type: PacketType.FILE_DONE, fileId: f.id, digest: BAD_DIGEST }) : undefined;
  }],
  ['FILE_ERROR for a file never announced', (m, a) =>
    m.state !== 'FAILED'
      ? refused(0, { type: PacketType.FILE_ERROR, fileId: m.plan.length + (a.pick % 3), ...PEER_FILE_ERROR }) : undefined],
  ['ERROR from the sender', (m, a) =>
    m.state !== 'FAILED'
      ? refused(a.pick % (CONNS + 1), { type: PacketType.ERROR, code: 31, message: 'disk\u0007 full' }, 'FCP_ERR_PERMISSION', false) : undefined],
];

/**
 * The step that commits the run's planned violation, once its step has come and the model's state
 * offers the chance: the machine must fail with the expected code and end FAILED. Aiming each run
 * at one violation gives every kind its share of runs, however rarely its chance comes.
 */
function violationStep<M extends ViolationModel, R>(
  violations: [string, (m: M, a: Args) => Violation | undefined][],
  deliver: (r: R, v: Violation) => readonly TransferAction[],
  realState: (r: R) => string,
): Step<M, R> {
  const planned = (m: M, a: Args) => {
    // Once the run is draining or CLOSED, the violation is due whatever its step.
    const due = m.violation !== undefined && (m.steps >= m.violation.from || m.draining || m.state === 'CLOSED');
    if (!due || m.state === 'FAILED') return undefined;
    const [name, build] = violations[m.violation!.kind % violations.length]!;
    const violation = build(m, a);
    return violation && { name, violation };
  };
  return {
    name: 'violation',
    check: (m, a) => planned(m, a) !== undefined,
    run(m, r, a) {
      const { name, violation } = planned(m, a)!;
      const actions = deliver(r, violation).map(plain);
      // The name goes into the comparison so that a failure says which violation it was.
      expectEqual({ name, actions }, { name, actions: [failure(violation.code, violation.notifyPeer)] });
      expectEqual(realState(r), 'FAILED');
      m.state = 'FAILED';
    },
  };
}

/** Once FAILED, messages and owner calls alike are ignored. */
const rAfterFailed: RStep = {
  name: 'anything after FAILED',
  check: (m) => m.state === 'FAILED' && m.afterFailure < AFTER_FAILURE_STEPS,
  run(m, r, a) {
    m.afterFailure++;
    const calls: (() => readonly ReceiverAction[])[] = [
      () => r.receive(a.conn, dataMessage(0, 0, 1)),
      () => r.receive(0, fileInfo(0, 0)),
      () => r.receive(0, { type: PacketType.ERROR, code: 2, message: 'late' }),
      () => r.receive(0, { type: PacketType.KEEPALIVE }),
      () => r.machine.fileCreated(0),
      () => r.machine.chunkWritten(0, 0, true),
      () => r.machine.fileCommitted(0),
      () => r.machine.fileFailed(0, IO_ERROR),
      () => r.machine.finished(),
    ];
    expectActions(choose(calls, a.pick)!(), []);
  },
};

const rViolation = violationStep<ReceiverModel, ReceiverReal>(
  [...rDataViolations, ...rControlViolations],
  (r, v) => r.receive(v.conn, v.message),
  (r) => r.machine.state,
);

function rAfter(m: ReceiverModel, r: ReceiverReal): void {
  m.steps++;
  expectEqual(r.machine.state, m.state);
}

/** Weights: the data path is where most steps happen. */
const receiverSteps: [RStep, number][] = [
  ...Object.values(rSteps).map((step): [RStep, number] => [step, 2]),
  ...[rSteps.openChunk, rSteps.dataFrame, rSteps.chunkSum, rSteps.written].map((step): [RStep, number] => [step, 4]),
  [rViolation, 8],
  [rAfterFailed, 1],
];

const receiverPlan = fc.constantFrom(MIN_CHUNK_SIZE, 2 * MIN_CHUNK_SIZE).chain((chunkSize) =>
  fc.record({
    chunkSize: fc.constant(chunkSize),
    sizes: fc.integer({ min: 0, max: 6 }).chain((n) => fc.array(sizeNear(chunkSize), { minLength: n, maxLength: n })),
    violation: plannedViolation,
  }),
);

describe('TransferReceiver', () => {
  it('follows the model on legal steps and violations, and legal runs reach CLOSED', () => {
    fc.assert(
      fc.property(receiverPlan, fc.commands(commands(receiverSteps, rAfter), { maxCommands: MAX_COMMANDS, size: 'max' }), (plan, cmds) => {
        const m: ReceiverModel = {
          chunkSize: plan.chunkSize, plan: plan.sizes, files: [], links: [], state: 'RECEIVING', violation: plan.violation, steps: 0, draining: false, afterFailure: 0, predicted: {}, entriesFailed: 0,
        };
        const r = new ReceiverReal(plan.chunkSize);
        const totalBytes = plan.sizes.reduce((sum, size) => sum + size, 0);
        expectActions(r.receive(0, { type: PacketType.FILE_COUNT, count: plan.sizes.length, totalBytes }), []);
        fc.modelRun(() => ({ model: m, real: r }), cmds);
        if (m.state !== 'FAILED') {
          drain(m, r, [
            rViolation, rSteps.finished, rSteps.chunkSum, rSteps.dataFrame, rSteps.written, rSteps.commit,
            rSteps.fileDone, rSteps.create, rSteps.openChunk, rSteps.announceFile, rSteps.done,
          ], rAfter);
        }
        if (m.state === 'FAILED') return;
        // Every send the machine made over the whole run is one the model predicted.
        expect(r.sends).toEqual(m.predicted);
        expect(r.sends.FILE_READY ?? 0).toBe(m.files.filter((f) => f.created).length);
        expect(r.sends.FILE_OK ?? 0).toBe(m.files.filter((f) => f.state === 'ok' && !f.same).length);
        expect(r.sends.FILE_SAME ?? 0).toBe(m.files.filter((f) => f.same).length);
        expect(m.files.every((f) => f.chunks.every((c) => c.attempts <= MAX_CHUNK_ATTEMPTS))).toBe(true);
      }),
      { numRuns: numRuns(500) },
    );
  });

  it.each([0, 1])('refuses anything but FILE_COUNT, ERROR and KEEPALIVE before FILE_COUNT (connection %i)', (conn) => {
    for (const message of ALL_MESSAGES) {
      const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope() });
      const expected =
        message.type === PacketType.KEEPALIVE ? [] :
        message.type === PacketType.ERROR ? [failure('FCP_ERR_PROTOCOL', false)] :
        message.type === PacketType.FILE_COUNT && conn === 0 ? [] : [failure('FCP_ERR_UNEXPECTED_MESSAGE')];
      expect({ type: packetTypeName[message.type], actions: receiver.receive(conn, message).map(plain) })
        .toEqual({ type: packetTypeName[message.type], actions: expected });
    }
  });

  it('finishes at once when FILE_COUNT announced no file', () => {
    const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope() });
    expectActions(receiver.receive(0, { type: PacketType.FILE_COUNT, count: 0, totalBytes: 0 }), []);
    expectActions(receiver.receive(0, { type: PacketType.DONE }), [{ type: 'finish' }]);
    expectActions(receiver.finished(), [sent('DONE'), { type: 'complete', filesOk: 0, filesFailed: 0, entriesFailed: 0, bytes: 0, bytesResumed: 0, filesSame: 0 }]);
    expect(receiver.state).toBe('CLOSED');
  });

  /** A receiver with file 0 of `size` bytes announced (FILE_INFO carrying `digest`) and created. */
  function readyReceiver(size: number, digest: Buffer = Buffer.alloc(DIGEST_SIZE)): TransferReceiver {
    const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope() });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: size });
    receiver.receive(0, { ...(fileInfo(0, size) as FileInfoMessage), digest });
    expectActions(receiver.fileCreated(0), [sent('FILE_READY', { fileId: 0 })]);
    return receiver;
  }

  it('checks FILE_DONE against a digest that FILE_INFO already carried', () => {
    const good = modelDigest(0, 0, MIN_CHUNK_SIZE);
    expectActions(readyReceiver(0, good).receive(0, { type: PacketType.FILE_DONE, fileId: 0, digest: good }), [{ type: 'commitFile', fileId: 0 }]);
    expectActions(readyReceiver(0, good).receive(0, { type: PacketType.FILE_DONE, fileId: 0, digest: BAD_DIGEST }), [failure('FCP_ERR_PROTOCOL')]);
  });

  it("takes FILE_DONE after the sender's DONE, and answers DONE only once that file is settled (§7.1)", () => {
    const good = modelDigest(0, 0, MIN_CHUNK_SIZE);
    const receiver = readyReceiver(0);
    expectActions(receiver.receive(0, { type: PacketType.DONE }), []);
    expectActions(receiver.receive(0, { type: PacketType.FILE_DONE, fileId: 0, digest: good }), [{ type: 'commitFile', fileId: 0 }]);
    expectActions(receiver.fileCommitted(0), [sent('FILE_OK', { fileId: 0 }), { type: 'fileOk', fileId: 0 }, { type: 'finish' }]);
    expectActions(receiver.finished(), [sent('DONE'), { type: 'complete', filesOk: 1, filesFailed: 0, entriesFailed: 0, bytes: 0, bytesResumed: 0, filesSame: 0 }]);
  });

  it('cuts a FILE_ERROR text to the wire limit at a character boundary', () => {
    const receiver = readyReceiver(1);
    const long = new FcpError('FCP_ERR_IO', `${'é'.repeat(MAX_ERROR_MESSAGE_BYTES)}`);
    const [error] = receiver.fileFailed(0, long);
    const text = ((error as SendAction).message as FileErrorMessage).message;
    expect(Buffer.byteLength(text)).toBe(MAX_ERROR_MESSAGE_BYTES);
    expect(text).toBe('é'.repeat(MAX_ERROR_MESSAGE_BYTES / 2));
  });

  it('throws FCP_ERR_INTERNAL when the owner reports work it was never given', () => {
    const receiver = readyReceiver(MIN_CHUNK_SIZE);
    expectInternal(() => receiver.fileCreated(0));
    expectInternal(() => receiver.fileCreated(5));
    expectInternal(() => receiver.chunkWritten(0, 0, true));
    expectInternal(() => receiver.fileCommitted(0));
    expectInternal(() => receiver.fileFailed(5, IO_ERROR));
    expectInternal(() => receiver.finished());
    expect(receiver.state).toBe('RECEIVING');
  });
});

// ─── Sender model ────────────────────────────────────────────────────────────────────────────

interface SFile {
  id: number;
  size: number;
  state: 'announced' | 'ready' | 'sent' | 'ok' | 'failed';
  /** RESENDs received, by chunk index. */
  resends: number[];
  /** The receiver answered FILE_SAME: OK without data. */
  same?: boolean;
}
interface SenderModel extends ViolationModel {
  chunkSize: number;
  window: number;
  plan: number[];
  files: SFile[];
  state: 'ANNOUNCING' | 'DONE_SENT' | 'CLOSED' | 'FAILED';
  afterFailure: number;
  /** ENTRY_ERRORs either side sent. */
  entriesFailed: number;
}
type SStep = Step<SenderModel, TransferSender>;

const open = (f: SFile) => f.state !== 'ok' && f.state !== 'failed';
const exchanging = (m: SenderModel) => m.state === 'ANNOUNCING' || m.state === 'DONE_SENT';
/** What the sender's owner passes as a file's digest: the machine forwards it untouched. */
const digestOf = (fileId: number) => Buffer.alloc(DIGEST_SIZE, fileId + 1);
const filesIn = (m: SenderModel, ...states: SFile['state'][]) => m.files.filter((f) => states.includes(f.state));

function resendable(m: SenderModel): [SFile, number][] {
  return filesIn(m, 'ready', 'sent').flatMap((f) =>
    f.resends.flatMap((count, i): [SFile, number][] => (count < MAX_CHUNK_ATTEMPTS - 1 ? [[f, i]] : [])),
  );
}

function resendOf(m: SenderModel, f: SFile, index: number): Message {
  const offset = index * m.chunkSize;
  return { type: PacketType.RESEND, fileId: f.id, seq: offset / DATA_UNIT, length: Math.min(m.chunkSize, f.size - offset) };
}

/** Owner calls that a correct owner never makes: each throws FCP_ERR_INTERNAL and changes nothing. */
const ownerBugs: [(m: SenderModel, a: Args) => boolean, (s: TransferSender, m: SenderModel, a: Args) => unknown][] = [
  [(m) => m.state === 'ANNOUNCING' && m.files.length === m.plan.length, (s, m) => s.announceFile(pathOf(m.files.length), PERM, 0, MTIME)],
  [(m) => m.state === 'ANNOUNCING' && m.files.length < m.plan.length, (s, m) =>
    s.announceFile(pathOf(m.files.length), PERM, m.plan.slice(m.files.length).reduce((sum, size) => sum + size, 1), MTIME)],
  [(m) => m.state === 'ANNOUNCING' && m.files.length < m.plan.length, (s) => s.finish()],
  [(m) => m.state !== 'ANNOUNCING', (s) => s.announceDir(DIR_PATH, 0o755, 0n)],
  [() => true, (s) => s.start(1, 1)],
  [(m, a) => choose(filesIn(m, 'announced'), a.pick) !== undefined, (s, m, a) => s.fileSent(choose(filesIn(m, 'announced'), a.pick)!.id, digestOf(0))],
  [(m, a) => choose(filesIn(m, 'sent', 'ok'), a.pick) !== undefined, (s, m, a) => s.fileFailed(choose(filesIn(m, 'sent', 'ok'), a.pick)!.id, IO_ERROR)],
  [(m) => m.state !== 'FAILED', (s, m) => s.fileSent(m.plan.length, digestOf(0))],
];

const sSteps = {
  announceFile: {
    name: 'announceFile',
    check: (m) => m.state === 'ANNOUNCING' && m.files.length < m.plan.length && m.files.filter(open).length < m.window,
    run(m, s) {
      const id = m.files.length;
      const size = m.plan[id]!;
      expectActions(s.announceFile(pathOf(id), PERM, size, MTIME), [
        sent('FILE_INFO', { fileId: id, perm: PERM, size, mtimeNs: MTIME, digest: Buffer.alloc(DIGEST_SIZE), path: pathOf(id) }),
      ]);
      m.files.push({ id, size, state: 'announced', resends: new Array<number>(chunkCount(size, m.chunkSize)).fill(0) });
    },
  },
  announceDir: {
    name: 'announceDir',
    check: (m) => m.state === 'ANNOUNCING',
    run(_m, s) {
      expectActions(s.announceDir(DIR_PATH, 0o755, -5n), [sent('DIR_INFO', { perm: 0o755, mtimeNs: -5n, path: DIR_PATH })]);
    },
  },
  announceSymlink: {
    name: 'announceSymlink',
    check: (m) => m.state === 'ANNOUNCING',
    run(_m, s) {
      expectActions(s.announceSymlink(LINK_PATH, LINK_TARGET, MTIME), [sent('SYMLINK', { mtimeNs: MTIME, path: LINK_PATH, target: LINK_TARGET })]);
    },
  },
  ready: {
    name: 'FILE_READY',
    check: (m, a) => exchanging(m) && choose(filesIn(m, 'announced'), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(filesIn(m, 'announced'), a.pick)!;
      expectActions(s.receive({ type: PacketType.FILE_READY, fileId: f.id }), [{ type: 'sendFile', fileId: f.id }]);
      f.state = 'ready';
    },
  },
  readFailed: {
    name: 'owner: read failed',
    check: (m, a) => exchanging(m) && !a.ok && choose(filesIn(m, 'announced', 'ready'), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(filesIn(m, 'announced', 'ready'), a.pick)!;
      // The peer is told, and so is the owner (progress, the exit code of a partial copy).
      expectActions(s.fileFailed(f.id, IO_ERROR), [sent('FILE_ERROR', { fileId: f.id, code: 'FCP_ERR_IO' }), fileFailed(f.id, 'FCP_ERR_IO')]);
      f.state = 'failed';
    },
  },
  fileSent: {
    name: 'owner: file sent',
    check: (m, a) => exchanging(m) && choose(filesIn(m, 'ready'), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(filesIn(m, 'ready'), a.pick)!;
      expectActions(s.fileSent(f.id, digestOf(f.id)), [sent('FILE_DONE', { fileId: f.id, digest: digestOf(f.id) })]);
      f.state = 'sent';
    },
  },
  resend: {
    name: 'RESEND',
    check: (m, a) => exchanging(m) && choose(resendable(m), a.pick) !== undefined,
    run(m, s, a) {
      const [f, index] = choose(resendable(m), a.pick)!;
      const { type: _, ...range } = resendOf(m, f, index) as MessageOf<typeof PacketType.RESEND>;
      expectActions(s.receive(resendOf(m, f, index)), [{ type: 'resendChunk', ...range }]);
      f.resends[index]!++;
    },
  },
  /** The receiver's quick check: the file is at the destination already. */
  fileSame: {
    name: 'FILE_SAME',
    check: (m, a) => exchanging(m) && choose(filesIn(m, 'announced'), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(filesIn(m, 'announced'), a.pick)!;
      expectActions(s.receive({ type: PacketType.FILE_SAME, fileId: f.id }), [{ type: 'fileOk', fileId: f.id, same: true }]);
      f.state = 'ok';
      f.same = true;
    },
  },
  fileOk: {
    name: 'FILE_OK',
    check: (m, a) => exchanging(m) && choose(filesIn(m, 'sent'), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(filesIn(m, 'sent'), a.pick)!;
      expectActions(s.receive({ type: PacketType.FILE_OK, fileId: f.id }), [{ type: 'fileOk', fileId: f.id }]);
      f.state = 'ok';
    },
  },
  receiverFileError: {
    name: 'FILE_ERROR from the receiver',
    check: (m, a) => exchanging(m) && !a.ok && choose(m.files.filter(open), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(m.files.filter(open), a.pick)!;
      expectActions(s.receive({ type: PacketType.FILE_ERROR, fileId: f.id, ...PEER_FILE_ERROR }), [fileFailed(f.id, 'FCP_ERR_NOT_FOUND')]);
      f.state = 'failed';
    },
  },
  /** What the receiver sent about a file before it heard that the file failed: dropped. */
  crossing: {
    name: 'FILE_READY, RESEND or FILE_ERROR for a failed file',
    check: (m, a) => exchanging(m) && choose(filesIn(m, 'failed'), a.pick) !== undefined,
    run(m, s, a) {
      const f = choose(filesIn(m, 'failed'), a.pick)!;
      const messages: Message[] = [
        { type: PacketType.FILE_READY, fileId: f.id },
        { type: PacketType.FILE_SAME, fileId: f.id },
        { type: PacketType.FILE_ERROR, fileId: f.id, ...PEER_FILE_ERROR },
        ...(f.size > 0 ? [resendOf(m, f, 0)] : []),
      ];
      expectActions(s.receive(choose(messages, a.conn)!), []);
    },
  },
  finish: {
    name: 'owner: finish',
    check: (m) => m.state === 'ANNOUNCING' && m.files.length === m.plan.length,
    run(m, s) {
      expectActions(s.finish(), [sent('DONE')]);
      m.state = 'DONE_SENT';
    },
  },
  receiverDone: {
    name: 'DONE from the receiver',
    check: (m) => m.state === 'DONE_SENT' && !m.files.some(open),
    run(m, s) {
      const ok = filesIn(m, 'ok');
      const complete = {
        type: 'complete', filesOk: ok.length, filesFailed: m.files.length - ok.length, entriesFailed: m.entriesFailed, bytes: ok.reduce((sum, f) => sum + f.size, 0),
        bytesResumed: ok.filter((f) => f.same).reduce((sum, f) => sum + f.size, 0),
        filesSame: ok.filter((f) => f.same).length,
      };
      expectActions(s.receive({ type: PacketType.DONE }), [complete]);
      m.state = 'CLOSED';
    },
  },
  /** The owner skips a source entry (a FIFO, a loop): the receiver hears of it before DONE. */
  skipEntry: {
    name: 'owner: entry skipped',
    check: (m, a) => m.state === 'ANNOUNCING' && !a.ok,
    run(m, s) {
      m.entriesFailed++;
      expectActions(s.skipEntry(SKIPPED.path, IO_ERROR), [sent('ENTRY_ERROR', { path: SKIPPED.path, code: 'FCP_ERR_IO' }), entryFailed(SKIPPED.path, 'FCP_ERR_IO')]);
    },
  },
  receiverEntryError: {
    name: 'ENTRY_ERROR from the receiver',
    check: (m, a) => exchanging(m) && !a.ok,
    run(m, s) {
      m.entriesFailed++;
      expectActions(s.receive({ type: PacketType.ENTRY_ERROR, ...SKIPPED }), [entryFailed(SKIPPED.path, 'FCP_ERR_IO')]);
    },
  },
  keepalive: {
    name: 'KEEPALIVE',
    check: (m, a) => m.state !== 'FAILED' && !a.ok,
    run(_m, s) {
      expectActions(s.receive({ type: PacketType.KEEPALIVE }), []);
    },
  },
  ownerBug: {
    name: 'owner bug',
    check: (m, a) => m.state !== 'FAILED' && !a.ok && ownerBugs.some(([applies]) => applies(m, a)),
    run(m, s, a) {
      const [, call] = choose(ownerBugs.filter(([applies]) => applies(m, a)), a.pick)!;
      expectInternal(() => call(s, m, a));
    },
  },
} satisfies Record<string, SStep>;

type SViolation = [string, (m: SenderModel, a: Args) => Violation | undefined];

/** A violation about one file, in a state that takes messages about files. */
function aboutFile(states: SFile['state'][], build: (f: SFile, m: SenderModel, a: Args) => Message | undefined): (m: SenderModel, a: Args) => Violation | undefined {
  return (m, a) => {
    const f = exchanging(m) ? choose(filesIn(m, ...states), a.pick) : undefined;
    const message = f && build(f, m, a);
    return message && refused(0, message);
  };
}

const sViolations: SViolation[] = [
  ['FILE_READY for a file never announced', (m, a) =>
    exchanging(m) ? refused(0, { type: PacketType.FILE_READY, fileId: m.files.length + (a.pick % 3) }) : undefined],
  ['FILE_READY twice', aboutFile(['ready', 'sent'], (f) => ({ type: PacketType.FILE_READY, fileId: f.id }))],
  ['FILE_READY for a file already OK', aboutFile(['ok'], (f) => ({ type: PacketType.FILE_READY, fileId: f.id }))],
  ['RESEND for a file not ready', aboutFile(['announced'], (f, m) => (f.size > 0 ? resendOf(m, f, 0) : undefined))],
  ['RESEND off the chunk grid', aboutFile(['ready', 'sent'], (f, m, a) => {
    const offset = DATA_UNIT * (1 + (a.pick % (m.chunkSize / DATA_UNIT - 1)));
    // A length that would be right if a chunk started there: only the grid is wrong.
    const length = Math.min(m.chunkSize, f.size - offset);
    return length > 0 ? { type: PacketType.RESEND, fileId: f.id, seq: offset / DATA_UNIT, length } : undefined;
  })],
  ['RESEND with the wrong length', aboutFile(['ready', 'sent'], (f, m, a) => {
    const length = Math.min(m.chunkSize, f.size);
    const wrong = length === 1 || a.ok ? length + 1 : length - 1;
    return f.size > 0 ? { type: PacketType.RESEND, fileId: f.id, seq: 0, length: wrong } : undefined;
  })],
  ['RESEND past the end of the file', aboutFile(['ready', 'sent'], (f, m) =>
    ({ type: PacketType.RESEND, fileId: f.id, seq: (chunkCount(f.size, m.chunkSize) * m.chunkSize) / DATA_UNIT, length: 1 }))],
  ['RESEND a third time', (m, a) => {
    const spent = exchanging(m)
      ? filesIn(m, 'ready', 'sent').flatMap((f) => f.resends.flatMap((count, i): [SFile, number][] => (count === MAX_CHUNK_ATTEMPTS - 1 ? [[f, i]] : [])))
      : [];
    const [f, index] = choose(spent, a.pick) ?? [];
    return f && refused(0, resendOf(m, f, index!));
  }],
  ['RESEND for a file already OK', aboutFile(['ok'], (f, m) => (f.size > 0 ? resendOf(m, f, 0) : undefined))],
  ['FILE_OK before FILE_DONE', aboutFile(['announced', 'ready'], (f) => ({ type: PacketType.FILE_OK, fileId: f.id }))],
  ['FILE_OK for a failed file', aboutFile(['failed'], (f) => ({ type: PacketType.FILE_OK, fileId: f.id }))],
  ['FILE_OK twice', aboutFile(['ok'], (f) => ({ type: PacketType.FILE_OK, fileId: f.id }))],
  ['FILE_SAME for a file that is ready or sent', aboutFile(['ready', 'sent'], (f) => ({ type: PacketType.FILE_SAME, fileId: f.id }))],
  ['FILE_SAME for a file already OK', aboutFile(['ok'], (f) => ({ type: PacketType.FILE_SAME, fileId: f.id }))],
  ['FILE_SAME for a file never announced', (m, a) =>
    exchanging(m) ? refused(0, { type: PacketType.FILE_SAME, fileId: m.files.length + (a.pick % 3) }) : undefined],
  ['FILE_ERROR for a file already OK', aboutFile(['ok'], (f) => ({ type: PacketType.FILE_ERROR, fileId: f.id, ...PEER_FILE_ERROR }))],
  ['FILE_ERROR for a file never announced', (m, a) =>
    exchanging(m) ? refused(0, { type: PacketType.FILE_ERROR, fileId: m.files.length + (a.pick % 3), ...PEER_FILE_ERROR }) : undefined],
  ["DONE before the sender's DONE", (m) =>
    m.state === 'ANNOUNCING' ? refused(0, { type: PacketType.DONE }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['DONE while files are not acknowledged', (m) =>
    m.state === 'DONE_SENT' && m.files.some(open) ? refused(0, { type: PacketType.DONE }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['a message only a sender or client sends', (m, a) => {
    const { FILE_INFO, DATA, CHUNK_SUM, FILE_DONE, FILE_COUNT, DIR_INFO, SYMLINK, HELLO, PUSH } = ONE_OF_EACH;
    const messages = [FILE_INFO, DATA, CHUNK_SUM, FILE_DONE, FILE_COUNT, DIR_INFO, SYMLINK, HELLO, PUSH];
    return m.state !== 'FAILED' ? refused(0, choose(messages, a.pick)!, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined;
  }],
  ['ENTRY_ERROR after CLOSED', (m) =>
    m.state === 'CLOSED' ? refused(0, { type: PacketType.ENTRY_ERROR, ...SKIPPED }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['an acknowledgement after CLOSED', (m, a) =>
    m.state === 'CLOSED' ? refused(0, { type: PacketType.FILE_OK, fileId: a.pick % (m.files.length + 1) }, 'FCP_ERR_UNEXPECTED_MESSAGE') : undefined],
  ['ERROR from the receiver', (m) =>
    m.state !== 'FAILED' ? refused(0, { type: PacketType.ERROR, code: 32, message: 'full\n' }, 'FCP_ERR_NO_SPACE', false) : undefined],
];

const sAfterFailed: SStep = {
  name: 'anything after FAILED',
  check: (m) => m.state === 'FAILED' && m.afterFailure < AFTER_FAILURE_STEPS,
  run(m, s, a) {
    m.afterFailure++;
    const calls: (() => readonly SenderAction[])[] = [
      () => s.receive({ type: PacketType.FILE_OK, fileId: 0 }),
      () => s.receive({ type: PacketType.ERROR, code: 2, message: 'late' }),
      () => s.announceFile(pathOf(99), PERM, 1, MTIME),
      () => s.fileSent(0, digestOf(0)),
      () => s.fileFailed(0, IO_ERROR),
      () => s.finish(),
      () => s.start(0, 0),
    ];
    expectActions(choose(calls, a.pick)!(), []);
  },
};

const sViolation = violationStep<SenderModel, TransferSender>(sViolations, (s, v) => s.receive(v.message), (s) => s.state);

function sAfter(m: SenderModel, s: TransferSender): void {
  m.steps++;
  expectEqual({ state: s.state, canAnnounce: s.canAnnounce }, {
    state: m.state,
    canAnnounce: m.state === 'ANNOUNCING' && m.files.filter(open).length < m.window,
  });
}

const senderSteps: [SStep, number][] = [
  ...Object.values(sSteps).map((step): [SStep, number] => [step, 2]),
  [sViolation, 8],
  [sAfterFailed, 1],
];

const senderPlan = fc.constantFrom(MIN_CHUNK_SIZE, 2 * MIN_CHUNK_SIZE).chain((chunkSize) =>
  fc.record({
    chunkSize: fc.constant(chunkSize),
    window: fc.integer({ min: 1, max: 4 }),
    sizes: fc.integer({ min: 0, max: 6 }).chain((n) => fc.array(sizeNear(chunkSize), { minLength: n, maxLength: n })),
    violation: plannedViolation,
  }),
);

describe('TransferSender', () => {
  it('follows the model on legal steps and violations, and legal runs reach CLOSED', () => {
    fc.assert(
      fc.property(senderPlan, fc.commands(commands(senderSteps, sAfter), { maxCommands: MAX_COMMANDS, size: 'max' }), (plan, cmds) => {
        const m: SenderModel = {
          chunkSize: plan.chunkSize, window: plan.window, plan: plan.sizes, files: [], state: 'ANNOUNCING',
          violation: plan.violation, steps: 0, draining: false, afterFailure: 0, entriesFailed: 0,
        };
        const s = new TransferSender({ chunkSize: plan.chunkSize, windowFiles: plan.window, peerName: 'receiver test', quickCheck: true });
        expect(s.canAnnounce).toBe(false);
        const totalBytes = plan.sizes.reduce((sum, size) => sum + size, 0);
        expectActions(s.start(plan.sizes.length, totalBytes), [sent('FILE_COUNT', { count: plan.sizes.length, totalBytes })]);
        fc.modelRun(() => ({ model: m, real: s }), cmds);
        if (m.state !== 'FAILED') {
          drain(m, s, [sViolation, sSteps.receiverDone, sSteps.fileOk, sSteps.fileSent, sSteps.ready, sSteps.finish, sSteps.announceFile], sAfter);
        }
        expect(s.state).toBe(m.state);
      }),
      { numRuns: numRuns(500) },
    );
  });

  it('takes only ERROR and KEEPALIVE before start', () => {
    for (const message of ALL_MESSAGES) {
      const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
      const expected =
        message.type === PacketType.KEEPALIVE ? [] :
        message.type === PacketType.ERROR ? [failure('FCP_ERR_PROTOCOL', false)] : [failure('FCP_ERR_UNEXPECTED_MESSAGE')];
      expect({ type: packetTypeName[message.type], actions: sender.receive(message).map(plain) })
        .toEqual({ type: packetTypeName[message.type], actions: expected });
    }
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
    expectInternal(() => sender.announceFile(pathOf(0), PERM, 0, MTIME));
    expectInternal(() => sender.finish());
  });

  it('refuses FILE_SAME when the session did not negotiate QUICK_CHECK', () => {
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
    sender.start(1, 5);
    sender.announceFile(pathOf(0), PERM, 5, MTIME);
    expectActions(sender.receive({ type: PacketType.FILE_SAME, fileId: 0 }), [failure('FCP_ERR_UNEXPECTED_MESSAGE')]);
  });

  describe('more feature SAME_INODE (§7.5)', () => {
    const TAG = 0x0123456789abcdefn;
    function announcing(opts: { quickCheck?: boolean; removeSources?: boolean; sameInode?: boolean }): TransferSender {
      const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver', quickCheck: true, ...opts });
      sender.start(1, 5);
      sender.announceFile(pathOf(0), PERM, 5, MTIME);
      return sender;
    }

    it('a sender removing its sources takes FILE_SAME_INODE, with its tag, and refuses FILE_SAME', () => {
      expectActions(announcing({ removeSources: true, sameInode: true }).receive({ type: PacketType.FILE_SAME_INODE, fileId: 0, inodeTag: TAG }), [
        { type: 'fileOk', fileId: 0, same: true, inodeTag: TAG },
      ]);
      expectActions(announcing({ removeSources: true, sameInode: true }).receive({ type: PacketType.FILE_SAME, fileId: 0 }), [failure('FCP_ERR_UNEXPECTED_MESSAGE')]);
    });

    it('FILE_SAME_INODE is refused without SAME_INODE, without REMOVE_SOURCE and without QUICK_CHECK', () => {
      for (const opts of [{ removeSources: true }, { sameInode: true }, { quickCheck: false, removeSources: true, sameInode: true }]) {
        expectActions(announcing(opts).receive({ type: PacketType.FILE_SAME_INODE, fileId: 0, inodeTag: TAG }), [failure('FCP_ERR_UNEXPECTED_MESSAGE')]);
      }
    });

    it('a receiver answers FILE_SAME_INODE exactly when the session agreed it, and the tag must match that', () => {
      const receiver = (sameInode: boolean): TransferReceiver => {
        const machine = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope(), sameInode });
        machine.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: 5 });
        machine.receive(0, fileInfo(0, 5));
        return machine;
      };
      expectActions(receiver(true).fileSame(0, TAG), [sent('FILE_SAME_INODE', { fileId: 0, inodeTag: TAG }), { type: 'fileOk', fileId: 0, same: true }]);
      expectActions(receiver(false).fileSame(0), [sent('FILE_SAME', { fileId: 0 }), { type: 'fileOk', fileId: 0, same: true }]);
      expectInternal(() => receiver(true).fileSame(0));
      expectInternal(() => receiver(false).fileSame(0, TAG));
    });
  });

  it('announces up to DEFAULT_WINDOW_FILES (at least 256) unacknowledged files by default', () => {
    expect(DEFAULT_WINDOW_FILES).toBeGreaterThanOrEqual(256);
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
    sender.start(DEFAULT_WINDOW_FILES + 10, 0);
    for (let id = 0; id < DEFAULT_WINDOW_FILES; id++) {
      expect(sender.canAnnounce).toBe(true);
      sender.announceFile(pathOf(id), PERM, 0, MTIME);
    }
    expect(sender.canAnnounce).toBe(false);
    expectActions(sender.receive({ type: PacketType.FILE_ERROR, fileId: 7, ...PEER_FILE_ERROR }), [fileFailed(7, 'FCP_ERR_NOT_FOUND')]);
    expect(sender.canAnnounce).toBe(true);
  });
});

// ─── Sender and receiver back to back ────────────────────────────────────────────────────────

/** A small deterministic generator, so that a seed from fast-check replays a whole interleaving. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** File contents: views into one block of pseudo-random bytes. */
const SOURCE = (() => {
  const random = mulberry32(42);
  const bytes = Buffer.alloc(4 << 20);
  for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
  return bytes;
})();

interface LoopFile {
  size: number;
  /** The receiver cannot create it. */
  createFails: boolean;
  /** The sender cannot read it after sending this many chunks. */
  readFailsAfter: number | undefined;
  /** The sender sends a wrong digest in FILE_DONE. */
  badDigest: boolean;
  /** The first `corruptTimes` sends of chunk corruptChunk (mod the chunk count) arrive damaged. */
  corruptChunk: number;
  corruptTimes: number;
  /** Sent whole as FILE_INLINE when it is small enough (a damaged one then fails, with no resend). */
  inline: boolean;
  /** Not inline: asked for whole (FILE_WANT, FILE_WHOLE) when it is small enough, as inline files fail. */
  wanted: boolean;
}
interface LoopPlan { chunkSize: number; connections: number; windowFiles: number; seed: number; files: LoopFile[] }

const oneIn = (n: number) => fc.integer({ min: 1, max: n }).map((x) => x === 1);
const loopPlan: fc.Arbitrary<LoopPlan> = fc.constantFrom(MIN_CHUNK_SIZE, 2 * MIN_CHUNK_SIZE, 4 * MIN_CHUNK_SIZE).chain((chunkSize) =>
  fc.record({
    chunkSize: fc.constant(chunkSize),
    connections: fc.integer({ min: 1, max: 8 }),
    windowFiles: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer(),
    files: fc.array(
      fc.record({
        size: fc.oneof(
          { weight: 6, arbitrary: sizeNear(chunkSize) },
          { weight: 3, arbitrary: fc.integer({ min: 0, max: INLINE_MAX }) },
          { weight: 1, arbitrary: fc.integer({ min: 1 << 20, max: 3 << 20 }) },
        ),
        createFails: oneIn(10),
        readFailsAfter: fc.oneof({ weight: 9, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat(4) }),
        badDigest: oneIn(10),
        corruptChunk: fc.nat(),
        corruptTimes: fc.constantFrom(0, 0, 0, 1, 2, MAX_CHUNK_ATTEMPTS),
        inline: fc.boolean(),
        wanted: fc.boolean(),
      }),
      { maxLength: 6 },
    ),
  }),
);

const sentInline = (file: LoopFile): boolean => file.inline && file.size <= INLINE_MAX;
const askedWhole = (file: LoopFile): boolean => !sentInline(file) && file.wanted && file.size <= INLINE_MAX;

function expectedOk(file: LoopFile): boolean {
  if (sentInline(file) || askedWhole(file)) return !file.createFails && file.readFailsAfter === undefined && (file.corruptTimes === 0 || file.size === 0);
  const verifyFails = file.corruptTimes >= MAX_CHUNK_ATTEMPTS && file.size > 0;
  return !file.createFails && file.readFailsAfter === undefined && !file.badDigest && !verifyFails;
}

/**
 * Runs one transfer: both machines, their owners, a control connection each way and the data
 * connections, as queues. Each turn delivers one message or completes one piece of owner work,
 * picked at random, so data overtakes control messages and chunks interleave across connections.
 * Returns the complete actions of both sides.
 */
function loopback(plan: LoopPlan, xxh: XXHashAPI): { sender?: CompleteAction; receiver?: CompleteAction } {
  const { chunkSize, connections, files } = plan;
  const random = mulberry32(plan.seed);
  const sender = new TransferSender({ chunkSize, windowFiles: plan.windowFiles, peerName: 'receiver', fileWant: true });
  const receiver = new TransferReceiver({ chunkSize, peerName: 'sender', scope: anyScope(), fileWant: true });
  const toReceiver: Message[] = [];
  const toSender: Message[] = [];
  const dataLinks: Message[][] = Array.from({ length: connections }, () => []);
  const senderWork: (() => void)[] = [];
  const receiverWork: (() => void)[] = [];
  /** The receiver's temporary files. */
  const written = new Map<number, Buffer>();
  /** Files the sender's owner stopped sending. */
  const senderDropped = new Set<number>();
  const sendsOfChunk = new Map<string, number>();
  const complete: { sender?: CompleteAction; receiver?: CompleteAction } = {};

  const contentOf = (fileId: number) => {
    const { size } = files[fileId]!;
    const start = (fileId * 104_729) % (SOURCE.length - size + 1);
    return SOURCE.subarray(start, start + size);
  };
  const takeAny = (work: (() => void)[]) => work.splice(Math.floor(random() * work.length), 1)[0]!;

  function sendChunk(fileId: number, index: number): void {
    const chunk = contentOf(fileId).subarray(index * chunkSize, (index + 1) * chunkSize);
    const key = `${fileId}:${index}`;
    const attempt = (sendsOfChunk.get(key) ?? 0) + 1;
    sendsOfChunk.set(key, attempt);
    const { size, corruptChunk, corruptTimes } = files[fileId]!;
    const corrupt = index === corruptChunk % chunkCount(size, chunkSize) && attempt <= corruptTimes;
    const link = dataLinks[Math.floor(random() * connections)]!;
    const hash = xxh.h64Raw(chunk);
    for (let pos = 0; pos < chunk.length; pos += DATA_FRAME_BYTES) {
      let data = chunk.subarray(pos, pos + DATA_FRAME_BYTES);
      if (corrupt && pos + DATA_FRAME_BYTES >= chunk.length) {
        data = Buffer.from(data); // damaged on the way: the last frame of the chunk
        data[0]! ^= 0xff;
      }
      link.push({ type: PacketType.DATA, fileId, seq: (index * chunkSize + pos) / DATA_UNIT, data });
    }
    link.push({ type: PacketType.CHUNK_SUM, fileId, seq: (index * chunkSize) / DATA_UNIT, length: chunk.length, hash });
  }

  function sendFile(fileId: number): void {
    if (senderDropped.has(fileId)) return;
    const { size, readFailsAfter, badDigest } = files[fileId]!;
    const digest = new FileDigest(size, chunkSize);
    const readable = readFailsAfter === undefined ? digest.chunks : Math.min(readFailsAfter, digest.chunks);
    for (let index = 0; index < readable; index++) {
      sendChunk(fileId, index);
      digest.add(index, xxh.h64Raw(contentOf(fileId).subarray(index * chunkSize, (index + 1) * chunkSize)));
    }
    if (readFailsAfter !== undefined) {
      onSender(sender.fileFailed(fileId, new FcpError('FCP_ERR_IO', `EIO reading file_id ${fileId}`)));
    } else {
      onSender(sender.fileSent(fileId, badDigest ? BAD_DIGEST : digest.digest()));
    }
  }

  /** The owner's FILE_INLINE: a read failure is announced and failed at once, as fcp does. */
  function sendInline(fileId: number): readonly SenderAction[] {
    const { size, readFailsAfter, corruptTimes } = files[fileId]!;
    if (readFailsAfter !== undefined) {
      const announced = sender.announceFile(pathOf(fileId), PERM, size, MTIME);
      return [...announced, ...sender.fileFailed(fileId, new FcpError('FCP_ERR_IO', `EIO reading file_id ${fileId}`))];
    }
    let data = contentOf(fileId);
    const hash = xxh.h64Raw(data);
    if (corruptTimes > 0 && size > 0) {
      data = Buffer.from(data);
      data[0]! ^= 0xff;
    }
    return sender.sendInline(pathOf(fileId), PERM, MTIME, data, hash);
  }

  /** The owner's answer to FILE_WANT: FILE_WHOLE (damaged on the way as an inline file would be), or FILE_ERROR when it cannot read it. */
  function sendWhole(fileId: number): void {
    const { size, readFailsAfter, corruptTimes } = files[fileId]!;
    if (readFailsAfter !== undefined) return onSender(sender.fileFailed(fileId, new FcpError('FCP_ERR_IO', `EIO reading file_id ${fileId}`)));
    let data = contentOf(fileId);
    const hash = xxh.h64Raw(data);
    if (corruptTimes > 0 && size > 0) {
      data = Buffer.from(data);
      data[0]! ^= 0xff;
    }
    const message = sender.wholeMessage(fileId, data, hash);
    if (message) toReceiver.push(message);
  }

  function onSender(actions: readonly SenderAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'send': toReceiver.push(action.message); break;
        case 'fail': throw new Error(`sender failed: ${action.error.message}`);
        case 'sendFile': senderWork.push(() => sendFile(action.fileId)); break;
        case 'sendWhole': senderWork.push(() => sendWhole(action.fileId)); break;
        case 'resendChunk':
          senderWork.push(() => {
            if (!senderDropped.has(action.fileId)) sendChunk(action.fileId, (action.seq * DATA_UNIT) / chunkSize);
          });
          break;
        case 'fileFailed': senderDropped.add(action.fileId); break;
        case 'fileOk': break;
        case 'complete': complete.sender = action; break;
      }
    }
  }

  function writeChunk(action: WriteChunkAction): void {
    const hasher = xxh.create64();
    for (const view of action.data) hasher.update(view);
    const actual = hasher.digest();
    const ok = actual === action.hash;
    const file = written.get(action.fileId);
    if (ok && file !== undefined) Buffer.concat(action.data).copy(file, action.seq * DATA_UNIT);
    onReceiver(receiver.chunkWritten(action.fileId, action.seq, ok, actual));
  }

  function onReceiver(actions: readonly ReceiverAction[]): void {
    for (const action of actions) {
      switch (action.type) {
        case 'send': toSender.push(action.message); break;
        case 'fail': throw new Error(`receiver failed: ${action.error.message}`);
        case 'createFile':
          receiverWork.push(() => {
            if (askedWhole(files[action.fileId]!)) {
              onReceiver(receiver.fileWanted(action.fileId));
            } else if (files[action.fileId]!.createFails) {
              onReceiver(receiver.fileFailed(action.fileId, new FcpError('FCP_ERR_PERMISSION', 'EACCES')));
            } else {
              written.set(action.fileId, Buffer.alloc(action.size));
              onReceiver(receiver.fileCreated(action.fileId));
            }
          });
          break;
        case 'writeChunk': receiverWork.push(() => writeChunk(action)); break;
        case 'writeFile':
        case 'writeWanted':
          receiverWork.push(() => {
            if (files[action.fileId]!.createFails) {
              onReceiver(receiver.fileFailed(action.fileId, new FcpError('FCP_ERR_PERMISSION', 'EACCES')));
            } else if (xxh.h64Raw(action.data) !== action.hash) {
              onReceiver(receiver.fileFailed(action.fileId, new FcpError('FCP_ERR_VERIFY', 'xxh64 mismatch')));
            } else {
              expect(action.data.equals(contentOf(action.fileId))).toBe(true);
              onReceiver(receiver.fileCommitted(action.fileId));
            }
          });
          break;
        case 'commitFile':
          receiverWork.push(() => {
            // Verified means the very bytes that were read on the other side.
            expect(written.get(action.fileId)!.equals(contentOf(action.fileId))).toBe(true);
            onReceiver(receiver.fileCommitted(action.fileId));
          });
          break;
        case 'discardFile': written.delete(action.fileId); break;
        case 'finish': receiverWork.push(() => onReceiver(receiver.finished())); break;
        case 'complete': complete.receiver = action; break;
        case 'createDir': case 'createSymlink': case 'fileOk': case 'fileFailed': break;
      }
    }
  }

  // The sender's owner announces while the window allows, then says DONE.
  const announcements: (() => readonly SenderAction[])[] = [
    () => sender.announceDir(DIR_PATH, 0o755, MTIME),
    ...files.map((file, fileId) => () => (sentInline(file) ? sendInline(fileId) : sender.announceFile(pathOf(fileId), PERM, file.size, MTIME))),
    () => sender.announceSymlink(LINK_PATH, LINK_TARGET, MTIME),
  ];
  let announced = 0;
  const announce = () => {
    const mayGo = (): boolean => {
      const fileId = announced - 1;
      const file = files[fileId];
      if (file === undefined) return sender.state === 'ANNOUNCING';
      // As fcp's owner: a small file that then fails to read is announced by FILE_INFO all the same.
      return sentInline(file) ? sender.canSendInline(file.size) : sender.canAnnounce;
    };
    while (announced < announcements.length && mayGo()) onSender(announcements[announced++]!());
    if (announced === announcements.length && sender.state === 'ANNOUNCING') onSender(sender.finish());
  };

  onSender(sender.start(files.length, files.reduce((sum, file) => sum + file.size, 0)));
  announce();
  for (;;) {
    const turns: (() => void)[] = [];
    if (toReceiver.length > 0) turns.push(() => onReceiver(receiver.receive(0, toReceiver.shift()!)));
    if (toSender.length > 0) turns.push(() => onSender(sender.receive(toSender.shift()!)));
    dataLinks.forEach((link, i) => {
      if (link.length > 0) turns.push(() => onReceiver(receiver.receive(i + 1, link.shift()!)));
    });
    if (senderWork.length > 0) turns.push(() => takeAny(senderWork)());
    if (receiverWork.length > 0) turns.push(() => takeAny(receiverWork)());
    if (turns.length === 0) break;
    turns[Math.floor(random() * turns.length)]!();
    announce();
  }
  expect({ sender: sender.state, receiver: receiver.state }).toEqual({ sender: 'CLOSED', receiver: 'CLOSED' });
  return complete;
}

describe('FILE_INLINE', () => {
  const data = Buffer.from('small file');
  const inline = (fileId = 0): Message => ({ type: PacketType.FILE_INLINE, fileId, perm: PERM, mtimeNs: MTIME, hash: 7n, path: pathOf(fileId), data });

  function inlineReceiver(count = 1): TransferReceiver {
    const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope() });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count, totalBytes: count * data.length });
    expectActions(receiver.receive(0, inline()), [
      { type: 'writeFile', fileId: 0, path: pathOf(0), perm: PERM, mtimeNs: MTIME, hash: 7n, data },
    ]);
    return receiver;
  }

  it('is written whole, acknowledged with FILE_OK, and counts against FILE_COUNT', () => {
    const receiver = inlineReceiver();
    expectActions(receiver.fileCommitted(0), [sent('FILE_OK', { fileId: 0 }), { type: 'fileOk', fileId: 0 }]);
    expectActions(receiver.receive(0, { type: PacketType.DONE }), [{ type: 'finish' }]);
    expectActions(receiver.finished(), [sent('DONE'), { type: 'complete', filesOk: 1, filesFailed: 0, entriesFailed: 0, bytes: data.length, bytesResumed: 0, filesSame: 0 }]);
  });

  it('fails alone when the owner cannot write it or its hash does not match', () => {
    const receiver = inlineReceiver(2);
    expectActions(receiver.fileFailed(0, new FcpError('FCP_ERR_VERIFY', 'xxh64 mismatch')), [
      sent('FILE_ERROR', { fileId: 0, code: 'FCP_ERR_VERIFY' }),
      fileFailed(0, 'FCP_ERR_VERIFY'),
    ]);
    expect(receiver.state).toBe('RECEIVING');
    expectInternal(() => receiver.fileCommitted(0));
  });

  it('refuses the next id out of turn, more files than FILE_COUNT, and bytes over total_bytes', () => {
    const receiver = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope() });
    receiver.receive(0, { type: PacketType.FILE_COUNT, count: 2, totalBytes: 2 * data.length });
    expectActions(receiver.receive(0, inline(1)), [failure('FCP_ERR_PROTOCOL')]);
    expectActions(inlineReceiver().receive(0, inline(1)), [failure('FCP_ERR_PROTOCOL')]);
    const tight = new TransferReceiver({ chunkSize: MIN_CHUNK_SIZE, peerName: 'sender', scope: anyScope() });
    tight.receive(0, { type: PacketType.FILE_COUNT, count: 1, totalBytes: data.length - 1 });
    expectActions(tight.receive(0, inline()), [failure('FCP_ERR_PROTOCOL')]);
  });

  it.each([
    ['DATA', 1, { type: PacketType.DATA, fileId: 0, seq: 0, data }],
    ['CHUNK_SUM', 1, { type: PacketType.CHUNK_SUM, fileId: 0, seq: 0, length: data.length, hash: 7n }],
    ['FILE_DONE', 0, { type: PacketType.FILE_DONE, fileId: 0, digest: BAD_DIGEST }],
    ['FILE_ERROR', 0, { type: PacketType.FILE_ERROR, fileId: 0, code: 35, message: 'no' }],
  ] as [string, number, Message][])('receiver refuses %s for an inline file, written or not', (_name, conn, message) => {
    expectActions(inlineReceiver().receive(conn, message), [failure('FCP_ERR_PROTOCOL')]);
    const written = inlineReceiver(2);
    written.fileCommitted(0);
    expectActions(written.receive(conn, message), [failure('FCP_ERR_PROTOCOL')]);
  });

  function inlineSender(): TransferSender {
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
    sender.start(2, 2 * data.length);
    expectActions(sender.sendInline(pathOf(0), PERM, MTIME, data, 7n), [
      sent('FILE_INLINE', { fileId: 0, perm: PERM, mtimeNs: MTIME, hash: 7n, path: pathOf(0), data }),
    ]);
    return sender;
  }

  it('sender takes FILE_OK or FILE_ERROR for it and refuses FILE_READY and RESEND', () => {
    expectActions(inlineSender().receive({ type: PacketType.FILE_OK, fileId: 0 }), [{ type: 'fileOk', fileId: 0 }]);
    expectActions(inlineSender().receive({ type: PacketType.FILE_ERROR, fileId: 0, code: 36, message: 'bad' }), [fileFailed(0, 'FCP_ERR_VERIFY')]);
    expectActions(inlineSender().receive({ type: PacketType.FILE_READY, fileId: 0 }), [failure('FCP_ERR_PROTOCOL')]);
    expectActions(inlineSender().receive({ type: PacketType.RESEND, fileId: 0, seq: 0, length: data.length }), [failure('FCP_ERR_PROTOCOL')]);
    expectInternal(() => inlineSender().fileFailed(0, IO_ERROR));
    expectInternal(() => inlineSender().fileSent(0, BAD_DIGEST));
  });

  it('sender gives its FILE_INLINE alone to an owner that sends it itself, and refuses FILE_SAME for it', () => {
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver', quickCheck: true });
    sender.start(2, 2 * data.length);
    expect(sender.inlineMessage(pathOf(0), PERM, MTIME, data, 7n)).toEqual({ type: PacketType.FILE_INLINE, fileId: 0, perm: PERM, mtimeNs: MTIME, hash: 7n, path: pathOf(0), data });
    expect(sender.canAnnounce).toBe(true);
    expectActions(sender.receive({ type: PacketType.FILE_SAME, fileId: 0 }), [failure('FCP_ERR_PROTOCOL')]);
    expect(sender.inlineMessage(pathOf(1), PERM, MTIME, data, 7n)).toBeUndefined();
  });

  it('sender bounds inline files by bytes in flight, not by the file window, and FILE_COUNT bounds them too', () => {
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, windowFiles: 1, peerName: 'receiver' });
    const big = Buffer.alloc(INLINE_MAX);
    const fit = INLINE_WINDOW_BYTES / INLINE_MAX;
    sender.start(fit + 2, (fit + 1) * INLINE_MAX + data.length);
    for (let i = 0; i < fit; i++) {
      expect(sender.canSendInline(INLINE_MAX)).toBe(true);
      sender.sendInline(pathOf(i), PERM, MTIME, big, 7n);
    }
    // FILE_INFO files have their own window: no inline file counts against it.
    expect(sender.canAnnounce).toBe(true);
    expect(sender.canSendInline(1)).toBe(false);
    sender.receive({ type: PacketType.FILE_OK, fileId: 0 });
    expect(sender.canSendInline(INLINE_MAX)).toBe(true);
    expect(sender.canSendInline(INLINE_MAX + 1)).toBe(false);
    sender.sendInline(pathOf(fit), PERM, MTIME, big, 7n);
    sender.announceFile(pathOf(fit + 1), PERM, data.length, MTIME);
    expect(sender.canAnnounce).toBe(false);
    expectInternal(() => sender.sendInline(pathOf(fit + 2), PERM, MTIME, data, 7n));
  });

  it('sender takes the agreed chunk size after a first flight, never after a FILE_INFO', () => {
    const sender = new TransferSender({ chunkSize: 4 * MIN_CHUNK_SIZE, peerName: 'receiver' });
    sender.start(2, data.length + 2 * MIN_CHUNK_SIZE);
    sender.sendInline(pathOf(0), PERM, MTIME, data, 7n);
    sender.setChunkSize(MIN_CHUNK_SIZE);
    sender.announceFile(pathOf(1), PERM, 2 * MIN_CHUNK_SIZE, MTIME);
    sender.receive({ type: PacketType.FILE_READY, fileId: 1 });
    // RESEND is checked against the agreed chunk size: the second chunk starts at MIN_CHUNK_SIZE.
    expectActions(sender.receive({ type: PacketType.RESEND, fileId: 1, seq: MIN_CHUNK_SIZE / DATA_UNIT, length: MIN_CHUNK_SIZE }), [
      { type: 'resendChunk', fileId: 1, seq: MIN_CHUNK_SIZE / DATA_UNIT, length: MIN_CHUNK_SIZE },
    ]);
    expectInternal(() => sender.setChunkSize(2 * MIN_CHUNK_SIZE));
  });

  it("sender sends DONE after its last announcement, FILE_DONE after DONE, and takes the receiver's DONE last (§7.1)", () => {
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, peerName: 'receiver' });
    sender.start(1, 0);
    sender.announceFile(pathOf(0), PERM, 0, MTIME);
    expectActions(sender.finish(), [sent('DONE')]);
    sender.receive({ type: PacketType.FILE_READY, fileId: 0 });
    expect(sender.fileSent(0, Buffer.alloc(DIGEST_SIZE, 1))).toEqual([{ type: 'send', message: { type: PacketType.FILE_DONE, fileId: 0, digest: Buffer.alloc(DIGEST_SIZE, 1) } }]);
    expectActions(sender.receive({ type: PacketType.FILE_OK, fileId: 0 }), [{ type: 'fileOk', fileId: 0 }]);
    expectActions(sender.receive({ type: PacketType.DONE }), [{ type: 'complete', filesOk: 1, filesFailed: 0, entriesFailed: 0, bytes: 0, bytesResumed: 0, filesSame: 0 }]);
  });

  it('sender ends once its inline files are acknowledged', () => {
    const sender = new TransferSender({ chunkSize: MIN_CHUNK_SIZE, windowFiles: 1, peerName: 'receiver' });
    sender.start(1, data.length);
    sender.sendInline(pathOf(0), PERM, MTIME, data, 7n);
    expectInternal(() => sender.sendInline(pathOf(1), PERM, MTIME, data, 7n));
    sender.receive({ type: PacketType.FILE_OK, fileId: 0 });
    expectActions(sender.finish(), [sent('DONE')]);
    expectActions(sender.receive({ type: PacketType.DONE }), [{ type: 'complete', filesOk: 1, filesFailed: 0, entriesFailed: 0, bytes: data.length, bytesResumed: 0, filesSame: 0 }]);
  });
});

describe('TransferSender and TransferReceiver back to back', () => {
  let xxh: XXHashAPI;
  beforeAll(async () => {
    xxh = await loadXxhash();
  });

  it('reach CLOSED on both sides with the files that should fail failed and the others in place', () => {
    fc.assert(
      fc.property(loopPlan, (plan) => {
        const ok = plan.files.filter(expectedOk);
        const summary = {
          type: 'complete',
          filesOk: ok.length,
          filesFailed: plan.files.length - ok.length,
          entriesFailed: 0,
          bytes: ok.reduce((sum, file) => sum + file.size, 0),
          bytesResumed: 0,
          filesSame: 0,
        };
        expect(loopback(plan, xxh)).toEqual({ sender: summary, receiver: summary });
      }),
      { numRuns: numRuns(40) },
    );
  });
});
