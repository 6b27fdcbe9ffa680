/**
 * fcp --watch --two-way between two directories on this machine (in one process) and between a
 * directory and a "host" (localhost: through a local fcpd, as over SSH, behind a proxy that can
 * take the link away): edits on both sides meet, deletions go both ways, conflicts keep both
 * versions, an offline period with changes on both sides is reconciled, and a restart goes on
 * from the state database. Changes a test makes "at the same time" on both sides are made in a
 * round's report callback, before the next round can list either side. Every wait has a deadline.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CopyOptions } from '../../src/client/copy';
import { TwoWayRoundReport, twoWay } from '../../src/watch/twoWay';
import { killAll, runFcp, spawnFcp } from './helpers/run';
import { regularFiles } from './helpers/compare';
import { useTempDirs } from './helpers/tmp';
import { treeOf } from './helpers/kindTree';
import { countingLauncher, toggleProxy, waitFor } from './helpers/watchLink';
import { startTwoWay } from './helpers/twoWayRun';

jest.setTimeout(60_000);

const temp = useTempDirs();
afterAll(killAll);
// Each side's record goes to its host's state directory: here, this test's (fcpd inherits it).
const stateHome = process.env.XDG_STATE_HOME;
beforeAll(() => (process.env.XDG_STATE_HOME = temp.make('fcp-2way-xdg')));
afterAll(() => (stateHome === undefined ? delete process.env.XDG_STATE_HOME : (process.env.XDG_STATE_HOME = stateHome)));

/** Every regular file below `root` and its content (not fcp's partial files of a transfer under way). */
const filesOf = (root: string): Record<string, string> => regularFiles(root);

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** Both sides hold the same files, and these among them. */
function settledWith(a: string, b: string, expected: Record<string, string>): () => boolean {
  return () => {
    const [left, right] = [filesOf(a), filesOf(b)];
    return JSON.stringify(left) === JSON.stringify(right) && Object.entries(expected).every(([name, text]) => left[name] === text);
  };
}

