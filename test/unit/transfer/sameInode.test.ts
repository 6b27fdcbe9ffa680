/**
 * More feature SAME_INODE (PROTOCOL.md §7.5): --remove-source-files onto the very files it copies
 * (over SSH to this host) removed the only copy. Run through the in-process engines, whose sender
 * and receiver are on one host as a copy to localhost is: the receiver tags what it found the same
 * (FILE_SAME_INODE), writes again a small file it would have left as it is and makes a symlink
 * again, and the sender keeps each source that is its own destination.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyInProcess } from '../../../src/client/localCopy';
import { Feature, INLINE_MAX, ModeFlag, MoreFeature, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { makeOffer } from '../../../src/session/params';
import { compareRules, NO_SYNC, SyncOptions } from '../../../src/sync/options';
import { ReceiverSync } from '../../../src/sync/receiverSync';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { inodeTag } from '../../../src/transfer/inodeTag';
import { streamSources } from '../../../src/transfer/walk';
import { recordSent } from './pushInProcess';

let work: string;
let xxh: Awaited<ReturnType<typeof loadXxhash>>;
beforeAll(async () => {
  xxh = await loadXxhash();
});
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-same-inode-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(work, { recursive: true, force: true });
});

/** work/src: small files (inline), a chunked file, a symlink and a hard link. */
function makeTree(): Record<string, string> {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'small'), 'small\n');
  fs.writeFileSync(path.join(src, 'sub', 'other'), Buffer.alloc(INLINE_MAX, 7));
  fs.writeFileSync(path.join(src, 'big'), Buffer.alloc(3 * 1024 * 1024 + 5, 9));
  fs.symlinkSync('small', path.join(src, 'link'));
  fs.linkSync(path.join(src, 'small'), path.join(src, 'sub', 'hard'));
  return listing(src);
}

