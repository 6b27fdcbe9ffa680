/**
 * -l (scp, Kbit/s) and --bwlimit (rsync, KiB/s): the copy is exact, and its average rate stays
 * under the limit. That bound is about what the option does, not about speed: a slow machine
 * only lowers the rate, so it cannot fail for being loaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees } from './helpers/compare';
import { describeRun, errorCodes, killAll, runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(() => killAll());

const MiB = 1024 * 1024;

test.each([
  ['--bwlimit', '2M', 2 * MiB],
  ['-l', '16000', 2_048_000],
])('%s %s: exact copy, average rate under the limit', async (flag, value, bytesPerSecond) => {
  const work = temp.make('fcp-bwlimit');
  makeFile(work, 'f', 4 * MiB);
  const result = await runFcp([flag, value, '--json', 'f', 'g'], { cwd: work });
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 0, what });
  expect(compareTrees(path.join(work, 'f'), path.join(work, 'g'))).toEqual([]);
  const summary = JSON.parse(result.stdout.split('\n').find((l) => l.includes('"summary"'))!) as { bytes: number; seconds: number };
  // The first tenth of a second's worth may go at once (the bucket's burst).
  expect(summary.bytes / summary.seconds).toBeLessThan(bytesPerSecond * 1.15);
});

test('a limit below one frame per --timeout does not look like a dead connection: --bwlimit 2M --timeout 2 through fcpd completes', async () => {
  const work = temp.make('fcp-bwlimit');
  makeFile(work, 'f', 8 * MiB);
  // Four connections share 2 MiB/s: a whole 1 MiB frame would wait 2 s before its first byte moved.
  const result = await runFcp(['--via-fcpd', '-n', '4', '--bwlimit', '2M', '--timeout', '2', 'f', 'g'], { cwd: work });
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 0, what });
  expect(compareTrees(path.join(work, 'f'), path.join(work, 'g'))).toEqual([]);
});

test('scp -l 256 (32 KiB/s) with --timeout 2 over four connections: the handshake of every connection gets through, the copy completes', async () => {
  const work = temp.make('fcp-bwlimit');
  makeFile(work, 'f', 160 * 1024);
  // One bucket for all connections: a connection that opens behind a 64 KiB slice waited 2 s for its handshake.
  const result = await runFcp(['--via-fcpd', '-n', '4', '-l', '256', '--timeout', '2', '--chunk-size', '64K', 'f', 'g'], { cwd: work });
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 0, what });
  expect(compareTrees(path.join(work, 'f'), path.join(work, 'g'))).toEqual([]);
});

test('-l and --bwlimit together, and rates that are not rates: usage errors', async () => {
  const work = temp.make('fcp-bwlimit');
  fs.writeFileSync(path.join(work, 'f'), 'x');
  for (const args of [['-l', '100', '--bwlimit', '1M'], ['-l', '0'], ['--bwlimit', 'fast'], ['--bwlimit', '-1']]) {
    const result = await runFcp([...args, 'f', 'g'], { cwd: work });
    expect({ args, exit: result.code }).toEqual({ args, exit: 2 });
    expect(errorCodes(result.stderr)).toEqual(['FCP_ERR_USAGE']);
  }
});
