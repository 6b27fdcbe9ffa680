/**
 * fcp's side of fcp --watch --two-way against an fcpd that lacks the optional parts of the
 * second feature word (PROTOCOL.md §7.12), or lies in its TWO_WAY_SCOPE: the real fcpd behind a
 * proxy that takes bits out of fcp's HELLO word (helpers/twoWayPeer.ts), so that it answers as an
 * older build does, and reads or replaces the frames of the side's session.
 *
 * - Without TWO_WAY_SWEEP, a sweep asked of the side there goes as a narrowed LIST, and every
 *   SWEEP_SLICES-th as a whole TWO_WAY LIST; SWEEP never goes. Without TWO_WAY_NARROW (a word
 *   without the bit, or none: an fcpd from before the word) every listing is a TWO_WAY LIST.
 * - The watch over such an fcpd converges (content, permission bits, mtimes), loses nothing, and
 *   still finds a change there that no event reported (the whole listings find it).
 * - TWO_WAY_SCOPE from fcpd that breaks the rules (SWEEP or LIST from the server, an unknown
 *   event, a path that escapes the side, more paths than a narrowed listing holds, a scope
 *   outside a narrowed listing) fails the listing with its error code; in a watch, that round
 *   fails, nothing is written outside either directory, and the side is opened again.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FcpError, FcpErrorCode } from '../../src/errors';
import { MoreFeature, PacketType, TwoWayOp, TwoWayScopeEvent, TwoWaySideEvent } from '../../src/protocol/constants';
import type { Message } from '../../src/protocol/messages';
import { loadXxhash, XXHashAPI } from '../../src/protocol/xxhash';
import { SWEEP_SLICES } from '../../src/watch/constants';
import { RemoteSide } from '../../src/watch/remoteSide';
import type { Scope } from '../../src/watch/scope';
import { sideFilter } from '../../src/watch/sideListing';
import type { TwoWayRoundReport } from '../../src/watch/twoWay';
import { regularFiles } from './helpers/compare';
import { killAll } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { olderFcpdLauncher, scopeFrame, SideLinkHooks } from './helpers/twoWayPeer';
import { waitFor } from './helpers/watchLink';
import { startTwoWay } from './helpers/twoWayRun';

jest.setTimeout(120_000);
/** A deadline for a round that launches fcpd (seconds apart on a loaded 2-core machine). */
const FIRST_MS = 40_000;

const temp = useTempDirs();
afterAll(killAll);
// Each side's record goes to its host's state directory: one for the whole file (fcpd is given it), removed after all tests.
const stateDirs = new TempDirs();
const stateHome = process.env.XDG_STATE_HOME;
beforeAll(() => (process.env.XDG_STATE_HOME = stateDirs.make('fcp-2way-older-xdg')));
afterAll(() => {
  if (stateHome === undefined) delete process.env.XDG_STATE_HOME;
  else process.env.XDG_STATE_HOME = stateHome;
  stateDirs.cleanup();
});

const WITHOUT_SWEEP = (offered: number): number => offered & ~MoreFeature.TWO_WAY_SWEEP;
const WORD_ZERO = (): number => 0;
const NO_WORD = (): undefined => undefined;

/** How fcp asked for a listing, as it went on the wire. */
type Asked = 'LIST' | 'SCOPE LIST' | 'SCOPE SWEEP';

function askedOf(message: Message): Asked | undefined {
  if (message.type === PacketType.TWO_WAY && message.op === TwoWayOp.LIST) return 'LIST';
  if (message.type === PacketType.TWO_WAY_SCOPE && message.event === TwoWayScopeEvent.LIST) return 'SCOPE LIST';
  if (message.type === PacketType.TWO_WAY_SCOPE && message.event === TwoWayScopeEvent.SWEEP) return 'SCOPE SWEEP';
  return undefined;
}

