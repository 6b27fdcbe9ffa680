/**
 * -x / --one-file-system (rsync -x): a directory on another file system than its source's is
 * copied, empty, and not entered; without -x it is entered. The tree holds a tmpfs mounted below
 * its source (so the tests run as root, as the suite does): in a copy in fcp's process, a pull
 * (fcpd walks: MODE's ONE_FILE_SYSTEM), from the command line, and in a watch round's narrowed walk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { walkNarrowed } from '../../src/transfer/walk';
import { describeRun, killAll, runFcp } from './helpers/run';
import { mount, useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
afterAll(() => killAll());

/** work/src: a file, a directory, and mnt: a tmpfs holding a file and a directory with a file. */
function treeWithMount(): string {
  const work = temp.make('fcp-one-fs');
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'plain'), { recursive: true });
  makeFile(src, 'top.txt', 1000);
  makeFile(path.join(src, 'plain'), 'below.txt', 2000);
  const mnt = path.join(src, 'mnt');
  fs.mkdirSync(mnt);
  const problem = mount(['-t', 'tmpfs', '-o', 'size=1m,mode=0750', 'tmpfs', mnt]);
  if (problem) throw new Error(`-x needs a second file system in the tree: cannot mount a tmpfs (run the tests as root): ${problem}`);
  temp.mounted(mnt);
  fs.mkdirSync(path.join(mnt, 'deep'));
  makeFile(mnt, 'inner.txt', 3000);
  makeFile(path.join(mnt, 'deep'), 'deeper.txt', 4000);
  return work;
}

/** Every path below `root`, relative, sorted. */
function listing(root: string): string[] {
  const found: string[] = [];
  const visit = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const child = path.join(rel, name);
      found.push(child);
      if (fs.lstatSync(path.join(dir, name)).isDirectory()) visit(path.join(dir, name), child);
    }
  };
  visit(root, '');
  return found;
}

const WITHOUT_MOUNT = ['mnt', 'plain', 'plain/below.txt', 'top.txt'];
const WHOLE = ['mnt', 'mnt/deep', 'mnt/deep/deeper.txt', 'mnt/inner.txt', 'plain', 'plain/below.txt', 'top.txt'];

describe.each([
  ['a copy in this process', false],
  ['a pull from fcpd', true],
])('%s', (_how, pull) => {
  test.each([
    ['with -x: the mount point arrives empty, with its mode', true, WITHOUT_MOUNT],
    ['without -x: the mounted tree is copied', false, WHOLE],
  ])('%s', async (_what, oneFileSystem, expected) => {
    const work = treeWithMount();
    const dst = path.join(work, 'dst');
    const source = path.join(work, 'src');
    const summary = await copy({
      sources: [pull ? `localhost:${source}` : source],
      destination: dst,
      recursive: true,
      oneFileSystem,
      ...(pull ? { launcher: localLauncher() } : {}),
    });
    expect({ errors: summary.errors, filesFailed: summary.filesFailed }).toEqual({ errors: [], filesFailed: 0 });
    expect(listing(path.join(dst, 'src'))).toEqual(expected);
    expect(fs.statSync(path.join(dst, 'src', 'mnt')).mode & 0o7777).toBe(0o750);
    expect(fs.readFileSync(path.join(dst, 'src', 'top.txt'))).toEqual(fs.readFileSync(path.join(source, 'top.txt')));
  });
});

test('fcp -x -r on the command line', async () => {
  const work = treeWithMount();
  const result = await runFcp(['-q', '-x', '-r', 'src', 'dst'], { cwd: work });
  expect({ code: result.code, what: describeRun(result) }).toEqual({ code: 0, what: describeRun(result) });
  expect(listing(path.join(work, 'dst', 'src'))).toEqual(WITHOUT_MOUNT);
});

test("a watch round's narrowed walk does not enter the other file system either", () => {
  const work = treeWithMount();
  const source = Buffer.from(path.join(work, 'src'));
  const paths = ['mnt/inner.txt', 'mnt/deep/deeper.txt', 'plain/below.txt'].map((p) => Buffer.from(p));
  const walked = (oneFileSystem: boolean): string[] =>
    walkNarrowed(source, paths, { recursive: true, followSymlinks: false, oneFileSystem })
      .entries.map((entry) => entry.path.toString())
      .sort();
  expect(walked(true)).toEqual(['src', 'src/plain', 'src/plain/below.txt']);
  expect(walked(false)).toEqual(['src', 'src/mnt', 'src/mnt/deep', 'src/mnt/deep/deeper.txt', 'src/mnt/inner.txt', 'src/plain', 'src/plain/below.txt']);
});

// The mount point comes as an empty directory: --delete took that for its contents and deleted
// the destination's copy of the mounted tree.
describe.each([
  ['a copy in this process', false],
  ['a pull from fcpd', true],
])('-x --delete, %s: what the destination holds below a mount point stays', (_how, pull) => {
  test('the mounted tree copied before stays; an extra file beside it goes', async () => {
    const work = treeWithMount();
    const source = path.join(work, 'src');
    const dst = path.join(work, 'dst');
    const run = (options: { oneFileSystem: boolean; delete?: boolean }) =>
      copy({ sources: [pull ? `localhost:${source}/` : `${source}/`], destination: dst, recursive: true, ...options, ...(pull ? { launcher: localLauncher() } : {}) });
    await run({ oneFileSystem: false });
    fs.writeFileSync(path.join(dst, 'extra'), 'extra\n');
    const summary = await run({ oneFileSystem: true, delete: true });
    expect({ errors: summary.errors, deleted: summary.filesDeleted }).toEqual({ errors: [], deleted: 1 });
    expect(listing(dst)).toEqual(WHOLE);
  });
});

test('-x --delete does not go into another file system at the destination either: a mounted directory the source lacks stays, with what it holds', async () => {
  const work = temp.make('fcp-one-fs-dest');
  const src = path.join(work, 'src');
  const dst = path.join(work, 'dst');
  fs.mkdirSync(src);
  makeFile(src, 'a', 10);
  const mnt = path.join(dst, 'mounted');
  fs.mkdirSync(mnt, { recursive: true });
  const problem = mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
  if (problem) throw new Error(`cannot mount a tmpfs (run the tests as root): ${problem}`);
  temp.mounted(mnt);
  makeFile(mnt, 'precious', 20);
  fs.writeFileSync(path.join(dst, 'extra'), 'extra\n');
  const summary = await copy({ sources: [`${src}/`], destination: dst, recursive: true, delete: true, oneFileSystem: true });
  expect({ errors: summary.errors, deleted: summary.filesDeleted }).toEqual({ errors: [], deleted: 1 });
  expect(listing(dst)).toEqual(['a', 'mounted', 'mounted/precious']);
});
