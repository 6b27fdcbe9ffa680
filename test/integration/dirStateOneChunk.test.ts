/**
 * Yesterday's two features at their edges, through bin/fcp (and a local fcpd where a limit needs one):
 *
 * - More feature DIR_STATE (PROTOCOL.md §7.4): on a limited link the sender's wait for a
 *   top-level directory's DIR_STATE outlasts what it queued ahead of that DIR_INFO (inline files,
 *   directories), and the copy still ends whole.
 * - A file of at most one chunk is written to a private temporary (no part file, journal or lock)
 *   renamed into place once verified: at the chunk size and a byte over it, empty, replacing
 *   read-only files with --backup/--suffix, with --partial-dir, with hard links (-H); contents,
 *   modes, mtimes, summaries right and no temporary left.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, killAll, runFcp, RunResult, spawnFcp } from './helpers/run';
import { leftoverTemporaries } from './helpers/compare';
import { spawnSync } from 'node:child_process';
import { mount, useTempDirs } from './helpers/tmp';
import { makeFile } from './helpers/tree';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(killAll);

type JsonRecord = Record<string, unknown> & { event: string };

/** The run's summary record, after checking that it exited 0 and printed nothing on stderr. */
function summaryOf(result: RunResult): JsonRecord {
  const what = describeRun(result);
  expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 0, stderr: '', what });
  const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as JsonRecord);
  return lines.find((r) => r.event === 'summary')!;
}

/** `copied` holds what `original` holds: bytes (as text: jest compares a Buffer index by index), mode and mtime. */
function expectSameFile(original: string, copied: string): void {
  expect(fs.readFileSync(copied).toString('hex')).toBe(fs.readFileSync(original).toString('hex'));
  const [a, b] = [fs.statSync(original), fs.statSync(copied)];
  expect((b.mode & 0o7777).toString(8)).toBe((a.mode & 0o7777).toString(8));
  expect(Math.floor(b.mtimeMs)).toBe(Math.floor(a.mtimeMs));
}

/** Every name under `root` that starts with a dot: what a copy leaves of its temporaries and part files. */
function dotNames(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((name) => path.basename(name).startsWith('.'));
}

/** About 1 MiB of small files below work/a: sent inline (a new directory), in bursts of about that much. */
function inlineBurst(work: string): void {
  for (let i = 0; i < 100; i++) makeFile(path.join(work, 'a'), `f${i}`, 10_000);
}

/** About 1.3 MB of DIR_INFO below work/a: 45 chains of 15 directories with names of 240 bytes, no file. */
function directoryChains(work: string): void {
  for (let chain = 0; chain < 45; chain++) {
    const names = [...Array(15).keys()].map((level) => `${level}`.padEnd(240, 'x'));
    fs.mkdirSync(path.join(work, 'a', `c${chain}`, ...names), { recursive: true });
  }
}

test.each([
  ['a burst of inline files', inlineBurst, 100],
  ["a tree's directories", directoryChains, 0],
])('--bwlimit into a destination that holds something: the wait for a new directory\'s DIR_STATE outlasts %s queued ahead of its DIR_INFO', async (_, fill, filesBelowA) => {
  const work = temp.make('fcp-dirstate-bwlimit');
  for (const dir of ['a', 'b', 'dst']) fs.mkdirSync(path.join(work, dir));
  fill(work);
  for (let i = 0; i < 5; i++) makeFile(path.join(work, 'b'), `g${i}`, 100);
  fs.writeFileSync(path.join(work, 'dst', 'unrelated'), 'x');
  // At 192 KiB/s what is queued ahead of b takes 5-7 s to cross; with --timeout 2 the wait for b's DIR_STATE had a deadline of 4 s.
  const result = await runFcp(['-r', '--json', '--bwlimit', '192K', '--timeout', '2', 'a', 'b', 'dst'], { cwd: work });
  expect(summaryOf(result)).toMatchObject({ files: filesBelowA + 5, filesFailed: 0, bytesSent: filesBelowA * 10_000 + 5 * 100 });
  for (let i = 0; i < filesBelowA; i++) expectSameFile(path.join(work, 'a', `f${i}`), path.join(work, 'dst', 'a', `f${i}`));
  for (let i = 0; i < 5; i++) expectSameFile(path.join(work, 'b', `g${i}`), path.join(work, 'dst', 'b', `g${i}`));
  expect(fs.readdirSync(path.join(work, 'dst', 'a')).length).toBe(filesBelowA || 45);
  expect(leftoverTemporaries(path.join(work, 'dst'))).toEqual([]);
});

