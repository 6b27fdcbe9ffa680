/**
 * --follow (PROTOCOL.md §7.10) through fcpd on loopback (push and pull) and in one process: a
 * writer appends in steps while the copy follows, a followed file is truncated and rewritten, a
 * new file appears in a followed tree, a source appears only after the start, and the CLI stops
 * on SIGTERM with exit 0. Each step waits (bounded) for the destination to show the previous one,
 * so the test never races the poll; the latency of each step is recorded, not asserted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, CopyOptions, CopySummary, localLauncher } from '../../src';
import { FCP_BIN, killAll, runNode } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(90_000);
const temp = useTempDirs();
afterAll(killAll);

type Way = 'local' | 'push' | 'pull';
const WAYS: Way[] = ['local', 'push', 'pull'];
/** How long one step may take to reach the other side before the test gives up. */
const STEP_LIMIT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds (polled every 20 ms); rejects with `what` after STEP_LIMIT_MS. */
async function until(what: string, check: () => boolean): Promise<number> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > STEP_LIMIT_MS) throw new Error(`gave up waiting ${STEP_LIMIT_MS} ms for ${what}`);
    await sleep(20);
  }
  return Date.now() - started;
}

function contentOf(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/** The destination file holds exactly what the source holds now. */
const sameAs = (source: string, copied: string) => (): boolean => {
  const copy = contentOf(copied);
  return copy !== undefined && copy.equals(fs.readFileSync(source));
};

interface Following {
  done: Promise<CopySummary>;
  notices: string[];
  stop(): void;
}

/** Starts `copy --follow` of `source` into `dest` the way asked; stopped by stop() or after idleSeconds. */
function follow(way: Way, source: string, dest: string, extra: Partial<CopyOptions> = {}, idleSeconds?: number): Following {
  const controller = new AbortController();
  const notices: string[] = [];
  const done = copy({
    sources: [way === 'pull' ? `localhost:${source}` : source],
    destination: way === 'push' ? `localhost:${dest}` : dest,
    ...(way === 'local' ? {} : { launcher: localLauncher() }),
    follow: { signal: controller.signal, idleSeconds },
    notice: (line) => notices.push(line),
    ...extra,
  });
  done.catch(() => undefined);
  return { done, notices, stop: () => controller.abort() };
}

describe.each(WAYS)('%s', (way) => {
  test('a writer appends in steps: each step reaches the destination, which ends equal to the source', async () => {
    const work = temp.make('fcp-follow');
    const log = path.join(work, 'run.log');
    const copied = path.join(work, 'copy.log');
    fs.writeFileSync(log, 'start\n');
    const progress: { bytesDone: number; bytesTotal: number; filesDone: number; filesTotal: number }[] = [];
    const run = follow(way, log, copied, { progressIntervalMs: 10, onEvent: (event) => void (event.type === 'progress' && progress.push(event)) });
    await until('the first copy', sameAs(log, copied));
    const latencies: number[] = [];
    for (let step = 0; step < 20; step++) {
      // Steps of every size: a line, an APPEND's worth and more (several APPENDs in one poll).
      fs.appendFileSync(log, Buffer.alloc(step % 5 === 4 ? 200_000 : 1 + step * 37, 97 + (step % 26)));
      latencies.push(await until(`step ${step}`, sameAs(log, copied)));
    }
    run.stop();
    const summary = await run.done;
    expect(fs.readFileSync(copied).equals(fs.readFileSync(log))).toBe(true);
    expect(summary.errors).toEqual([]);
    expect(summary.followed).toEqual(expect.objectContaining({ resent: 0, newFiles: 0 }));
    expect(summary.followed!.appendedBytes).toBe(fs.statSync(log).size - 'start\n'.length);
    // What following sent grows the total: the progress never passes 100 %, and ends there.
    expect(progress.filter((p) => p.bytesDone > p.bytesTotal || p.filesDone > p.filesTotal)).toEqual([]);
    expect(progress.at(-1)).toMatchObject({ bytesDone: fs.statSync(log).size, bytesTotal: fs.statSync(log).size, filesDone: 1, filesTotal: 1 });
    // No timing assertion: recorded for the report.
    latencies.sort((a, b) => a - b);
    console.log(`${way}: append to copy, median ${latencies[10]} ms, max ${latencies[19]} ms (polled every 20 ms)`);
  });

  test('a followed file truncated, then rewritten, is sent again with a notice', async () => {
    const work = temp.make('fcp-follow');
    const log = path.join(work, 'data.bin');
    const copied = path.join(work, 'copy.bin');
    fs.writeFileSync(log, Buffer.alloc(300_000, 1));
    const run = follow(way, log, copied);
    await until('the first copy', sameAs(log, copied));
    fs.truncateSync(log, 1000);
    await until('the truncated copy', sameAs(log, copied));
    // Rewritten in place, longer than before: an append would leave the old bytes; the check of the sent spans catches it.
    const rewritten = Buffer.alloc(400_000, 2);
    const fd = fs.openSync(log, 'r+');
    fs.writeSync(fd, rewritten, 0, rewritten.length, 0);
    fs.closeSync(fd);
    await until('the rewritten copy', sameAs(log, copied));
    fs.appendFileSync(log, 'tail');
    await until('the append after the rewrite', sameAs(log, copied));
    run.stop();
    const summary = await run.done;
    expect(fs.readFileSync(copied).equals(fs.readFileSync(log))).toBe(true);
    expect(summary.errors).toEqual([]);
    expect(run.notices.some((line) => /was truncated; sending it again/.test(line))).toBe(true);
    expect(run.notices.some((line) => /was rewritten; sending it again/.test(line))).toBe(true);
  });

  test('a new file in a followed tree is picked up, and --follow-idle ends the run', async () => {
    const work = temp.make('fcp-follow');
    const tree = path.join(work, 'tree');
    const dest = path.join(work, 'dest');
    fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(tree, 'sub', 'first'), 'first\n');
    // A trailing slash: the tree's contents go into dest (rsync's placement).
    const run = follow(way, `${tree}/`, dest, { recursive: true }, 3);
    await until('the first copy', sameAs(path.join(tree, 'sub', 'first'), path.join(dest, 'sub', 'first')));
    fs.mkdirSync(path.join(tree, 'later'));
    fs.writeFileSync(path.join(tree, 'later', 'second'), 'second\n');
    await until('the new file', sameAs(path.join(tree, 'later', 'second'), path.join(dest, 'later', 'second')));
    fs.appendFileSync(path.join(tree, 'later', 'second'), 'more\n');
    await until('an append to the new file', sameAs(path.join(tree, 'later', 'second'), path.join(dest, 'later', 'second')));
    // Nothing grows from here: --follow-idle 3 ends it.
    const summary = await run.done;
    expect(summary.errors).toEqual([]);
    expect(summary.followed!.newFiles).toBe(1);
    expect(fs.readFileSync(path.join(dest, 'later', 'second'), 'utf8')).toBe('second\nmore\n');
  });

  test('an empty file that starts growing is appended to, not sent again', async () => {
    const work = temp.make('fcp-follow');
    const log = path.join(work, 'empty.log');
    const copied = path.join(work, 'copy.log');
    fs.writeFileSync(log, '');
    const run = follow(way, log, copied);
    await until('the first copy', () => fs.existsSync(copied));
    fs.appendFileSync(log, 'now it grows\n');
    await until('the append', sameAs(log, copied));
    run.stop();
    const summary = await run.done;
    expect(summary.followed).toEqual({ appends: 1, appendedBytes: 13, resent: 0, newFiles: 0 });
    expect(run.notices).toEqual([]);
  });

  test('a source that does not exist yet is waited for, with a notice', async () => {
    const work = temp.make('fcp-follow');
    const log = path.join(work, 'later.log');
    const copied = path.join(work, 'copy.log');
    const run = follow(way, log, copied);
    await until('the notice', () => run.notices.some((line) => line.includes('does not exist yet; waiting for it')));
    fs.writeFileSync(log, 'born\n');
    await until('the copy of the new source', sameAs(log, copied));
    fs.appendFileSync(log, 'grown\n');
    await until('the append', sameAs(log, copied));
    run.stop();
    const summary = await run.done;
    expect(summary.errors).toEqual([]);
    expect(fs.readFileSync(copied, 'utf8')).toBe('born\ngrown\n');
  });
});

