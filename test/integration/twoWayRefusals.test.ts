/**
 * fcpd's side of fcp --watch --two-way against a client that plays an older or hostile fcp
 * (PROTOCOL.md §7.12, helpers/twoWayPeer.ts): TWO_WAY_SCOPE in a session that did not agree on
 * the feature bit it needs, malformed TWO_WAY_SCOPE (an unknown event, a path that escapes the
 * side's directory, a LIST or SWEEP carrying a path, a path too long for a frame, WHOLE from the
 * client). Each is answered with one ERROR of its code, the session closed and the one-session
 * fcpd gone within a deadline; nothing is listed for it, and nothing sent after it is acted on
 * (no row written, no directory made, nothing anywhere outside the side). More than 1,000 PATHs
 * are no error: that listing is whole. Each refusal has its accepted twin, so the tests can fail.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FcpErrorCode, wireFromCode } from '../../src/errors';
import { Feature, MoreFeature, PacketType, TwoWayNodeOp, TwoWayOp, TwoWayScopeEvent, TwoWaySideEvent } from '../../src/protocol/constants';
import type { Message } from '../../src/protocol/messages';
import { sideDbFile, TwoWayDb } from '../../src/state/twoWayDb';
import { nodeFields, twoWayMessage } from '../../src/watch/sideWire';
import { DIR_HASH, DIR_MODE } from '../../src/watch/entryKinds';
import { killAll, startFcpd, StartedFcpd, within } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { treeOf } from './helpers/kindTree';
import { SIDE_FEATURES, scopeFrame, SideSession, sideSession } from './helpers/twoWayPeer';

jest.setTimeout(60_000);

const temp = useTempDirs();
afterAll(killAll);
// fcpd keeps the side's record under its XDG_STATE_HOME: one for the whole file, given to every fcpd it starts, removed after all tests.
const stateDirs = new TempDirs();
const stateHome = process.env.XDG_STATE_HOME;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  process.env.XDG_STATE_HOME = stateDirs.make('fcp-2way-refusals-xdg');
  env = { ...process.env };
});
afterAll(() => {
  if (stateHome === undefined) delete process.env.XDG_STATE_HOME;
  else process.env.XDG_STATE_HOME = stateHome;
  stateDirs.cleanup();
});

const BOTH = MoreFeature.TWO_WAY_NARROW | MoreFeature.TWO_WAY_SWEEP;
const LISTING_TYPES: ReadonlySet<number> = new Set([PacketType.TWO_WAY_SIDE, PacketType.TWO_WAY_NODE, PacketType.TWO_WAY_SCOPE, PacketType.TWO_WAY_MOVE]);

/** A side's directory next to a directory outside it, each with a file. */
function sideDirs(): { root: string; side: string; outside: string } {
  const root = temp.make('fcp-2way-refusals');
  const side = path.join(root, 'side');
  const outside = path.join(root, 'outside');
  fs.mkdirSync(path.join(side, 'sub'), { recursive: true });
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(side, 'sub', 'kept.txt'), 'kept\n');
  fs.writeFileSync(path.join(outside, 'victim.txt'), 'outside the side\n');
  return { root, side, outside };
}

/** What fcp would send once the side answered: a row and a directory (acted on only by a session still running). */
function lateRequests(): Message[] {
  return [
    twoWayMessage(TwoWayOp.RECORD, { path: 'late.txt', hash: 'ab'.repeat(32), mode: 0o644, size: 5, mtimeUs: 1_700_000_000_000_000 }),
    { type: PacketType.TWO_WAY_NODE_OP, op: TwoWayNodeOp.MKDIR, ...nodeFields('made-late', { hash: DIR_HASH, mode: DIR_MODE }) },
  ];
}

/** The paths of the side's record (fcpd's, for `pair`), read here once fcpd is gone. */
function recordedRows(side: string, pair: Buffer): string[] {
  const db = TwoWayDb.open(sideDbFile(fs.realpathSync(side), pair.toString('hex')), Buffer.from(side), () => undefined);
  try {
    return [...db.all().keys()];
  } finally {
    db.close();
  }
}

