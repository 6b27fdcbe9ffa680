/**
 * A tree larger than the walk's window (feature STREAM, PROTOCOL.md §7.1): the sender announces
 * its walk as it goes, so the first FILE_COUNT counts only what was walked by then and the totals
 * grow; every file still arrives whole, in place, with its mode and mtime, in one process and
 * through a local fcpd.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees } from './helpers/compare';
import { testBothLocalPaths } from './helpers/localPaths';
import { describeRun, killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { WALK_AHEAD } from '../../src/transfer/walk';
import { READ_AHEAD_BYTES } from '../../src/transfer/smallFile';
import { INLINE_MAX } from '../../src/protocol/constants';

// A few seconds on an idle machine; minutes on a loaded one of two cores shared by many.
jest.setTimeout(600_000);
const temp = useTempDirs();
afterAll(killAll);

const FILES_PER_DIR = 500;
/**
 * Twice the walk's window and a little more: the first FILE_COUNT can count only part of the tree,
 * and the window is refilled more than once. 40 directories (20,001 files) tested nothing more,
 * in twice the time: the test is mostly the per-file cost of creating, copying and comparing.
 */
const DIRS = Math.ceil((2 * WALK_AHEAD) / FILES_PER_DIR);
const FILES = DIRS * FILES_PER_DIR + 1;
/**
 * The first directories' files are as large as files sent inline get, so that a push's read-ahead
 * during a slow login (smallFile.ts readAhead: up to 16,384 entries, but READ_AHEAD_BYTES of small
 * files) stops within them, far short of the window: a login that took seconds on a loaded machine
 * otherwise let it walk the whole tree, and the first count was every file.
 */
const FULL_DIRS = Math.ceil(READ_AHEAD_BYTES / INLINE_MAX / FILES_PER_DIR);

/** DIRS directories of FILES_PER_DIR small files (each its own content and mode), and one larger file at the end. */
function buildTree(root: string): void {
  for (let d = 0; d < DIRS; d++) {
    const dir = path.join(root, `d${String(d).padStart(3, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++) {
      const name = `${d}/${f}\n`;
      const content = d < FULL_DIRS ? Buffer.alloc(INLINE_MAX, name) : name;
      fs.writeFileSync(path.join(dir, `f${f}`), content, { mode: f % 2 ? 0o600 : 0o644 });
    }
  }
  fs.mkdirSync(path.join(root, 'zz'));
  fs.writeFileSync(path.join(root, 'zz', 'last.bin'), Buffer.alloc(300_000, 7));
}

testBothLocalPaths(`${FILES} files: the walk is announced as it goes, and every file arrives`, async (runFcp) => {
  const work = temp.make('fcp-stream');
  buildTree(path.join(work, 'src'));
  const result = await runFcp(['--json', '-r', 'src', 'dst'], { cwd: work, timeoutMs: 300_000 });
  const what = describeRun(result);
  expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 0, stderr: '', what });
  const records = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const start = records.find((record) => record.event === 'start')!;
  // The first FILE_COUNT counts at most the walk's window, not the tree.
  expect(start.files).toBeLessThanOrEqual(WALK_AHEAD);
  expect(records.find((record) => record.event === 'summary')).toMatchObject({ files: FILES, filesFailed: 0 });
  expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
});
