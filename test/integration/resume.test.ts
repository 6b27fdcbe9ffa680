/**
 * Verified resume (PROTOCOL.md §7.5) with the real bin/fcp (a local copy runs a local fcpd, which
 * receives as for an upload) and a pull through the Node API (fcp receives): partial state an
 * interrupted run left is resumed, never trusted; kill -9 of fcp or of fcpd at points fast-check
 * chooses, then a rerun that must give identical files while sending a bounded amount.
 *
 * Partial state is made two ways: by interrupting a real run, and by writing a part file and its
 * journal with src/state/chunkJournal.ts, which makes the corrupt and lying journals exact.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { copy, localLauncher } from '../../src';
import { loadXxhash, XXHashAPI } from '../../src/protocol/xxhash';
import { isRunning } from '../../src/state/running';
import { HANG_DISK_ENV } from '../../src/diskWatch';
import { encodeHeader, encodeRecord, headerCheck } from '../../src/state/chunkJournal';
import { compareTrees, sha256File } from './helpers/compare';
import { atProgress, journaledBytes as journaledBytesOf } from './helpers/interrupt';
import { FCP_BIN, killAll, runNode } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { LOCAL_PATHS } from './helpers/localPaths';
import { makeFile } from './helpers/tree';

jest.setTimeout(120_000);
const temp = useTempDirs();
afterAll(killAll);

const CHUNK = 256 * 1024;
const CONNECTIONS = 2;
/** Small chunks and few connections keep what is in flight at a kill small. */
const SHAPE = ['--chunk-size', '256K', '-n', String(CONNECTIONS)];
const SIZE = 24 * CHUNK + 1234;
const CHUNKS = Math.ceil(SIZE / CHUNK);

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

interface Summary { bytes: number; bytesSent: number; bytesResumed: number; files: number; filesFailed: number }
interface FileRecord { event: 'file'; path: string; warning?: string }

function records(stdout: string): { summary: Summary; files: FileRecord[] } {
  const all = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string });
  return { summary: all.find((r) => r.event === 'summary') as unknown as Summary, files: all.filter((r) => r.event === 'file') as FileRecord[] };
}

/** `fcp --json -r SHAPE ...args src dst` in work: it must succeed; its summary and file records. */
async function fcp(work: string, ...args: string[]): Promise<{ summary: Summary; files: FileRecord[] }> {
  const run = await runNode(FCP_BIN, ['--json', '-r', ...SHAPE, ...args, 'src', 'dst'], { cwd: work, timeoutMs: 60_000 });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return records(run.stdout);
}

/** work/src/big (and dst/): the copy goes to dst/src/big. */
function source(work: string): { src: string; big: string; dest: string } {
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.mkdirSync(path.join(work, 'dst'));
  return { src, big: makeFile(src, 'big', SIZE), dest: path.join(work, 'dst', 'src') };
}

function partNames(dir: string, name = 'big'): { part: string; journal: string } {
  const part = path.join(dir, `.${name}.fcp-part`);
  return { part, journal: `${part}.journal` };
}

/**
 * Leaves in `dir` the state an interrupted run would have for `source`: the part file holding the
 * chunks `held`, a journal vouching for them, and `claims` overriding the hash a record names.
 */
function interruptedState(source: string, dir: string, held: number[], claims: Map<number, bigint> = new Map(), name = 'big'): void {
  fs.mkdirSync(dir, { recursive: true });
  const data = fs.readFileSync(source);
  const { part, journal } = partNames(dir, name);
  const partData = Buffer.alloc(data.length);
  for (const index of held) data.copy(partData, index * CHUNK, index * CHUNK, Math.min(data.length, (index + 1) * CHUNK));
  fs.writeFileSync(part, partData);
  const header = encodeHeader(xxh, { size: data.length, mtimeNs: fs.statSync(source, { bigint: true }).mtimeNs, chunkSize: CHUNK });
  const recordsOf = held.map((index) => {
    const hash = claims.get(index) ?? xxh.h64Raw(data.subarray(index * CHUNK, Math.min(data.length, (index + 1) * CHUNK)), 0n);
    return encodeRecord(xxh, headerCheck(header), index, hash);
  });
  fs.writeFileSync(journal, Buffer.concat([header, ...recordsOf]));
}

