/**
 * Bad input with real processes: each case must give a clear message naming an FCP_ERR code, a
 * documented non-zero exit code, no stack trace, and write nothing outside the destination.
 *
 * Permission cases: root reads through chmod 000, so when the tests run as root, fcp (and the
 * fcpd it starts) run as the unprivileged user nobody over a tree that nobody owns. A read-only
 * destination as root is a read-only bind mount.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, isFcpError, localLauncher } from '../../src';
import { compareTrees, leftoverTemporaries, snapshot, snapshotDiff } from './helpers/compare';
import { describeRun, errorCodes, handLauncher, killAll, runFcp, RunOptions, RunResult, stackLines, unprivilegedUser } from './helpers/run';
import { testBothLocalPaths } from './helpers/localPaths';
import { chownTree, isRoot, mount, useTempDirs } from './helpers/tmp';
import { buildSmallTree, makeFile, TreeBuilder } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
afterAll(() => killAll());

/** Exit code, the FCP_ERR codes named on stderr, and no stack trace, checked together. */
function expectFailure(result: RunResult, exitCodes: number[], code: string, mentions: string[] = []): void {
  const what = describeRun(result);
  const seen = {
    exitCodeAllowed: exitCodes.includes(result.code ?? -1),
    namesCode: errorCodes(result.stderr).includes(code),
    mentions: mentions.filter((m) => !result.stderr.includes(m)),
    stackLines: stackLines(result.stderr),
    timedOut: result.timedOut,
  };
  expect({ ...seen, what }).toEqual({ exitCodeAllowed: true, namesCode: true, mentions: [], stackLines: [], timedOut: false, what });
}

/** Runs as nobody (over a tree chowned to nobody) when root, so that permissions apply. */
function asUnprivileged(work: string): RunOptions {
  if (!isRoot) return { cwd: work };
  const user = unprivilegedUser();
  chownTree(work, user.uid, user.gid);
  return { cwd: work, uid: user.uid, gid: user.gid };
}

