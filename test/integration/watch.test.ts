/**
 * fcp --watch against a real local fcpd (fcpd --serve --reuse) and in one process: bursts of
 * creates, renames, deletes and directory moves end with the destination equal to the source;
 * every round goes over the one launched fcpd; an offline period (a proxy that drops every
 * connection) keeps the changes and the link's return syncs them; a restart sends nothing that
 * is already there; SIGTERM ends the command with exit 0. Every wait has a deadline.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CopyOptions } from '../../src/client/copy';
import { RoundReport, watch } from '../../src/watch/watch';
import { compareTrees } from './helpers/compare';
import { killAll, spawnFcp } from './helpers/run';
import { countingLauncher, toggleProxy, waitFor as waitWithin } from './helpers/watchLink';
import { useTempDirs } from './helpers/tmp';

/**
 * The bound of a wait for a round's outcome where how soon is not what a test checks: seconds
 * here, but on a machine loaded many times over (the suite beside other builds) an initial sync
 * alone took over 20 s. The waits end as soon as their condition holds.
 */
const SETTLE_MS = 90_000;
const waitFor = (what: string, check: () => boolean, ms = SETTLE_MS): Promise<void> => waitWithin(what, check, ms);

// A test waits for a few rounds, each bounded by SETTLE_MS.
jest.setTimeout(300_000);

/**
 * The real @parcel/watcher, whose events a test can hold back (what the events miss is the
 * rescan's), and whose failure it can report to the last subscriber.
 */
const mockEvents: { muted: boolean; fail?: (err: Error) => void } = { muted: false };
jest.mock('@parcel/watcher', () => {
  const real = jest.requireActual<typeof import('@parcel/watcher')>('@parcel/watcher');
  return {
    ...real,
    subscribe: (dir: string, callback: import('@parcel/watcher').SubscribeCallback, opts?: import('@parcel/watcher').Options) => {
      mockEvents.fail = (err) => callback(err, []);
      return real.subscribe(dir, (err, events) => (mockEvents.muted ? undefined : callback(err, events)), opts);
    },
  };
});

const temp = useTempDirs();
afterAll(killAll);

/** compareTrees, without the roots' own metadata (a round updates the root's mtime only when it lists it). */
const differences = (src: string, dst: string): string[] => compareTrees(src, dst, { rootMeta: false });

/** A watch running in this process, stopped by stop(). */
function startWatch(copy: CopyOptions, intervalS = 60): { rounds: RoundReport[]; stop(): Promise<void>; ended: Promise<void> } {
  const rounds: RoundReport[] = [];
  const abort = new AbortController();
  const ended = watch({ copy, intervalS, signal: abort.signal, onRound: (report) => rounds.push(report) });
  return {
    rounds,
    ended,
    async stop() {
      abort.abort();
      await ended;
    },
  };
}

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

/** A tree to start from: a few directories and files. */
function startTree(src: string): void {
  for (let d = 0; d < 3; d++) for (let f = 0; f < 5; f++) write(path.join(src, `d${d}`, `f${f}.txt`), `d${d} f${f}\n`);
  write(path.join(src, 'top.txt'), 'top\n');
}

/** Creates, renames, deletes and a directory move, as a burst. */
function burst(src: string): void {
  for (let i = 0; i < 30; i++) write(path.join(src, 'new', `n${i}.txt`), `new ${i}\n`);
  fs.renameSync(path.join(src, 'd0', 'f0.txt'), path.join(src, 'd0', 'renamed.txt'));
  fs.renameSync(path.join(src, 'top.txt'), path.join(src, 'd2', 'top-moved.txt'));
  fs.rmSync(path.join(src, 'd1', 'f1.txt'));
  fs.renameSync(path.join(src, 'd1'), path.join(src, 'new', 'd1-moved'));
  fs.writeFileSync(path.join(src, 'd2', 'f2.txt'), 'changed\n');
}

