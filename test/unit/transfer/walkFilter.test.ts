/**
 * The walk with a filter (src/transfer/walk.ts): what the rules exclude is neither sent nor
 * reported (a FIFO excluded by name is no skipped entry), an excluded directory is not read, and
 * --max-depth stops the descent below the source.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PathFilter } from '../../../src/sync/filter';
import { walkSources } from '../../../src/transfer/walk';

let root: string;
let src: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-walk-filter-'));
  src = path.join(root, 'src');
  fs.mkdirSync(path.join(src, 'a', 'b'), { recursive: true });
  fs.writeFileSync(path.join(src, 'top.txt'), 'x');
  fs.writeFileSync(path.join(src, 'a', 'mid.txt'), 'x');
  fs.writeFileSync(path.join(src, 'a', 'b', 'low.txt'), 'x');
  expect(spawnSync('mkfifo', [path.join(src, 'pipe')]).status).toBe(0);
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const exclude = (...patterns: string[]): PathFilter => new PathFilter(patterns.map((p) => ({ kind: 'exclude' as const, pattern: Buffer.from(p) })));

function walk(filter?: PathFilter): { paths: string[]; skipped: string[] } {
  const result = walkSources([Buffer.from(src)], { recursive: true, followSymlinks: false, filter });
  return { paths: result.entries.map((e) => e.path.toString()), skipped: result.skipped.map((s) => s.path.toString()) };
}

test('without a filter the FIFO is a skipped entry; excluded by name it is not reported at all', () => {
  expect(walk().skipped).toEqual(['src/pipe']);
  expect(walk(exclude('pipe'))).toEqual({ paths: ['src', 'src/a', 'src/a/b', 'src/a/b/low.txt', 'src/a/mid.txt', 'src/top.txt'], skipped: [] });
});

test('an excluded directory is not read: nothing below it is sent, whatever later rules say', () => {
  const filter = new PathFilter([
    { kind: 'exclude', pattern: Buffer.from('a/') },
    { kind: 'include', pattern: Buffer.from('low.txt') },
    { kind: 'exclude', pattern: Buffer.from('pipe') },
  ]);
  expect(walk(filter).paths).toEqual(['src', 'src/top.txt']);
});

test.each([
  [0, ['src']],
  [1, ['src', 'src/a', 'src/top.txt']],
  [2, ['src', 'src/a', 'src/a/b', 'src/a/mid.txt', 'src/top.txt']],
])('--max-depth %d', (depth, paths) => {
  const filter = new PathFilter([{ kind: 'exclude', pattern: Buffer.from('pipe') }], depth);
  expect(walk(filter).paths).toEqual(paths);
});
