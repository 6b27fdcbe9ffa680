/**
 * The quick check (PROTOCOL.md §7.5) with the real bin/fcp (local copies, in one process and
 * through a local fcpd as a push) and a pull through the Node API: a rerun sends only what is
 * missing or differs, `-I` sends everything, and the --json summary says so in bytesSent and
 * bytesResumed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { compareTrees, leftoverTemporaries, sha256File } from './helpers/compare';
import { killAll } from './helpers/run';
import { RunFcp, testBothLocalPaths } from './helpers/localPaths';
import { useTempDirs } from './helpers/tmp';
import { CHUNK, INLINE_MAX, makeFile } from './helpers/tree';

const temp = useTempDirs();
afterAll(killAll);

const BIG = 3 * CHUNK + 5;
const MEDIUM = CHUNK + 1;
const SMALL = INLINE_MAX - 1;

/** src/{big, medium, small}: two files sent in chunks, one inline; dst, where the copy goes (as dst/src). */
function source(work: string): string {
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.mkdirSync(path.join(work, 'dst'));
  makeFile(src, 'big', BIG);
  makeFile(src, 'medium', MEDIUM, { mode: 0o640 });
  makeFile(src, 'small', SMALL);
  return src;
}

interface Summary { bytes: number; bytesSent: number; bytesResumed: number; files: number; filesFailed: number }

/** Runs `fcp --json -r ...args src dst` in work with `runFcp`; returns its summary record. */
async function fcp(runFcp: RunFcp, work: string, ...args: string[]): Promise<Summary> {
  const run = await runFcp(['--json', '-r', ...args, 'src', 'dst'], { cwd: work, timeoutMs: 60_000 });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  const records = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string });
  return records.find((r) => r.event === 'summary') as unknown as Summary;
}

function expectCopied(work: string): void {
  expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
}

const TOTAL = BIG + MEDIUM + SMALL;

testBothLocalPaths('a rerun of a finished copy sends nothing, the small file included; -I sends everything again', async (runFcp) => {
  const work = temp.make('fcp-quick');
  source(work);
  expect(await fcp(runFcp, work)).toMatchObject({ bytes: TOTAL, bytesSent: TOTAL, bytesResumed: 0, files: 3 });
  expectCopied(work);

  expect(await fcp(runFcp, work)).toMatchObject({ bytes: TOTAL, bytesSent: 0, bytesResumed: TOTAL, files: 3, filesFailed: 0 });
  expectCopied(work);

  expect(await fcp(runFcp, work, '-I')).toMatchObject({ bytes: TOTAL, bytesSent: TOTAL, bytesResumed: 0, files: 3 });
  expectCopied(work);
});

testBothLocalPaths('a file whose size or mtime differs is sent again; one whose mode alone differs gets the mode and no data', async (runFcp) => {
  const work = temp.make('fcp-quick');
  source(work);
  await fcp(runFcp, work);
  const dst = path.join(work, 'dst', 'src');
  // Same size, other content and mtime: the mtime tells.
  makeFile(dst, 'big', BIG, { mtime: '2011-01-01T00:00:00Z' });
  // Same size and mtime as the source, other mode.
  fs.chmodSync(path.join(dst, 'medium'), 0o600);
  expect(await fcp(runFcp, work)).toMatchObject({ bytesSent: BIG, bytesResumed: MEDIUM + SMALL, files: 3 });
  expectCopied(work);
  expect(sha256File(path.join(dst, 'big'))).toBe(sha256File(path.join(work, 'src', 'big')));
});

testBothLocalPaths('the quick check trusts size and mtime, as rsync does: same size and mtime, other content, is kept', async (runFcp) => {
  const work = temp.make('fcp-quick');
  const src = source(work);
  await fcp(runFcp, work);
  const dst = path.join(work, 'dst', 'src');
  const stat = fs.statSync(path.join(src, 'big'));
  makeFile(dst, 'big', BIG);
  fs.utimesSync(path.join(dst, 'big'), stat.atime, stat.mtime);
  const kept = sha256File(path.join(dst, 'big'));
  expect(await fcp(runFcp, work)).toMatchObject({ bytesResumed: TOTAL });
  expect(sha256File(path.join(dst, 'big'))).toBe(kept);
  await fcp(runFcp, work, '--ignore-times');
  expectCopied(work);
});

testBothLocalPaths('a symlink at the destination is replaced by the file, never taken for it', async (runFcp) => {
  const work = temp.make('fcp-quick');
  const src = source(work);
  await fcp(runFcp, work);
  const dst = path.join(work, 'dst', 'src');
  fs.rmSync(path.join(dst, 'big'));
  fs.symlinkSync(path.join(src, 'big'), path.join(dst, 'big'));
  expect(await fcp(runFcp, work)).toMatchObject({ bytesSent: BIG, bytesResumed: MEDIUM + SMALL });
  expect(fs.lstatSync(path.join(dst, 'big')).isFile()).toBe(true);
  expectCopied(work);
});

test('a pull (the client receives) skips what it holds, and ignoreTimes sends it all', async () => {
  const work = temp.make('fcp-quick');
  const src = source(work);
  const options = { sources: [`localhost:${src}`], destination: path.join(work, 'dst'), recursive: true, launcher: localLauncher() };
  expect(await copy(options)).toMatchObject({ bytesSent: TOTAL, bytesResumed: 0 });
  expect(await copy(options)).toMatchObject({ bytes: TOTAL, bytesSent: 0, bytesResumed: TOTAL, files: 3 });
  // -W: a pull crosses the network, so a file sent again would otherwise go as a delta against what the destination holds.
  expect(await copy({ ...options, ignoreTimes: true, wholeFile: true })).toMatchObject({ bytesSent: TOTAL, bytesResumed: 0 });
  // Without -W, -I still sends every file, but the delta finds what the destination holds: little crosses.
  const delta = await copy({ ...options, ignoreTimes: true });
  expect(delta).toMatchObject({ bytes: TOTAL, bytesResumed: 0, files: 3 });
  expect(delta.bytesSent + delta.bytesSaved).toBe(TOTAL);
  expect(delta.bytesSaved).toBeGreaterThan(BIG);
  expectCopied(work);
});