describe.each([
  ['through one local fcpd', true],
  ['in one process', false],
])('fcp --watch %s', (_label, viaFcpd) => {
  test('bursts of creates, renames, deletes and directory moves end with the destination equal to the source', async () => {
    const src = path.join(temp.make('fcp-watch-src'), 'src');
    const dst = temp.make('fcp-watch-dst');
    startTree(src);
    const counting = countingLauncher();
    const watching = startWatch({ sources: [`${src}/`], destination: dst, delete: true, ...(viaFcpd ? { launcher: counting.launcher } : {}) });
    try {
      await waitFor('the initial sync', () => watching.rounds.length >= 1);
      expect(watching.rounds[0]).toMatchObject({ kind: 'initial', summary: { files: 16 } });
      burst(src);
      await waitFor('the burst at the destination', () => differences(src, dst).length === 0);
      for (let i = 0; i < 10; i++) fs.rmSync(path.join(src, 'new', `n${i}.txt`));
      fs.renameSync(path.join(src, 'new', 'd1-moved'), path.join(src, 'd1-back'));
      await waitFor('the deletions at the destination', () => differences(src, dst).length === 0);
    } finally {
      await watching.stop();
    }
    expect(differences(src, dst)).toEqual([]);
    expect(watching.rounds.filter((round) => round.error)).toEqual([]);
    // The burst went in rounds narrowed to the changed paths, and the moves were seen as renames.
    expect(watching.rounds.some((round) => round.kind === 'changes' && round.paths > 0)).toBe(true);
    expect(watching.rounds.flatMap((round) => round.renames.map((r) => `${r.from} -> ${r.to}`))).toEqual(expect.arrayContaining(['d1 -> new/d1-moved', 'new/d1-moved -> d1-back']));
    if (viaFcpd) expect(counting.launches()).toBe(1);
  });

  test('with --delete a renamed file and a moved directory arrive as renames: no file bytes are sent again', async () => {
    const src = path.join(temp.make('fcp-watch-src'), 'src');
    const dst = temp.make('fcp-watch-dst');
    startTree(src);
    fs.writeFileSync(path.join(src, 'big.bin'), randomBytes(3 * 1024 * 1024));
    fs.writeFileSync(path.join(src, 'd1', 'inner.bin'), randomBytes(1024 * 1024));
    const watching = startWatch({ sources: [`${src}/`], destination: dst, delete: true, ...(viaFcpd ? { launcher: countingLauncher().launcher } : {}) });
    try {
      await waitFor('the initial sync', () => watching.rounds.length >= 1);
      fs.renameSync(path.join(src, 'big.bin'), path.join(src, 'd0', 'big-renamed.bin'));
      fs.renameSync(path.join(src, 'd1'), path.join(src, 'd2', 'd1-moved'));
      await waitFor('the renames at the destination', () => differences(src, dst).length === 0);
    } finally {
      await watching.stop();
    }
    expect(differences(src, dst)).toEqual([]);
    const after = watching.rounds.slice(1);
    expect(after.flatMap((round) => round.renames.map((r) => `${r.from} -> ${r.to}`)).sort()).toEqual(['big.bin -> d0/big-renamed.bin', 'd1 -> d2/d1-moved']);
    expect(after.map((round) => round.error)).toEqual(after.map(() => undefined));
    expect(after.reduce((sum, round) => sum + round.summary!.bytesSent, 0)).toBe(0);
  });
});