describe.each([
  ['two directories here', false],
  ['a directory here and one on a host', true],
])('fcp --watch --two-way, %s', (_label, remote) => {
  const pairOf = (a: string, b: string): CopyOptions => (remote ? { sources: [a], destination: `localhost:${b}`, launcher: countingLauncher().launcher } : { sources: [a], destination: b });

  test('edits on both sides meet, deletions go both ways, both edits of one file are kept, an edit wins over a deletion', async () => {
    const a = temp.make('fcp-2way-a');
    const b = temp.make('fcp-2way-b');
    write(path.join(a, 'a.txt'), 'a\n');
    write(path.join(a, 'd', 'shared.txt'), 'shared\n');
    write(path.join(b, 'b.txt'), 'b\n');
    write(path.join(b, 'c.txt'), 'c base\n');
    write(path.join(b, 'e.txt'), 'e base\n');
    const running = startTwoWay(pairOf(a, b), path.join(temp.make('fcp-2way-state'), 'pair.db'));
    try {
      await waitFor('the first round', settledWith(a, b, { 'a.txt': 'a\n', 'b.txt': 'b\n', 'd/shared.txt': 'shared\n', 'c.txt': 'c base\n' }));
      running.afterNextRound(() => {
        write(path.join(a, 'new-a.txt'), 'from a\n');
        write(path.join(b, 'd', 'new-b.txt'), 'from b\n');
        fs.writeFileSync(path.join(a, 'a.txt'), 'a edited in a\n');
        fs.rmSync(path.join(b, 'b.txt'));
        fs.rmSync(path.join(a, 'd', 'shared.txt'));
        // Both edit c.txt; e.txt is deleted in a and edited in b.
        fs.writeFileSync(path.join(a, 'c.txt'), 'c mine\n');
        fs.writeFileSync(path.join(b, 'c.txt'), 'c theirs, longer\n');
        fs.rmSync(path.join(a, 'e.txt'));
        fs.writeFileSync(path.join(b, 'e.txt'), 'e edited in b\n');
      });
      await waitFor('the changes on both sides', settledWith(a, b, { 'new-a.txt': 'from a\n', 'd/new-b.txt': 'from b\n', 'a.txt': 'a edited in a\n', 'c.txt': 'c mine\n', 'e.txt': 'e edited in b\n' }));
    } finally {
      await running.stop();
    }
    const files = filesOf(a);
    expect(files).toEqual(filesOf(b));
    expect(files['b.txt']).toBeUndefined();
    expect(files['d/shared.txt']).toBeUndefined();
    const host = remote ? 'localhost' : os.hostname().replace(/[^A-Za-z0-9._-]/g, '_');
    const copies = Object.keys(files).filter((name) => name.startsWith('c.txt.conflict-'));
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(new RegExp(`^c\\.txt\\.conflict-${host.replace(/\./g, '\\.')}-\\d{8}T\\d{6}Z$`));
    expect(files[copies[0]!]).toBe('c theirs, longer\n');
    const conflicts = running.rounds.flatMap((round) => round.conflicts);
    expect(conflicts).toEqual(expect.arrayContaining([{ path: 'c.txt', conflict: 'bothEdited', copy: copies[0] }, { path: 'e.txt', conflict: 'editOverDelete' }]));
    expect(running.rounds.filter((round) => round.error)).toEqual([]);
  });

  test('directories and symlinks: empty ones made and deleted both ways, a directory renamed as one rename (its inode kept), links as links, a deleted directory keeps a file edited inside', async () => {
    const a = temp.make('fcp-2way-a');
    const b = temp.make('fcp-2way-b');
    write(path.join(a, 'big', 'inner', 'f.txt'), 'f\n');
    write(path.join(a, 'gone', 'edited.txt'), 'v1\n');
    write(path.join(a, 'gone', 'other.txt'), 'other\n');
    fs.mkdirSync(path.join(a, 'empty-a'));
    fs.mkdirSync(path.join(b, 'empty-b', 'deeper'), { recursive: true });
    fs.symlinkSync('big/inner/f.txt', path.join(a, 'link-a'));
    fs.symlinkSync('/nowhere/outside', path.join(b, 'link-b'));
    const same = (): boolean => JSON.stringify(treeOf(a)) === JSON.stringify(treeOf(b));
    const running = startTwoWay(pairOf(a, b), path.join(temp.make('fcp-2way-state'), 'pair.db'));
    try {
      // Counts are read once the round that settled the trees has reported.
      await waitFor('the first round', () => same() && treeOf(a)['link-b'] !== undefined && treeOf(b)['empty-a'] !== undefined && running.rounds.length > 0);
      const inode = fs.statSync(path.join(b, 'big')).ino;
      const sent = running.rounds.reduce((sum, round) => sum + round.pushed, 0);
      running.afterNextRound(() => {
        fs.renameSync(path.join(a, 'big'), path.join(a, 'renamed'));
        fs.rmSync(path.join(b, 'empty-b'), { recursive: true });
        fs.rmSync(path.join(a, 'gone'), { recursive: true });
        fs.writeFileSync(path.join(b, 'gone', 'edited.txt'), 'v2 edited in b\n');
        fs.unlinkSync(path.join(b, 'link-a'));
        fs.symlinkSync('renamed/inner/f.txt', path.join(b, 'link-a'));
        fs.unlinkSync(path.join(a, 'link-b'));
      });
      await waitFor('the changes on both sides', () => same() && treeOf(a)['renamed'] === 'dir' && treeOf(a)['link-b'] === undefined && treeOf(a)['link-a'] === 'link:renamed/inner/f.txt' && treeOf(a)['empty-b'] === undefined);
      expect(fs.statSync(path.join(b, 'renamed')).ino).toBe(inode);
      expect(running.rounds.reduce((sum, round) => sum + round.pushed, 0)).toBe(sent);
    } finally {
      await running.stop();
    }
    expect(treeOf(a)).toEqual({
      'empty-a': 'dir',
      gone: 'dir',
      'gone/edited.txt': 'file:v2 edited in b\n',
      'link-a': 'link:renamed/inner/f.txt',
      renamed: 'dir',
      'renamed/inner': 'dir',
      'renamed/inner/f.txt': 'file:f\n',
    });
    expect(treeOf(b)).toEqual(treeOf(a));
    expect(running.rounds.reduce((sum, round) => sum + round.renamedThere, 0)).toBe(1);
    expect(running.rounds.filter((round) => round.error)).toEqual([]);
  });

  test('renames go as renames both ways (the file keeps its inode, no bytes sent); a rename on one side and an edit on the other both survive', async () => {
    const a = temp.make('fcp-2way-a');
    const b = temp.make('fcp-2way-b');
    const big = Buffer.alloc(4 << 20, 'big file\n');
    write(path.join(a, 'big.bin'), big.toString());
    write(path.join(a, 'small.txt'), 'small\n');
    write(path.join(a, 'x.txt'), 'x\n');
    const inode = (file: string): number => fs.statSync(file).ino;
    const running = startTwoWay(pairOf(a, b), path.join(temp.make('fcp-2way-state'), 'pair.db'));
    try {
      await waitFor('the first round', settledWith(a, b, { 'small.txt': 'small\n', 'x.txt': 'x\n' }));
      // A whole round after the files settled: both records hold them, with their inodes.
      const settled = running.rounds.length;
      await waitFor('a round after the first', () => running.rounds.length > settled + 1);
      const before = { big: inode(path.join(a, 'big.bin')), small: inode(path.join(b, 'small.txt')) };
      const counted = running.rounds.length;
      running.afterNextRound(() => {
        // Renamed there into a new directory, renamed here; x.txt renamed here and edited there.
        fs.mkdirSync(path.join(b, 'moved'));
        fs.renameSync(path.join(b, 'big.bin'), path.join(b, 'moved', 'big.bin'));
        fs.renameSync(path.join(a, 'small.txt'), path.join(a, 'small-renamed.txt'));
        fs.renameSync(path.join(a, 'x.txt'), path.join(a, 'y.txt'));
        fs.writeFileSync(path.join(b, 'x.txt'), 'x edited there\n');
      });
      await waitFor('the renames on both sides', settledWith(a, b, { 'small-renamed.txt': 'small\n', 'x.txt': 'x edited there\n', 'y.txt': 'x\n' }));
      // The files settle before the round that made them reports: counts are read after the next report.
      const reported = running.rounds.length;
      await waitFor('the round in progress to report', () => running.rounds.length > reported);
      expect(Object.keys(filesOf(a)).sort()).toEqual(['moved/big.bin', 'small-renamed.txt', 'x.txt', 'y.txt']);
      // Renamed in place on the other side: the same file, not a new copy of it.
      expect(inode(path.join(a, 'moved', 'big.bin'))).toBe(before.big);
      expect(inode(path.join(b, 'small-renamed.txt'))).toBe(before.small);
      expect(fs.readFileSync(path.join(a, 'moved', 'big.bin')).equals(big)).toBe(true);
      const after = running.rounds.slice(counted);
      expect(after.reduce((sum, round) => sum + round.renamedHere, 0)).toBe(1);
      expect(after.reduce((sum, round) => sum + round.renamedThere, 0)).toBe(1);
      // Brought here: only x.txt's edit; sent there: only y.txt (x.txt renamed here while edited there).
      expect(after.reduce((sum, round) => sum + round.pulled, 0)).toBe(1);
      expect(after.reduce((sum, round) => sum + round.pushed, 0)).toBe(1);
    } finally {
      await running.stop();
    }
    expect(running.rounds.filter((round) => round.error)).toEqual([]);
  });

  test('a change no event reports (written through a hard link from outside the tree, on either side) is found by the rescans\' sweeps, with no whole round after the first', async () => {
    const a = temp.make('fcp-2way-a');
    const b = temp.make('fcp-2way-b');
    const outside = temp.make('fcp-2way-outside');
    write(path.join(a, 'from-a.txt'), 'a\n');
    write(path.join(b, 'from-b.txt'), 'b\n');
    const running = startTwoWay(pairOf(a, b), path.join(temp.make('fcp-2way-state'), 'pair.db'));
    let written = 0;
    try {
      await waitFor('the first round', settledWith(a, b, { 'from-a.txt': 'a\n', 'from-b.txt': 'b\n' }));
      // The events of the files the first round made come after it, and their round lists those paths: past it.
      const settled = running.rounds.length;
      await waitFor('two rounds after the files settled', () => running.rounds.length > settled + 1);
      // The inode's other name is outside both watched trees: a write through it is no event of theirs.
      fs.linkSync(path.join(a, 'from-b.txt'), path.join(outside, 'here'));
      fs.linkSync(path.join(b, 'from-a.txt'), path.join(outside, 'there'));
      fs.writeFileSync(path.join(outside, 'here'), 'b edited unheard, here\n');
      fs.writeFileSync(path.join(outside, 'there'), 'a edited unheard, there\n');
      written = running.rounds.length;
      await waitFor('the sweep', settledWith(a, b, { 'from-b.txt': 'b edited unheard, here\n', 'from-a.txt': 'a edited unheard, there\n' }), 40_000);
    } finally {
      await running.stop();
    }
    expect(running.rounds.filter((round) => round.error)).toEqual([]);
    expect(running.rounds.filter((round) => round.whole).map((round) => round.kind)).toEqual(['initial']);
    // The rounds after the writes: those that carried the edits were the rescans' sweeps, one edit each way.
    const after = running.rounds.slice(written);
    expect(after.filter((round) => !round.swept && round.pushed + round.pulled > 0)).toEqual([]);
    const carried = after.filter((round) => round.pushed + round.pulled > 0);
    expect(carried.every((round) => round.kind === 'rescan' && round.conflicts.length === 0)).toBe(true);
    expect([carried.reduce((sum, round) => sum + round.pushed, 0), carried.reduce((sum, round) => sum + round.pulled, 0)]).toEqual([1, 1]);
  });

  /** A run until both sides hold `first`, a stop, `meanwhile`, a second run until they hold `second`: the second run's first round. */
  async function runTwice(a: string, b: string, first: Record<string, string>, meanwhile: (stateFile: string) => void, second: Record<string, string>): Promise<TwoWayRoundReport> {
    const stateFile = path.join(temp.make('fcp-2way-state'), 'pair.db');
    for (const [run, expected, what] of [[0, first, 'the first run'], [1, second, 'the second run']] as const) {
      if (run === 1) meanwhile(stateFile);
      const running = startTwoWay(pairOf(a, b), stateFile);
      try {
        await waitFor(what, () => running.rounds.length > 0 && settledWith(a, b, expected)());
      } finally {
        await running.stop();
      }
      if (run === 1) return running.rounds[0]!;
    }
    throw new Error('unreachable');
  }

  test('a restart goes on from the database: nothing is sent again, a change made while stopped goes', async () => {
    const a = temp.make('fcp-2way-a');
    const b = temp.make('fcp-2way-b');
    for (let i = 0; i < 10; i++) write(path.join(a, `f${i}.txt`), `file ${i}\n`);
    write(path.join(b, 'there.txt'), 'there\n');
    const second = await runTwice(a, b, { 'f9.txt': 'file 9\n', 'there.txt': 'there\n' }, () => write(path.join(b, 'while-stopped.txt'), 'made while stopped\n'), { 'while-stopped.txt': 'made while stopped\n' });
    expect(second).toMatchObject({ kind: 'initial', pushed: 0, pulled: 1, deletedHere: 0, deletedThere: 0, conflicts: [] });
  });

  test('a record here lost while stopped deletes nothing: files deleted on either side meanwhile come back', async () => {
    const a = temp.make('fcp-2way-a');
    const b = temp.make('fcp-2way-b');
    const names = ['keep.txt', 'gone-here.txt', 'gone-there.txt'];
    for (const name of names) write(path.join(a, name), `${name}\n`);
    const all = Object.fromEntries(names.map((name) => [name, `${name}\n`]));
    const lose = (stateFile: string): void => {
      for (const name of fs.readdirSync(path.dirname(stateFile))) fs.rmSync(path.join(path.dirname(stateFile), name));
      fs.rmSync(path.join(a, 'gone-here.txt'));
      fs.rmSync(path.join(b, 'gone-there.txt'));
    };
    const second = await runTwice(a, b, all, lose, all);
    expect(second).toMatchObject({ kind: 'initial', pushed: 1, pulled: 1, deletedHere: 0, deletedThere: 0, conflicts: [] });
  });
});

