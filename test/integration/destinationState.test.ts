/**
 * What the receiver says of its destination (PROTOCOL.md §7.4), between fcp and a real fcpd:
 *
 * - More feature DEST_EMPTY: a pull into a destination that holds nothing says so in its HELLO's
 *   word, and sends no DEST_STATE; fcpd's sender takes the answered bit as DEST_STATE(0) and sends
 *   small files inline at once. Against an fcpd that does not answer the bit (an older build: the
 *   proxy of helpers/twoWayPeer.ts takes it out of the HELLO), the client sends DEST_STATE.
 * - More feature DIR_STATE: into a destination that holds something, the receiver answers each
 *   top-level directory with DIR_STATE; below one it made now small files go inline (both ways),
 *   below one that was there they are announced and a rerun sends no byte. Without the bit (an
 *   older fcpd) every small file is announced.
 *
 * Sessions without encryption, so that the proxy reads every message (BATCHes taken apart); what
 * a side sends after the last thing its peer waits for may reach the proxy after copy() returns.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import type { FcpError } from '../../src/errors';
import { MoreFeature, PacketType } from '../../src/protocol/constants';
import { unbatch } from '../../src/protocol/batch';
import type { Message } from '../../src/protocol/messages';
import { loadXxhash } from '../../src/protocol/xxhash';
import { compareTrees, leftoverTemporaries, regularFiles } from './helpers/compare';
import { killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { INLINE_MAX, makeFile } from './helpers/tree';
import { olderFcpdLauncher, plainFrame } from './helpers/twoWayPeer';

const temp = useTempDirs();
afterAll(killAll);

const FILES = 120;
/** What a pull into an empty destination offers: DIR_STATE and DEST_EMPTY (with DEST_STATE), and FILE_WANT (with INLINE). */
const BOTH = MoreFeature.DIR_STATE | MoreFeature.DEST_EMPTY | MoreFeature.FILE_WANT;

/** work/src: FILES small files (sent inline into an empty destination) in a few directories; work/dst, empty. */
function smallTree(work: string): void {
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(work, 'src', `d${i % 5}`);
    fs.mkdirSync(dir, { recursive: true });
    makeFile(dir, `f${i}`, 1 + ((i * 4099) % INLINE_MAX));
  }
  fs.mkdirSync(path.join(work, 'dst'));
}

/** What the proxy saw: the words offered, and each side's messages by type (a BATCH's entries one by one). */
interface Seen {
  offered: number[];
  fromClient: Message[];
  fromServer: Message[];
}

const unbatched = (message: Message): Message[] => (message.type === PacketType.BATCH ? unbatch(message) : [message]);
const ofType = (messages: readonly Message[], type: number): Message[] => messages.filter((m) => m.type === type);
const dirStates = (messages: readonly Message[]): [number, string][] =>
  messages.flatMap((m) => (m.type === PacketType.DIR_STATE ? [[m.holds, m.path.toString()] as [number, string]] : []));

/** Copies work/src into work/dst (a pull, or a push with `push`) through a local fcpd that sees the HELLO word `word` makes of the offered one. */
async function transfer(work: string, word: (offered: number) => number | undefined, push = false): Promise<{ summary: Awaited<ReturnType<typeof copy>>; seen: Seen }> {
  const seen: Seen = { offered: [], fromClient: [], fromServer: [] };
  const { launcher } = olderFcpdLauncher(
    {
      moreFeatures: (offered) => (seen.offered.push(offered), word(offered)),
      fromClient: (message) => void seen.fromClient.push(...unbatched(message)),
      fromServer: (message) => void seen.fromServer.push(...unbatched(message)),
    },
    true,
  );
  const [source, destination] = push ? [path.join(work, 'src'), `localhost:${path.join(work, 'dst')}`] : [`localhost:${path.join(work, 'src')}`, path.join(work, 'dst')];
  const summary = await copy({ sources: [source], destination, recursive: true, encrypt: false, launcher });
  expect(summary).toMatchObject({ files: FILES, filesFailed: 0 });
  expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
  return { summary, seen };
}

test('a pull into an empty destination: DEST_EMPTY is offered and answered, no DEST_STATE is sent, and every small file goes inline', async () => {
  const work = temp.make('fcp-dest-empty');
  smallTree(work);
  const { summary, seen } = await transfer(work, (offered) => offered);
  expect(seen.offered).toEqual([BOTH]);
  expect(ofType(seen.fromClient, PacketType.DEST_STATE)).toEqual([]);
  expect(ofType(seen.fromServer, PacketType.FILE_INLINE)).toHaveLength(FILES);
  // Inline: each file's bytes crossed once, none was announced and then found there.
  expect(summary.bytesSent).toBe(summary.bytes);
  expect(summary.bytesResumed).toBe(0);
});

test('an fcpd that does not answer the bits (an older one) gets the DEST_STATE it waits for', async () => {
  const work = temp.make('fcp-dest-empty');
  smallTree(work);
  const { summary, seen } = await transfer(work, () => undefined);
  expect(seen.offered).toEqual([BOTH]);
  expect(ofType(seen.fromClient, PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 0 }]);
  expect(ofType(seen.fromServer, PacketType.FILE_INLINE)).toHaveLength(FILES);
  expect(summary.bytesSent).toBe(summary.bytes);
});