/** Every entry below `root`: a file as its content's length and first byte, a symlink as its target. */
function listing(root: string): Record<string, string> {
  const found: Record<string, string> = {};
  const visit = (dir: string, prefix: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const stat = fs.lstatSync(full);
      if (stat.isDirectory()) visit(full, `${prefix}${name}/`);
      else found[prefix + name] = stat.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}` : `${stat.size} bytes of ${fs.readFileSync(full)[0]}`;
    }
  };
  visit(root, '');
  return found;
}

/**
 * `fcp -r -H --remove-source-files work/src DEST` in this process; features: the offer's, with
 * SAME_INODE as fcp offers it when it removes its sources.
 */
async function move(destination: string, features: number, sync?: SyncOptions): Promise<Message[]> {
  const sent = recordSent();
  const walk = streamSources([Buffer.from(path.join(work, 'src'))], { recursive: true, followSymlinks: false, hardLinks: true, keepsInodes: true });
  const { summary } = await copyInProcess({
    work: { kind: 'push', destination: Buffer.from(destination), walk },
    flags: ModeFlag.RECURSIVE | ModeFlag.INTO_DIR | ModeFlag.REMOVE_SOURCE,
    offer: { ...makeOffer({ encrypt: false }), features, moreFeatures: MoreFeature.SAME_INODE },
    verify: true,
    log: () => undefined,
    sync,
  });
  jest.restoreAllMocks();
  expect(summary).toMatchObject({ filesFailed: 0, entriesFailed: 0 });
  return sent;
}

const ALL = makeOffer({ encrypt: false }).features | Feature.HARD_LINKS;
const count = (messages: readonly Message[], type: number): number => messages.filter((m) => m.type === type).length;

test('the inode tag names one file on this kernel', () => {
  expect(inodeTag(2049n, 12n)).toBe(inodeTag(2049n, 12n));
  expect(inodeTag(2049n, 12n)).not.toBe(inodeTag(2049n, 13n));
  expect(inodeTag(2049n, 12n)).not.toBe(inodeTag(2050n, 12n));
});

describe('a tree moved onto itself keeps every source', () => {
  test('announced (DEST_STATE): every file is found the same and answered with its tag; nothing changes', async () => {
    const before = makeTree();
    const inode = fs.statSync(path.join(work, 'src', 'big')).ino;
    const sent = await move(work, ALL);
    expect(count(sent, PacketType.FILE_SAME_INODE)).toBe(3);
    expect(count(sent, PacketType.FILE_SAME)).toBe(0);
    expect(listing(path.join(work, 'src'))).toEqual(before);
    expect(fs.statSync(path.join(work, 'src', 'big')).ino).toBe(inode);
  });

  // Without DEST_STATE small files go inline whatever the destination holds, and a receiver left
  // an unchanged one as it was and answered FILE_OK: the sender then removed it.
  test('inline (no DEST_STATE): small files are written again, so the sender sees a new inode and keeps them', async () => {
    const before = makeTree();
    const sent = await move(work, ALL & ~Feature.DEST_STATE);
    expect(count(sent, PacketType.FILE_INLINE)).toBe(2);
    expect(listing(path.join(work, 'src'))).toEqual(before);
  });

  test('a sync (announced, never inline from fcp) keeps them too', async () => {
    const before = makeTree();
    const sent = await move(work, ALL, { ...NO_SYNC, delete: true });
    expect(count(sent, PacketType.FILE_SAME_INODE)).toBe(3);
    expect(listing(path.join(work, 'src'))).toEqual(before);
  });

  // A peer may send a sync's small files inline (fcp's sender does not): the sync then says to
  // write again what it would keep, but never what -u leaves, and nothing in a dry run.
  test('a sync told to renew writes again a file it would keep, not one it skips, nothing in a dry run', async () => {
    const file = path.join(work, 'f');
    fs.writeFileSync(file, 'data\n');
    const stat = fs.statSync(file, { bigint: true });
    const listed = { kind: 'file' as const, size: 5, mtimeNs: stat.mtimeNs, perm: 0o644 };
    const older = { ...listed, mtimeNs: stat.mtimeNs - 10n ** 9n };
    const syncOf = (options: SyncOptions): ReceiverSync =>
      new ReceiverSync({ rules: compareRules(0, options), sync: options, contents: false, backupSuffix: undefined, xxh: xxh, chunkSize: 1 << 20, report: () => undefined });
    const at = Buffer.from('f');
    const local = Buffer.from(file);
    expect(syncOf(NO_SYNC).file(at, local, listed, undefined, undefined, true)).toBe('send');
    expect(syncOf(NO_SYNC).file(at, local, listed, undefined, undefined)).toBe('same');
    expect(syncOf({ ...NO_SYNC, update: true }).file(at, local, older, undefined, undefined, true)).toBe('same');
    expect(syncOf({ ...NO_SYNC, dryRun: true }).file(at, local, listed, undefined, undefined, true)).toBe('same');
  });

  test('with -I every file is sent again and renamed over its source: each is kept', async () => {
    const before = makeTree();
    // IGNORE_TIMES: no quick check; the symlink is made again, so its inode changes too.
    const walk = streamSources([Buffer.from(path.join(work, 'src'))], { recursive: true, followSymlinks: false, hardLinks: true, keepsInodes: true });
    await copyInProcess({
      work: { kind: 'push', destination: Buffer.from(work), walk },
      flags: ModeFlag.RECURSIVE | ModeFlag.INTO_DIR | ModeFlag.REMOVE_SOURCE | ModeFlag.IGNORE_TIMES,
      offer: { ...makeOffer({ encrypt: false }), features: ALL, moreFeatures: MoreFeature.SAME_INODE },
      verify: true,
      log: () => undefined,
    });
    expect(listing(path.join(work, 'src'))).toEqual(before);
  });
});

test('a tree moved elsewhere loses every source, as before', async () => {
  const before = makeTree();
  fs.mkdirSync(path.join(work, 'dst'));
  await move(path.join(work, 'dst'), ALL);
  expect(listing(path.join(work, 'dst', 'src'))).toEqual(before);
  expect(listing(path.join(work, 'src'))).toEqual({});
});
