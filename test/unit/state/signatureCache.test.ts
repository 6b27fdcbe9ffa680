/**
 * The signature cache (feature SIG_CACHE, PROTOCOL.md §7.7): a record is used only for the file
 * identity it was written for (a touch, an edit in place that kept size and mtime, a file renamed
 * over it: all miss); a record that does not check (flipped byte, torn, another version, blocks
 * that do not cover the file) is not used and is removed; trim keeps the cache within its bound,
 * least recently used out first, and clears temporary records left by dead runs.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { blocksOf } from '../../../src/delta/blocks';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { identityOf, SignatureCache } from '../../../src/state/signatureCache';
import { useTempDirs } from '../../integration/helpers/tmp';
import { numRuns } from '../protocol/fuzzRuns';

const temp = useTempDirs();
let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

/** A cache in a fresh directory and a file of `bytes` random bytes with its blocks, stored. */
function stored(bytes = 300_000): { cache: SignatureCache; file: string; blocks: ReturnType<typeof blocksOf>; record: string } {
  const work = temp.make('fcp-sigcache');
  const cache = new SignatureCache(xxh, path.join(work, 'signatures'));
  const file = path.join(work, 'f');
  const data = randomBytes(bytes);
  fs.writeFileSync(file, data);
  // A whole second: utimes takes seconds as a double, which would not give back every nanosecond.
  fs.utimesSync(file, 1_650_000_000, 1_650_000_000);
  const blocks = blocksOf(xxh, data);
  cache.store(file, blocks);
  const [name] = fs.readdirSync(cache.dir);
  return { cache, file, blocks, record: path.join(cache.dir, name!) };
}

/** Waits until the clock has moved past `ns` (a ctime), so that a change made now gets a later one. */
async function after(ns: bigint): Promise<void> {
  while (BigInt(Date.now()) * 1_000_000n <= ns + 10_000_000n) await new Promise((resolve) => setTimeout(resolve, 5));
}

const plain = (blocks: readonly { length: number; hash: bigint }[]): { length: number; hash: bigint }[] => blocks.map(({ length, hash }) => ({ length, hash }));

test('a stored signature comes back for the same file, as long as its identity holds', () => {
  const { cache, file, blocks, record } = stored();
  expect(plain(cache.lookup(identityOf(file)!)!)).toEqual(plain(blocks));
  const { dev, ino } = fs.statSync(file, { bigint: true });
  expect(path.basename(record)).toBe(`${dev.toString(16)}-${ino.toString(16)}`);
  expect(fs.statSync(cache.dir).mode & 0o777).toBe(0o700);
});

test('any identity change misses: a touch, an edit in place keeping size and mtime, another file renamed over it', async () => {
  const { cache, file } = stored();
  fs.utimesSync(file, new Date('2021-01-01'), new Date('2021-01-01'));
  expect(cache.lookup(identityOf(file)!)).toBeUndefined();

  const second = stored();
  const before = identityOf(second.file)!;
  await after(before.ctimeNs);
  const fd = fs.openSync(second.file, 'r+');
  fs.writeSync(fd, Buffer.from('changed'), 0, 7, 1000);
  fs.closeSync(fd);
  fs.utimesSync(second.file, 1_650_000_000, 1_650_000_000);
  const edited = identityOf(second.file)!;
  expect({ size: edited.size, mtimeNs: edited.mtimeNs, ctimeMoved: edited.ctimeNs !== before.ctimeNs }).toEqual({ size: before.size, mtimeNs: before.mtimeNs, ctimeMoved: true });
  expect(second.cache.lookup(edited)).toBeUndefined();

  const third = stored();
  const other = `${third.file}.new`;
  fs.copyFileSync(third.file, other);
  fs.renameSync(other, third.file);
  expect(third.cache.lookup(identityOf(third.file)!)).toBeUndefined();
});

test('a record with any byte changed, or cut anywhere, is not used, and is removed', () => {
  const { cache, file, record } = stored(70_000);
  const whole = fs.readFileSync(record);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: whole.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (at, flip, cut) => {
      const damaged = cut ? whole.subarray(0, at) : Buffer.from(whole);
      if (!cut) damaged[at] ^= flip;
      fs.writeFileSync(record, damaged);
      const found = cache.lookup(identityOf(file)!);
      return found === undefined && !fs.existsSync(record);
    }),
    { numRuns: numRuns(200) },
  );
});

test('a record of another version, or whose blocks do not cover the file, is not used', () => {
  const { cache, file, blocks, record } = stored();
  const whole = fs.readFileSync(record);
  const otherVersion = Buffer.from(whole);
  otherVersion.writeUInt32BE(2, 4);
  // The hash is over the version too: rewrite it as a writer of version 2 would.
  otherVersion.writeBigUInt64BE(xxh.h64Raw(otherVersion.subarray(0, otherVersion.length - 8), 0n), otherVersion.length - 8);
  fs.writeFileSync(record, otherVersion);
  expect(cache.lookup(identityOf(file)!)).toBeUndefined();
  // A well-formed record of blocks short of the file's size.
  cache.store(file, blocks.slice(0, -1));
  expect(cache.lookup(identityOf(file)!)).toBeUndefined();
});

test('trim removes the least recently used records past the bound, and temporary records left by dead runs', () => {
  const work = temp.make('fcp-sigcache-trim');
  const cache = new SignatureCache(xxh, path.join(work, 'signatures'));
  const files = [0, 1, 2].map((i) => {
    const file = path.join(work, `f${i}`);
    const data = randomBytes(300_000);
    fs.writeFileSync(file, data);
    cache.store(file, blocksOf(xxh, data));
    return file;
  });
  const recordOf = (file: string): string => {
    const { dev, ino } = fs.statSync(file, { bigint: true });
    return path.join(cache.dir, `${dev.toString(16)}-${ino.toString(16)}`);
  };
  // Oldest first: f1, then f0, then f2 (as if f0 was used after f1).
  fs.utimesSync(recordOf(files[1]!), 1000, 1000);
  fs.utimesSync(recordOf(files[0]!), 2000, 2000);
  const deadTemp = path.join(cache.dir, 'dead.123.abc.tmp');
  fs.writeFileSync(deadTemp, 'x');
  fs.utimesSync(deadTemp, 1000, 1000);
  // Room for the two youngest records (their sizes differ with the blocks the random data cut into).
  cache.trim(fs.statSync(recordOf(files[0]!)).size + fs.statSync(recordOf(files[2]!)).size);
  expect(fs.readdirSync(cache.dir).sort()).toEqual([recordOf(files[0]!), recordOf(files[2]!)].map((r) => path.basename(r)).sort());
  // Nothing written since: the next trim does not even look.
  cache.trim(0);
  expect(fs.readdirSync(cache.dir)).toHaveLength(2);
});

test('a state directory that cannot be written leaves the cache empty, quietly', () => {
  const work = temp.make('fcp-sigcache-blocked');
  const blocker = path.join(work, 'not-a-dir');
  fs.writeFileSync(blocker, '');
  const cache = new SignatureCache(xxh, path.join(blocker, 'signatures'));
  const file = path.join(work, 'f');
  const data = randomBytes(300_000);
  fs.writeFileSync(file, data);
  expect(() => cache.store(file, blocksOf(xxh, data))).not.toThrow();
  expect(cache.lookup(identityOf(file)!)).toBeUndefined();
});
