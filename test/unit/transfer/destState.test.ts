/**
 * Feature DEST_STATE (PROTOCOL.md §7.4): the receiver says first whether its destination holds
 * anything; small files go inline (FILE_INLINE) only into one that holds nothing, and otherwise
 * are announced (FILE_INFO), so that the quick check answers FILE_SAME and no byte is sent again.
 * Run through the in-process copy, with every message the two engines exchange recorded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyInProcess } from '../../../src/client/localCopy';
import { Feature, INLINE_MAX, ModeFlag, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { makeOffer } from '../../../src/session/params';
import { SenderAction, TransferSender } from '../../../src/session/transfer';
import { holdsEntries } from '../../../src/transfer/destination';
import { MemoryConnection } from '../../../src/transfer/memoryLink';
import { streamSources } from '../../../src/transfer/walk';

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

/** `fcp -r src dst` in this process (dst/src, rsync's placement); the summary and the types of the messages sent, in order. */
async function copyTree(features = makeOffer({ encrypt: false }).features): Promise<{ bytesSent: number; filesSame: number; sent: Message[] }> {
  const sent: Message[] = [];
  const send = MemoryConnection.prototype.send;
  jest.spyOn(MemoryConnection.prototype, 'send').mockImplementation(function (this: MemoryConnection, message: Message) {
    sent.push(message);
    return send.call(this, message);
  });
  const walk = streamSources([Buffer.from(path.join(work, 'src'))], { recursive: true, followSymlinks: false });
  const { summary } = await copyInProcess({
    work: { kind: 'push', destination: Buffer.from(path.join(work, 'dst')), walk },
    flags: ModeFlag.RECURSIVE | ModeFlag.INTO_DIR,
    offer: { ...makeOffer({ encrypt: false }), features },
    verify: true,
    log: () => undefined,
  });
  jest.restoreAllMocks();
  expect(summary).toMatchObject({ filesOk: SMALL_FILES, filesFailed: 0 });
  return { bytesSent: summary.bytesSent, filesSame: summary.filesSame ?? 0, sent };
}

const count = (messages: readonly Message[], type: number): number => messages.filter((m) => m.type === type).length;

function expectSameTree(): void {
  for (let i = 0; i < SMALL_FILES; i++) {
    const name = path.join(`d${i % 2}`, `f${i}`);
    expect(fs.readFileSync(path.join(work, 'dst', 'src', name))).toEqual(fs.readFileSync(path.join(work, 'src', name)));
  }
}

test('into an empty destination small files go inline; a rerun announces them and sends none again', async () => {
  makeTree();
  const first = await copyTree();
  expect(first.sent.filter((m) => m.type === PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 0 }]);
  expect(count(first.sent, PacketType.FILE_INLINE)).toBe(SMALL_FILES);
  expect(first.bytesSent).toBeGreaterThan(0);
  expectSameTree();

  const rerun = await copyTree();
  expect(rerun.sent.filter((m) => m.type === PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 1 }]);
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

test('the sender takes one DEST_STATE, in a session that negotiated it', () => {
  const sender = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver', destState: true });
  expect(sender.receive({ type: PacketType.DEST_STATE, holds: 1 })).toEqual([{ type: 'destState', holds: true }]);
  expect(failure(sender.receive({ type: PacketType.DEST_STATE, holds: 0 }))).toBe('FCP_ERR_PROTOCOL');
  const without = new TransferSender({ chunkSize: 1 << 20, peerName: 'receiver' });
  expect(failure(without.receive({ type: PacketType.DEST_STATE, holds: 0 }))).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
});
