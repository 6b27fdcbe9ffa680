/**
 * scp semantics of the fcp command, with real fcp and fcpd processes: where sources land, what
 * happens with several sources, directories without -r, and -L.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { compareTrees, snapshot, snapshotDiff } from './helpers/compare';
import { describeRun, errorCodes, killAll, runFcp, RunResult, stackLines } from './helpers/run';
import { LOCAL_PATHS, testBothLocalPaths } from './helpers/localPaths';
import { useTempDirs } from './helpers/tmp';
import { buildSmallTree, makeFile, TreeBuilder } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
afterAll(() => killAll());

function expectOk(result: RunResult): void {
  if (result.code !== 0 || result.stderr !== '') throw new Error(`fcp should have succeeded silently:\n${describeRun(result)}`);
}

function expectFailure(result: RunResult, exitCode: number, code: string): void {
  const what = describeRun(result);
  expect({ exit: result.code, timedOut: result.timedOut, what }).toEqual({ exit: exitCode, timedOut: false, what });
  expect(errorCodes(result.stderr)).toContain(code);
  expect(stackLines(result.stderr)).toEqual([]);
}

describe('fcp -r DIR DEST', () => {
  // DIR/ with a trailing slash copies DIR's contents, as rsync does (scp ignores the slash).
  test.each(LOCAL_PATHS)('DEST exists: src is copied into DEST/src, src/ into DEST itself (%s)', async (_label, option) => {
    const work = temp.make('fcp-sem');
    const tree = buildSmallTree(work, 'src');
    fs.mkdirSync(path.join(work, 'dst'));
    fs.mkdirSync(path.join(work, 'contents'));
    expectOk(await runFcp([...option, '-r', 'src', 'dst'], { cwd: work }));
    expect(fs.readdirSync(path.join(work, 'dst'))).toEqual(['src']);
    expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
    expectOk(await runFcp([...option, '-r', 'src/', 'contents'], { cwd: work }));
    expect(compareTrees(tree.root, path.join(work, 'contents'))).toEqual([]);
  });

  testBothLocalPaths('DEST does not exist: DEST is created and DIR goes into it (rsync\'s rule); run again, nothing nests', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const tree = buildSmallTree(work, 'src');
    for (let run = 0; run < 2; run++) {
      expectOk(await runFcp(['-r', 'src', 'newdst'], { cwd: work }));
      expect(fs.readdirSync(path.join(work, 'newdst'))).toEqual(['src']);
      expect(compareTrees(tree.root, path.join(work, 'newdst', 'src'))).toEqual([]);
    }
  });

  testBothLocalPaths('copying the same tree again over its copy leaves an identical tree (files replaced in place)', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const tree = buildSmallTree(work, 'src');
    fs.mkdirSync(path.join(work, 'dst'));
    expectOk(await runFcp(['-r', 'src', 'dst'], { cwd: work }));
    fs.writeFileSync(path.join(work, 'dst', 'src', 'a'), 'stale content');
    expectOk(await runFcp(['-r', 'src', 'dst'], { cwd: work }));
    expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
  });
});

describe('fcp FILE DEST', () => {
  testBothLocalPaths('fcp file dir/ puts the file into dir/file (also without the slash)', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const file = makeFile(work, 'file.bin', 100_000, { mode: 0o640 });
    fs.mkdirSync(path.join(work, 'dir'));
    expectOk(await runFcp(['file.bin', 'dir/'], { cwd: work }));
    expect(fs.readdirSync(path.join(work, 'dir'))).toEqual(['file.bin']);
    expect(compareTrees(file, path.join(work, 'dir', 'file.bin'))).toEqual([]);
    fs.mkdirSync(path.join(work, 'dir2'));
    expectOk(await runFcp([file, path.join(work, 'dir2')], { cwd: work }));
    expect(compareTrees(file, path.join(work, 'dir2', 'file.bin'))).toEqual([]);
  });

  testBothLocalPaths('fcp file newname copies the file under the new name', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const file = makeFile(work, 'file.bin', 1_048_577, { mode: 0o600 });
    expectOk(await runFcp(['file.bin', 'newname'], { cwd: work }));
    expect(compareTrees(file, path.join(work, 'newname'))).toEqual([]);
    expect(fs.readdirSync(work).sort()).toEqual(['file.bin', 'newname']);
  });

  testBothLocalPaths('fcp file existing-file replaces its content, mode and mtime', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const file = makeFile(work, 'file.bin', 5000, { mode: 0o755 });
    fs.writeFileSync(path.join(work, 'existing'), 'old content that is longer than nothing'.repeat(1000));
    fs.chmodSync(path.join(work, 'existing'), 0o600);
    expectOk(await runFcp(['file.bin', 'existing'], { cwd: work }));
    expect(compareTrees(file, path.join(work, 'existing'))).toEqual([]);
  });

  testBothLocalPaths('fcp file missing-dir/ (trailing slash, no such directory) fails and does not create a file named missing-dir', async (runFcp) => {
    // cp and scp refuse this ("Not a directory" / "Is a directory"): the slash says the user means
    // a directory. Writing a regular file called "missing-dir" silently is wrong.
    const work = temp.make('fcp-sem');
    makeFile(work, 'file.bin', 100);
    const result = await runFcp(['file.bin', 'missing-dir/'], { cwd: work });
    expect(fs.readdirSync(work)).toEqual(['file.bin']);
    expect(result.code).not.toBe(0);
    expect(errorCodes(result.stderr).filter((c) => c === 'FCP_ERR_NOT_DIRECTORY' || c === 'FCP_ERR_NOT_FOUND')).not.toEqual([]);
  });
});

describe('several sources', () => {
  testBothLocalPaths('into an existing directory: each lands under its own name', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const f1 = makeFile(work, 'one', 10);
    const f2 = makeFile(work, 'two', 70_000, { mode: 0o700 });
    const tree = buildSmallTree(work, 'tree');
    fs.mkdirSync(path.join(work, 'dst'));
    expectOk(await runFcp(['-r', 'one', 'tree', 'two', 'dst'], { cwd: work }));
    expect(fs.readdirSync(path.join(work, 'dst')).sort()).toEqual(['one', 'tree', 'two']);
    expect(compareTrees(f1, path.join(work, 'dst', 'one'))).toEqual([]);
    expect(compareTrees(f2, path.join(work, 'dst', 'two'))).toEqual([]);
    expect(compareTrees(tree.root, path.join(work, 'dst', 'tree'))).toEqual([]);
  });

  testBothLocalPaths('into an existing file: FCP_ERR_NOT_DIRECTORY, exit 4, the file untouched', async (runFcp) => {
    const work = temp.make('fcp-sem');
    makeFile(work, 'one', 10);
    makeFile(work, 'two', 20);
    makeFile(work, 'target', 30);
    const before = snapshot(work);
    const result = await runFcp(['one', 'two', 'target'], { cwd: work });
    expectFailure(result, 4, 'FCP_ERR_NOT_DIRECTORY');
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('into a path that does not exist: FCP_ERR_NOT_DIRECTORY, exit 4, nothing created', async (runFcp) => {
    const work = temp.make('fcp-sem');
    makeFile(work, 'one', 10);
    makeFile(work, 'two', 20);
    const before = snapshot(work);
    const result = await runFcp(['one', 'two', 'nowhere'], { cwd: work });
    expectFailure(result, 4, 'FCP_ERR_NOT_DIRECTORY');
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  test('pull of several sources (Node API, through fcpd) into an existing directory', async () => {
    const work = temp.make('fcp-sem');
    const f1 = makeFile(work, 'one', 123_456);
    const tree = buildSmallTree(work, 'tree');
    const dst = path.join(work, 'dst');
    fs.mkdirSync(dst);
    const summary = await copy({
      sources: [`localhost:${f1}`, `localhost:${tree.root}`],
      destination: dst,
      recursive: true,
      launcher: localLauncher(),
    });
    expect(summary.errors).toEqual([]);
    expect(summary.files).toBe(1 + tree.fileCount);
    expect(fs.readdirSync(dst).sort()).toEqual(['one', 'tree']);
    expect(compareTrees(f1, path.join(dst, 'one'))).toEqual([]);
    expect(compareTrees(tree.root, path.join(dst, 'tree'))).toEqual([]);
  });
});

describe('directories and symlinks', () => {
  testBothLocalPaths('a directory without -r: FCP_ERR_IS_DIRECTORY, exit 4, nothing written', async (runFcp) => {
    const work = temp.make('fcp-sem');
    buildSmallTree(work, 'src');
    fs.mkdirSync(path.join(work, 'dst'));
    const before = snapshot(work);
    const result = await runFcp(['src', 'dst'], { cwd: work });
    expectFailure(result, 4, 'FCP_ERR_IS_DIRECTORY');
    expect(result.stderr).toContain('src');
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('a directory among files without -r: FCP_ERR_IS_DIRECTORY, exit 4, not even the files are copied', async (runFcp) => {
    const work = temp.make('fcp-sem');
    makeFile(work, 'one', 10);
    buildSmallTree(work, 'src');
    fs.mkdirSync(path.join(work, 'dst'));
    const before = snapshot(work);
    const result = await runFcp(['one', 'src', 'dst'], { cwd: work });
    expectFailure(result, 4, 'FCP_ERR_IS_DIRECTORY');
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('without -L symlinks are copied as symlinks (targets byte for byte)', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['target.bin'], 70_000, { mode: 0o640 });
    t.dir(['dir'], 0o750);
    t.file(['dir', 'inner'], 10);
    t.symlink(['to-file'], 'target.bin');
    t.symlink(['to-dir'], 'dir');
    t.symlink(['absolute'], path.join(work, 'src', 'target.bin'));
    t.finish();
    expectOk(await runFcp(['-r', 'src/', 'dst'], { cwd: work }));
    expect(fs.lstatSync(path.join(work, 'dst', 'to-file')).isSymbolicLink()).toBe(true);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst'))).toEqual([]);
  });

  testBothLocalPaths('-L follows symlinks: the copy holds what they point to (files and directories)', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const outside = makeFile(work, 'outside.bin', 100_000, { mode: 0o604, mtime: '1999-12-31T23:59:59.999Z' });
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['target.bin'], 70_000, { mode: 0o640 });
    t.dir(['dir'], 0o750);
    t.file(['dir', 'inner'], 10);
    t.symlink(['to-file'], 'target.bin');
    t.symlink(['to-dir'], 'dir');
    t.symlink(['to-outside'], outside);
    t.finish();
    expectOk(await runFcp(['-r', '-L', 'src/', 'dst'], { cwd: work }));
    for (const name of ['to-file', 'to-outside']) expect(fs.lstatSync(path.join(work, 'dst', name)).isFile()).toBe(true);
    expect(fs.lstatSync(path.join(work, 'dst', 'to-dir')).isDirectory()).toBe(true);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst'), { followExpected: true })).toEqual([]);
  });

  testBothLocalPaths('-L with a symlink given as the source copies its target under the link name', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const target = makeFile(work, 'real.bin', 1000, { mode: 0o600 });
    fs.symlinkSync('real.bin', path.join(work, 'alias'));
    expectOk(await runFcp(['-L', 'alias', 'copy'], { cwd: work }));
    expect(fs.lstatSync(path.join(work, 'copy')).isFile()).toBe(true);
    expect(compareTrees(target, path.join(work, 'copy'))).toEqual([]);
  });

  testBothLocalPaths('-L with a dangling symlink in the tree: the rest is copied, the link is reported (exit 8, FCP_ERR_NOT_FOUND)', async (runFcp) => {
    const work = temp.make('fcp-sem');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['ok.bin'], 1000);
    t.symlink(['dangling'], 'no/such/file');
    t.finish();
    const result = await runFcp(['-r', '-L', 'src/', 'dst'], { cwd: work });
    expectFailure(result, 8, 'FCP_ERR_NOT_FOUND');
    expect(result.stderr).toContain('dangling');
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst'), { ignore: (rel) => rel.toString() === 'dangling' })).toEqual([]);
  });
});