test('changes the events missed: entries added and removed are found by the next pass, in whichever slice; a change in place once the watcher says events were lost', async () => {
  const src = path.join(temp.make('fcp-watch-src'), 'src');
  const dst = temp.make('fcp-watch-dst');
  startTree(src);
  const logged: string[] = [];
  const intervalS = 3;
  const watching = startWatch({ sources: [`${src}/`], destination: dst, delete: true, log: (line) => logged.push(line) }, intervalS);
  // One pass takes one interval; a round and the debounce come on top.
  const passLimitMs = (2 * intervalS + 10) * 1000;
  try {
    await waitFor('the initial sync', () => watching.rounds.length >= 1);
    mockEvents.muted = true;
    fs.rmSync(path.join(src, 'd1', 'f3.txt'));
    write(path.join(src, 'd2', 'unseen.txt'), 'created unseen\n');
    fs.renameSync(path.join(src, 'd0', 'f4.txt'), path.join(src, 'd0', 'f4-renamed.txt'));
    await waitFor('the unseen entries at the destination', () => fs.existsSync(path.join(dst, 'd2', 'unseen.txt')) && !fs.existsSync(path.join(dst, 'd1', 'f3.txt')) && fs.existsSync(path.join(dst, 'd0', 'f4-renamed.txt')), passLimitMs);
    fs.writeFileSync(path.join(src, 'd0', 'f1.txt'), 'changed unseen\n');
    write(path.join(src, 'top.txt'), 'top, rewritten unseen\n');
    mockEvents.fail!(new Error('inotify queue overflow'));
    await waitFor('the changes in place at the destination', () => differences(src, dst).length === 0, passLimitMs);
  } finally {
    mockEvents.muted = false;
    await watching.stop();
  }
  expect(differences(src, dst)).toEqual([]);
  expect(fs.readFileSync(path.join(dst, 'd0', 'f1.txt'), 'utf8')).toBe('changed unseen\n');
  expect(fs.existsSync(path.join(dst, 'd1', 'f3.txt'))).toBe(false);
  expect(watching.rounds.slice(1).every((round) => round.kind === 'changes' && !round.error)).toBe(true);
  expect(logged.filter((line) => line.startsWith('rescan: ')).length).toBeGreaterThanOrEqual(2);
  expect(logged).toContain('watch: inotify queue overflow; rescans still catch every change');
});

test('a directory moved in from outside the tree: changes deep inside it arrive, though the watcher does not watch below it', async () => {
  const src = path.join(temp.make('fcp-watch-src'), 'src');
  const dst = temp.make('fcp-watch-dst');
  const outside = temp.make('fcp-watch-outside');
  startTree(src);
  write(path.join(outside, 'incoming', 'deep', 'f.txt'), 'as moved in\n');
  const intervalS = 1;
  const watching = startWatch({ sources: [`${src}/`], destination: dst, delete: true }, intervalS);
  // A pass takes one interval; a round and the debounce come on top.
  const passLimitMs = (2 * intervalS + 10) * 1000;
  try {
    await waitFor('the initial sync', () => watching.rounds.length >= 1);
    fs.renameSync(path.join(outside, 'incoming'), path.join(src, 'incoming'));
    await waitFor('the moved-in directory at the destination', () => differences(src, dst).length === 0, passLimitMs);
    // @parcel/watcher (inotify) watches incoming/ from its event on, not incoming/deep/: no event says this.
    fs.writeFileSync(path.join(src, 'incoming', 'deep', 'f.txt'), 'changed in place, deep\n');
    await waitFor('the change deep in the moved-in directory at the destination', () => differences(src, dst).length === 0, passLimitMs);
  } finally {
    await watching.stop();
  }
  expect(fs.readFileSync(path.join(dst, 'incoming', 'deep', 'f.txt'), 'utf8')).toBe('changed in place, deep\n');
  expect(watching.rounds.filter((round) => round.error)).toEqual([]);
});

