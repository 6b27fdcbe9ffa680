/**
 * Background jobs over the test sshd (issue 17): fcp --background returns before the copy ends;
 * --jobs/--job show progress moving, as JSON that fits docs/job.schema.json; a cancelled job
 * retried resumes (bytesResumed > 0) to an identical file; a runner killed with -9 mid-job is
 * started again by fcp --jobs and the job resumes; a job started from a shell that then exits
 * completes; bad ids are exit 2. Uploads are slowed with --bwlimit so that jobs last long enough
 * to be seen running. Each test file has its own XDG_STATE_HOME, and afterAll stops its runner.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { schemaProblems, Schema } from '../helpers/jsonSchema';
import { alive, childEnv, content, expectExit, expectFailure, killAll, REPO, runFcp, sha256, show, tempDir, writeFile } from './harness';
import { explicitLogin, Sshd, startSshd } from './sshd';
import { isRunning } from '../../../src/state/running';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { journaledBytes } from '../helpers/interrupt';

jest.setTimeout(120_000);

const SCHEMA = JSON.parse(fs.readFileSync(path.join(REPO, 'docs', 'job.schema.json'), 'utf8')) as Schema;
const SIZE = 24 * 1024 * 1024;
/** For the tests that only need a job to outlive a kill or a hang-up: 6 s at SLOW. */
const SHORT_SIZE = 6 * 1024 * 1024;
/** fcp's default chunk size, which the journal counts in. */
const CHUNK_BYTES = 1024 * 1024;
/** 1 MiB/s: a job of SIZE lasts about 24 s, long enough for several fcp runs to watch it. */
const SLOW = ['--bwlimit', '1M'];
const WAIT_MS = 60_000;

let sshd: Sshd;
let home: string;
let work: string;
let state: string;
let source: string;
/** SHORT_SIZE bytes. */
let shortSource: string;
let env: NodeJS.ProcessEnv;
/** Every runner pid seen: afterAll makes sure each is gone. */
const runnerPids = new Set<number>();

const fcp = (args: string[]) => runFcp(args, { env, cwd: work, timeoutMs: 60_000 });
const remote = (name: string): string => `${sshd.user}@127.0.0.1:${path.join(work, 'remote', name)}`;
const runnerPid = (): number | undefined => {
  const text = fs.existsSync(path.join(state, 'fcp', 'jobs.pid')) ? fs.readFileSync(path.join(state, 'fcp', 'jobs.pid'), 'utf8') : '';
  return Number(text) || undefined;
};

interface Job {
  id: string;
  state: string;
  bytesDone: number;
  transferSize: number;
  runs: number;
  summary: { bytesResumed: number; bytesSent: number; errors: unknown[] } | null;
  error: { code: string; message: string } | null;
}

function expectFits(value: unknown): void {
  expect(schemaProblems(value, SCHEMA)).toEqual([]);
}

async function getJob(id: string): Promise<Job> {
  const run = await fcp(['--job', id, '--json']);
  expectExit(run, 0);
  const job = JSON.parse(run.stdout) as Job;
  expectFits(job);
  return job;
}

async function until(id: string, done: (job: Job) => boolean, what: string): Promise<Job> {
  let job = await getJob(id);
  for (const deadline = Date.now() + WAIT_MS; !done(job) && Date.now() < deadline; job = await getJob(id)) await new Promise((r) => setTimeout(r, 200));
  if (!done(job)) throw new Error(`job ${id} never ${what}: ${JSON.stringify(job)}\n${fs.readFileSync(path.join(state, 'fcp', 'jobs.log'), 'utf8')}`);
  return job;
}

