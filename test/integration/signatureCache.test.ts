/**
 * The signature cache (feature SIG_CACHE, PROTOCOL.md §7.7) in whole copies: after a delta the
 * receiver keeps the new file's blocks (NEW_SIG), and the next delta of that file describes it
 * from the cache without reading it (a local copy in this process, where the read is seen); a
 * touch, an edit in place that keeps size and mtime, a corrupt or torn record: the file is read
 * again. A record that lies costs resent chunks, never a wrong file, and gives way to the true one. Through a real fcpd (a
 * push) the record lands in fcpd's state directory. Every result is compared with its source.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import { blocksOf } from '../../src/delta/blocks';
import { loadXxhash } from '../../src/protocol/xxhash';
import { identityOf, SignatureCache } from '../../src/state/signatureCache';
import * as deltaFiles from '../../src/transfer/deltaFiles';
import { proxyLauncher } from './helpers/proxy';
import { killAll } from './helpers/run';
import { TempDirs, useTempDirs, useTempStateHome } from './helpers/tmp';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
const SIZE = 4 * MiB;
/** Literal bytes a few small edits may cost: well under the file. */
const FEW_EDITS = MiB;
const temp = useTempDirs();
const shared = new TempDirs();
/** The receiver's cache lives in $XDG_STATE_HOME: one of each test's own, fcpd's included (it inherits it). */
const stateHome = useTempStateHome();
/** Versions of one file, each in a directory of its own under the name `f`, with distinct sizes and mtimes. */
const versions: string[] = [];

