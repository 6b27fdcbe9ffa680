/**
 * Local copies in fcp's own process (no fcpd, memory links: src/client/localCopy.ts), next to the
 * same copies through a local fcpd (--via-fcpd): the same files, modes, mtimes, digests, summary
 * counts and quick check; what is particular to one process (--no-verify, the summary's mode).
 * Errors of local copies run both ways in badInput, semantics, entryErrors and faults.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import type { CopyEvent } from '../../src';
import { compareTrees, leftoverTemporaries } from './helpers/compare';
import { specDigest } from './helpers/digest';
import { testBothLocalPaths } from './helpers/localPaths';
import { describeRun, errorCodes, killAll, runFcp, RunResult, stackLines } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { buildMixedTree, CHUNK, INLINE_MAX, makeFile } from './helpers/tree';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(killAll);

type JsonRecord = Record<string, unknown> & { event: string };

/** The run's JSON records, after checking that it exited 0 and printed nothing on stderr. */
function records(result: RunResult): JsonRecord[] {
  const what = describeRun(result);
  expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 0, stderr: '', what });
  return result.stdout.trim().split('\n').map((line) => JSON.parse(line) as JsonRecord);
}

const summaryOf = (lines: JsonRecord[]): JsonRecord => lines.find((r) => r.event === 'summary')!;
const viaFcpd = (result: RunResult): boolean => result.stdout.includes('"mode":"fcpd"');

testBothLocalPaths('one file of several chunks: bytes, mode, mtime and digest; mode names the shape', async (runFcp) => {
  const work = temp.make('fcp-local');
  const file = makeFile(work, 'big.bin', 3 * CHUNK + 12_345, { mode: 0o640, mtime: '2003-04-05T06:07:08.123456789Z' });
  const result = await runFcp(['--json', '-n', '2', 'big.bin', 'copy.bin'], { cwd: work });
  const lines = records(result);
  expect(summaryOf(lines)).toMatchObject({ files: 1, filesFailed: 0, bytes: 3 * CHUNK + 12_345, bytesSent: 3 * CHUNK + 12_345, connections: 2, encrypted: false, verification: 'chunks' });
  expect(summaryOf(lines).mode).toBe(viaFcpd(result) ? 'fcpd' : 'in-process');
  expect(compareTrees(file, path.join(work, 'copy.bin'))).toEqual([]);
  expect(lines.find((r) => r.event === 'file')).toMatchObject({ path: 'big.bin', digest: await specDigest(file) });
  expect(leftoverTemporaries(work)).toEqual([]);
});

testBothLocalPaths('the mixed tree in 64 KiB chunks over 3 streams: identical (odd names, modes, mtimes, symlinks)', async (runFcp) => {
  const work = temp.make('fcp-local');
  const tree = buildMixedTree(work, 'src');
  const result = await runFcp(['--json', '-r', '-n', '3', '--chunk-size', '64K', 'src', 'dst'], { cwd: work });
  expect(summaryOf(records(result))).toMatchObject({ files: tree.fileCount, filesFailed: 0, entriesFailed: 0, bytes: tree.totalBytes, errors: [] });
  expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
  expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
});

testBothLocalPaths('a rerun over a finished copy of chunked files sends nothing (quick check), -I everything', async (runFcp) => {
  const work = temp.make('fcp-local');
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.mkdirSync(path.join(work, 'dst'));
  const sizes = [INLINE_MAX + 1, CHUNK, 2 * CHUNK + 7];
  sizes.forEach((size, i) => makeFile(src, `f${i}`, size));
  const total = sizes.reduce((a, b) => a + b, 0);
  const run = async (...args: string[]): Promise<JsonRecord> => summaryOf(records(await runFcp(['--json', '-r', ...args, 'src', 'dst'], { cwd: work })));
  expect(await run()).toMatchObject({ files: 3, bytes: total, bytesSent: total, bytesResumed: 0 });
  expect(await run()).toMatchObject({ files: 3, bytes: total, bytesSent: 0, bytesResumed: total });
  expect(await run('-I')).toMatchObject({ files: 3, bytes: total, bytesSent: total, bytesResumed: 0 });
  expect(compareTrees(src, path.join(work, 'dst', 'src'))).toEqual([]);
});