/** work/src with `count` small files (sent inline into an empty destination) in a few directories; work/dst, empty. */
function smallTree(work: string, count: number): void {
  const src = path.join(work, 'src');
  for (let i = 0; i < count; i++) {
    const dir = path.join(src, `d${i % 7}`);
    fs.mkdirSync(dir, { recursive: true });
    makeFile(dir, `f${i}`, 1 + ((i * 4099) % INLINE_MAX));
  }
  fs.mkdirSync(path.join(work, 'dst'));
}

const SMALL_COUNT = 300;

testBothLocalPaths('a rerun over a tree of small files sends no byte (feature DEST_STATE), and leaves them as they are', async (runFcp) => {
  const work = temp.make('fcp-quick');
  smallTree(work, SMALL_COUNT);
  const first = await fcp(runFcp, work);
  expect(first).toMatchObject({ files: SMALL_COUNT, filesFailed: 0, bytesResumed: 0 });
  expect(first.bytesSent).toBe(first.bytes);
  expectCopied(work);
  const inode = fs.statSync(path.join(work, 'dst', 'src', 'd3', 'f3')).ino;
  expect(await fcp(runFcp, work)).toMatchObject({ files: SMALL_COUNT, filesFailed: 0, bytesSent: 0, bytesResumed: first.bytes });
  expectCopied(work);
  // Left in place, not written again under a temporary name.
  expect(fs.statSync(path.join(work, 'dst', 'src', 'd3', 'f3')).ino).toBe(inode);
});

test('a pull of a tree of small files, run again, sends no byte', async () => {
  const work = temp.make('fcp-quick');
  smallTree(work, SMALL_COUNT);
  const options = { sources: [`localhost:${path.join(work, 'src')}`], destination: path.join(work, 'dst'), recursive: true, launcher: localLauncher() };
  const first = await copy(options);
  expect(first).toMatchObject({ files: SMALL_COUNT, filesFailed: 0 });
  expect(first.bytesSent).toBe(first.bytes);
  expect(await copy(options)).toMatchObject({ files: SMALL_COUNT, filesFailed: 0, bytesSent: 0, bytesResumed: first.bytes });
  expectCopied(work);
});

/** A directory's ctime, mode and mtime, in nanoseconds where they have them. */
function dirState(dir: string): { ctimeNs: bigint; mode: number; mtimeNs: bigint } {
  const stat = fs.statSync(dir, { bigint: true });
  return { ctimeNs: stat.ctimeNs, mode: Number(stat.mode), mtimeNs: stat.mtimeNs };
}

testBothLocalPaths('a rerun leaves a directory or symlink that is as the source has it alone (its ctime stays), and sets one that is not, or that it wrote into', async (runFcp) => {
  const work = temp.make('fcp-quick');
  const src = source(work);
  fs.symlinkSync('small', path.join(src, 'link'));
  fs.lutimesSync(path.join(src, 'link'), new Date('2019-09-09T09:09:09.5Z'), new Date('2019-09-09T09:09:09.5Z'));
  fs.mkdirSync(path.join(src, 'sub'), { mode: 0o750 });
  makeFile(path.join(src, 'sub'), 'inner', SMALL);
  fs.mkdirSync(path.join(src, 'other'));
  makeFile(path.join(src, 'other'), 'kept', SMALL);
  for (const dir of [src, path.join(src, 'sub'), path.join(src, 'other')]) fs.utimesSync(dir, new Date('2020-02-02T02:02:02.123Z'), new Date('2020-02-02T02:02:02.123Z'));
  await fcp(runFcp, work);
  expectCopied(work);
  const dst = path.join(work, 'dst', 'src');
  const before = dirState(path.join(dst, 'other'));
  const subBefore = dirState(path.join(dst, 'sub'));
  // The ctime moves on any change: one that comes is the rerun's doing. A file changes in sub, and other's mode.
  await new Promise((resolve) => setTimeout(resolve, 20));
  makeFile(path.join(dst, 'sub'), 'inner', SMALL, { mtime: '2011-01-01T00:00:00Z' });
  fs.chmodSync(path.join(dst, 'other'), 0o700);
  const otherChanged = dirState(path.join(dst, 'other'));
  await fcp(runFcp, work);
  expectCopied(work);
  expect(dirState(path.join(dst, 'other'))).toMatchObject({ mode: before.mode, mtimeNs: before.mtimeNs });
  expect(dirState(path.join(dst, 'other')).ctimeNs).not.toBe(otherChanged.ctimeNs);
  expect(dirState(path.join(dst, 'sub')).mtimeNs).toBe(subBefore.mtimeNs);

  // Nothing changed now: no directory, and not the symlink, is touched.
  const linkState = (): bigint[] => {
    const stat = fs.lstatSync(path.join(dst, 'link'), { bigint: true });
    return [stat.ctimeNs, stat.mtimeNs];
  };
  const settled = [dst, path.join(dst, 'sub'), path.join(dst, 'other')].map(dirState);
  const link = linkState();
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(await fcp(runFcp, work)).toMatchObject({ bytesSent: 0 });
  expect([dst, path.join(dst, 'sub'), path.join(dst, 'other')].map(dirState)).toEqual(settled);
  expect(linkState()).toEqual(link);
  expectCopied(work);
});