describe('an empty argument', () => {
  test.each([
    ['as the destination', ['present', '']],
    ['as a source', ['', 'dst']],
  ])('%s: FCP_ERR_USAGE, exit 2, nothing written (not the working directory)', async (_where, args) => {
    const work = temp.make('fcp-bad');
    makeFile(work, 'present', 1000);
    const before = snapshot(work);
    const result = await runFcp(args, { cwd: work });
    expectFailure(result, [2], 'FCP_ERR_USAGE', ['an empty argument names no file']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });
});

describe('missing source', () => {
  testBothLocalPaths('fcp missing dst: FCP_ERR_NOT_FOUND, exit 4, nothing written', async (runFcp) => {
    const work = temp.make('fcp-bad');
    fs.mkdirSync(path.join(work, 'dst'));
    const before = snapshot(work);
    const result = await runFcp(['-r', 'no-such-source', 'dst'], { cwd: work });
    expectFailure(result, [4], 'FCP_ERR_NOT_FOUND', ['no-such-source']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('one missing source among several: exit 4 before anything is copied', async (runFcp) => {
    const work = temp.make('fcp-bad');
    makeFile(work, 'present', 1000);
    fs.mkdirSync(path.join(work, 'dst'));
    const before = snapshot(work);
    const result = await runFcp(['present', 'absent', 'dst'], { cwd: work });
    expectFailure(result, [4], 'FCP_ERR_NOT_FOUND', ['absent']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  test('pull of a missing remote source (Node API): rejects with FCP_ERR_NOT_FOUND (exit code 4), nothing written', async () => {
    const work = temp.make('fcp-bad');
    fs.mkdirSync(path.join(work, 'dst'));
    const before = snapshot(work);
    const error = await copy({
      sources: [`localhost:${path.join(work, 'absent')}`],
      destination: path.join(work, 'dst'),
      recursive: true,
      launcher: localLauncher(),
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isFcpError(error)).toBe(true);
    expect({ code: (error as { code: string }).code, exit: (error as { exitCode: number }).exitCode }).toEqual({ code: 'FCP_ERR_NOT_FOUND', exit: 4 });
    expect((error as Error).message).toContain('absent');
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });
});

describe(`unreadable entries inside a tree (${isRoot ? 'root: fcp runs as nobody so that chmod 000 applies' : 'chmod 000'})`, () => {
  testBothLocalPaths('an unreadable FILE: the rest is copied; the file is reported with FCP_ERR_PERMISSION and exit 8; it does not appear', async (runFcp) => {
    const work = temp.make('fcp-bad');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['readable.bin'], 100_000);
    t.file(['secret.bin'], 5000, { mode: 0o000 });
    t.dir(['sub']);
    t.file(['sub', 'also-readable'], 10);
    t.finish();
    fs.mkdirSync(path.join(work, 'dst'));
    const options = asUnprivileged(work);
    const before = snapshot(work, { exclude: [path.join(work, 'dst')] });
    const result = await runFcp(['-r', 'src', 'dst'], options);

    expect(fs.existsSync(path.join(work, 'dst', 'src', 'secret.bin'))).toBe(false);
    expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'), { ignore: (rel) => rel.toString() === 'secret.bin' })).toEqual([]);
    expect(snapshotDiff(before, snapshot(work, { exclude: [path.join(work, 'dst')] }))).toEqual([]);
    // A file that was not copied must make the run partial and be named, not pass silently.
    expectFailure(result, [8], 'FCP_ERR_PERMISSION', ['secret.bin']);
  });

  test('an unreadable FILE, pulled from an fcpd that cannot read it: reported as FCP_ERR_PERMISSION, the rest copied', async () => {
    const work = temp.make('fcp-bad');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['readable.bin'], 100_000);
    t.file(['secret.bin'], 5000, { mode: 0o000 });
    t.finish();
    const dst = temp.make('fcp-bad-dst');
    const user = isRoot ? unprivilegedUser() : undefined;
    if (user) chownTree(work, user.uid, user.gid);
    const { launcher } = handLauncher({ uid: user?.uid, gid: user?.gid });
    const summary = await copy({ sources: [`localhost:${path.join(work, 'src')}`], destination: dst, recursive: true, launcher });
    expect(summary.errors.map((e) => e.code)).toEqual(['FCP_ERR_PERMISSION']);
    expect(summary.errors[0]!.message).toContain('secret.bin');
    expect({ files: summary.files, filesFailed: summary.filesFailed }).toEqual({ files: 1, filesFailed: 1 });
    expect(fs.existsSync(path.join(dst, 'src', 'secret.bin'))).toBe(false);
    expect(leftoverTemporaries(dst)).toEqual([]);
    expect(compareTrees(path.join(work, 'src'), path.join(dst, 'src'), { ignore: (rel) => rel.toString() === 'secret.bin' })).toEqual([]);
  });

  testBothLocalPaths('an unreadable DIRECTORY: the rest is copied; it is reported with FCP_ERR_PERMISSION and exit 8', async (runFcp) => {
    const work = temp.make('fcp-bad');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['readable.bin'], 1000);
    t.dir(['closed'], 0o000);
    t.file(['closed', 'inside'], 10);
    t.finish();
    fs.mkdirSync(path.join(work, 'dst'));
    const options = asUnprivileged(work);
    const result = await runFcp(['-r', 'src', 'dst'], options);
    expectFailure(result, [8], 'FCP_ERR_PERMISSION', ['closed']);
    expect(fs.readFileSync(path.join(work, 'dst', 'src', 'readable.bin')).toString('hex')).toBe(fs.readFileSync(path.join(work, 'src', 'readable.bin')).toString('hex'));
    expect(fs.existsSync(path.join(work, 'dst', 'src', 'closed', 'inside'))).toBe(false);
    expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
  });
});

describe('unusable destinations', () => {
  testBothLocalPaths(`destination not writable (${isRoot ? 'root: a read-only bind mount' : 'chmod 0555'}): FCP_ERR_PERMISSION, exit 4 (nothing copied), nothing written`, async (runFcp) => {
    const work = temp.make('fcp-bad');
    buildSmallTree(work, 'src');
    const writable = path.join(work, 'rw');
    const dst = path.join(work, 'ro');
    fs.mkdirSync(writable);
    fs.mkdirSync(dst);
    fs.writeFileSync(path.join(writable, 'already-there'), 'x');
    if (isRoot) {
      const problem = mount(['--bind', '-o', 'ro', writable, dst]);
      if (problem) throw new Error(`cannot make a read-only bind mount as root: ${problem}`);
      temp.mounted(dst);
      expect(() => fs.writeFileSync(path.join(dst, 'probe'), 'x')).toThrow(/EROFS/);
    } else {
      fs.chmodSync(dst, 0o555);
    }
    const before = snapshot(work);
    const result = await runFcp(['-r', 'src', 'ro'], { cwd: work });
    expectFailure(result, [4], 'FCP_ERR_PERMISSION', ['ro']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);

    const single = await runFcp(['src/a', 'ro/'], { cwd: work });
    expectFailure(single, [4], 'FCP_ERR_PERMISSION', ['ro']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('destination below a FILE (afile/sub): FCP_ERR_NOT_DIRECTORY, exit 4, nothing written', async (runFcp) => {
    const work = temp.make('fcp-bad');
    buildSmallTree(work, 'src');
    makeFile(work, 'afile', 10);
    const before = snapshot(work);
    const result = await runFcp(['-r', 'src', 'afile/sub'], { cwd: work });
    expectFailure(result, [4], 'FCP_ERR_NOT_DIRECTORY', ['afile']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('destination is a file where a directory is needed (fcp -r dir afile): FCP_ERR_NOT_DIRECTORY, exit 4 (nothing copied), the file untouched', async (runFcp) => {
    const work = temp.make('fcp-bad');
    buildSmallTree(work, 'src');
    makeFile(work, 'afile', 10);
    const before = snapshot(work);
    const result = await runFcp(['-r', 'src', 'afile'], { cwd: work });
    expectFailure(result, [4], 'FCP_ERR_NOT_DIRECTORY', ['afile']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('a directory copied onto a destination symlink: FCP_ERR_NOT_DIRECTORY, exit 4, the link and what it points to untouched', async (runFcp) => {
    const work = temp.make('fcp-bad');
    buildSmallTree(work, 'src');
    fs.mkdirSync(path.join(work, 'dst'));
    fs.mkdirSync(path.join(work, 'elsewhere'));
    fs.symlinkSync('../elsewhere', path.join(work, 'dst', 'src'));
    const before = snapshot(work);
    const result = await runFcp(['-r', 'src', 'dst/'], { cwd: work });
    expectFailure(result, [4], 'FCP_ERR_NOT_DIRECTORY', ['src']);
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });

  testBothLocalPaths('a file copied onto a destination symlink replaces the link, never what it points to; a sync replaces a link with the directory copied onto it', async (runFcp) => {
    const work = temp.make('fcp-bad');
    const file = makeFile(work, 'f', 1000);
    const target = makeFile(work, 'target', 10);
    const targetBefore = fs.readFileSync(target);
    buildSmallTree(work, 'src');
    fs.mkdirSync(path.join(work, 'dst'));
    fs.mkdirSync(path.join(work, 'elsewhere'));
    fs.symlinkSync('../target', path.join(work, 'dst', 'f'));
    fs.symlinkSync('../elsewhere', path.join(work, 'dst', 'src'));
    const copied = await runFcp(['f', 'dst/'], { cwd: work });
    const synced = await runFcp(['-r', '--delete', 'src', 'dst/'], { cwd: work });
    expect({ copied: copied.code, synced: synced.code, stderr: copied.stderr + synced.stderr }).toEqual({ copied: 0, synced: 0, stderr: '' });
    expect({ file: fs.lstatSync(path.join(work, 'dst', 'f')).isFile(), dir: fs.lstatSync(path.join(work, 'dst', 'src')).isDirectory() }).toEqual({ file: true, dir: true });
    expect(fs.readFileSync(path.join(work, 'dst', 'f')).equals(fs.readFileSync(file))).toBe(true);
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
    expect({ target: fs.readFileSync(target).equals(targetBefore), elsewhere: fs.readdirSync(path.join(work, 'elsewhere')) }).toEqual({ target: true, elsewhere: [] });
  });

  test('push of a tree onto a remote file (Node API): FCP_ERR_NOT_DIRECTORY, the file untouched', async () => {
    const work = temp.make('fcp-bad');
    buildSmallTree(work, 'src');
    makeFile(work, 'afile', 10);
    const before = snapshot(work);
    const outcome = await copy({
      sources: [path.join(work, 'src')],
      destination: `localhost:${path.join(work, 'afile')}`,
      recursive: true,
      launcher: localLauncher(),
    }).then(
      (summary) => ({ codes: summary.errors.map((e) => e.code), rejected: undefined as string | undefined }),
      (err: unknown) => ({ codes: [] as string[], rejected: (err as { code?: string }).code }),
    );
    const codes = [...outcome.codes, outcome.rejected];
    expect(codes).toContain('FCP_ERR_NOT_DIRECTORY');
    expect(snapshotDiff(before, snapshot(work))).toEqual([]);
  });
});