async function startJob(args: string[]): Promise<{ id: string; pid: number }> {
  const run = await fcp(['--background', '--json', ...explicitLogin(sshd), ...SLOW, ...args]);
  expectExit(run, 0);
  const record = JSON.parse(run.stdout) as { event: string; id: string; pid: number };
  expect(record).toEqual({ event: 'job', id: expect.stringMatching(/^[0-9a-f]{12}$/), pid: expect.any(Number) });
  runnerPids.add(record.pid);
  return record;
}

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('jobs-home');
  work = tempDir('jobs-work');
  state = tempDir('jobs-state');
  fs.mkdirSync(path.join(work, 'remote'));
  source = path.join(work, 'source.bin');
  writeFile(source, content(SIZE, 'jobs-test'), 0o640, 1);
  shortSource = path.join(work, 'short.bin');
  writeFile(shortSource, content(SHORT_SIZE, 'jobs-test/short'), 0o640, 1);
  env = childEnv(home, { XDG_STATE_HOME: state });
});

afterAll(async () => {
  const pid = runnerPid();
  if (pid) runnerPids.add(pid);
  for (const runner of runnerPids) {
    if (runner > 1 && alive(runner)) process.kill(runner, 'SIGKILL');
  }
  killAll();
  await sshd?.stop();
  for (const dir of [home, work, state]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('--background returns before the copy ends; --jobs and --job show its progress moving; cancel, then retry, resumes to an identical file', async () => {
  const { id } = await startJob([source, remote('one.bin')]);
  // The final name appears only once the file is complete and verified.
  expect(fs.existsSync(path.join(work, 'remote', 'one.bin'))).toBe(false);
  const first = await until(id, (job) => job.state === 'running' && job.bytesDone > 0, 'showed progress');
  expect(first.transferSize).toBe(SIZE);
  const later = await until(id, (job) => job.bytesDone > first.bytesDone, 'moved on');
  expect(later.bytesDone).toBeLessThan(SIZE);

  const list = await fcp(['--jobs', '--json']);
  expectExit(list, 0);
  const jobs = JSON.parse(list.stdout) as Job[];
  expectFits(jobs[0]);
  expect(jobs.map((job) => job.id)).toEqual([id]);
  const text = await fcp(['--jobs']);
  expect(text.stdout).toContain(id);
  expect(text.stdout).toContain('running');

  // A verified chunk in the receiver's journal, so that the part file is resume state when the job stops.
  await untilJournaled(path.join(work, 'remote', '.one.bin.fcp-part.journal'));
  const cancel = await fcp(['--cancel', id]);
  expectExit(cancel, 0);
  expect(cancel.stdout).toContain('cancelled');
  const cancelled = await getJob(id);
  expect(cancelled.state).toBe('cancelled');
  expect(fs.existsSync(path.join(work, 'remote', 'one.bin'))).toBe(false);
  expect(fs.existsSync(path.join(work, 'remote', '.one.bin.fcp-part'))).toBe(true);

  expectExit(await fcp(['--retry', id]), 0);
  const attach = await fcp(['--attach', id, '--json']);
  expectExit(attach, 0);
  const last = JSON.parse(attach.stdout.trim().split('\n').pop()!) as Job & { event: string };
  expect(last).toMatchObject({ event: 'job', id, state: 'done' });
  expectFits(last);
  const done = await getJob(id);
  expect(done.state).toBe('done');
  expect(done.runs).toBe(2);
  expect(done.summary!.bytesResumed).toBeGreaterThan(0);
  expect(done.summary!.bytesSent).toBeLessThan(SIZE);
  expect(sha256(path.join(work, 'remote', 'one.bin'))).toBe(sha256(source));
});

/** Waits until process `pid` is gone (a zombie counts as gone). */
async function untilGone(pid: number, what: string): Promise<void> {
  for (const deadline = Date.now() + WAIT_MS; isRunning(pid) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  if (isRunning(pid)) throw new Error(`${what} (pid ${pid}) is still running after ${WAIT_MS / 1000} s`);
}

/** Waits until a part file's lock is released: removed, or left by a process that is gone. */
async function untilUnlocked(lock: string): Promise<void> {
  const holder = (): number | undefined => {
    try {
      return Number.parseInt(fs.readFileSync(lock, 'utf8'), 10) || undefined;
    } catch {
      return undefined;
    }
  };
  const held = (): boolean => fs.existsSync(lock) && (holder() === undefined || isRunning(holder()!));
  for (const deadline = Date.now() + WAIT_MS; held() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
  if (held()) throw new Error(`${lock} is still held (pid ${holder()}) after ${WAIT_MS / 1000} s`);
}

/**
 * Waits until the receiver's journal at `journal` vouches for a verified chunk: then its part file
 * is resume state, which the receiver keeps when the transfer stops (with none, it removes it).
 * The file arriving whole first (`.NAME.fcp-part.journal` -> NAME) fails at once: the job ran out
 * before it could be stopped mid-way, and no journal will come.
 */
async function untilJournaled(journal: string, size = SIZE): Promise<void> {
  const xxh = await loadXxhash();
  const whole = path.join(path.dirname(journal), path.basename(journal).replace(/^\.(.*)\.fcp-part\.journal$/, '$1'));
  // A journal being created has no header yet: nothing held.
  const held = (): number => {
    try {
      return journaledBytes(xxh, journal, size, CHUNK_BYTES);
    } catch {
      return 0;
    }
  };
  for (const deadline = Date.now() + WAIT_MS; held() === 0 && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    if (fs.existsSync(whole)) throw new Error(`${whole} arrived whole before a chunk was seen journaled: the job was not stopped mid-way`);
  }
  expect(held()).toBeGreaterThan(0);
}

test('a runner killed with -9 mid-job is started again by fcp --jobs, and the job resumes and finishes', async () => {
  const { id, pid } = await startJob([shortSource, remote('two.bin')]);
  // Some chunks verified and in the receiver's journal (flushed every second), so that there is
  // something to resume: what fcp has sent runs ahead of that by the chunks in flight. Watched
  // from the start (a journal means the job runs): an fcp --job run per look would cost seconds
  // of the few the job lasts on a loaded machine.
  await untilJournaled(path.join(work, 'remote', '.two.bin.fcp-part.journal'), SHORT_SIZE);
  process.kill(pid, 'SIGKILL');
  await untilGone(pid, 'the killed runner');
  // Its worker, losing the runner, stops; so does the fcpd receiving for it, whose lock on the part
  // file must be gone for the next run to resume into it (a live holder's part file is left alone).
  await untilUnlocked(path.join(work, 'remote', '.two.bin.fcp-part.lock'));
  const list = await fcp(['--jobs', '--json']);
  expectExit(list, 0);
  const restarted = runnerPid();
  expect(restarted).toBeDefined();
  expect(restarted).not.toBe(pid);
  runnerPids.add(restarted!);
  const done = await until(id, (job) => job.state === 'done' || job.state === 'failed', 'ended');
  expect(done.error).toBeNull();
  expect(done.runs).toBe(2);
  expect(done.summary!.bytesResumed).toBeGreaterThan(0);
  expect(sha256(path.join(work, 'remote', 'two.bin'))).toBe(sha256(shortSource));
});

test('a job started from a shell that then exits (and is hung up on) still completes', async () => {
  // No runner yet: the shell's fcp starts it.
  const old = runnerPid();
  if (old) process.kill(old, 'SIGTERM');
  // Zombie-aware: a runner's new parent may reap it late (or never, as PID 1 of some containers).
  if (old) await untilGone(old, 'the runner stopped with SIGTERM');
  const fcpCommand = [process.execPath, path.join(REPO, 'bin', 'fcp'), '--background', '--json', ...explicitLogin(sshd), ...SLOW, shortSource, remote('three.bin')];
  const quoted = fcpCommand.map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`).join(' ');
  // The shell hangs up on its whole process group as it leaves, as a closing terminal does.
  const shell = spawnSync('setsid', ['sh', '-c', `${quoted}; kill -HUP 0`], { env: { ...process.env, ...env }, cwd: work, encoding: 'utf8', timeout: 60_000 });
  expect(shell.signal).toBe('SIGHUP');
  const { id, pid } = JSON.parse(shell.stdout.trim().split('\n')[0]!) as { id: string; pid: number };
  runnerPids.add(pid);
  const done = await until(id, (job) => job.state === 'done' || job.state === 'failed', 'ended');
  expect(done.error).toBeNull();
  expect(sha256(path.join(work, 'remote', 'three.bin'))).toBe(sha256(shortSource));
});

test('a job whose destination a running job writes waits queued; --max-jobs 1 queues the rest', async () => {
  const small = path.join(work, 'small.bin');
  writeFile(small, content(4 * 1024 * 1024, 'jobs-test/small'), 0o644, 2);
  const first = await startJob(['--max-jobs', '2', small, remote('same.bin')]);
  const second = await startJob(['--max-jobs', '2', source, remote('same.bin')]);
  await until(first.id, (job) => job.state === 'running', 'ran');
  expect((await getJob(second.id)).state).toBe('queued');
  await until(first.id, (job) => job.state === 'done', 'ended');
  await until(second.id, (job) => job.state === 'running', 'ran after the first');
  expectExit(await fcp(['--cancel', second.id]), 0);

  // Only the third need last (4 s at SLOW) for the fourth to be seen queued behind it.
  const tiny = path.join(work, 'tiny.bin');
  writeFile(tiny, content(1000, 'jobs-test/tiny'), 0o644, 3);
  const third = await startJob(['--max-jobs', '1', small, remote('third.bin')]);
  const fourth = await startJob(['--max-jobs', '1', tiny, remote('fourth.bin')]);
  await until(third.id, (job) => job.state === 'running', 'ran');
  expect((await getJob(fourth.id)).state).toBe('queued');
  await until(fourth.id, (job) => job.state === 'done', 'ran after the third');
  expect((await getJob(third.id)).state).toBe('done');
  expect(sha256(path.join(work, 'remote', 'fourth.bin'))).toBe(sha256(tiny));
});

test('--cancel --discard removes the partial files a job left at a local destination', async () => {
  const local = path.join(work, 'local-dst');
  fs.mkdirSync(local);
  const { id } = await startJob([source, `${local}/`]);
  await until(id, (job) => job.state === 'running' && job.bytesDone >= SIZE / 6, 'got a sixth of the way');
  const cancel = await fcp(['--cancel', id, '--discard']);
  expectExit(cancel, 0);
  expect(cancel.stdout).toContain('partial files removed');
  expect((await getJob(id)).state).toBe('cancelled');
  expect(fs.readdirSync(local)).toEqual([]);
});

test('--cancel --discard removes the job\'s partial files at a remote destination (fcpd --discard-partials over SSH), and nothing else', async () => {
  const remoteDir = path.join(work, 'remote', 'discard');
  fs.mkdirSync(remoteDir);
  // Another transfer's resume state (written just now: days-old part files are swept as dead
  // runs' leftovers) and a plain file beside the job's: both stay.
  const others = ['.other.bin.fcp-part', '.other.bin.fcp-part.journal', 'keep.txt'];
  for (const name of others) fs.writeFileSync(path.join(remoteDir, name), content(100, name), { mode: 0o600 });
  const { id } = await startJob([source, `${remote('discard')}/`]);
  await until(id, (job) => job.state === 'running', 'started');
  // A verified chunk, so that the receiver keeps its part file when the job stops: what is then
  // gone is --discard's doing.
  await untilJournaled(path.join(remoteDir, '.source.bin.fcp-part.journal'));
  const cancel = await fcp(['--cancel', id, '--discard']);
  expectExit(cancel, 0);
  expect(cancel.stdout).toContain('partial files removed');
  expect((await getJob(id)).state).toBe('cancelled');
  expect(fs.readdirSync(remoteDir).sort()).toEqual([...others].sort());
  expect(fs.readFileSync(path.join(state, 'fcp', 'jobs.log'), 'utf8')).toMatch(new RegExp(`job ${id}: cancelled; --discard: removed [1-9]\\d* partial files at `));
});

test('several fcp --background started at the same instant start one runner, and it takes every job', async () => {
  // A state directory of its own: no runner there yet (afterAll removes it with `state`).
  const fresh = path.join(state, 'race');
  const raceEnv = childEnv(home, { XDG_STATE_HOME: fresh });
  const small = path.join(work, 'race.bin');
  writeFile(small, content(1000, 'race'), 0o600, 1);
  const starts = await Promise.all(
    [0, 1, 2, 3, 4].map((n) => runFcp(['--background', '--json', small, path.join(work, `race-${n}.bin`)], { env: raceEnv, cwd: work, timeoutMs: 60_000 })),
  );
  const records = starts.map((run) => {
    expectExit(run, 0);
    return JSON.parse(run.stdout) as { id: string; pid: number };
  });
  for (const { pid } of records) runnerPids.add(pid);
  expect(new Set(records.map((r) => r.pid)).size).toBe(1);
  const log = fs.readFileSync(path.join(fresh, 'fcp', 'jobs.log'), 'utf8');
  expect(log.match(/fcp job runner: pid \d+/g)).toEqual([`fcp job runner: pid ${records[0]!.pid}`]);
  const list = await runFcp(['--jobs', '--json'], { env: raceEnv, cwd: work });
  expectExit(list, 0);
  const listed = JSON.parse(list.stdout) as Job[];
  expect(listed.map((job) => job.id).sort()).toEqual(records.map((r) => r.id).sort());
  expect(fs.existsSync(path.join(fresh, 'fcp', 'jobs.pid.starting'))).toBe(false);
});

test('bad ids and job states: a clear error and exit 2', async () => {
  expectFailure(await fcp(['--job', 'nothere']), 2, 'FCP_ERR_NO_SUCH_JOB', /not a job id/);
  expectFailure(await fcp(['--attach', '000000000000']), 2, 'FCP_ERR_NO_SUCH_JOB', /no job 000000000000/);
  expectFailure(await fcp(['--cancel', '../../etc/passwd']), 2, 'FCP_ERR_NO_SUCH_JOB');
  expectFailure(await fcp(['--retry', 'ffffffffffff']), 2, 'FCP_ERR_NO_SUCH_JOB');
  const list = JSON.parse((await fcp(['--jobs', '--json'])).stdout) as Job[];
  const done = list.find((job) => job.state === 'done')!;
  expectFailure(await fcp(['--retry', done.id]), 2, 'FCP_ERR_JOB_STATE', /only a failed or cancelled job/);
  expectFailure(await fcp(['--cancel', done.id]), 2, 'FCP_ERR_JOB_STATE', /nothing to cancel/);
  const json = await fcp(['--job', 'nothere', '--json']);
  expectExit(json, 2);
  expect(JSON.parse(json.stdout)).toMatchObject({ event: 'error', code: 'FCP_ERR_NO_SUCH_JOB' });
  expectFailure(await fcp(['--jobs', 'jobs']), 2, 'FCP_ERR_USAGE', /--jobs takes no paths/);
  expectFailure(await fcp(['--discard']), 2, 'FCP_ERR_USAGE', /--discard goes with --cancel/);
});

test('--check-login: true with a key that logs in, false and exit 5 without one', async () => {
  const ok = await fcp(['--check-login', `${sshd.user}@127.0.0.1`, ...explicitLogin(sshd)]);
  expectExit(ok, 0);
  expect(ok.stdout).toBe('true\n');
  const login = explicitLogin(sshd).filter((arg, i, all) => arg !== '-i' && all[i - 1] !== '-i');
  const no = await fcp(['--check-login', `${sshd.user}@127.0.0.1`, ...login, '-o', 'IdentitiesOnly=yes']);
  expect(no.stdout).toBe('false\n');
  expectFailure(no, 5, 'FCP_ERR_AUTH');
  expect(show(no)).not.toMatch(/^\s+at\s/m);
});