describe('files of one chunk (--chunk-size 64K) replacing what the destination holds', () => {
  const CHUNK_64K = 64 * 1024;
  const SIZES: Record<string, number> = { empty: 0, small: 100, mid: 20_000, exact: CHUNK_64K, over: CHUNK_64K + 1 };

  /** work/src with a file of each size (modes and mtimes of their own), work/dst/src with other read-only versions of them. */
  function tree(work: string): void {
    fs.mkdirSync(path.join(work, 'src'));
    fs.mkdirSync(path.join(work, 'dst', 'src'), { recursive: true });
    for (const [name, size] of Object.entries(SIZES)) {
      makeFile(path.join(work, 'src'), name, size, { mode: name === 'mid' ? 0o600 : 0o640, mtime: '2012-03-04T05:06:07.5Z' });
      makeFile(path.join(work, 'dst', 'src'), name, 7, { mode: 0o444, mtime: '2001-01-01T00:00:00Z' });
    }
  }
  const bytesOf = (sizes: Record<string, number>): number => Object.values(sizes).reduce((a, b) => a + b, 0);

  test.each([
    ['--backup --suffix .bak', ['--backup', '--suffix', '.bak']],
    ['--partial-dir', ['--partial-dir', '.fcp-partial']],
  ])('%s: each file replaced whole (content, mode, mtime), no temporary left; a rerun sends nothing', async (_, options) => {
    const work = temp.make('fcp-onechunk');
    tree(work);
    const before = Object.fromEntries(Object.keys(SIZES).map((name) => [name, fs.readFileSync(path.join(work, 'dst', 'src', name)).toString('hex')]));
    const args = ['-r', '--json', '--chunk-size', '64K', ...options, 'src', 'dst'];
    const first = summaryOf(await runFcp(args, { cwd: work }));
    expect(first).toMatchObject({ files: 5, filesFailed: 0, bytesSent: bytesOf(SIZES), bytesResumed: 0 });
    for (const name of Object.keys(SIZES)) expectSameFile(path.join(work, 'src', name), path.join(work, 'dst', 'src', name));
    const backups = options.includes('--backup');
    const expected = Object.keys(SIZES).flatMap((name) => (backups ? [name, `${name}.bak`] : [name]));
    expect(fs.readdirSync(path.join(work, 'dst', 'src')).sort()).toEqual(expected.sort());
    if (backups) {
      for (const name of Object.keys(SIZES)) {
        const backup = path.join(work, 'dst', 'src', `${name}.bak`);
        expect(fs.readFileSync(backup).toString('hex')).toBe(before[name]);
        expect((fs.statSync(backup).mode & 0o777).toString(8)).toBe('444');
      }
    }
    expect(dotNames(path.join(work, 'dst'))).toEqual([]);
    const rerun = summaryOf(await runFcp(args, { cwd: work }));
    expect(rerun).toMatchObject({ files: 5, filesFailed: 0, bytesSent: 0, filesSkipped: 5 });
    expect(dotNames(path.join(work, 'dst'))).toEqual([]);
  });

  test('-H: hard links among files of one chunk are kept, one name replacing an unrelated file there', async () => {
    const work = temp.make('fcp-onechunk-links');
    fs.mkdirSync(path.join(work, 'src', 'x'), { recursive: true });
    fs.mkdirSync(path.join(work, 'src', 'y'));
    const mid = makeFile(path.join(work, 'src', 'x'), 'mid', 30_000, { mode: 0o600 });
    fs.linkSync(mid, path.join(work, 'src', 'y', 'mid-link'));
    const exact = makeFile(path.join(work, 'src', 'x'), 'exact', CHUNK_64K);
    fs.linkSync(exact, path.join(work, 'src', 'x', 'exact-link'));
    fs.mkdirSync(path.join(work, 'dst', 'src', 'y'), { recursive: true });
    makeFile(path.join(work, 'dst', 'src', 'y'), 'mid-link', 5, { mode: 0o444 });
    const first = summaryOf(await runFcp(['-r', '-H', '--json', '--chunk-size', '64K', 'src', 'dst'], { cwd: work }));
    expect(first).toMatchObject({ filesFailed: 0, bytesSent: 30_000 + CHUNK_64K });
    const copied = (name: string): fs.Stats => fs.statSync(path.join(work, 'dst', 'src', name));
    expect(copied('y/mid-link').ino).toBe(copied('x/mid').ino);
    expect(copied('x/exact-link').ino).toBe(copied('x/exact').ino);
    for (const name of ['x/mid', 'y/mid-link', 'x/exact', 'x/exact-link']) expectSameFile(path.join(work, 'src', name), path.join(work, 'dst', 'src', name));
    expect(dotNames(path.join(work, 'dst'))).toEqual([]);
  });
});