beforeAll(() => {
  const base = shared.make('fcp-sigcache-versions');
  let data = randomBytes(SIZE);
  for (let v = 0; v < 4; v++) {
    const dir = path.join(base, `v${v}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'f'), data);
    fs.utimesSync(path.join(dir, 'f'), 1_600_000_000 + v, 1_600_000_000 + v);
    versions.push(path.join(dir, 'f'));
    // The next version: a region rewritten in place and 100 bytes inserted.
    data = Buffer.from(data);
    randomBytes(4096).copy(data, (v + 1) * 700_000);
    data = Buffer.concat([data.subarray(0, 5000 + v), randomBytes(100), data.subarray(5000 + v)]);
  }
});

afterEach(() => jest.restoreAllMocks());
afterAll(() => {
  shared.cleanup();
  killAll();
});

const recordsIn = (home: string): string[] => {
  const dir = path.join(home, 'fcp', 'signatures');
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
};

/** A destination directory holding version 0 (an old mtime: the quick check sends any version over it). */
function destination(): string {
  const dst = temp.make('fcp-sigcache-dst');
  fs.copyFileSync(versions[0]!, path.join(dst, 'f'));
  fs.utimesSync(path.join(dst, 'f'), 1_500_000_000, 1_500_000_000);
  return dst;
}

/**
 * A local copy of version `v` into `dst` as a delta, in this process: its summary and how many
 * times the receiver read an old version for its signature.
 */
async function deltaTo(dst: string, v: number): Promise<{ bytesSent: number; bytesSaved: number; oldReads: number }> {
  const reads = jest.spyOn(deltaFiles, 'signOldVersion');
  const summary = await copy({ sources: [versions[v]!], destination: dst, wholeFile: false });
  const oldReads = reads.mock.calls.length;
  reads.mockRestore();
  expect(summary.errors).toEqual([]);
  expect(fs.readFileSync(path.join(dst, 'f')).equals(fs.readFileSync(versions[v]!))).toBe(true);
  return { bytesSent: summary.bytesSent, bytesSaved: summary.bytesSaved, oldReads };
}

test('a delta keeps the new file\'s signature; the next delta of it takes the signature from the cache, not from the file', async () => {
  const dst = destination();
  const first = await deltaTo(dst, 1);
  expect(first.oldReads).toBe(1);
  expect(recordsIn(stateHome())).toHaveLength(1);
  const second = await deltaTo(dst, 2);
  expect(second.oldReads).toBe(0);
  // The cached signature served as well as a read one: only the edits went.
  expect(second.bytesSent).toBeLessThan(FEW_EDITS);
  expect(second.bytesSent + second.bytesSaved).toBe(fs.statSync(versions[2]!).size);
  // The record of the version replaced went with it: one record, the file's now in place.
  expect(recordsIn(stateHome())).toHaveLength(1);
  expect((await deltaTo(dst, 3)).oldReads).toBe(0);
});

test('a touch, or an edit in place that keeps size and mtime, makes the receiver read the file again', async () => {
  const dst = destination();
  const file = path.join(dst, 'f');
  await deltaTo(dst, 1);
  fs.utimesSync(file, 1_550_000_000, 1_550_000_000);
  expect((await deltaTo(dst, 2)).oldReads).toBe(1);

  const before = identityOf(file)!;
  // The ctime moves only once the clock has moved past it.
  while (BigInt(Date.now()) * 1_000_000n <= before.ctimeNs + 10_000_000n) await new Promise((resolve) => setTimeout(resolve, 5));
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, randomBytes(4096), 0, 4096, MiB);
  fs.closeSync(fd);
  fs.utimesSync(file, 1_600_000_002, 1_600_000_002);
  const edited = identityOf(file)!;
  expect({ size: edited.size, mtimeNs: edited.mtimeNs, ctimeMoved: edited.ctimeNs !== before.ctimeNs }).toEqual({ size: before.size, mtimeNs: before.mtimeNs, ctimeMoved: true });
  // Size and mtime say version 2 is in place: --ignore-times (-I) has it sent all the same.
  const reads = jest.spyOn(deltaFiles, 'signOldVersion');
  const summary = await copy({ sources: [versions[2]!], destination: dst, wholeFile: false, ignoreTimes: true });
  expect(summary.errors).toEqual([]);
  expect(reads).toHaveBeenCalledTimes(1);
  expect(fs.readFileSync(file).equals(fs.readFileSync(versions[2]!))).toBe(true);
});

test('a corrupt or torn record is not used: the file is read again and the result is exact', async () => {
  const dst = destination();
  await deltaTo(dst, 1);
  const [name] = recordsIn(stateHome());
  const record = path.join(stateHome(), 'fcp', 'signatures', name!);
  const bytes = fs.readFileSync(record);
  bytes[bytes.length >> 1] ^= 0x40;
  fs.writeFileSync(record, bytes);
  expect((await deltaTo(dst, 2)).oldReads).toBe(1);
  const [fresh] = recordsIn(stateHome());
  const torn = path.join(stateHome(), 'fcp', 'signatures', fresh!);
  fs.truncateSync(torn, fs.statSync(torn).size - 5);
  expect((await deltaTo(dst, 3)).oldReads).toBe(1);
});

test('a record that lies about the file costs resent chunks, never a wrong file, and gives way to the true one', async () => {
  const dst = destination();
  const file = path.join(dst, 'f');
  // A record that describes version 2 (as much of it as the file in place holds) under the
  // identity of the file in place, which holds version 0: shifted by the 100 bytes inserted.
  const xxh = await loadXxhash();
  const cache = new SignatureCache(xxh, path.join(stateHome(), 'fcp', 'signatures'));
  cache.store(file, blocksOf(xxh, fs.readFileSync(versions[2]!).subarray(0, SIZE)));
  const lied = await deltaTo(dst, 2);
  expect(lied.oldReads).toBe(0);
  // The sender copied what the record claimed; those chunks failed their hash and came again whole.
  expect(lied.bytesSent).toBeGreaterThan(FEW_EDITS);
  // The file in place has the record of its true blocks.
  const blocks = (list: readonly { length: number; hash: bigint }[]): string[] => list.map(({ length, hash }) => `${length}:${hash}`);
  expect(blocks(cache.lookup(identityOf(file)!) ?? [])).toEqual(blocks(blocksOf(xxh, fs.readFileSync(versions[2]!))));
});

test('a push through fcpd: fcpd keeps the signature in its state directory, and the next push sends only the edits', async () => {
  const dst = destination();
  for (const v of [1, 2]) {
    const summary = await copy({ sources: [versions[v]!], destination: `localhost:${dst}`, connections: 2, launcher: proxyLauncher({}).launcher });
    expect(summary.errors).toEqual([]);
    expect(fs.readFileSync(path.join(dst, 'f')).equals(fs.readFileSync(versions[v]!))).toBe(true);
    expect(summary.bytesSent).toBeLessThan(FEW_EDITS);
    const { dev, ino } = fs.statSync(path.join(dst, 'f'), { bigint: true });
    expect(recordsIn(stateHome())).toEqual([`${dev.toString(16)}-${ino.toString(16)}`]);
  }
});