test('fcp --follow stops on SIGTERM with exit 0 and a summary of what it followed (push through fcpd)', async () => {
  const work = temp.make('fcp-follow');
  const log = path.join(work, 'app.log');
  const dest = path.join(work, 'dest.log');
  fs.writeFileSync(log, 'one\n');
  const running = runNode(FCP_BIN, ['--follow', '--via-fcpd', '--json', log, dest], { cwd: work, timeoutMs: 60_000 });
  await until('the first copy', sameAs(log, dest));
  fs.appendFileSync(log, 'two\n');
  await until('the append', sameAs(log, dest));
  const pid = Number(fs.readdirSync('/proc').find((entry) => /^\d+$/.test(entry) && fcpOf(entry, log)));
  process.kill(pid, 'SIGTERM');
  const result = await running;
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const summary = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; followed?: unknown }).find((r) => r.event === 'summary');
  expect(summary?.followed).toEqual({ appends: 1, appendedBytes: 4, resent: 0, newFiles: 0 });
  expect(fs.readFileSync(dest, 'utf8')).toBe('one\ntwo\n');
});

/** Whether process `pid` is the fcp of this test (its command line names bin/fcp and the source). */
function fcpOf(pid: string, source: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(FCP_BIN) && argv.includes(source);
  } catch {
    return false;
  }
}

test.each([
  [['--follow-idle', '5'], /--follow-idle needs --follow/],
  [['--follow', '--background'], /--follow does not go with --background/],
  [['--follow', '--remove-source-files'], /--follow does not go with --remove-source-files/],
  [['--follow', '--sftp'], /--follow does not go with --sftp/],
  [['--follow', '--follow-idle', '0'], /--follow-idle.*whole number from 1 to 2147483/],
])('fcp %j is a usage error (exit 2), and copies nothing', async (flags, message) => {
  const work = temp.make('fcp-follow');
  fs.writeFileSync(path.join(work, 'a.log'), 'a\n');
  const destination = flags.includes('--sftp') ? 'localhost:/nowhere/b.log' : 'b.log';
  const run = await runNode(FCP_BIN, [...flags, 'a.log', destination], { cwd: work, timeoutMs: 30_000 });
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(message);
  expect(fs.existsSync(path.join(work, 'b.log'))).toBe(false);
});