interface Refused {
  session: SideSession;
  fcpd: StartedFcpd;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Opens a session offering `moreFeatures` (and `features`), writes `bytes` (frames) then the late requests, and waits for fcpd to close it and exit. */
async function refusal(side: string, pair: Buffer, offer: { features?: number; moreFeatures?: number }, bytes: (session: SideSession) => Buffer[]): Promise<Refused> {
  const fcpd = await startFcpd({ secret: randomBytes(32), verbose: true, env });
  const session = await sideSession(fcpd, side, offer, pair);
  for (const frame of bytes(session)) session.control.write(frame);
  for (const message of lateRequests()) session.control.send(message);
  await within(session.closed, 15_000, 'fcpd closing the refused session');
  const exit = await within(fcpd.exited, 15_000, 'fcpd exit after the refused session');
  return { session, fcpd, exit };
}

const frame = (session: SideSession, event: number, p: Buffer | string = ''): Buffer => scopeFrame(session.xxh, event, p);
const pathFrames = (session: SideSession, ...paths: string[]): Buffer[] => paths.map((p) => frame(session, TwoWayScopeEvent.PATH, p));

type Case = [what: string, offer: { features?: number; moreFeatures?: number }, bytes: (session: SideSession) => Buffer[], code: FcpErrorCode];

const cases: Case[] = [
  ['SWEEP in a session that agreed on TWO_WAY_NARROW only (an fcp that did not ask for TWO_WAY_SWEEP)', { moreFeatures: MoreFeature.TWO_WAY_NARROW }, (s) => [...pathFrames(s, 'sub'), frame(s, TwoWayScopeEvent.SWEEP)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['SWEEP in a session without the second feature word (HELLO of 40 bytes)', {}, (s) => [frame(s, TwoWayScopeEvent.SWEEP)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['LIST in a session whose word is 0', { moreFeatures: 0 }, (s) => [frame(s, TwoWayScopeEvent.LIST)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['PATH in a session without TWO_WAY_NARROW', { moreFeatures: MoreFeature.TWO_WAY_SWEEP }, (s) => pathFrames(s, 'sub'), 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['SWEEP with both bits but without TWO_WAY_TREE', { features: Feature.TWO_WAY | Feature.TWO_WAY_MOVES, moreFeatures: BOTH }, (s) => [frame(s, TwoWayScopeEvent.SWEEP)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['WHOLE from the client', { moreFeatures: BOTH }, (s) => [frame(s, TwoWayScopeEvent.WHOLE)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['LIST with a path', { moreFeatures: BOTH }, (s) => [frame(s, TwoWayScopeEvent.LIST, 'sub')], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['SWEEP with a path (a range: SWEEP carries none)', { moreFeatures: BOTH }, (s) => [frame(s, TwoWayScopeEvent.SWEEP, 'a..m')], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['an unknown event (5)', { moreFeatures: BOTH }, (s) => [frame(s, 5, 'sub')], 'FCP_ERR_BAD_FIELD'],
  ['event 0', { moreFeatures: BOTH }, (s) => [frame(s, 0)], 'FCP_ERR_BAD_FIELD'],
  ['a PATH with ..', { moreFeatures: BOTH }, (s) => [...pathFrames(s, '../outside'), frame(s, TwoWayScopeEvent.SWEEP)], 'FCP_ERR_BAD_PATH'],
  ['an absolute PATH', { moreFeatures: BOTH }, (s) => [...pathFrames(s, '/etc'), frame(s, TwoWayScopeEvent.LIST)], 'FCP_ERR_BAD_PATH'],
  ['a PATH with an empty component', { moreFeatures: BOTH }, (s) => pathFrames(s, 'sub//kept.txt'), 'FCP_ERR_BAD_PATH'],
  ['a PATH with a NUL byte', { moreFeatures: BOTH }, (s) => pathFrames(s, 'sub\0x'), 'FCP_ERR_BAD_PATH'],
  ['a PATH without a path', { moreFeatures: BOTH }, (s) => pathFrames(s, ''), 'FCP_ERR_BAD_FIELD'],
  ['a PATH of 4,097 bytes (longer than any path)', { moreFeatures: BOTH }, (s) => pathFrames(s, 'p'.repeat(4097)), 'FCP_ERR_BAD_LENGTH'],
];

describe('fcpd refuses TWO_WAY_SCOPE it did not agree to or cannot take', () => {
  test.each(cases)('%s', async (_what, offer, bytes, code) => {
    const { side, outside, root } = sideDirs();
    const pair = randomBytes(32);
    const before = { side: treeOf(side), root: treeOf(root) };
    const { session, fcpd, exit } = await refusal(side, pair, { features: offer.features ?? SIDE_FEATURES, ...offer }, bytes);
    // One ERROR, of the code and wire number the spec gives, and nothing listed.
    const errors = session.received.filter((m) => m.type === PacketType.ERROR);
    expect(errors).toHaveLength(1);
    expect(errors.map((m) => m.type === PacketType.ERROR && m.code)).toEqual([wireFromCode(code)]);
    expect(session.errors()).toEqual([code]);
    expect(session.received.filter((m) => LISTING_TYPES.has(m.type))).toEqual([]);
    // fcpd said why, and its session failed (a non-zero exit, no stack trace).
    expect(exit.code).not.toBe(0);
    expect(fcpd.stderr()).toContain(code);
    expect(fcpd.stderr()).not.toMatch(/\n\s+at /);
    // Nothing made, written or removed: not what came after (a row, a directory), not outside the side.
    expect(treeOf(side)).toEqual(before.side);
    expect(treeOf(root)).toEqual(before.root);
    expect(fs.readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('outside the side\n');
    expect(recordedRows(side, pair)).not.toContain('late.txt');
  });
});

describe('what the same sessions take when they agreed on it', () => {
  /** Writes `bytes`, then the late requests, then DONE: the answers until fcpd's exit. */
  async function accepted(side: string, pair: Buffer, moreFeatures: number | undefined, out: (session: SideSession) => (Buffer | Message)[]): Promise<{ session: SideSession; exit: { code: number | null } }> {
    const fcpd = await startFcpd({ secret: randomBytes(32), env });
    const session = await sideSession(fcpd, side, moreFeatures === undefined ? {} : { moreFeatures }, pair);
    for (const each of out(session)) {
      if (Buffer.isBuffer(each)) session.control.write(each);
      else session.control.send(each);
    }
    await session.next((m) => m.type === PacketType.TWO_WAY_SIDE && m.event === TwoWaySideEvent.LISTED);
    for (const message of lateRequests()) session.control.send(message);
    await session.next((m) => m.type === PacketType.TWO_WAY_NODE_OP);
    session.control.send({ type: PacketType.DONE });
    await within(session.closed, 15_000, 'fcpd closing the session after DONE');
    return { session, exit: await within(fcpd.exited, 15_000, 'fcpd exit after DONE') };
  }

  test('SWEEP with TWO_WAY_SWEEP: a narrowed listing, and what follows is acted on (the row written, the directory made)', async () => {
    const { side } = sideDirs();
    const pair = randomBytes(32);
    // A first listing (whole: the side's events start lost) so that the SWEEP's is narrowed.
    const { session, exit } = await accepted(side, pair, BOTH, (s) => [frame(s, TwoWayScopeEvent.LIST), ...pathFrames(s, 'sub'), frame(s, TwoWayScopeEvent.SWEEP)]);
    expect(exit.code).toBe(0);
    expect(session.errors()).toEqual([]);
    expect(session.received.filter((m) => m.type === PacketType.TWO_WAY_SIDE && m.event === TwoWaySideEvent.LISTED)).toHaveLength(2);
    expect(fs.statSync(path.join(side, 'made-late')).isDirectory()).toBe(true);
    expect(recordedRows(side, pair)).toContain('late.txt');
  });

  test('TWO_WAY LIST in a session without the word: a whole listing, as an older fcp asks', async () => {
    const { side } = sideDirs();
    const { session, exit } = await accepted(side, randomBytes(32), undefined, () => [twoWayMessage(TwoWayOp.LIST)]);
    expect(exit.code).toBe(0);
    expect(session.errors()).toEqual([]);
    expect(session.received.some((m) => m.type === PacketType.TWO_WAY_SIDE && m.event === TwoWaySideEvent.ENTRY && m.path.toString() === 'sub/kept.txt')).toBe(true);
  });

  test('more than 1,000 PATHs before a LIST: no error, the listing is whole (WHOLE, then every entry)', async () => {
    const { side } = sideDirs();
    const paths = Array.from({ length: 1001 }, (_, i) => `absent/${i}`);
    const { session, exit } = await accepted(side, randomBytes(32), BOTH, (s) => [frame(s, TwoWayScopeEvent.LIST), ...pathFrames(s, ...paths), frame(s, TwoWayScopeEvent.LIST)]);
    expect(exit.code).toBe(0);
    expect(session.errors()).toEqual([]);
    const second = session.received.slice(session.received.findIndex((m) => m.type === PacketType.TWO_WAY_SIDE && m.event === TwoWaySideEvent.LISTED) + 1);
    expect(second[0]).toMatchObject({ type: PacketType.TWO_WAY_SCOPE, event: TwoWayScopeEvent.WHOLE });
    expect(second.some((m) => m.type === PacketType.TWO_WAY_SIDE && m.event === TwoWaySideEvent.ENTRY && m.path.toString() === 'sub/kept.txt')).toBe(true);
  });
});