test('a change on the host wakes the watch: synced at once, not at the next --interval', async () => {
  const a = temp.make('fcp-2way-a');
  const b = temp.make('fcp-2way-b');
  write(path.join(a, 'a.txt'), 'a\n');
  const rounds: TwoWayRoundReport[] = [];
  const abort = new AbortController();
  const ended = twoWay({ copy: { sources: [a], destination: `localhost:${b}`, launcher: countingLauncher().launcher }, intervalS: 600, stateFile: path.join(temp.make('fcp-2way-state'), 'pair.db'), signal: abort.signal, onRound: (report) => rounds.push(report) });
  try {
    await waitFor('the first round', settledWith(a, b, { 'a.txt': 'a\n' }));
    write(path.join(b, 'sub', 'made-there.txt'), 'made on the host\n');
    fs.writeFileSync(path.join(b, 'a.txt'), 'a edited on the host\n');
    await waitFor('the change there, here', settledWith(a, b, { 'sub/made-there.txt': 'made on the host\n', 'a.txt': 'a edited on the host\n' }));
  } finally {
    abort.abort();
    await ended;
  }
  expect(rounds[0]).toMatchObject({ kind: 'initial' });
  // No rescan came (--interval 600): the host's report woke the rounds that pulled the change.
  expect(rounds.slice(1).map((round) => round.kind)).not.toContain('rescan');
  // Entries brought here: the directory sub (made as a directory), its file and a.txt.
  expect(rounds.reduce((sum, round) => sum + round.pulled, 0)).toBe(3);
});