/** A RemoteSide on a real fcpd behind the proxy (sessions without encryption, so the proxy reads them): what fcp asked, in order. */
async function openSide(directory: string, hooks: SideLinkHooks): Promise<{ side: RemoteSide; asked: Asked[]; close(): Promise<void> }> {
  const asked: Asked[] = [];
  const { launcher } = olderFcpdLauncher(
    {
      ...hooks,
      fromClient: (message) => {
        const how = askedOf(message);
        if (how) asked.push(how);
        hooks.fromClient?.(message);
      },
    },
    true,
  );
  const secret = randomBytes(32);
  const server = await launcher.launch(secret, () => undefined);
  const side = await RemoteSide.open(server, server.secret ?? secret, {
    host: 'localhost',
    path: Buffer.from(directory),
    pair: randomBytes(32),
    filter: sideFilter(undefined),
    encrypt: false,
    log: () => undefined,
    changed: () => undefined,
  });
  return {
    side,
    asked,
    async close() {
      await side.close();
      await server.close(false);
    },
  };
}

const scopeKind = (scope: Scope): string => (scope === 'whole' ? 'whole' : 'narrowed');

describe('a RemoteSide on an fcpd without the optional parts', () => {
  /** One whole listing (a round's first), then `sweeps` sweeps as rescans ask them: how each was asked and what scope came back. */
  async function sweepRounds(hooks: SideLinkHooks, sweeps: number): Promise<{ asked: Asked[]; scopes: string[] }> {
    const dir = temp.make('fcp-2way-older-side');
    fs.writeFileSync(path.join(dir, 'f.txt'), 'f\n');
    const { side, asked, close } = await openSide(dir, hooks);
    const scopes: string[] = [];
    try {
      await side.list();
      for (let i = 0; i < sweeps; i++) scopes.push(scopeKind((await side.listNarrowed(true, new Set(['f.txt']), true)).scope));
    } finally {
      await close();
    }
    return { asked, scopes };
  }

  const sweeps = 2 * SWEEP_SLICES;
  const fallback = Array.from({ length: sweeps }, (_, i) => ((i + 1) % SWEEP_SLICES === 0 ? 'LIST' : 'SCOPE LIST'));

  test('with both bits (the twin): every sweep is a SWEEP, no whole listing after the first', async () => {
    const { asked, scopes } = await sweepRounds({ moreFeatures: (offered) => offered }, sweeps);
    expect(asked).toEqual(['LIST', ...Array<Asked>(sweeps).fill('SCOPE SWEEP')]);
    expect(scopes).toEqual(Array(sweeps).fill('narrowed'));
  });

  test(`without TWO_WAY_SWEEP: a narrowed LIST, and a whole TWO_WAY LIST every ${SWEEP_SLICES}th sweep; SWEEP never goes`, async () => {
    const { asked, scopes } = await sweepRounds({ moreFeatures: WITHOUT_SWEEP }, sweeps);
    expect(asked).toEqual(['LIST', ...fallback]);
    expect(scopes).toEqual(fallback.map((how) => (how === 'LIST' ? 'whole' : 'narrowed')));
  });

  test.each([
    ['a word without either bit', WORD_ZERO],
    ['no word at all (an fcpd from before it: a 13-byte PARAMS)', NO_WORD],
  ])('without TWO_WAY_NARROW (%s): every listing a whole TWO_WAY LIST, no TWO_WAY_SCOPE', async (_what, moreFeatures) => {
    const { asked, scopes } = await sweepRounds({ moreFeatures }, 3);
    expect(asked).toEqual(['LIST', 'LIST', 'LIST', 'LIST']);
    expect(scopes).toEqual(['whole', 'whole', 'whole']);
  });
});