describe.each([
  ['a pull', false],
  ['a push', true],
])('%s into a destination that holds something else', (_what, push) => {
  const receiverSent = (seen: Seen): Message[] => (push ? seen.fromServer : seen.fromClient);
  const senderSent = (seen: Seen): Message[] => (push ? seen.fromClient : seen.fromServer);

  test('DIR_STATE 0 for the new top-level directory: its small files go inline; a rerun gets DIR_STATE 1 and sends no byte', async () => {
    const work = temp.make('fcp-dir-state');
    smallTree(work);
    fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'not the copy\'s\n');
    const first = await transfer(work, (offered) => offered, push);
    expect(first.seen.offered).toEqual([MoreFeature.DIR_STATE | MoreFeature.FILE_WANT]);
    expect(ofType(receiverSent(first.seen), PacketType.DEST_STATE)).toEqual([{ type: PacketType.DEST_STATE, holds: 1 }]);
    expect(dirStates(receiverSent(first.seen))).toEqual([[0, 'src']]);
    expect(ofType(senderSent(first.seen), PacketType.FILE_INLINE)).toHaveLength(FILES);
    expect(ofType(senderSent(first.seen), PacketType.FILE_INFO)).toEqual([]);
    expect(first.summary.bytesSent).toBe(first.summary.bytes);
    expect(fs.readFileSync(path.join(work, 'dst', 'unrelated'), 'utf8')).toBe('not the copy\'s\n');

    const rerun = await transfer(work, (offered) => offered, push);
    expect(dirStates(receiverSent(rerun.seen))).toEqual([[1, 'src']]);
    expect(ofType(senderSent(rerun.seen), PacketType.FILE_INLINE)).toEqual([]);
    // The quick check: FILE_SAME for each (what the receiver sends last may reach the proxy after the copy has ended).
    expect(ofType(senderSent(rerun.seen), PacketType.FILE_INFO)).toHaveLength(FILES);
    expect(rerun.summary.bytesResumed).toBe(rerun.summary.bytes);
    expect(rerun.summary.bytesSent).toBe(0);
  });

  test('an fcpd without DIR_STATE (an older one): no DIR_STATE, every small file announced, the tree copied', async () => {
    const work = temp.make('fcp-dir-state');
    smallTree(work);
    fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'x');
    const { summary, seen } = await transfer(work, (offered) => offered & ~MoreFeature.DIR_STATE, push);
    expect(dirStates([...seen.fromClient, ...seen.fromServer])).toEqual([]);
    expect(ofType(senderSent(seen), PacketType.FILE_INLINE)).toEqual([]);
    expect(ofType(senderSent(seen), PacketType.FILE_INFO)).toHaveLength(FILES);
    // FILE_WANT: each announced file the destination lacks is asked for and comes whole, none through FILE_READY.
    expect(ofType(receiverSent(seen), PacketType.FILE_WANT)).toHaveLength(FILES);
    expect(ofType(senderSent(seen), PacketType.FILE_WHOLE)).toHaveLength(FILES);
    expect(ofType(receiverSent(seen), PacketType.FILE_READY)).toEqual([]);
    expect(summary.bytesSent).toBe(summary.bytes);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  });

  test('an fcpd without DIR_STATE and FILE_WANT (an older one): every small file announced and sent through FILE_READY', async () => {
    const work = temp.make('fcp-dir-state');
    smallTree(work);
    fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'x');
    const { summary, seen } = await transfer(work, (offered) => offered & ~(MoreFeature.DIR_STATE | MoreFeature.FILE_WANT), push);
    expect(ofType(receiverSent(seen), PacketType.FILE_WANT)).toEqual([]);
    expect(ofType(receiverSent(seen), PacketType.FILE_READY)).toHaveLength(FILES);
    expect(summary.bytesSent).toBe(summary.bytes);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  });
});

describe('a push to an fcpd that breaks the DIR_STATE rules', () => {
  /** Pushes work/src into work/dst, which holds something, with `lie` in place of fcpd's DIR_STATE frame; the error the copy fails with. */
  async function lied(lie: (frame: Buffer) => Buffer[]): Promise<FcpError | undefined> {
    const work = temp.make('fcp-dir-state-lie');
    smallTree(work);
    fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'x');
    const { launcher } = olderFcpdLauncher(
      { moreFeatures: (offered) => offered, fromServer: (message, frame) => (message.type === PacketType.DIR_STATE ? lie(frame) : undefined) },
      true,
    );
    const copied = copy({ sources: [path.join(work, 'src')], destination: `localhost:${path.join(work, 'dst')}`, recursive: true, encrypt: false, launcher, timeout: 2 });
    const failure = await copied.then(
      () => undefined,
      (err: FcpError) => err,
    );
    // Nothing of a file was written: the sender waited for the word that never came, or stopped at the lie.
    expect(regularFiles(path.join(work, 'dst', 'src'), () => '')).toEqual({});
    return failure;
  }

  test('one for a directory it was not asked about: FCP_ERR_PROTOCOL', async () => {
    const xxh = await loadXxhash();
    const failure = await lied((frame) => [plainFrame(xxh, PacketType.DIR_STATE, Buffer.from('\0elsewhere')), frame]);
    expect(failure?.code).toBe('FCP_ERR_PROTOCOL');
    expect(failure?.message).toMatch(/DIR_STATE for elsewhere/);
  });

  test('none at all (the link kept alive): FCP_ERR_TIMEOUT after twice the idle limit, not a hang', async () => {
    const failure = await lied(() => []);
    expect(failure?.code).toBe('FCP_ERR_TIMEOUT');
    expect(failure?.message).toMatch(/did not say within 4 s .*\(DIR_STATE\)/);
  });
});