const chunkBytes = (index: number): number => Math.min(CHUNK, SIZE - index * CHUNK);
const bytesOf = (indexes: number[]): number => indexes.reduce((sum, index) => sum + chunkBytes(index), 0);
const FIRST_HALF = [...Array(CHUNKS >> 1).keys()];

function expectCopied(work: string): void {
  expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  const left = fs.readdirSync(path.join(work, 'dst', 'src')).filter((name) => name.includes('.fcp-'));
  expect(left).toEqual([]);
}

describe('partial state left by an interrupted run', () => {
  test('held chunks are checked against the source and not sent again', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    const { summary, files } = await fcp(work);
    expect(summary).toMatchObject({ bytes: SIZE, bytesSent: SIZE - bytesOf(FIRST_HALF), bytesResumed: bytesOf(FIRST_HALF), files: 1 });
    expect(files[0]?.warning).toBeUndefined();
    expectCopied(work);
  });

  test('a journal claiming a wrong hash: that chunk is sent again and the file is right', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF, new Map([[3, 0x0123456789abcdefn]]));
    // Its bytes in the part file are wrong too: only a resend makes the file right.
    const fd = fs.openSync(partNames(dest).part, 'r+');
    fs.writeSync(fd, Buffer.alloc(100, 0xee), 0, 100, 3 * CHUNK);
    fs.closeSync(fd);
    const resumed = FIRST_HALF.filter((index) => index !== 3);
    expect((await fcp(work)).summary).toMatchObject({ bytesSent: SIZE - bytesOf(resumed), bytesResumed: bytesOf(resumed) });
    expectCopied(work);
  });

  test('a torn last record is ignored; the records before it count', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    fs.appendFileSync(partNames(dest).journal, Buffer.alloc(9, 0x42));
    expect((await fcp(work)).summary).toMatchObject({ bytesResumed: bytesOf(FIRST_HALF) });
    expectCopied(work);
  });

  const unparsable: [string, (journal: string) => void][] = [
    [
      'whose header does not check',
      (journal) => {
        const fd = fs.openSync(journal, 'r+');
        fs.writeSync(fd, Buffer.of(0xff), 0, 1, 10);
        fs.closeSync(fd);
      },
    ],
    ['cut short inside its header', (journal) => fs.truncateSync(journal, 5)],
    ['that is empty', (journal) => fs.truncateSync(journal, 0)],
  ];
  test.each(unparsable)('a journal %s: the file starts over, with a notice', async (_how, spoil) => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    spoil(partNames(dest).journal);
    const { summary, files } = await fcp(work);
    expect(summary).toMatchObject({ bytesSent: SIZE, bytesResumed: 0 });
    expect(files[0]?.warning).toBe(`${big.slice(work.length + 1)} had partial state from an interrupted run that could not be read; sent whole`);
    expectCopied(work);
  });

  const changes: [string, (big: string) => void, number][] = [
    ['mtime', (big) => fs.utimesSync(big, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z')), SIZE],
    // Appended, with the mtime put back: only the size tells.
    [
      'size',
      (big) => {
        const { atime, mtime } = fs.statSync(big);
        fs.appendFileSync(big, 'grown since');
        fs.utimesSync(big, atime, mtime);
      },
      SIZE + 'grown since'.length,
    ],
  ];
  test.each(changes)('a source whose %s changed since: sent whole, and the user is told', async (_what, change, size) => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    change(big);
    const { summary, files } = await fcp(work);
    expect(summary).toMatchObject({ bytesSent: size, bytesResumed: 0 });
    expect(files[0]?.warning).toBe('src/big changed since the interrupted run; sent whole');
    expectCopied(work);
  });

  test('--no-resume discards it and sends the file whole, without a notice', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    const { summary, files } = await fcp(work, '--no-resume');
    expect(summary).toMatchObject({ bytesSent: SIZE, bytesResumed: 0 });
    expect(files[0]?.warning).toBeUndefined();
    expectCopied(work);
  });

  test('--partial-dir: the state is looked for, and kept, in that directory', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, path.join(dest, '.partial'), FIRST_HALF);
    expect((await fcp(work, '--partial-dir', '.partial')).summary).toMatchObject({ bytesResumed: bytesOf(FIRST_HALF) });
    expectCopied(work);
    // Emptied, it goes too.
    expect(fs.existsSync(path.join(dest, '.partial'))).toBe(false);
  });

  test('a tree: files done are skipped (quick check), the partial one resumes, the rest is sent', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    makeFile(path.join(work, 'src'), 'done', 3 * CHUNK);
    makeFile(path.join(work, 'src'), 'new', 2 * CHUNK + 7);
    fs.mkdirSync(dest);
    fs.copyFileSync(path.join(work, 'src', 'done'), path.join(dest, 'done'));
    const doneTime = fs.statSync(path.join(work, 'src', 'done')).mtime;
    fs.utimesSync(path.join(dest, 'done'), doneTime, doneTime);
    interruptedState(big, dest, FIRST_HALF);
    expect((await fcp(work)).summary).toMatchObject({
      files: 3,
      bytesResumed: 3 * CHUNK + bytesOf(FIRST_HALF),
      bytesSent: SIZE - bytesOf(FIRST_HALF) + 2 * CHUNK + 7,
    });
    expectCopied(work);
  });

  test('what dead runs left beside it is swept, what a live run writes and other resume state stay, and the file resumes', async () => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    interruptedState(big, dest, [0], new Map(), 'another');
    const gone = spawnSync('true').pid!.toString(36);
    // A killed run's private temporary of another file, and a part file with no journal (nothing of it can be resumed).
    for (const orphan of [`.other.fcp-${gone}-0`, '.old.fcp-part']) fs.writeFileSync(path.join(dest, orphan), 'x');
    const live = `.live.fcp-${process.pid.toString(36)}-0`;
    fs.writeFileSync(path.join(dest, live), 'x');
    expect((await fcp(work)).summary).toMatchObject({ bytesSent: SIZE - bytesOf(FIRST_HALF), bytesResumed: bytesOf(FIRST_HALF) });
    expect(fs.readdirSync(dest).sort()).toEqual([live, '.another.fcp-part', '.another.fcp-part.journal', 'big'].sort());
    expect(sha256File(path.join(dest, 'big'))).toBe(sha256File(big));
  });

  test.each([[[]], [['--partial-dir', '.partial']]])('a file now of one chunk (%j): what an earlier run left for it is not used, and goes', async (option) => {
    const work = temp.make('fcp-resume');
    const src = path.join(work, 'src');
    fs.mkdirSync(src);
    fs.mkdirSync(path.join(work, 'dst'));
    const dest = path.join(work, 'dst', 'src');
    const small = makeFile(src, 'small', CHUNK - 5);
    const state = option.length > 0 ? path.join(dest, '.partial') : dest;
    interruptedState(small, state, [0], new Map(), 'small');
    const { summary, files } = await fcp(work, ...option);
    expect(summary).toMatchObject({ bytesSent: CHUNK - 5, bytesResumed: 0 });
    expect(files[0]?.warning).toBeUndefined();
    expectCopied(work);
    // Emptied, a --partial-dir goes too.
    if (option.length > 0) expect(fs.existsSync(state)).toBe(false);
  });

  test('a pull (fcp receives) resumes the same way', async () => {
    const work = temp.make('fcp-resume');
    const { src, big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    const options = { sources: [`localhost:${src}`], destination: path.join(work, 'dst'), recursive: true, chunkSize: CHUNK, launcher: localLauncher() };
    expect(await copy(options)).toMatchObject({ bytesSent: SIZE - bytesOf(FIRST_HALF), bytesResumed: bytesOf(FIRST_HALF) });
    expectCopied(work);
  });
});