test('an offline period with changes on both sides: kept, and reconciled once the link is back', async () => {
  const a = temp.make('fcp-2way-a');
  const b = temp.make('fcp-2way-b');
  write(path.join(a, 'a.txt'), 'a\n');
  write(path.join(a, 'gone.txt'), 'deleted in a while offline\n');
  write(path.join(b, 'b.txt'), 'b\n');
  const proxy = await toggleProxy();
  const counting = countingLauncher(() => proxy);
  const running = startTwoWay({ sources: [a], destination: `localhost:${b}`, launcher: counting.launcher, timeout: 5 }, path.join(temp.make('fcp-2way-state'), 'pair.db'));
  try {
    await waitFor('the first round', settledWith(a, b, { 'a.txt': 'a\n', 'b.txt': 'b\n', 'gone.txt': 'deleted in a while offline\n' }));
    // Files settle before the round records them on both sides; a link cut between the two writes
    // rightly makes the next round a first sync (nothing deleted). Cut it after a whole round.
    const settled = running.rounds.length;
    await waitFor('a whole round after the files settled', () => running.rounds.length > settled + 1);
    proxy.offline();
    await waitFor('a round failing on the cut link', () => running.rounds.some((round) => round.error !== undefined), 40_000);
    write(path.join(a, 'offline-a.txt'), 'made in a offline\n');
    write(path.join(b, 'offline-b.txt'), 'made in b offline\n');
    fs.writeFileSync(path.join(b, 'a.txt'), 'a edited in b offline\n');
    fs.rmSync(path.join(a, 'gone.txt'));
    // A few failing rounds: the changes stay.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(fs.existsSync(path.join(b, 'offline-a.txt'))).toBe(false);
    proxy.online();
    await waitFor('the reconcile after the link came back', settledWith(a, b, { 'offline-a.txt': 'made in a offline\n', 'offline-b.txt': 'made in b offline\n', 'a.txt': 'a edited in b offline\n', 'b.txt': 'b\n' }), 40_000);
  } finally {
    await running.stop();
    await proxy.close();
  }
  expect(filesOf(a)['gone.txt']).toBeUndefined();
  expect(filesOf(b)['gone.txt']).toBeUndefined();
  expect(counting.launches()).toBeGreaterThanOrEqual(2);
  const failed = running.rounds.filter((round) => round.error);
  expect(failed.length).toBeGreaterThan(0);
  for (const round of failed) expect(['FCP_ERR_CONNECTION', 'FCP_ERR_TIMEOUT', 'FCP_ERR_CONNECTION_LOST', 'FCP_ERR_PEER_UNREACHABLE']).toContain(round.error!.code);
});