describe('--no-verify (in one process only)', () => {
  test('the copy is identical; no digest in file records; the summary says verification none', async () => {
    const work = temp.make('fcp-local');
    const tree = buildMixedTree(work, 'src');
    const lines = records(await runFcp(['--json', '--no-verify', '-r', 'src', 'dst'], { cwd: work }));
    expect(summaryOf(lines)).toMatchObject({ files: tree.fileCount, filesFailed: 0, bytes: tree.totalBytes, mode: 'in-process', verification: 'none' });
    const files = lines.filter((r) => r.event === 'file');
    expect(files).toHaveLength(tree.fileCount);
    expect(files.filter((r) => 'digest' in r)).toEqual([]);
    expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
  });

  test.each([['--via-fcpd'], ['--encrypt']])('with %s (a copy through fcpd, which always verifies): usage error, exit 2, nothing written', async (option) => {
    const work = temp.make('fcp-local');
    makeFile(work, 'a', 100_000);
    const result = await runFcp(['--no-verify', option, 'a', 'b'], { cwd: work });
    const what = describeRun(result);
    expect({ code: result.code, what }).toEqual({ code: 2, what });
    expect(errorCodes(result.stderr)).toEqual(['FCP_ERR_USAGE']);
    expect(stackLines(result.stderr)).toEqual([]);
    expect(fs.existsSync(path.join(work, 'b'))).toBe(false);
  });
});

test('Node API: a local copy runs in this process unless viaFcpd; events come in order either way', async () => {
  const work = temp.make('fcp-local');
  const tree = buildMixedTree(work, 'src');
  for (const viaFcpd of [false, true]) {
    const events: CopyEvent[] = [];
    const destination = path.join(work, `dst-${viaFcpd}`);
    const summary = await copy({ sources: [tree.root], destination, recursive: true, viaFcpd, progressIntervalMs: 1, onEvent: (e) => events.push(e) });
    expect({ mode: summary.mode, errors: summary.errors }).toEqual({ mode: viaFcpd ? 'fcpd' : 'in-process', errors: [] });
    expect(events[0]).toMatchObject({ type: 'start', files: tree.fileCount, bytes: tree.totalBytes });
    expect(events.filter((e) => e.type === 'file')).toHaveLength(tree.fileCount);
    expect(events.at(-1)).toMatchObject({ type: 'progress', bytesDone: tree.totalBytes, filesDone: tree.fileCount });
    expect(compareTrees(tree.root, path.join(destination, path.basename(tree.root)))).toEqual([]);
  }
});

test('small files sent inline that fail at the receiver are in the errors of the summary, with file events or without', async () => {
  const work = temp.make('fcp-local');
  // Entry paths that fit the source but not the destination, which lies deeper: the directories
  // past 4,095 bytes cannot be made there (ENAMETOOLONG), and the small files in them fail.
  const deep = path.join(work, 'src', ...Array.from({ length: 18 }, (_, i) => `${i}`.padEnd(200, 'd')));
  fs.mkdirSync(deep, { recursive: true });
  for (const name of ['one', 'two', 'three']) fs.writeFileSync(path.join(deep, name), name);
  fs.writeFileSync(path.join(work, 'src', 'fits'), 'fits');
  for (const viaFcpd of [false, true]) {
    for (const fileEvents of [true, false]) {
      const destination = path.join(work, `dst-${viaFcpd}-${fileEvents}`, 'x'.repeat(250), 'y'.repeat(250));
      fs.mkdirSync(destination, { recursive: true });
      const summary = await copy({ sources: [path.join(work, 'src')], destination, recursive: true, viaFcpd, fileEvents });
      expect({ files: summary.files, filesFailed: summary.filesFailed }).toEqual({ files: 1, filesFailed: 3 });
      expect(summary.errors).toHaveLength(summary.filesFailed + summary.entriesFailed);
      expect(summary.errors.every((error) => error.code === 'FCP_ERR_BAD_PATH' || error.code === 'FCP_ERR_IO')).toBe(true);
      expect(fs.readFileSync(path.join(destination, 'src', 'fits'), 'utf8')).toBe('fits');
    }
  }
});

test('Node API: fileEvents false (fcp -q) gives no file or progress events, the same copy and summary, and a failed file in the summary', async () => {
  const work = temp.make('fcp-local');
  const tree = buildMixedTree(work, 'src');
  for (const viaFcpd of [false, true]) {
    const destination = path.join(work, `dst-${viaFcpd}`);
    // A directory where a small file is to land: that file fails, the others are copied.
    fs.mkdirSync(path.join(destination, 'src', 'modes', 'f0600', 'inside'), { recursive: true });
    const events: CopyEvent[] = [];
    const summary = await copy({ sources: [tree.root], destination, recursive: true, viaFcpd, progressIntervalMs: 1, fileEvents: false, onEvent: (e) => events.push(e) });
    expect(events.filter((e) => e.type === 'file' || e.type === 'progress')).toEqual([]);
    expect(events[0]).toMatchObject({ type: 'start', files: tree.fileCount, bytes: tree.totalBytes });
    expect({ files: summary.files, filesFailed: summary.filesFailed, bytes: summary.bytes }).toEqual({ files: tree.fileCount - 1, filesFailed: 1, bytes: tree.totalBytes - 600 });
    expect(summary.errors).toHaveLength(1);
    expect(summary.errors[0]!.message).toContain('f0600');
    expect(compareTrees(tree.root, path.join(destination, 'src'))).toEqual([expect.stringContaining('modes/f0600')]);
  }
});