// ─── a hung destination disk ─────────────────────────────────────────────────────────────────

describe('a destination disk that stops answering', () => {
  /** What fcp says: the receiver's watchdog in one process; via fcpd, fcp's own timeout on the silent fcpd comes first. */
  const said: Record<string, (dest: string) => string> = {
    'in one process': (dest) => `fcp: cannot finish ${path.join(dest, 'big')} on ${os.hostname()}: the disk did not answer within 2 s (FCP_ERR_TIMEOUT)\n`,
    'via fcpd': () => ': nothing received for 2 s (FCP_ERR_TIMEOUT)\n',
  };
  test.each(LOCAL_PATHS)('ends with exit 7, keeps the part file, and the rerun resumes (%s)', async (label, option) => {
    const work = temp.make('fcp-resume');
    const { big, dest } = source(work);
    interruptedState(big, dest, FIRST_HALF);
    // Committing the file never returns, as on a hung mount: the main thread is blocked for good.
    const env = { [HANG_DISK_ENV]: 'finish' };
    const hung = await runNode(FCP_BIN, ['-r', ...SHAPE, ...option, '--timeout', '2', 'src', 'dst'], { cwd: work, timeoutMs: 60_000, env });
    expect({ code: hung.code, timedOut: hung.timedOut }).toEqual({ code: 7, timedOut: false });
    expect(hung.stderr).toContain(said[label]!(dest));
    expect(fs.existsSync(path.join(dest, 'big'))).toBe(false);
    expect(journaledBytesOf(xxh, partNames(dest).journal, SIZE, CHUNK)).toBeGreaterThanOrEqual(bytesOf(FIRST_HALF));
    const { summary } = await fcp(work);
    expect(summary.bytesResumed).toBeGreaterThanOrEqual(bytesOf(FIRST_HALF));
    expect(summary.bytesSent + summary.bytesResumed).toBe(SIZE);
    expectCopied(work);
  });
});