test('fcp --watch --two-way --json: a conflict event and round records; SIGTERM ends it with exit 0; the state database is under XDG_STATE_HOME', async () => {
  const a = temp.make('fcp-2way-a');
  const b = temp.make('fcp-2way-b');
  const state = temp.make('fcp-2way-state');
  write(path.join(a, 'same.txt'), 'a version\n');
  write(path.join(b, 'same.txt'), 'b version\n');
  const fcp = spawnFcp(['--watch', '--two-way', '--json', a, b], { env: { ...process.env, XDG_STATE_HOME: state } });
  try {
    await waitFor('the first round record', () => fcp.records().some((record) => record.event === 'round'));
  } finally {
    expect(await fcp.stop(10_000)).toEqual({ code: 0, stderr: '' });
  }
  const records = fcp.records;
  // Never synced, different on the two sides: both kept.
  const conflict = records().find((record) => record.event === 'conflict');
  expect(conflict).toMatchObject({ path: 'same.txt', conflict: 'bothEdited', copy: expect.stringMatching(/^same\.txt\.conflict-/) });
  expect(records().find((record) => record.event === 'round')).toMatchObject({ kind: 'initial', pushed: 2, pulled: 0, conflicts: 1 });
  expect(filesOf(a)).toEqual({ 'same.txt': 'a version\n', [conflict!.copy as string]: 'b version\n' });
  expect(filesOf(b)).toEqual(filesOf(a));
  expect(fs.readdirSync(path.join(state, 'fcp', 'two-way')).filter((name) => name.endsWith('.db'))).toHaveLength(1);
});

