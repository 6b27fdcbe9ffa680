/**
 * Data connections tuned at run time (feature GROW): a copy without -n opens more connections than
 * it starts with when the tuner asks for them (forced here with FCP_TEST_TUNER: every 50 ms window
 * adds, whatever the goodput, since loopback goodput says nothing stable), and arrives whole; -n
 * pins the count. Through fcpd on loopback (--via-fcpd), slowed by --bwlimit so the copy lasts
 * several windows: fcpd runs on this machine, so a tuned copy starts with TUNE_SAME_HOST.
 */
import * as path from 'node:path';
import { TEST_TUNER_ENV } from '../../src/client/connectionGrowth';
import { TUNE_MAX, TUNE_SAME_HOST } from '../../src/session/connectionTuner';
import { compareTrees } from './helpers/compare';
import { describeRun, killAll, runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(() => killAll());

const MiB = 1024 * 1024;
const ALWAYS_ADD = { [TEST_TUNER_ENV]: '50:-1' };

interface Summary {
  connections: number;
  bytes: number;
}

/** Copies a 12 MiB file through fcpd at `rate` (--bwlimit); the run, its --json start and summary records. */
async function copyThroughFcpd(args: string[], env: NodeJS.ProcessEnv, rate = '8M') {
  const work = temp.make('fcp-tuned');
  makeFile(work, 'f', 12 * MiB);
  const result = await runFcp(['--via-fcpd', '--bwlimit', rate, '--json', '-v', ...args, 'f', 'g'], { cwd: work, env });
  const records = result.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { event: string } & Summary);
  return { work, result, start: records.find((r) => r.event === 'start'), summary: records.find((r) => r.event === 'summary') };
}

test('without -n, the copy adds data connections while the tuner asks, and arrives whole', async () => {
  const { work, result, start, summary } = await copyThroughFcpd([], ALWAYS_ADD);
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 0, what });
  expect(compareTrees(path.join(work, 'f'), path.join(work, 'g'))).toEqual([]);
  expect(start?.connections).toBe(TUNE_SAME_HOST);
  // Doubling from TUNE_SAME_HOST at every measured window, up to 8 (TUNE_MAX).
  expect(summary?.connections).toBe(TUNE_MAX);
  expect(result.stderr).toMatch(new RegExp(`over ${TUNE_SAME_HOST} data connections, CPUs \\d+ % idle: opening ${TUNE_SAME_HOST} more`));
  expect(result.stderr).toMatch(new RegExp(`over ${TUNE_MAX / 2} data connections, CPUs \\d+ % idle: opening ${TUNE_MAX / 2} more`));
  expect(result.stderr).toContain(`up to ${TUNE_MAX} connections (tuned), chunk`);
});

test('fcpd does not wait for the connections a tuned session never opens, past its handshake timeout', async () => {
  // The tuner never measures (a window longer than the copy): 1 of the 8 accepted connections for
  // 3 s (12 MiB at 4 MiB/s), past fcpd's 2 s limit. Small chunks, so that the throttle does not hold
  // a KEEPALIVE behind seconds of queued data.
  const { work, result, summary } = await copyThroughFcpd(['--timeout', '2', '--chunk-size', '256K'], { [TEST_TUNER_ENV]: '600000:0' }, '4M');
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 0, what });
  expect(compareTrees(path.join(work, 'f'), path.join(work, 'g'))).toEqual([]);
  expect(summary?.connections).toBe(TUNE_SAME_HOST);
});

test('-n pins the count: no connection is added, whatever the tuner would say', async () => {
  const { work, result, start, summary } = await copyThroughFcpd(['-n', '3'], ALWAYS_ADD);
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 0, what });
  expect(compareTrees(path.join(work, 'f'), path.join(work, 'g'))).toEqual([]);
  expect([start?.connections, summary?.connections]).toEqual([3, 3]);
  expect(result.stderr).not.toContain('more');
  expect(result.stderr).toContain(': 3 connections, chunk');
});

test(`a malformed ${TEST_TUNER_ENV} is a usage error`, async () => {
  const { result } = await copyThroughFcpd([], { [TEST_TUNER_ENV]: 'fast' });
  expect(result.code).toBe(2);
  // --json: the error is the one record on stdout.
  expect(JSON.parse(result.stdout)).toMatchObject({ event: 'error', code: 'FCP_ERR_USAGE', message: expect.stringContaining(TEST_TUNER_ENV) });
});