// ─── kill -9 ──────────────────────────────────────────────────────────────────────────────────

/** The bandwidth of an interrupted run, so that a kill lands mid-file. */
const RATE = 6 * 1024 * 1024;
const KILL_SIZE = 128 * CHUNK;

/** The children of `pid` (fcp's local fcpd). */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Waits (polling) until `pid` has exited, at most `ms`; true when it has. */
async function exits(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (!isRunning(pid)) return true;
  return !isRunning(pid);
}

/**
 * Runs `fcp --json ... src dst` at RATE and sends `signal` to fcp or to its fcpd once its progress
 * reached `at` bytes; resolves with fcpd's pid and how fcp ended.
 */
async function interrupt(work: string, at: number, victim: 'fcp' | 'fcpd', signal: NodeJS.Signals = 'SIGKILL'): Promise<{ fcpd: number; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [FCP_BIN, '--json', '-r', ...SHAPE, '--bwlimit', `${RATE / 1024}K`, 'src', 'dst'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
  let fcpd = 0;
  const { code, stderr } = await atProgress(child, at, () => {
    fcpd = childrenOf(child.pid!)[0] ?? 0;
    process.kill(victim === 'fcp' ? child.pid! : fcpd, signal);
  });
  return { fcpd, code, stderr };
}

/**
 * The chunk bytes the journal of dst/src/big vouches for right after an interruption: what the
 * receiver had written and verified and flushed. A rerun must resume exactly these and send the
 * rest: nothing verified and journaled is sent again. When fcp is killed, fcpd (the receiver)
 * lives on and flushes every chunk it verified, in flight ones included, before it exits, so this
 * is all it verified; when fcpd itself is killed it is what the last flush (at most a second, or
 * 64 MiB, before the kill) recorded.
 */
function journaledBytes(work: string, size: number, name = 'big'): number {
  return journaledBytesOf(xxh, partNames(path.join(work, 'dst', 'src'), name).journal, size, CHUNK);
}

test('kill -9 of fcp or of fcpd at any point, then a rerun: identical files, only the rest sent again', async () => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<'fcp' | 'fcpd'>('fcp', 'fcpd'), fc.double({ min: 0.3, max: 0.8, noNaN: true }), async (victim, fraction) => {
      const work = temp.make('fcp-resume-kill');
      fs.mkdirSync(path.join(work, 'src'));
      fs.mkdirSync(path.join(work, 'dst'));
      makeFile(path.join(work, 'src'), 'big', KILL_SIZE);
      const killed = await interrupt(work, Math.floor(KILL_SIZE * fraction), victim);
      // fcp's fcpd notices that fcp is gone, keeps its journals and exits.
      if (victim === 'fcp') expect(await exits(killed.fcpd, 10_000)).toBe(true);
      else expect(killed.code).not.toBe(0);
      const journaled = journaledBytes(work, KILL_SIZE);
      const { summary } = await fcp(work);
      expect(sha256File(path.join(work, 'dst', 'src', 'big'))).toBe(sha256File(path.join(work, 'src', 'big')));
      expectCopied(work);
      expect({ bytesSent: summary.bytesSent, bytesResumed: summary.bytesResumed }).toEqual({ bytesSent: KILL_SIZE - journaled, bytesResumed: journaled });
    }),
    { numRuns: 4 },
  );
});