/**
 * work/src with enough files of one chunk (64 KiB) that a copy of it is still writing some when a
 * signal comes, and an empty work/dst; `fcp -r ARGS src dst` started there, once it has some
 * temporaries written: where the copy goes (work/dst/src) and the running fcp.
 */
async function copyStoppable(label: string, args: string[]): Promise<{ work: string; src: string; dest: string; running: ReturnType<typeof spawnFcp> }> {
  const work = temp.make(label);
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.mkdirSync(path.join(work, 'dst'));
  const body = Buffer.alloc(60_000, 7);
  for (let i = 0; i < 3000; i++) {
    body.writeUInt32BE(i);
    fs.writeFileSync(path.join(src, `f${i}`), body);
  }
  const dest = path.join(work, 'dst', 'src');
  const running = spawnFcp(['-r', '-q', ...args, '--chunk-size', '64K', 'src', 'dst'], { cwd: work });
  const writing = (): boolean => fs.existsSync(dest) && fs.readdirSync(dest).some((name) => name.includes('.fcp-'));
  for (const started = Date.now(); !writing() && Date.now() - started < 20_000; ) await new Promise((resolve) => setTimeout(resolve, 2));
  return { work, src, dest, running };
}

test('SIGTERM to a copy in fcp\'s own process: the temporaries of the files of one chunk being written go with it (exit 143); the rerun completes', async () => {
  const { work, src, dest, running } = await copyStoppable('fcp-onechunk-interrupted', []);
  const { code, stderr } = await running.stop();
  expect({ code, stderr }).toEqual({ code: 143, stderr: 'fcp: interrupted (SIGTERM); partial files are kept: run the same command again to resume\n' });
  expect(dotNames(path.join(work, 'dst'))).toEqual([]);
  const left = fs.readdirSync(dest).length;
  expect(left).toBeLessThan(3000);
  const rerun = summaryOf(await runFcp(['-r', '--json', '--chunk-size', '64K', 'src', 'dst'], { cwd: work }));
  expect(rerun).toMatchObject({ files: 3000, filesFailed: 0, filesSkipped: left, bytesSent: (3000 - left) * 60_000 });
  for (const i of [0, 1499, 2999]) expectSameFile(path.join(src, `f${i}`), path.join(dest, `f${i}`));
  expect(dotNames(path.join(work, 'dst'))).toEqual([]);
});

/** The pid of the fcpd --serve whose parent (the fcp that started it) runs in `cwd`, if one runs. */
function fcpdStartedIn(cwd: string): number | undefined {
  for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      if (!command.includes('fcpd') || !command.includes('--serve')) continue;
      const parent = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ')[1]!;
      if (fs.readlinkSync(`/proc/${parent}/cwd`) === cwd) return Number(pid);
    } catch {
      // Gone meanwhile.
    }
  }
  return undefined;
}

test('SIGTERM to the fcpd receiving a push: the temporaries of the files of one chunk it was writing go with it; the rerun completes', async () => {
  const { work, src, dest, running } = await copyStoppable('fcp-onechunk-fcpd-stopped', ['--via-fcpd']);
  const fcpd = fcpdStartedIn(work);
  expect(fcpd).toBeDefined();
  process.kill(fcpd!, 'SIGTERM');
  const { code } = await running.stop();
  // fcp saw its fcpd go (or was stopped itself a moment later): not a success either way.
  expect(code).not.toBe(0);
  // fcpd takes the signal once its event loop turns (it may be writing a burst of files): its end is awaited.
  for (const started = Date.now(); fs.existsSync(`/proc/${fcpd}`) && Date.now() - started < 10_000; ) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(fs.existsSync(`/proc/${fcpd}`)).toBe(false);
  expect(dotNames(path.join(work, 'dst'))).toEqual([]);
  const rerun = summaryOf(await runFcp(['-r', '--json', '--chunk-size', '64K', 'src', 'dst'], { cwd: work }));
  expect(rerun).toMatchObject({ files: 3000, filesFailed: 0 });
  for (const i of [0, 1499, 2999]) expectSameFile(path.join(src, `f${i}`), path.join(dest, `f${i}`));
  expect(dotNames(path.join(work, 'dst'))).toEqual([]);
});

const root = process.getuid?.() === 0;
/** A test that needs root; under another user it is reported as not run, not skipped in silence. */
const asRoot = (name: string, body: () => Promise<void>): void =>
  root ? test(name, body) : test(`${name}: NOT RUN, it needs root (running as uid ${process.getuid?.()})`, () => expect(root).toBe(false));
