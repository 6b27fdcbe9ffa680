/**
 * Feature DEST_STATE (PROTOCOL.md §7.4): the receiver says first whether its destination holds
 * anything; small files go inline (FILE_INLINE) only into one that holds nothing, or (more feature
 * DIR_STATE) below a top-level directory the receiver made now, and otherwise are announced
 * (FILE_INFO), so that the quick check answers FILE_SAME and no byte is sent again; one it lacks
 * is asked for whole (more feature FILE_WANT), in a copy and in a sync alike.
 * Run through the in-process copy, with every message the two engines exchange recorded.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Feature, INLINE_MAX, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { makeOffer } from '../../../src/session/params';
import { SenderAction, TransferSender } from '../../../src/session/transfer';
import { holdsEntries } from '../../../src/transfer/destination';
import { NO_SYNC } from '../../../src/sync/options';
import { pushInProcess, recordSent } from './pushInProcess';

const SMALL_FILES = 40;

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-dest-state-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(work, { recursive: true, force: true });
});

/** work/src with SMALL_FILES small files in two directories; work/dst, empty. */
function makeTree(): void {
  for (let i = 0; i < SMALL_FILES; i++) {
    const dir = path.join(work, 'src', `d${i % 2}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `f${i}`), Buffer.alloc(1 + ((i * 397) % INLINE_MAX), i));
  }
  fs.mkdirSync(path.join(work, 'dst'));
}

/** `fcp -r SOURCES dst` in this process (dst/src, rsync's placement; `sources` below work); the summary and the messages sent, in order. */
async function copyTree(features = makeOffer({ encrypt: false }).features, sources = ['src'], files = SMALL_FILES): Promise<{ bytesSent: number; filesSame: number; sent: Message[] }> {
  const sent = recordSent();
  const { summary } = await pushInProcess(work, { offer: { ...makeOffer({ encrypt: false }), features } }, sources);
  jest.restoreAllMocks();
  expect(summary).toMatchObject({ filesOk: files, filesFailed: 0 });
  return { bytesSent: summary.bytesSent, filesSame: summary.filesSame ?? 0, sent };
}

const count = (messages: readonly Message[], type: number): number => messages.filter((m) => m.type === type).length;

function expectSameTree(source = 'src'): void {
  for (let i = 0; i < SMALL_FILES; i++) {
    const name = path.join(`d${i % 2}`, `f${i}`);
    const copy = path.join(work, 'dst', source, name);
    const original = path.join(work, source, name);
    // As text: jest compares a Buffer index by index (2 s for these 40 files).
    expect(fs.readFileSync(copy).toString('base64')).toBe(fs.readFileSync(original).toString('base64'));
    expect(Math.floor(fs.statSync(copy).mtimeMs)).toBe(Math.floor(fs.statSync(original).mtimeMs));
  }
}

const dirStates = (messages: readonly Message[]): unknown[] =>
  messages.filter((m) => m.type === PacketType.DIR_STATE).map((m) => m.type === PacketType.DIR_STATE && [m.holds, m.path.toString()]);

test('into an empty destination small files go inline; a rerun announces them and sends none again', async () => {
  makeTree();
  const first = await copyTree();
  expect(first.sent.filter((m) => m.type === PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 0 }]);
  expect(count(first.sent, PacketType.FILE_INLINE)).toBe(SMALL_FILES);
  expect(first.bytesSent).toBeGreaterThan(0);
  expectSameTree();

  const rerun = await copyTree();
  expect(rerun.sent.filter((m) => m.type === PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 1 }]);
  expect(dirStates(rerun.sent)).toEqual([[1, 'src']]);
  expect(count(rerun.sent, PacketType.FILE_INLINE)).toBe(0);
  expect(count(rerun.sent, PacketType.FILE_SAME)).toBe(SMALL_FILES);
  expect(rerun).toMatchObject({ bytesSent: 0, filesSame: SMALL_FILES });
  expectSameTree();
});

test('a changed small file is sent again, through FILE_INFO, into a destination that holds the others', async () => {
  makeTree();
  await copyTree();
  fs.writeFileSync(path.join(work, 'src', 'd1', 'f1'), 'changed');
  fs.utimesSync(path.join(work, 'src', 'd1', 'f1'), new Date('2011-01-01T00:00:00Z'), new Date('2011-01-01T00:00:00Z'));
  const rerun = await copyTree();
  expect(rerun).toMatchObject({ bytesSent: 'changed'.length, filesSame: SMALL_FILES - 1 });
  expect(count(rerun.sent, PacketType.FILE_INLINE)).toBe(0);
  expectSameTree();
});

test.each([
  ['into a destination that holds something else, a new top-level directory', (dst: string) => fs.writeFileSync(path.join(dst, 'unrelated'), 'x')],
  ['a top-level directory that is there and empty (mkdir -p dst/src, then the copy)', (dst: string) => fs.mkdirSync(path.join(dst, 'src'))],
])('%s gets its small files inline (DIR_STATE 0)', async (_name, prepare) => {
  makeTree();
  prepare(path.join(work, 'dst'));
  const first = await copyTree();
  expect(first.sent.filter((m) => m.type === PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 1 }]);
  expect(dirStates(first.sent)).toEqual([[0, 'src']]);
  expect(count(first.sent, PacketType.FILE_INLINE)).toBe(SMALL_FILES);
  expect(count(first.sent, PacketType.FILE_INFO)).toBe(0);
  expectSameTree();
  if (fs.existsSync(path.join(work, 'dst', 'unrelated'))) expect(fs.readFileSync(path.join(work, 'dst', 'unrelated'), 'utf8')).toBe('x');
});

test('a top-level directory that holds only an empty directory is not empty: its files are announced (DIR_STATE 1), and come whole when asked for (FILE_WANT)', async () => {
  makeTree();
  fs.mkdirSync(path.join(work, 'dst', 'src', 'd0'), { recursive: true });
  const first = await copyTree();
  expect(dirStates(first.sent)).toEqual([[1, 'src']]);
  expect(count(first.sent, PacketType.FILE_INLINE)).toBe(0);
  expect(count(first.sent, PacketType.FILE_INFO)).toBe(SMALL_FILES);
  expect(count(first.sent, PacketType.FILE_WANT)).toBe(SMALL_FILES);
  expect(count(first.sent, PacketType.FILE_WHOLE)).toBe(SMALL_FILES);
  expect(count(first.sent, PacketType.FILE_READY)).toBe(0);
  expectSameTree();
  const rerun = await copyTree();
  expect(count(rerun.sent, PacketType.FILE_WANT)).toBe(0);
  expect(rerun).toMatchObject({ bytesSent: 0, filesSame: SMALL_FILES });
});

test('a small file asked for whole that the sender can no longer read fails with its error; the others arrive', async () => {
  makeTree();
  fs.mkdirSync(path.join(work, 'dst', 'src', 'd0'), { recursive: true });
  const gone = path.join(work, 'src', 'd1', 'f1');
  const receive = TransferSender.prototype.receive;
  jest.spyOn(TransferSender.prototype, 'receive').mockImplementation(function (this: TransferSender, message: Message) {
    // Removed between its FILE_INFO and its read: when the first FILE_WANT comes.
    if (message.type === PacketType.FILE_WANT && fs.existsSync(gone)) fs.rmSync(gone);
    return receive.call(this, message);
  });
  const sent = recordSent();
  const { summary } = await pushInProcess(work);
  expect(summary).toMatchObject({ filesOk: SMALL_FILES - 1, filesFailed: 1 });
  expect(sent.filter((m) => m.type === PacketType.FILE_ERROR).map((m) => m.type === PacketType.FILE_ERROR && m.message.includes('d1/f1'))).toEqual([true]);
  expect(fs.existsSync(path.join(work, 'dst', 'src', 'd1', 'f1'))).toBe(false);
  expect(fs.readdirSync(path.join(work, 'dst', 'src', 'd1')).filter((name) => name.startsWith('.'))).toEqual([]);
});

test.each([
  ['a sync (--delete) asks for the small files it decided to send, and deletes what the source lacks', false],
  ['a dry run of it asks for none and changes nothing', true],
])('%s', async (_name, dryRun) => {
  makeTree();
  fs.mkdirSync(path.join(work, 'dst', 'src', 'd0'), { recursive: true });
  fs.writeFileSync(path.join(work, 'dst', 'src', 'd0', 'extra'), 'not in the source');
  const sent = recordSent();
  const { summary } = await pushInProcess(work, { sync: { ...NO_SYNC, delete: true, dryRun } });
  expect(summary).toMatchObject({ filesOk: SMALL_FILES, filesFailed: 0 });
  expect(count(sent, PacketType.FILE_WANT)).toBe(dryRun ? 0 : SMALL_FILES);
  expect(count(sent, PacketType.FILE_READY)).toBe(0);
  expect(fs.existsSync(path.join(work, 'dst', 'src', 'd0', 'extra'))).toBe(dryRun);
  if (dryRun) expect(fs.readdirSync(path.join(work, 'dst', 'src', 'd0'))).toEqual(['extra']);
  else expectSameTree();
});

test('without FILE_WANT (an fcpd before it) the small files of a holding landing go through FILE_READY', async () => {
  makeTree();
  fs.mkdirSync(path.join(work, 'dst', 'src', 'd0'), { recursive: true });
  const params = jest.requireActual<typeof import('../../../src/session/params')>('../../../src/session/params');
  jest.spyOn(params, 'fileWantAgreed').mockReturnValue(false);
  const first = await copyTree();
  expect(count(first.sent, PacketType.FILE_WANT)).toBe(0);
  expect(count(first.sent, PacketType.FILE_READY)).toBe(SMALL_FILES);
  expectSameTree();
});

test('two top-level directories, one there already and one new: FILE_INFO (and FILE_SAME) below the first, inline below the second', async () => {
  makeTree();
  await copyTree();
  fs.cpSync(path.join(work, 'src'), path.join(work, 'copy'), { recursive: true, preserveTimestamps: true });
  const both = await copyTree(undefined, ['src', 'copy'], 2 * SMALL_FILES);
  expect(dirStates(both.sent)).toEqual([[1, 'src'], [0, 'copy']]);
  expect(count(both.sent, PacketType.FILE_SAME)).toBe(SMALL_FILES);
  expect(count(both.sent, PacketType.FILE_INLINE)).toBe(SMALL_FILES);
  expect(both.sent.filter((m) => m.type === PacketType.FILE_INLINE).every((m) => m.type === PacketType.FILE_INLINE && m.path.toString().startsWith('copy/'))).toBe(true);
  expectSameTree('src');
  expectSameTree('copy');
});

test('a top-level file into a destination that holds something is announced, and a name there that is not a directory ends the copy', async () => {
  makeTree();
  fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'x');
  fs.writeFileSync(path.join(work, 'top.txt'), 'top');
  const sent = await copyTree(undefined, ['top.txt'], 1);
  expect(dirStates(sent.sent)).toEqual([]);
  expect(count(sent.sent, PacketType.FILE_INFO)).toBe(1);
  expect(fs.readFileSync(path.join(work, 'dst', 'top.txt'), 'utf8')).toBe('top');
});

test('without DIR_STATE (an fcpd before it) a holding destination gets every small file announced', async () => {
  makeTree();
  fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'x');
  const answer = jest.requireActual<typeof import('../../../src/session/params')>('../../../src/session/params');
  jest.spyOn(answer, 'transferOffer').mockImplementation((offer) => offer);
  const first = await copyTree();
  expect(dirStates(first.sent)).toEqual([]);
  expect(count(first.sent, PacketType.FILE_INLINE)).toBe(0);
  expect(count(first.sent, PacketType.FILE_INFO)).toBe(SMALL_FILES);
  expectSameTree();
});

test('without the feature (an older peer) small files go inline whatever the destination holds', async () => {
  makeTree();
  const features = makeOffer({ encrypt: false }).features & ~Feature.DEST_STATE;
  await copyTree(features);
  const rerun = await copyTree(features);
  expect(count(rerun.sent, PacketType.DEST_STATE)).toBe(0);
  expect(count(rerun.sent, PacketType.FILE_INLINE)).toBe(SMALL_FILES);
  expectSameTree();
});

test('holdsEntries: nothing and an empty directory hold nothing; a file or a directory with an entry does', () => {
  const at = (name: string): Buffer => Buffer.from(path.join(work, name));
  expect(holdsEntries(at('missing'))).toBe(false);
  fs.mkdirSync(at('empty').toString());
  expect(holdsEntries(at('empty'))).toBe(false);
  expect(holdsEntries(Buffer.from(`${at('empty').toString()}/`))).toBe(false);
  fs.writeFileSync(path.join(work, 'file'), 'x');
  expect(holdsEntries(at('file'))).toBe(true);
  fs.mkdirSync(path.join(work, 'full'));
  fs.symlinkSync('nowhere', path.join(work, 'full', 'link'));
  expect(holdsEntries(at('full'))).toBe(true);
});

function failure(actions: readonly SenderAction[]): string | undefined {
  const failed = actions.find((action) => action.type === 'fail');
  return failed?.type === 'fail' ? failed.error.code : undefined;
}

test('the sender takes DIR_STATE only for the top-level directories it announced after DEST_STATE(1) or before it, in their order', () => {
  const announcing = (): TransferSender => {
    const sender = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver', destState: true, dirState: true });
    sender.start(0, 0);
    return sender;
  };
  const dirState = (holds: number, name: string): Message => ({ type: PacketType.DIR_STATE, holds, path: Buffer.from(name) });
  const sender = announcing();
  sender.announceDir(Buffer.from('a'), 0o755, 0n);
  sender.announceDir(Buffer.from('a/sub'), 0o755, 0n);
  expect(sender.receive({ type: PacketType.DEST_STATE, holds: 1 })).toEqual([{ type: 'destState', holds: true }]);
  sender.announceDir(Buffer.from('b'), 0o755, 0n);
  expect(sender.receive(dirState(0, 'a'))).toEqual([{ type: 'dirState', path: Buffer.from('a'), holds: false }]);
  expect(sender.receive(dirState(1, 'b'))).toEqual([{ type: 'dirState', path: Buffer.from('b'), holds: true }]);
  // None due any more, or another than the one due, or one for a subdirectory.
  expect(failure(sender.receive(dirState(0, 'b')))).toBe('FCP_ERR_PROTOCOL');
  const wrong = announcing();
  wrong.receive({ type: PacketType.DEST_STATE, holds: 1 });
  wrong.announceDir(Buffer.from('a'), 0o755, 0n);
  expect(failure(wrong.receive(dirState(0, 'a/sub')))).toBe('FCP_ERR_PROTOCOL');
  // After DEST_STATE(0) no directory is answered; before DEST_STATE none may be.
  const empty = announcing();
  empty.announceDir(Buffer.from('a'), 0o755, 0n);
  empty.receive({ type: PacketType.DEST_STATE, holds: 0 });
  expect(failure(empty.receive(dirState(0, 'a')))).toBe('FCP_ERR_PROTOCOL');
  const early = announcing();
  early.announceDir(Buffer.from('a'), 0o755, 0n);
  expect(failure(early.receive(dirState(0, 'a')))).toBe('FCP_ERR_PROTOCOL');
  // Without the more feature it is a message out of place.
  const without = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver', destState: true });
  without.start(0, 0);
  without.receive({ type: PacketType.DEST_STATE, holds: 1 });
  without.announceDir(Buffer.from('a'), 0o755, 0n);
  expect(failure(without.receive(dirState(0, 'a')))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
});

test('property: the sender takes a DIR_STATE exactly when it is the next one due (a model of the rule)', () => {
  const names = ['a', 'b', 'a/x', 'b/y/z'];
  // An answer names one of the names, or (name undefined) the one due next, so that runs go on past legal answers.
  type Step = { op: 'dir'; name: string } | { op: 'dest'; holds: number } | { op: 'answer'; holds: number; name: string | undefined };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ op: fc.constant('dir' as const), name: fc.constantFrom(...names) }),
    fc.record({ op: fc.constant('dest' as const), holds: fc.integer({ min: 0, max: 1 }) }),
    fc.record({ op: fc.constant('answer' as const), holds: fc.integer({ min: 0, max: 1 }), name: fc.option(fc.constantFrom(...names), { nil: undefined }) }),
  );
  fc.assert(
    fc.property(fc.array(step, { maxLength: 30, size: 'max' }), (steps) => {
      const sender = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver', destState: true, dirState: true });
      sender.start(0, 0);
      // The model: what DEST_STATE said, and the top-level directories whose DIR_STATE is due, in order.
      let holds: boolean | undefined;
      const due: string[] = [];
      for (const s of steps) {
        if (s.op === 'answer') s.name ??= due[0] ?? 'a';
        if (s.op === 'dir') {
          sender.announceDir(Buffer.from(s.name), 0o755, 0n);
          if (holds !== false && !s.name.includes('/')) due.push(s.name);
          continue;
        }
        const actions = sender.receive(s.op === 'dest' ? { type: PacketType.DEST_STATE, holds: s.holds } : { type: PacketType.DIR_STATE, holds: s.holds, path: Buffer.from(s.name!) });
        const legal = s.op === 'dest' ? holds === undefined : holds === true && due[0] === s.name;
        if (!legal) {
          expect(failure(actions)).toBe('FCP_ERR_PROTOCOL');
          return;
        }
        if (s.op === 'dest') {
          holds = s.holds === 1;
          if (!holds) due.length = 0;
          expect(actions).toEqual([{ type: 'destState', holds }]);
        } else {
          due.shift();
          expect(actions).toEqual([{ type: 'dirState', path: Buffer.from(s.name!), holds: s.holds === 1 }]);
        }
      }
    }),
  );
});

test('the sender takes one DEST_STATE, in a session that negotiated it', () => {
  const sender = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver', destState: true });
  expect(sender.receive({ type: PacketType.DEST_STATE, holds: 1 })).toEqual([{ type: 'destState', holds: true }]);
  expect(failure(sender.receive({ type: PacketType.DEST_STATE, holds: 0 }))).toBe('FCP_ERR_PROTOCOL');
  const without = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver' });
  expect(failure(without.receive({ type: PacketType.DEST_STATE, holds: 0 }))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
});
