/**
 * Entries that are not files and do not make it (PROTOCOL.md §7.2, ENTRY_ERROR): whichever side
 * finds out, both count them, fcp names each one and exits 8. Before ENTRY_ERROR these went
 * unreported on the side that did not find out, and fcp exited 0.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { compareTrees } from './helpers/compare';
import { describeRun, errorCodes, killAll, RunResult, stackLines } from './helpers/run';
import { testBothLocalPaths } from './helpers/localPaths';
import { useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

interface JsonSummary { files: number; filesFailed: number; entriesFailed: number; errors: { code: string; message: string }[] }

function summaryOf(result: RunResult): JsonSummary {
  const line = result.stdout.split('\n').find((l) => l.includes('"event":"summary"'));
  if (!line) throw new Error(`no JSON summary:\n${describeRun(result)}`);
  return JSON.parse(line) as JsonSummary;
}

/** The run was partial (exit 8) because of exactly one entry, named in its one error. */
function expectOnePartialEntry(result: RunResult, name: string, code: string): void {
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 8, what });
  expect(stackLines(result.stderr)).toEqual([]);
  const summary = summaryOf(result);
  expect(summary.entriesFailed).toBe(1);
  expect(summary.errors).toHaveLength(1);
  expect(summary.errors[0]!.code).toBe(code);
  expect(summary.errors[0]!.message).toContain(name);
  const event = result.stdout.split('\n').find((l) => l.includes('"event":"entryError"'));
  expect(event && JSON.parse(event)).toMatchObject({ event: 'entryError', error: { code } });
}

/** makeFile in a directory made first. */
function fileIn(dir: string, name: string, size: number): void {
  fs.mkdirSync(dir, { recursive: true });
  makeFile(dir, name, size);
}

function fifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

testBothLocalPaths('a symlink the receiver cannot create (a directory in its place): exit 8, named, the rest copied', async (runFcp) => {
  const work = temp.make('fcp-entry');
  fileIn(path.join(work, 'src'), 'f', 100);
  fs.symlinkSync('x', path.join(work, 'src', 'd'));
  fs.mkdirSync(path.join(work, 'D', 'src', 'd'), { recursive: true });
  fs.writeFileSync(path.join(work, 'D', 'src', 'd', 'k'), 'kept');
  const result = await runFcp(['-r', '--json', 'src', 'D/'], { cwd: work });
  expectOnePartialEntry(result, 'src/d', 'FCP_ERR_IS_DIRECTORY');
  expect(fs.readFileSync(path.join(work, 'D', 'src', 'd', 'k'), 'utf8')).toBe('kept');
  expect(compareTrees(path.join(work, 'src', 'f'), path.join(work, 'D', 'src', 'f'))).toEqual([]);
  // Without --json the entry is named on stderr with its code, on one line (not again in the summary).
  const plain = await runFcp(['-r', 'src', 'D/'], { cwd: work });
  expect(plain.code).toBe(8);
  expect(plain.stderr.split('\n').filter((line) => line.includes('src/d'))).toHaveLength(1);
  expect(errorCodes(plain.stderr)).toEqual(['FCP_ERR_IS_DIRECTORY']);
});

testBothLocalPaths('a directory that lands on a file (top-level or below): one line each, its contents not copied, the other source copied; exit 8, or 4 when nothing was', async (runFcp) => {
  const work = temp.make('fcp-entry');
  for (const name of ['f1', 'f2']) fileIn(path.join(work, 'src', 'sub'), name, 100);
  fileIn(path.join(work, 'other', 'deep'), 'g', 100);
  fileIn(path.join(work, 'other'), 'h', 100);
  fs.mkdirSync(path.join(work, 'D', 'other'), { recursive: true });
  fs.writeFileSync(path.join(work, 'D', 'src'), 'a file where src would land');
  fs.writeFileSync(path.join(work, 'D', 'other', 'deep'), 'a file where other/deep would land');
  const both = await runFcp(['-r', 'src', 'other', 'D/'], { cwd: work });
  const what = describeRun(both);
  expect({ exit: both.code, what }).toEqual({ exit: 8, what });
  expect(stackLines(both.stderr)).toEqual([]);
  // rsync reports a directory it cannot make once and skips its contents; so does fcp.
  const lines = both.stderr.split('\n').filter(Boolean);
  expect(lines.map((line) => line.split(':')[1]!.trim())).toEqual(['src', 'other/deep']);
  expect(lines.every((line) => line.endsWith('it exists and is not a directory; nothing below it is copied (FCP_ERR_NOT_DIRECTORY)'))).toBe(true);
  expect(fs.readFileSync(path.join(work, 'D', 'src'), 'utf8')).toBe('a file where src would land');
  expect(fs.readFileSync(path.join(work, 'D', 'other', 'deep'), 'utf8')).toBe('a file where other/deep would land');
  expect(compareTrees(path.join(work, 'other', 'h'), path.join(work, 'D', 'other', 'h'))).toEqual([]);
  const json = summaryOf(await runFcp(['-r', '--json', 'src', 'other', 'D/'], { cwd: work }));
  expect(json).toMatchObject({ files: 1, filesFailed: 3, entriesFailed: 3 });
  // Only the source that cannot land: nothing copied, the failure's own exit code.
  const alone = await runFcp(['-r', 'src', 'D/'], { cwd: work });
  expect(alone.code).toBe(4);
  expect(errorCodes(alone.stderr)).toEqual(['FCP_ERR_NOT_DIRECTORY']);
});

testBothLocalPaths('a FIFO in a pushed tree is skipped with a reason: exit 8, the rest copied', async (runFcp) => {
  const work = temp.make('fcp-entry');
  fileIn(path.join(work, 'src'), 'f', 20_000);
  fifo(path.join(work, 'src', 'pipe'));
  const result = await runFcp(['-r', '--json', 'src/', 'D'], { cwd: work });
  expectOnePartialEntry(result, 'is a FIFO; skipped', 'FCP_ERR_IO');
  expect(fs.readdirSync(path.join(work, 'D'))).toEqual(['f']);
});

test('a FIFO in a pulled tree: the client counts what the server skipped', async () => {
  const work = temp.make('fcp-entry');
  fileIn(path.join(work, 'src'), 'f', 20_000);
  fifo(path.join(work, 'src', 'pipe'));
  const summary = await copy({ sources: [`localhost:${path.join(work, 'src')}/`], destination: path.join(work, 'D'), recursive: true, launcher: localLauncher() });
  expect(summary.files).toBe(1);
  expect(summary.entriesFailed).toBe(1);
  expect(summary.errors.map((e) => e.code)).toEqual(['FCP_ERR_IO']);
  expect(summary.errors[0]!.message).toMatch(/pipe is a FIFO; skipped/);
  expect(fs.readdirSync(path.join(work, 'D'))).toEqual(['f']);
});

testBothLocalPaths('a symlink loop under -r -L is skipped with a reason: exit 8', async (runFcp) => {
  const work = temp.make('fcp-entry');
  fileIn(path.join(work, 'src', 'sub'), 'f', 10);
  fs.symlinkSync('..', path.join(work, 'src', 'sub', 'up'));
  const result = await runFcp(['-r', '-L', '--json', 'src/', 'D'], { cwd: work });
  expectOnePartialEntry(result, 'symlink loop', 'FCP_ERR_BAD_PATH');
  expect(fs.readFileSync(path.join(work, 'D', 'sub', 'f')).length).toBe(10);
});
