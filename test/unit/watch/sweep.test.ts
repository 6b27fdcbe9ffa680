/**
 * A two-way side's sweep against a real directory: exactly the paths where the walk differs from
 * the record (a file's size, mtime, mode or inode; a symlink's target; an entry's kind; paths
 * new or gone, a directory standing for what it holds), whole when that is too many.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Recorded } from '../../../src/state/twoWayDb';
import { MAX_NARROWED_PATHS } from '../../../src/watch/constants';
import { DIR_HASH, linkVersionHash } from '../../../src/watch/entryKinds';
import { sideFilter, walkFiles } from '../../../src/watch/sideListing';
import { cutIndexes, inRange, PathRange, rangesBetween } from '../../../src/watch/pathRange';
import { topPaths } from '../../../src/watch/scope';
import { sweepSide, SweepCycle } from '../../../src/watch/sweep';

/** Directories whose listing fails as an unreadable one's does (tests run as root, who reads any). */
const refuseToList = new Set<string>();
jest.mock('node:fs', () => {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs');
  const readdirSync = ((dir: import('node:fs').PathLike, options?: unknown) => {
    if (refuseToList.has(String(dir))) throw Object.assign(new Error(`EACCES: permission denied, scandir '${String(dir)}'`), { code: 'EACCES' });
    return (actual.readdirSync as (dir: import('node:fs').PathLike, options?: unknown) => unknown)(dir, options);
  }) as typeof actual.readdirSync;
  return { ...actual, readdirSync };
});

let root: string;
beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-sweep-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const at = (p: string): string => path.join(root, p);
const filter = sideFilter(undefined);

/** The record a sync of the tree as it is now would leave: every entry, with its inode. */
function recordNow(): Recorded[] {
  const walked = walkFiles(Buffer.from(root), filter, true).files;
  return [...walked].map(([p, file]) => {
    const hash = fs.lstatSync(at(p)).isSymbolicLink() ? linkVersionHash(fs.readlinkSync(at(p), { encoding: 'buffer' })) : fs.lstatSync(at(p)).isDirectory() ? DIR_HASH : 'f'.repeat(64);
    return { path: p, hash, mode: file.mode, size: file.size, mtimeUs: file.mtimeUs, dev: file.dev, ino: file.ino };
  });
}

/** The ranges a sweep cycle cuts `sorted` (paths in byte order) into. */
const rangesOf = (sorted: readonly string[], slices: number): PathRange[] => rangesBetween(cutIndexes(sorted.length, slices).map((index) => sorted[index]!));

/** The rows in a range, as TwoWayDb.eachRecorded gives them. */
const rowsOf = (rows: Recorded[]) => (visit: (row: Recorded) => void, lo?: string, hi?: string): void =>
  rows.filter((row) => inRange(row.path, { ...(lo === undefined ? {} : { lo }), ...(hi === undefined ? {} : { hi }) })).forEach(visit);
const sweep = (rows: Recorded[]): ReturnType<typeof sweepSide> => sweepSide(Buffer.from(root), filter, rowsOf(rows));
const sorted = (scope: ReturnType<typeof sweepSide>): string[] | 'whole' => (scope === 'whole' ? scope : [...scope].sort());

beforeEach(() => {
  for (const p of ['same', 'edited', 'chmod', 'replaced', 'gone', 'd/in', 'dir-gone/a', 'dir-gone/b', 'moved']) {
    fs.mkdirSync(path.dirname(at(p)), { recursive: true });
    fs.writeFileSync(at(p), p);
  }
  fs.symlinkSync('first', at('link'));
  fs.symlinkSync('kept', at('link-same'));
  fs.utimesSync(at('edited'), 1_000, 1_000);
});

test('a tree as recorded: nothing', () => {
  expect(sorted(sweep(recordNow()))).toEqual([]);
});

test('names each path that differs from its record, and nothing else', () => {
  const rows = recordNow();
  fs.writeFileSync(at('edited'), 'other bytes, same length?');
  fs.chmodSync(at('chmod'), 0o600);
  // Same size and mtime, another inode: a copy put in its place.
  const { mtime } = fs.statSync(at('replaced'));
  fs.rmSync(at('replaced'));
  fs.writeFileSync(at('replaced'), 'replaced');
  fs.utimesSync(at('replaced'), mtime, mtime);
  fs.rmSync(at('gone'));
  fs.rmSync(at('dir-gone'), { recursive: true });
  fs.renameSync(at('moved'), at('d/moved-here'));
  fs.rmSync(at('link'));
  fs.symlinkSync('second', at('link'));
  fs.mkdirSync(at('new-dir/deep'), { recursive: true });
  fs.writeFileSync(at('new-dir/deep/f'), 'n');
  expect(sorted(sweep(rows))).toEqual(['chmod', 'd/moved-here', 'dir-gone', 'edited', 'gone', 'link', 'moved', 'new-dir', 'replaced']);
});

test('the slices of a cycle find together what one sweep of every path finds, each walking only its own paths', () => {
  const rows = recordNow();
  fs.writeFileSync(at('edited'), 'edited again');
  fs.rmSync(at('dir-gone'), { recursive: true });
  fs.renameSync(at('moved'), at('d/moved-here'));
  fs.mkdirSync(at('new-dir/deep'), { recursive: true });
  fs.writeFileSync(at('new-dir/deep/f'), 'n');
  const whole = sweep(rows);
  const everything = [...walkFiles(Buffer.from(root), filter, true).files.keys()].sort();
  for (const slices of [2, 3, 5, 10]) {
    const cycle = new SweepCycle(slices);
    const found = new Set<string>();
    const walked: string[] = [];
    const sorted = rows.map((row) => row.path).sort();
    for (const range of rangesOf(sorted, slices)) {
      expect(cycle.nextRange({ count: () => sorted.length, pathsAt: (indexes) => indexes.map((index) => sorted[index]!) })).toEqual(range);
      const part = sweepSide(Buffer.from(root), filter, rowsOf(rows), range);
      expect(part).not.toBe('whole');
      for (const path of part as Set<string>) found.add(path);
      walked.push(...walkFiles(Buffer.from(root), filter, true, 'whole', range).files.keys());
    }
    expect(topPaths(found).sort()).toEqual([...(whole as Set<string>)].sort());
    // Each entry is walked in exactly one slice.
    expect(walked.sort()).toEqual(everything);
  }
});

test('an entry of another kind under a recorded name differs', () => {
  const rows = recordNow();
  fs.rmSync(at('same'));
  fs.mkdirSync(at('same'));
  expect(sorted(sweep(rows))).toEqual(['same']);
});

test('a record row without an inode (an older record) is compared by size, mtime and mode', () => {
  const rows = recordNow().map(({ dev: _dev, ino: _ino, ...row }) => row);
  expect(sorted(sweep(rows))).toEqual([]);
});

test('more than MAX_NARROWED_PATHS differing paths: whole', () => {
  for (let i = 0; i <= MAX_NARROWED_PATHS; i++) fs.writeFileSync(at(`many-${i}`), '');
  expect(sweep(recordNow().filter((row) => !row.path.startsWith('many-')))).toBe('whole');
});

test('an unreadable directory makes it whole: what it holds may be there still', () => {
  const rows = recordNow();
  refuseToList.add(at('d'));
  try {
    expect(sweep(rows)).toBe('whole');
  } finally {
    refuseToList.clear();
  }
});
