/**
 * fcp-track over a real OpenSSH server: two clones of one remote folder (both on this machine,
 * the "remote" a local directory reached through sshd): init, add, status after each kind of
 * change, push, clone (init + pull in an empty folder), pull of what the other pushed (changes and
 * deletions), conflicts refused and resolved with --ours and --theirs, an interrupted push
 * resumed, rm, log, a corrupted database reported and repaired.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { journaledBytes } from '../helpers/interrupt';
import { childEnv, content, killAll, runNode, Run, sha256, show, tempDir } from './harness';
import { fcpdCommand, Sshd, startSshd } from './sshd';

// Many fcp-track runs, each a process and (push, pull) an SSH login: minutes on a loaded machine.
jest.setTimeout(900_000);

const TRACK = path.resolve(__dirname, '../../../bin/fcp-track');
const CHUNK = 1024 * 1024;

let sshd: Sshd;
let home: string;
let work: string;
let remote: string;
let cloneA: string;
let cloneB: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('track-home');
  work = tempDir('track-work');
  remote = path.join(work, 'remote');
  cloneA = path.join(work, 'a');
  cloneB = path.join(work, 'b');
  for (const dir of [cloneA, cloneB]) fs.mkdirSync(dir);
  env = childEnv(home);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function track(cwd: string, args: string[]): Promise<Run> {
  return runNode(TRACK, args, { env, cwd, timeoutMs: 240_000 });
}

async function ok(cwd: string, args: string[]): Promise<Run> {
  const run = await track(cwd, args);
  if (run.code !== 0) throw new Error(`expected exit 0\n${show(run)}`);
  return run;
}

async function statusOf(cwd: string, fetch = false): Promise<Record<string, string[]>> {
  return JSON.parse((await ok(cwd, ['status', '--json', ...(fetch ? ['--fetch'] : [])])).stdout) as Record<string, string[]>;
}

function write(root: string, rel: string, text: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

const read = (root: string, rel: string): string => fs.readFileSync(path.join(root, rel), 'utf8');
/** SSH logins the test sshd has accepted so far. */
const logins = (): number => sshd.log().match(/Accepted publickey for /g)?.length ?? 0;
const EMPTY = { new: [], modified: [], deleted: [], untracked: [], conflicting: [], incoming: [] };

