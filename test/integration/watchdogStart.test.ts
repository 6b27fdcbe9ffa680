/**
 * The stall watchdog ends a process whose main thread is stuck in a disk call, whichever way its
 * thread was started: by startWatchdog (fcpd), or before the bundle loaded and handed over
 * (bin/fcp: src/cli/watchdogThread.ts), in which case what to watch arrives by message, after
 * the thread started and right before the main thread blocks for good. Also: an early thread
 * that is never handed anything does not keep the process alive; fcpd, which starts its thread
 * once a session has run FCPD_WATCHDOG_DEFER_MS, ends itself when its disk stops answering later.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copy, isFcpError, Launcher } from '../../src';
import { HANG_DISK_ENV } from '../../src/diskWatch';
import { FCPD_WATCHDOG_DEFER_MS } from '../../src/timeouts';
import { describeRun, handLauncher, killAll, ROOT, runNode, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { writeRandomFile } from './helpers/tree';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(killAll);

const CLI = path.join(ROOT, 'dist', 'src', 'cli');

/** Starts the watchdog (`early`: on a thread started beforehand), then blocks in a disk call that never returns. */
const HANG = (early: boolean, json: boolean): string => `
const { adoptWatchdogThread, startWatchdog } = require(${JSON.stringify(path.join(CLI, 'watchdog.js'))});
const { spawnWatchdogThread } = require(${JSON.stringify(path.join(CLI, 'watchdogThread.js'))});
const { onDisk } = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'diskWatch.js'))});
if (${early}) adoptWatchdogThread(spawnWatchdogThread());
startWatchdog({ program: 'fcp', timeoutMs: 1000, json: ${json} });
onDisk('finish', Buffer.from('/hung/file'), () => 0);
`;

test.each([
  ['started by startWatchdog', false],
  ['started early and handed over', true],
])('a disk call that never returns ends the process with exit 7 and says where (%s)', async (_, early) => {
  const script = path.join(temp.make('fcp-watchdog'), 'hang.js');
  fs.writeFileSync(script, HANG(early, false));
  const run = await runNode(script, [], { env: { [HANG_DISK_ENV]: 'finish' }, timeoutMs: 30_000 });
  expect({ code: run.code, timedOut: run.timedOut, run: describeRun(run) }).toEqual({ code: 7, timedOut: false, run: describeRun(run) });
  expect(run.stderr).toContain(`fcp: cannot finish /hung/file on ${os.hostname()}: the disk did not answer within 1 s (FCP_ERR_TIMEOUT)\n`);
});

test('handed over with --json: the error is a JSON record on stdout', async () => {
  const script = path.join(temp.make('fcp-watchdog'), 'hang.js');
  fs.writeFileSync(script, HANG(true, true));
  const run = await runNode(script, [], { env: { [HANG_DISK_ENV]: 'finish' }, timeoutMs: 30_000 });
  expect({ code: run.code, timedOut: run.timedOut }).toEqual({ code: 7, timedOut: false });
  const record = JSON.parse(run.stdout.trim()) as { code: string; message: string };
  expect(record).toMatchObject({ code: 'FCP_ERR_TIMEOUT', message: `cannot finish /hung/file on ${os.hostname()}: the disk did not answer within 1 s` });
});

test('an early thread never handed anything does not keep the process alive', async () => {
  const script = path.join(temp.make('fcp-watchdog'), 'idle.js');
  fs.writeFileSync(script, `require(${JSON.stringify(path.join(CLI, 'watchdogThread.js'))}).spawnWatchdogThread(); setTimeout(() => process.stdout.write('done'), 100);`);
  const run = await runNode(script, [], { timeoutMs: 30_000 });
  expect({ code: run.code, stdout: run.stdout, timedOut: run.timedOut }).toEqual({ code: 0, stdout: 'done', timedOut: false });
});

test('fcpd whose disk stops answering after its watchdog started: fcp reports the silence, fcpd ends itself with exit 7 naming the file', async () => {
  const work = temp.make('fcp-watchdog');
  const file = path.join(work, 'big');
  const size = 4 * 1024 * 1024;
  writeRandomFile(file, size);
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);
  // Committing the file never returns; at this rate it comes twice the deferral after the session began.
  const bwlimit = Math.floor(size / ((2 * FCPD_WATCHDOG_DEFER_MS) / 1000));
  const hand = handLauncher({ env: { [HANG_DISK_ENV]: 'finish' }, args: ['--timeout', '2'] });
  let fcpdEnded: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const launcher: Launcher = {
    async launch(secret, log) {
      const server = await hand.launcher.launch(secret, log);
      return { ...server, close: async () => void (fcpdEnded = await within(hand.started()!.exited, 30_000, 'fcpd ending itself')) };
    },
  };
  const error = await copy({ sources: [file], destination: `localhost:${dst}`, timeout: 2, bwlimit, launcher }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isFcpError(error) && { code: error.code, exitCode: error.exitCode }).toEqual({ code: 'FCP_ERR_TIMEOUT', exitCode: 7 });
  expect(fcpdEnded).toEqual({ code: 7, signal: null });
  expect(hand.started()!.stderr()).toContain(`fcpd: cannot finish ${path.join(dst, 'big')} on ${os.hostname()}: the disk did not answer within 2 s (FCP_ERR_TIMEOUT)\n`);
});