test('a tree killed midway: the rerun skips the files done (quick check), resumes the partial ones and sends the rest', async () => {
  const work = temp.make('fcp-resume-tree');
  fs.mkdirSync(path.join(work, 'src'));
  fs.mkdirSync(path.join(work, 'dst'));
  const names = ['a', 'b', 'c', 'd'];
  const each = KILL_SIZE / names.length;
  for (const name of names) makeFile(path.join(work, 'src'), name, each);
  const killed = await interrupt(work, KILL_SIZE / 2, 'fcp');
  expect(await exits(killed.fcpd, 10_000)).toBe(true);
  const done = names.filter((name) => fs.existsSync(path.join(work, 'dst', 'src', name))).length * each;
  expect(done).toBeGreaterThan(0);
  const journaled = names.reduce((sum, name) => sum + journaledBytes(work, each, name), 0);
  const { summary } = await fcp(work);
  expect({ bytesSent: summary.bytesSent, bytesResumed: summary.bytesResumed }).toEqual({ bytesSent: KILL_SIZE - done - journaled, bytesResumed: done + journaled });
  expectCopied(work);
});

test.each(['fcp', 'fcpd'] as const)('a tree of one-chunk files, %s killed midway: no journal, nothing half-written under a final name, the rest sent whole', async (victim) => {
  const work = temp.make('fcp-resume-onechunk');
  fs.mkdirSync(path.join(work, 'src'));
  fs.mkdirSync(path.join(work, 'dst'));
  const names = [...Array(32).keys()].map((i) => `f${i}`);
  const each = CHUNK - 100;
  for (const name of names) makeFile(path.join(work, 'src'), name, each);
  const killed = await interrupt(work, (names.length * each) / 2, victim);
  if (victim === 'fcp') expect(await exits(killed.fcpd, 10_000)).toBe(true);
  const dest = path.join(work, 'dst', 'src');
  const left = fs.readdirSync(dest);
  expect(left.filter((name) => name.includes('.fcp-part'))).toEqual([]);
  // fcpd killed: its private temporaries stay, for the rerun's sweep; fcp killed: its fcpd removed them.
  if (victim === 'fcp') expect(left.filter((name) => name.includes('.fcp-'))).toEqual([]);
  const done = names.filter((name) => left.includes(name));
  for (const name of done) expect(sha256File(path.join(dest, name))).toBe(sha256File(path.join(work, 'src', name)));
  expect(done.length).toBeLessThan(names.length);
  const { summary } = await fcp(work);
  expect({ bytesSent: summary.bytesSent, bytesResumed: summary.bytesResumed }).toEqual({ bytesSent: (names.length - done.length) * each, bytesResumed: done.length * each });
  expectCopied(work);
});

test('Ctrl-C (SIGINT): fcp exits 130 saying a rerun resumes, and the rerun does', async () => {
  const work = temp.make('fcp-resume-int');
  fs.mkdirSync(path.join(work, 'src'));
  fs.mkdirSync(path.join(work, 'dst'));
  makeFile(path.join(work, 'src'), 'big', KILL_SIZE);
  const stopped = await interrupt(work, KILL_SIZE / 2, 'fcp', 'SIGINT');
  expect(stopped.code).toBe(130);
  expect(stopped.stderr).toContain('fcp: interrupted (SIGINT); partial files are kept: run the same command again to resume');
  expect(await exits(stopped.fcpd, 10_000)).toBe(true);
  // How much fcpd had verified by then depends on the machine's load; whatever it was is resumed.
  const journaled = journaledBytes(work, KILL_SIZE);
  const { summary } = await fcp(work);
  expect({ bytesSent: summary.bytesSent, bytesResumed: summary.bytesResumed }).toEqual({ bytesSent: KILL_SIZE - journaled, bytesResumed: journaled });
  expectCopied(work);
});