test('an offline period: changes are kept, and the first round after the link is back syncs them all', async () => {
  const src = path.join(temp.make('fcp-watch-src'), 'src');
  const dst = temp.make('fcp-watch-dst');
  startTree(src);
  const proxy = await toggleProxy();
  const counting = countingLauncher(() => proxy);
  const watching = startWatch({ sources: [`${src}/`], destination: dst, delete: true, launcher: counting.launcher, timeout: 5 });
  try {
    await waitFor('the initial sync', () => watching.rounds.length >= 1);
    proxy.offline();
    write(path.join(src, 'offline', 'a.txt'), 'written while offline\n');
    fs.rmSync(path.join(src, 'd0', 'f3.txt'));
    await waitFor('a round failing on the cut link', () => watching.rounds.some((round) => round.error !== undefined));
    const failed = watching.rounds.find((round) => round.error)!;
    // A link failure (connection, timeout or a stream cut mid-frame), not the request's.
    expect([6, 7, 3]).toContain(failed.error!.exitCode);
    expect(failed.retryInMs).toBeGreaterThan(0);
    write(path.join(src, 'offline', 'b.txt'), 'also while offline\n');
    proxy.online();
    await waitFor('the reconnect round', () => watching.rounds.some((round) => round.kind === 'reconnect' && round.summary !== undefined), 30_000);
    await waitFor('the destination equal to the source', () => differences(src, dst).length === 0);
  } finally {
    await watching.stop();
    await proxy.close();
  }
  expect(differences(src, dst)).toEqual([]);
  expect(fs.existsSync(path.join(dst, 'd0', 'f3.txt'))).toBe(false);
  // fcpd was launched again after the cut.
  expect(counting.launches()).toBeGreaterThanOrEqual(2);
});

test('a restart with the same arguments sends nothing that is already there', async () => {
  const src = path.join(temp.make('fcp-watch-src'), 'src');
  const dst = temp.make('fcp-watch-dst');
  startTree(src);
  const first = startWatch({ sources: [`${src}/`], destination: dst, delete: true, launcher: countingLauncher().launcher });
  await waitFor('the initial sync', () => first.rounds.length >= 1);
  await first.stop();
  const again = startWatch({ sources: [`${src}/`], destination: dst, delete: true, launcher: countingLauncher().launcher });
  await waitFor('the initial sync of the restart', () => again.rounds.length >= 1);
  await again.stop();
  expect(again.rounds[0]).toMatchObject({ kind: 'initial', summary: { bytesSent: 0, filesSkipped: 16, filesDeleted: 0 } });
});

test('fcp --watch --json: a round record per round, and SIGTERM ends it with exit 0', async () => {
  const src = path.join(temp.make('fcp-watch-src'), 'src');
  const dst = temp.make('fcp-watch-dst');
  startTree(src);
  const fcp = spawnFcp(['--watch', '--json', '--delete', '--via-fcpd', `${src}/`, dst]);
  const records = (): { event: string; kind?: string; name?: string }[] => fcp.records();
  try {
    await waitFor('the initial round record', () => records().some((record) => record.event === 'round'));
    write(path.join(src, 'later.txt'), 'later\n');
    await waitFor('the change round record', () => records().filter((record) => record.event === 'round').length >= 2);
  } finally {
    expect(await fcp.stop(10_000)).toEqual({ code: 0, stderr: '' });
  }
  const rounds = records().filter((record) => record.event === 'round');
  expect(rounds.map((record) => record.kind)).toEqual(['initial', 'changes']);
  expect(records()).toContainEqual(expect.objectContaining({ event: 'item', name: 'later.txt' }));
  expect(records().some((record) => record.event === 'progress')).toBe(false);
  expect(fs.readFileSync(path.join(dst, 'later.txt'), 'utf8')).toBe('later\n');
});

test('--watch refuses what it cannot watch: two sources, --sftp, a bad --interval', async () => {
  const src = temp.make('fcp-watch-src');
  const copy = { sources: [src], destination: temp.make('fcp-watch-dst') };
  const stop = new AbortController().signal;
  await expect(watch({ copy: { ...copy, sources: [src, src] }, intervalS: 60, signal: stop })).rejects.toMatchObject({ code: 'FCP_ERR_USAGE' });
  await expect(watch({ copy: { ...copy, sftp: true }, intervalS: 60, signal: stop })).rejects.toMatchObject({ code: 'FCP_ERR_USAGE' });
  await expect(watch({ copy, intervalS: 0, signal: stop })).rejects.toMatchObject({ code: 'FCP_ERR_USAGE', message: expect.stringContaining('--interval') });
});