test('init records the remote and the connection options; add tracks what .fcpignore leaves', async () => {
  await ok(cloneA, ['init', '-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(sshd.stateDir), `${sshd.alias}:${remote}`]);
  const config = JSON.parse(read(cloneA, '.fcp/config.json'));
  expect(config).toMatchObject({ version: 1, remote: `${sshd.alias}:${remote}`, ssh: { configFile: sshd.sshConfig } });
  write(cloneA, 'a.txt', 'alpha\n');
  write(cloneA, 'dir/b.txt', 'bravo\n');
  write(cloneA, 'dir/deep/c.bin', 'x'.repeat(300_000));
  write(cloneA, 'scratch.tmp', 'never tracked');
  write(cloneA, '.fcpignore', '*.tmp\n');
  await ok(cloneA, ['add', '.']);
  expect(await statusOf(cloneA)).toEqual({ ...EMPTY, new: ['.fcpignore', 'a.txt', 'dir/b.txt', 'dir/deep/c.bin'] });
});

test('push sends the tracked files and writes the remote record, all over one SSH login; log shows it', async () => {
  const before = logins();
  const run = await ok(cloneA, ['push']);
  // The lock, the record read, the data, the record written and the lock released: one login.
  expect(logins() - before).toBe(1);
  expect(run.stdout).toContain('pushed 4 files');
  expect(read(remote, 'dir/deep/c.bin')).toBe('x'.repeat(300_000));
  expect(fs.existsSync(path.join(remote, 'scratch.tmp'))).toBe(false);
  const record = JSON.parse(read(remote, '.fcp/remote-state.json'));
  expect(record).toMatchObject({ format: 'fcp-track-remote', version: 1 });
  expect(Object.keys(record.files).sort()).toEqual(['.fcpignore', 'a.txt', 'dir/b.txt', 'dir/deep/c.bin']);
  expect(await statusOf(cloneA)).toEqual(EMPTY);
  const log = JSON.parse((await ok(cloneA, ['log', '--json'])).stdout);
  expect(log).toEqual([
    { at: expect.any(String), who: `${os.userInfo().username}@${os.hostname()}`, action: 'push', files: 4, deleted: 0, bytes: expect.any(Number), paths: ['.fcpignore', 'a.txt', 'dir/b.txt', 'dir/deep/c.bin'] },
  ]);
  expect(log[0].bytes).toBeGreaterThanOrEqual(300_000);
  expect((await ok(cloneA, ['log'])).stdout).toMatch(/^\S+ {2}\S+@\S+ {2}push 4 files, 0 deleted, \d+ bytes: \.fcpignore, a\.txt, dir\/b\.txt, dir\/deep\/c\.bin\n$/);
});

test('init and pull in an empty folder make a clone', async () => {
  await ok(cloneB, ['init', '-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(sshd.stateDir), `${sshd.alias}:${remote}`]);
  const before = logins();
  const run = await ok(cloneB, ['pull']);
  // The record read and the data: one login.
  expect(logins() - before).toBe(1);
  expect(run.stdout).toMatch(/pushed 4 files/);
  for (const rel of ['a.txt', 'dir/b.txt', 'dir/deep/c.bin']) expect(read(cloneB, rel)).toBe(read(cloneA, rel));
  expect(await statusOf(cloneB)).toEqual(EMPTY);
});

test('status after each kind of change: content, mode, mtime-only touch, rename, delete, new file', async () => {
  write(cloneA, 'a.txt', 'alpha, changed\n');
  fs.chmodSync(path.join(cloneA, 'dir/b.txt'), 0o600);
  const later = new Date(Date.now() + 5000);
  fs.utimesSync(path.join(cloneA, 'dir/deep/c.bin'), later, later);
  fs.renameSync(path.join(cloneA, '.fcpignore'), path.join(cloneA, 'ignore-rules'));
  write(cloneA, 'fresh.txt', 'new\n');
  expect(await statusOf(cloneA)).toEqual({ ...EMPTY, modified: ['a.txt', 'dir/b.txt'], deleted: ['.fcpignore'], untracked: ['fresh.txt', 'ignore-rules', 'scratch.tmp'] });
  // Back as they were, but for the content change and the deletion.
  fs.renameSync(path.join(cloneA, 'ignore-rules'), path.join(cloneA, '.fcpignore'));
  fs.chmodSync(path.join(cloneA, 'dir/b.txt'), 0o644);
  fs.rmSync(path.join(cloneA, 'dir/b.txt'));
  await ok(cloneA, ['add', 'fresh.txt']);
  expect(await statusOf(cloneA)).toEqual({ ...EMPTY, new: ['fresh.txt'], modified: ['a.txt'], deleted: ['dir/b.txt'] });
});

test('a pull brings what the other clone pushed: changes, new files, deletions', async () => {
  const pushed = await ok(cloneA, ['push']);
  expect(pushed.stdout).toContain('pushed 2 files');
  expect(fs.existsSync(path.join(remote, 'dir/b.txt'))).toBe(false);
  expect(fs.existsSync(path.join(remote, 'dir/deep/c.bin'))).toBe(true);
  expect(await statusOf(cloneB, true)).toEqual({ ...EMPTY, incoming: ['a.txt', 'dir/b.txt', 'fresh.txt'] });
  const run = await ok(cloneB, ['pull']);
  expect(run.stdout).toMatch(/pushed 2 files, deleted 1/);
  expect(read(cloneB, 'a.txt')).toBe('alpha, changed\n');
  expect(read(cloneB, 'fresh.txt')).toBe('new\n');
  expect(fs.existsSync(path.join(cloneB, 'dir/b.txt'))).toBe(false);
  expect(await statusOf(cloneB)).toEqual(EMPTY);
});

test('conflicting edits are refused with the name shown, and resolved with --ours on push', async () => {
  write(cloneA, 'a.txt', 'from A\n');
  write(cloneB, 'a.txt', 'from B\n');
  await ok(cloneA, ['push']);
  const refused = await track(cloneB, ['push']);
  expect(refused.code).toBe(8);
  expect(refused.stderr).toMatch(/a\.txt.*FCP_ERR_CONFLICT/s);
  expect(read(remote, 'a.txt')).toBe('from A\n');
  expect((await statusOf(cloneB)).conflicting).toEqual(['a.txt']);
  await ok(cloneB, ['push', '--ours']);
  expect(read(remote, 'a.txt')).toBe('from B\n');
  // A had not changed it since its push: a plain pull takes B's.
  await ok(cloneA, ['pull']);
  expect(read(cloneA, 'a.txt')).toBe('from B\n');
});

test('conflicting edits are refused on pull, and resolved with --theirs', async () => {
  write(cloneA, 'fresh.txt', 'A again\n');
  write(cloneB, 'fresh.txt', 'B again\n');
  await ok(cloneB, ['push']);
  const refused = await track(cloneA, ['pull']);
  expect(refused.code).toBe(8);
  expect(refused.stderr).toMatch(/fresh\.txt.*FCP_ERR_CONFLICT/s);
  expect(read(cloneA, 'fresh.txt')).toBe('A again\n');
  await ok(cloneA, ['pull', '--theirs']);
  expect(read(cloneA, 'fresh.txt')).toBe('B again\n');
  expect(await statusOf(cloneA)).toEqual(EMPTY);
});

test('an interrupted push is resumed by the next push: the chunks the remote side verified are not sent again', async () => {
  const size = 8 * 1024 * 1024;
  fs.writeFileSync(path.join(cloneA, 'big.bin'), content(size, 'track/big'));
  await ok(cloneA, ['add', 'big.bin']);
  const journal = path.join(remote, '.big.bin.fcp-part.journal');
  const child = spawn(process.execPath, [TRACK, 'push', '--bwlimit', '2M'], { cwd: cloneA, env, detached: true, stdio: 'ignore' });
  const ended = new Promise((resolve) => child.on('close', resolve));
  const xxh = await loadXxhash();
  for (const deadline = Date.now() + 60_000; journaledBytes(xxh, journal, size, CHUNK) === 0; ) {
    if (Date.now() > deadline) throw new Error('no chunk was journaled within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(-child.pid!, 'SIGKILL');
  await ended;
  expect(fs.existsSync(path.join(remote, 'big.bin'))).toBe(false);
  // Its lock is left there, taken over by the next push: its process on this host is gone.
  expect(JSON.parse(read(remote, '.fcp/push.lock'))).toMatchObject({ pid: child.pid });
  expect((await statusOf(cloneA)).new).toEqual(['big.bin']);
  const resumed = await ok(cloneA, ['push', '--json']);
  const report = JSON.parse(resumed.stdout);
  expect(report.moved).toEqual(['big.bin']);
  expect(report.bytes).toBeLessThan(size);
  expect(sha256(path.join(remote, 'big.bin'))).toBe(sha256(path.join(cloneA, 'big.bin')));
  expect(await statusOf(cloneA)).toEqual(EMPTY);
});

test('diff names the chunks an in-place edit changed, reading only the changed file', async () => {
  const file = path.join(cloneA, 'big.bin');
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(100, 7), 0, 100, 3 * CHUNK + 10);
  fs.closeSync(fd);
  const size = 8 * CHUNK;
  const lines = JSON.parse((await ok(cloneA, ['diff', '--json'])).stdout);
  expect(lines).toEqual([{ path: 'big.bin', change: 'modified', localSize: size, remoteSize: size, chunkSize: CHUNK, ranges: [{ firstChunk: 3, lastChunk: 3, start: 3 * CHUNK, end: 4 * CHUNK }] }]);
  expect((await ok(cloneA, ['diff'])).stdout).toBe(`modified   big.bin  here ${size}  there ${size}  chunk 3 (bytes ${3 * CHUNK}-${4 * CHUNK - 1}) of ${CHUNK} bytes\n`);
  await ok(cloneA, ['push']);
  expect(sha256(path.join(remote, 'big.bin'))).toBe(sha256(file));
  expect(JSON.parse((await ok(cloneA, ['diff', '--json'])).stdout)).toEqual([]);
});

test('rm deletes here and, at the next push, there; rm --cached keeps the file here', async () => {
  await ok(cloneA, ['rm', 'a.txt']);
  await ok(cloneA, ['rm', '--cached', 'fresh.txt']);
  expect(fs.existsSync(path.join(cloneA, 'a.txt'))).toBe(false);
  expect(read(cloneA, 'fresh.txt')).toBe('B again\n');
  expect(await statusOf(cloneA)).toEqual({ ...EMPTY, deleted: ['a.txt', 'fresh.txt'], untracked: ['fresh.txt'] });
  const before = logins();
  expect((await ok(cloneA, ['push'])).stdout).toContain('deleted 2 there');
  // The deletions too go over the push's one login.
  expect(logins() - before).toBe(1);
  expect(fs.existsSync(path.join(remote, 'a.txt'))).toBe(false);
  expect(fs.existsSync(path.join(remote, 'fresh.txt'))).toBe(false);
  expect(fs.existsSync(path.join(remote, 'dir/deep/c.bin'))).toBe(true);
  expect(await statusOf(cloneA)).toEqual({ ...EMPTY, untracked: ['fresh.txt'] });
});

test('a corrupted database is reported, and repair rebuilds it from the folder and the remote record', async () => {
  await ok(cloneB, ['pull']);
  fs.writeFileSync(path.join(cloneB, '.fcp/track.db'), 'not a database');
  for (const suffix of ['-wal', '-shm']) fs.rmSync(path.join(cloneB, `.fcp/track.db${suffix}`), { force: true });
  const broken = await track(cloneB, ['status']);
  expect(broken.code).toBe(4);
  expect(broken.stderr).toMatch(/FCP_ERR_TRACK_STATE/);
  expect(broken.stderr).toContain('fcp-track repair');
  expect((await ok(cloneB, ['repair'])).stdout).toContain('3 files tracked again');
  expect(await statusOf(cloneB)).toEqual(EMPTY);
  expect((await ok(cloneB, ['pull'])).stdout).toContain('pulled 0 files');
});

test('two pushes at once: the second is refused with FCP_ERR_LOCKED naming the first, which completes', async () => {
  // Only needs to outlast the look at its lock: stopped there (SIGSTOP) while the second push
  // runs, instead of a copy long enough for a second push to fit into (8 s, and not always enough
  // on a loaded machine).
  const size = 4 * CHUNK;
  fs.writeFileSync(path.join(cloneA, 'slow.bin'), content(size, 'track/slow'));
  await ok(cloneA, ['add', 'slow.bin']);
  write(cloneB, 'b-only.txt', 'from B\n');
  await ok(cloneB, ['add', 'b-only.txt']);
  const lock = path.join(remote, '.fcp/push.lock');
  expect(fs.existsSync(lock)).toBe(false);
  const first = track(cloneA, ['push', '--bwlimit', '1M']);
  for (const deadline = Date.now() + 60_000; !fs.existsSync(lock); ) {
    if (Date.now() > deadline) throw new Error('the first push took no lock within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const holder = JSON.parse(read(remote, '.fcp/push.lock'));
  // The lock names the fcp-track process on this host that pushes.
  expect(holder.pid).toBeGreaterThan(1);
  process.kill(holder.pid, 'SIGSTOP');
  let second: Run;
  try {
    second = await track(cloneB, ['push']);
  } finally {
    process.kill(holder.pid, 'SIGCONT');
  }
  expect(second.code).toBe(4);
  expect(second.stderr).toMatch(/another push to this remote folder is under way: locked by \S+@\S+ \(pid \d+\).*FCP_ERR_LOCKED/s);
  expect(second.stderr).toContain(`${holder.who} (pid ${holder.pid})`);
  expect(fs.existsSync(path.join(remote, 'b-only.txt'))).toBe(false);
  const done = await first;
  if (done.code !== 0) throw new Error(`the first push failed\n${show(done)}`);
  expect(fs.existsSync(lock)).toBe(false);
  expect(sha256(path.join(remote, 'slow.bin'))).toBe(sha256(path.join(cloneA, 'slow.bin')));
  await ok(cloneB, ['push']);
  expect(read(remote, 'b-only.txt')).toBe('from B\n');
});

test('outside a tracked folder every command is a usage error', async () => {
  const run = await track(work, ['status']);
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/not in a tracked folder.*FCP_ERR_NOT_TRACKED/);
});

test("a subcommand's bad arguments are usage errors as fcp's are: the program's name, FCP_ERR_USAGE, exit 2", async () => {
  for (const [args, message] of [
    [['add'], "missing required argument 'paths'"],
    [['init'], "missing required argument 'remote'"],
    [['status', '--bogus'], "unknown option '--bogus'"],
    [['push', '--bwlimit', '0'], "option '--bwlimit <rate>' argument '0' is invalid"],
  ] as const) {
    const run = await track(work, [...args]);
    expect({ args, code: run.code, first: run.stderr.split('\n')[0] }).toEqual({ args, code: 2, first: expect.stringMatching(new RegExp(`^fcp-track: ${message.replace(/[()[\]<>.*+?^$|\\]/g, '\\$&')}.* \\(FCP_ERR_USAGE\\)$`)) });
  }
});