describe('a RemoteSide refuses TWO_WAY_SCOPE from fcpd that breaks the rules', () => {
  let xxh: XXHashAPI;
  beforeAll(async () => (xxh = await loadXxhash()));

  /**
   * fcpd's answer to the second listing (a narrowed one, or with `whole` a TWO_WAY LIST) gets
   * `lie()`'s frames before its LISTED; the error that listing fails with.
   */
  async function lied(lie: () => Buffer[], whole = false): Promise<FcpError> {
    const dir = temp.make('fcp-2way-lied-side');
    fs.writeFileSync(path.join(dir, 'f.txt'), 'f\n');
    let listings = 0;
    const { side, close } = await openSide(dir, {
      moreFeatures: (offered) => offered,
      fromServer: (message, frame) => (message.type === PacketType.TWO_WAY_SIDE && message.event === TwoWaySideEvent.LISTED && ++listings === 2 ? [...lie(), frame] : undefined),
    });
    try {
      await side.list();
      const second = whole ? side.list() : side.listNarrowed(true, new Set(['f.txt']), true);
      const error = await second.then(
        () => undefined,
        (err: FcpError) => err,
      );
      if (!error) throw new Error('the lied listing was taken');
      // The side is done with: what a round asks of it next fails the same way.
      await expect(side.list()).rejects.toBe(error);
      return error;
    } finally {
      await close();
    }
  }

  test.each<[string, () => Buffer[], FcpErrorCode]>([
    ['SWEEP from fcpd, with a path', () => [scopeFrame(xxh, TwoWayScopeEvent.SWEEP, 'planted')], 'FCP_ERR_UNEXPECTED_MESSAGE'],
    ['SWEEP from fcpd, without a path', () => [scopeFrame(xxh, TwoWayScopeEvent.SWEEP)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
    ['LIST from fcpd', () => [scopeFrame(xxh, TwoWayScopeEvent.LIST)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
    ['an unknown event (5)', () => [scopeFrame(xxh, 5, 'f.txt')], 'FCP_ERR_BAD_FIELD'],
    ['a PATH with ..', () => [scopeFrame(xxh, TwoWayScopeEvent.PATH, '../outside')], 'FCP_ERR_BAD_PATH'],
    ['an absolute PATH', () => [scopeFrame(xxh, TwoWayScopeEvent.PATH, '/etc/passwd')], 'FCP_ERR_BAD_PATH'],
    ['a PATH without a path', () => [scopeFrame(xxh, TwoWayScopeEvent.PATH)], 'FCP_ERR_BAD_FIELD'],
    ['more PATHs than a narrowed listing holds (1,001)', () => Array.from({ length: 1001 }, (_, i) => scopeFrame(xxh, TwoWayScopeEvent.PATH, `p${i}`)), 'FCP_ERR_BAD_FIELD'],
  ])('%s in a narrowed listing', async (_what, lie, code) => {
    expect((await lied(lie)).code).toBe(code);
  });

  test.each<[string, () => Buffer[]]>([
    ['PATH', () => [scopeFrame(xxh, TwoWayScopeEvent.PATH, 'f.txt')]],
    ['WHOLE', () => [scopeFrame(xxh, TwoWayScopeEvent.WHOLE)]],
  ])('%s in a whole listing (TWO_WAY LIST) is FCP_ERR_UNEXPECTED_MESSAGE', async (_what, lie) => {
    expect((await lied(lie, true)).code).toBe('FCP_ERR_UNEXPECTED_MESSAGE');
  });
});

/** Every regular file below `root`: content, permission bits, mtime to the millisecond. */
function filesOf(root: string): Record<string, string> {
  return regularFiles(root, (file) => {
    const stat = fs.statSync(file);
    return `${fs.readFileSync(file, 'utf8')}|${(stat.mode & 0o7777).toString(8)}|${Math.floor(stat.mtimeMs)}`;
  });
}

function write(file: string, text: string, mode = 0o644, mtimeS?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
  if (mtimeS !== undefined) fs.utimesSync(file, mtimeS, mtimeS);
}

describe.each([
  ['without TWO_WAY_SWEEP', WITHOUT_SWEEP],
  ['without TWO_WAY_NARROW (no word)', NO_WORD],
])('fcp --watch --two-way with an fcpd %s', (_what, moreFeatures) => {
  test('converges (content, permission bits, mtimes), loses nothing, and finds a change there that no event reported in a whole listing', async () => {
    const a = temp.make('fcp-2way-older-a');
    const b = temp.make('fcp-2way-older-b');
    const outside = temp.make('fcp-2way-older-outside');
    write(path.join(a, 'a.txt'), 'a\n', 0o600, 1_600_000_000);
    write(path.join(a, 'd', 'run.sh'), '#!/bin/sh\n', 0o755, 1_600_000_100);
    write(path.join(b, 'b.txt'), 'b\n', 0o640, 1_600_000_200);
    write(path.join(b, 'quiet', 'q.txt'), 'q\n');
    for (let i = 0; i < 30; i++) write(path.join(b, 'many', `m${String(i).padStart(2, '0')}.txt`), `m${i}\n`);
    const asked: Asked[] = [];
    const { launcher } = olderFcpdLauncher({ moreFeatures, fromClient: (message) => void (askedOf(message) && asked.push(askedOf(message)!)) }, true);
    /** Each round's report, and how the side there was listed for it. */
    const rounds: { report: TwoWayRoundReport; asked: Asked[] }[] = [];
    let reported = 0;
    const running = startTwoWay({ sources: [a], destination: `localhost:${b}`, launcher, encrypt: false }, path.join(temp.make('fcp-2way-older-state'), 'pair.db'), (report) => {
      rounds.push({ report, asked: asked.slice(reported) });
      reported = asked.length;
    });
    const same = (): boolean => JSON.stringify(filesOf(a)) === JSON.stringify(filesOf(b));
    /** Two rounds after the files are the same (the events of the round's own moves come after it, and their round lists those paths). */
    const settle = async (what: string, check: () => boolean): Promise<void> => {
      await waitFor(what, () => same() && check(), FIRST_MS).catch((err: Error) => {
        // What the rounds did, so that a miss on a loaded machine says why.
        const told = rounds.map(({ report, asked: how }) => `${report.round} ${report.kind} ${how.join('+')} +${report.pushed}/-${report.pulled}${report.error ? ` ${report.error.code} ${report.error.message}` : ''}`);
        throw new Error(`${err.message}; rounds: ${told.join('; ') || 'none'}`);
      });
      const settled = rounds.length;
      await waitFor(`two rounds after ${what}`, () => rounds.length > settled + 1);
    };
    let unheard = 0;
    try {
      await settle('the first round', () => filesOf(a)['b.txt'] !== undefined && filesOf(b)['d/run.sh'] !== undefined);
      expect(filesOf(b)['a.txt']).toBe('a\n|600|1600000000000');
      expect(filesOf(a)['d/run.sh']).toBe('#!/bin/sh\n|755|1600000100000');
      expect(filesOf(a)['b.txt']).toBe('b\n|640|1600000200000');
      // Changes with events on both sides: an edit with new bits, a new file, a deletion.
      write(path.join(a, 'a.txt'), 'a edited\n', 0o644, 1_600_000_300);
      write(path.join(b, 'many', 'new.txt'), 'new there\n', 0o600, 1_600_000_400);
      fs.rmSync(path.join(b, 'many', 'm07.txt'));
      await settle('the changes with events', () => filesOf(a)['many/new.txt'] !== undefined && filesOf(a)['many/m07.txt'] === undefined && filesOf(b)['a.txt']?.startsWith('a edited\n') === true);
      // A write there that no event of the side reports: through a hard link from outside it.
      fs.linkSync(path.join(b, 'quiet', 'q.txt'), path.join(outside, 'unheard'));
      fs.writeFileSync(path.join(outside, 'unheard'), 'edited unheard, there\n');
      fs.utimesSync(path.join(outside, 'unheard'), 1_600_000_500, 1_600_000_500);
      unheard = rounds.length;
      await waitFor('the unheard change', () => same() && filesOf(a)['quiet/q.txt'] === 'edited unheard, there\n|644|1600000500000', 60_000);
      const pulled = rounds.length;
      await waitFor('the round that pulled it to report', () => rounds.length > pulled);
    } finally {
      await running.stop();
    }
    const files = filesOf(a);
    expect(files).toEqual(filesOf(b));
    const many = Array.from({ length: 30 }, (_, i) => `many/m${String(i).padStart(2, '0')}.txt`).filter((name) => name !== 'many/m07.txt');
    expect(Object.keys(files).sort()).toEqual(['a.txt', 'b.txt', 'd/run.sh', 'quiet/q.txt', ...many, 'many/new.txt'].sort());
    expect(files['a.txt']).toBe('a edited\n|644|1600000300000');
    expect(files['many/new.txt']).toBe('new there\n|600|1600000400000');
    expect(rounds.filter(({ report }) => report.error)).toEqual([]);
    expect(rounds.flatMap(({ report }) => report.conflicts)).toEqual([]);
    // The unheard change came with a whole listing of the side there: without the word any round's; without sweeps a rescan's (every 10th).
    const carried = rounds.slice(unheard).filter(({ report }) => report.pulled > 0);
    expect(carried.map(({ report, asked: how }) => [report.pulled, how])).toEqual([[1, ['LIST']]]);
    if (moreFeatures === WITHOUT_SWEEP) expect(carried[0]!.report.kind).toBe('rescan');
    // Never a SWEEP; without the word, never a TWO_WAY_SCOPE at all.
    expect(asked).not.toContain('SCOPE SWEEP');
    if (moreFeatures === NO_WORD) expect(new Set(asked)).toEqual(new Set(['LIST']));
    else expect(asked).toContain('SCOPE LIST');
  });
});

test('a hostile fcpd: a PATH that escapes the side fails that round (FCP_ERR_BAD_PATH), nothing is written outside either directory, and the next rounds sync as before', async () => {
  const xxh = await loadXxhash();
  const root = temp.make('fcp-2way-hostile');
  const [a, b, outside] = ['a', 'b', 'outside'].map((name) => path.join(root, name)) as [string, string, string];
  for (const dir of [a, b, outside]) fs.mkdirSync(dir);
  write(path.join(a, 'a.txt'), 'a\n');
  write(path.join(outside, 'victim.txt'), 'not the watch\'s\n');
  let narrowed = false;
  let lied = 0;
  const { launcher, launches } = olderFcpdLauncher(
    {
      moreFeatures: (offered) => offered,
      fromClient: (message) => void (askedOf(message)?.startsWith('SCOPE') && (narrowed = true)),
      // The first narrowed listing's answer names paths outside the side.
      fromServer: (message, frame) => {
        if (!narrowed || lied > 0 || message.type !== PacketType.TWO_WAY_SIDE || message.event !== TwoWaySideEvent.LISTED) return undefined;
        lied++;
        return [scopeFrame(xxh, TwoWayScopeEvent.PATH, '../outside/victim.txt'), scopeFrame(xxh, TwoWayScopeEvent.PATH, '../outside'), frame];
      },
    },
    true,
  );
  const running = startTwoWay({ sources: [a], destination: `localhost:${b}`, launcher, encrypt: false }, path.join(temp.make('fcp-2way-hostile-state'), 'pair.db'));
  const { rounds } = running;
  try {
    await waitFor('the first round', () => fs.existsSync(path.join(b, 'a.txt')) && rounds.length > 0, FIRST_MS);
    await waitFor('the lie and the round it failed', () => rounds.some((round) => round.error !== undefined), FIRST_MS);
    write(path.join(a, 'after.txt'), 'after the lie\n');
    write(path.join(b, 'there.txt'), 'made there\n');
    await waitFor('the rounds after it', () => fs.existsSync(path.join(b, 'after.txt')) && fs.existsSync(path.join(a, 'there.txt')), FIRST_MS);
  } finally {
    await running.stop();
  }
  expect(lied).toBe(1);
  const failed = rounds.filter((round) => round.error);
  expect(failed.map((round) => round.error!.code)).toEqual(['FCP_ERR_BAD_PATH']);
  // The side was opened again (fcpd launched again) after the failed round, as after a lost link.
  expect(launches()).toBeGreaterThanOrEqual(2);
  expect(fs.readdirSync(root).sort()).toEqual(['a', 'b', 'outside']);
  expect(fs.readdirSync(outside)).toEqual(['victim.txt']);
  expect(fs.readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('not the watch\'s\n');
  expect(Object.keys(filesOf(a)).sort()).toEqual(['a.txt', 'after.txt', 'there.txt']);
  expect(filesOf(b)).toEqual(filesOf(a));
});