test('--two-way without --watch, or with options it has no use for, is a usage error', async () => {
  const a = temp.make('fcp-2way-a');
  const b = temp.make('fcp-2way-b');
  const alone = await runFcp(['--two-way', a, b]);
  expect({ code: alone.code, stderr: alone.stderr }).toMatchObject({ code: 2, stderr: expect.stringContaining('--two-way is a mode of --watch') });
  for (const option of ['--delete', '--dry-run', '--one-file-system', '--mkpath']) {
    const refused = await runFcp(['--watch', '--two-way', option, a, b]);
    expect({ option, code: refused.code, stderr: refused.stderr }).toMatchObject({ option, code: 2, stderr: expect.stringContaining(`${option} and --two-way were both given`) });
  }
  const both = await runFcp(['--watch', '--two-way', 'h1:a', 'h2:b']);
  expect({ code: both.code, stderr: both.stderr }).toMatchObject({ code: 2, stderr: expect.stringContaining('one host') });
  expect(fs.readdirSync(a)).toEqual([]);
  expect(fs.readdirSync(b)).toEqual([]);
});

test('a side that is not an existing directory is FCP_ERR_NOT_DIRECTORY (exit 4), here or on the host, and nothing is made', async () => {
  const work = temp.make('fcp-2way-missing');
  const a = path.join(work, 'a');
  fs.mkdirSync(a);
  fs.writeFileSync(path.join(work, 'file'), 'x');
  for (const [first, second] of [[a, path.join(work, 'missing')], [path.join(work, 'missing'), a], [a, path.join(work, 'file')]]) {
    const run = await runFcp(['--watch', '--two-way', first!, second!]);
    expect({ first, second, code: run.code, stderr: run.stderr }).toMatchObject({ first, second, code: 4, stderr: expect.stringMatching(/a two-way side is one directory: .* is not \(FCP_ERR_NOT_DIRECTORY\)/) });
  }
  const onHost = twoWay({ copy: { sources: [a], destination: `localhost:${path.join(work, 'missing')}`, launcher: countingLauncher().launcher }, intervalS: 60, signal: new AbortController().signal });
  await expect(onHost).rejects.toMatchObject({ code: 'FCP_ERR_NOT_DIRECTORY', message: expect.stringContaining('a two-way side is one directory') });
  expect(fs.readdirSync(work).sort()).toEqual(['a', 'file']);
  expect(fs.readdirSync(a)).toEqual([]);
});