asRoot('as root, owners kept (--numeric-ids) for files of one chunk and small ones, in a new top-level directory and in a set-group-id one that is there', async () => {
  const work = temp.make('fcp-onechunk-owners');
  // Each owner: another user's, root's with another group, and root's own.
  const owners: [string, number, number][] = [['theirs', 1234, 1234], ['group', 0, 1234], ['root', 0, 0], ['dirs', 0, 4321]];
  for (const top of ['new', 'old']) {
    fs.mkdirSync(path.join(work, top));
    for (const [name, uid, gid] of owners) {
      for (const [kind, size] of [['small', 100], ['mid', 40_000]] as const) {
        const file = makeFile(path.join(work, top), `${name}-${kind}`, size, { mode: 0o640 });
        fs.chownSync(file, uid, gid);
      }
    }
  }
  // old and its copy there: set-group-id, of a group none of the files has, so that a file created there gets it.
  fs.mkdirSync(path.join(work, 'dst', 'old'), { recursive: true });
  for (const dir of [path.join(work, 'old'), path.join(work, 'dst', 'old')]) {
    fs.chownSync(dir, 0, 4321);
    fs.chmodSync(dir, 0o2775);
  }
  const summary = summaryOf(await runFcp(['-r', '--json', '--numeric-ids', '--chunk-size', '64K', 'new', 'old', 'dst'], { cwd: work }));
  expect(summary).toMatchObject({ files: 16, filesFailed: 0 });
  expect(fs.statSync(path.join(work, 'dst', 'old')).gid).toBe(4321);
  for (const top of ['new', 'old']) {
    for (const [name, uid, gid] of owners) {
      for (const kind of ['small', 'mid']) {
        const copied = path.join(work, 'dst', top, `${name}-${kind}`);
        expectSameFile(path.join(work, top, `${name}-${kind}`), copied);
        const stat = fs.statSync(copied);
        expect(`${top}/${name}-${kind} ${stat.uid}:${stat.gid}`).toBe(`${top}/${name}-${kind} ${uid}:${gid}`);
      }
    }
  }
  expect(dotNames(path.join(work, 'dst'))).toEqual([]);
});

/**
 * A file system with BSD's rule for groups (ext4 mounted with grpid; macOS and the BSDs always):
 * a new file gets its directory's group, set-group-ID or not. fcp skips a file's fchown only where
 * creation gave it the owner it is to have, as the first file created in its directory showed
 * (fstat); a guess from the directory's set-group-ID bit (System V's rule) left root's own files
 * below a directory of another group with that group, silently.
 */
function grpidMount(): string {
  const dir = temp.make('fcp-grpid');
  const image = path.join(dir, 'ext4.img');
  const mnt = path.join(dir, 'mnt');
  fs.mkdirSync(mnt);
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 32 << 20);
  const made = spawnSync('mkfs.ext4', ['-q', '-F', image], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`running as root but cannot make an ext4 file system: ${made.stderr}${made.error?.message ?? ''}`);
  const problem = mount(['-o', 'loop,grpid', image, mnt]);
  if (problem) throw new Error(`running as root but cannot mount ext4 with grpid: ${problem}`);
  temp.mounted(mnt);
  return mnt;
}

if (root) {
  test.each([['in one process', []], ['through a local fcpd', ['--via-fcpd']]])(
    'as root, on ext4 mounted with grpid (new files get their directory\'s group), %s: every file keeps its own group, small, of one chunk or more',
    async (_label, how) => {
      const work = temp.make('fcp-grpid-src');
      const src = path.join(work, 'd');
      fs.mkdirSync(src);
      // Root's own files, and one of another group, below a directory of group 50.
      const files: [string, number, number][] = [['small', 100, 0], ['one-chunk', 40_000, 0], ['chunks', 200_000, 0], ['theirs', 100, 1234]];
      for (const [name, size, gid] of files) fs.chownSync(makeFile(src, name, size), 0, gid);
      fs.chownSync(src, 0, 50);
      const mnt = grpidMount();
      // Into a destination that holds something (d made there: DIR_STATE 0, small files inline) and into one made by the copy.
      fs.mkdirSync(path.join(mnt, 'holds'));
      fs.writeFileSync(path.join(mnt, 'holds', '.profile'), '');
      for (const dest of ['holds', 'made']) {
        summaryOf(await runFcp(['-r', '--json', ...how, '--chunk-size', '64K', src, path.join(mnt, dest)]));
        expect(fs.statSync(path.join(mnt, dest, 'd')).gid).toBe(50);
        for (const [name, , gid] of files) {
          const copied = path.join(mnt, dest, 'd', name);
          expectSameFile(path.join(src, name), copied);
          expect(`${dest}/d/${name} gid ${fs.statSync(copied).gid}`).toBe(`${dest}/d/${name} gid ${gid}`);
        }
        expect(dotNames(path.join(mnt, dest, 'd'))).toEqual([]);
      }
    },
  );
} else {
  asRoot('owners on ext4 mounted with grpid', async () => undefined);
}
