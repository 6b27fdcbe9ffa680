/**
 * fcp --watch --two-way's decisions (versionsOf with each side's own record, renamesToMake,
 * reconcileTwoWay), checked against a model: fast-check sequences of edits, renames and deletions
 * on both sides, with syncs in between (a stretch without one is an offline period), syncs cut
 * short (the link lost after any move, or between the two records of a move), and a side's record
 * lost (removed, or a new one). Files have inodes: a rename keeps its file's, an edit in place
 * keeps it too but changes the mtime, a file a sync brings is a new one; each record keeps its own
 * side's inodes, and a listing's renames are told by them (movesOf). The model carries a round out
 * as twoWayRound.ts does: the renames first (each made on the other side, then recorded here, then
 * there), then the plan's moves, each followed by its record here and there; then the records of
 * versions both sides hold brought up to them.
 * Invariants: no version a side changed since its own record is ever lost (it is on both sides
 * after a full sync, under its name or a conflict name, and somewhere after a cut one); a file goes
 * from a side's name only where both records agreed on it; after a full sync both sides are equal,
 * both records hold them, and a second sync has nothing to do; a lost record never makes anything
 * be deleted; a rename alone moves no file's content.
 */
import fc from 'fast-check';
import type { Recorded } from '../../../src/state/twoWayDb';
import { reconcileTwoWay, TwoWayAction } from '../../../src/track/reconcile';
import { conflictName } from '../../../src/watch/conflictName';
import { movesOf, SideListing, WalkedFile } from '../../../src/watch/sideListing';
import { renamesToMake } from '../../../src/watch/twoWayRenames';
import { versionsOf } from '../../../src/watch/twoWayRound';

type Tree = Map<string, string>;
type Side = 'here' | 'there';
interface World {
  here: Tree;
  there: Tree;
  records: Record<Side, Tree>;
  /** Each side's files' inodes, and the inodes each record keeps (a file set by a test alone has none: it is never taken for renamed). */
  inodes: Record<Side, Map<string, number>>;
  recordedInodes: Record<Side, Map<string, number>>;
  rounds: number;
  /** Files whose content a sync moved from one side to the other. */
  sent: number;
}

const PATHS = ['a', 'b', 'd/c'];
const OTHER: Record<Side, Side> = { here: 'there', there: 'here' };
const put = <T>(tree: Map<string, T>, path: string, value: T | undefined): void => void (value === undefined ? tree.delete(path) : tree.set(path, value));
let lastInode = 0;
/** A content's mtime: an edit changes it, a rename and a copy keep it (a receiver sets the sender's). */
const mtimes = new Map<string, number>();
const mtimeOf = (content: string): number => mtimes.get(content) ?? mtimes.set(content, mtimes.size + 1).get(content)!;

/** A side as a listing shows it: its files with their contents as digests, its record, the renames its inodes tell. */
function listing(world: World, side: Side): SideListing {
  const files = world[side];
  const file = (path: string, content: string, i: number): WalkedFile => ({ size: 0, mtimeUs: mtimeOf(content), mode: 0o644, dev: 1, ino: world.inodes[side].get(path) ?? -1 - i });
  const walked = new Map([...files].map(([path, content], i) => [path, file(path, content, i)]));
  const records = new Map(
    [...world.records[side]].map(([path, content]): [string, Recorded] => {
      const ino = world.recordedInodes[side].get(path);
      return [path, { path, hash: content, mode: 0o644, size: 0, mtimeUs: mtimeOf(content), ...(ino === undefined ? {} : { dev: 1, ino }) }];
    }),
  );
  return {
    files: new Map([...walked].map(([path, { size, mtimeUs, mode }]) => [path, { size, mtimeUs, mode, hash: files.get(path)! }])),
    records,
    moved: movesOf(walked, records),
    complete: true,
  };
}

const planOf = (world: World): TwoWayAction[] => reconcileTwoWay(versionsOf(listing(world, 'here'), listing(world, 'there')));

/** A move, then its record on each side, as three parts a cut can fall between. */
type Step = [move: () => void, recordHere: () => void, recordThere: () => void];

/** A side's record of a path brought to its file there (its content and inode), or forgotten. */
function record(world: World, side: Side, path: string): void {
  put(world.records[side], path, world[side].get(path));
  put(world.recordedInodes[side], path, world.inodes[side].get(path));
}

const recordBoth = (world: World, paths: string[]): Step[1][] => (['here', 'there'] as const).map((side) => () => paths.forEach((path) => record(world, side, path)));

/** The renames a round makes first: each on the side that did not make it, recorded on both. */
function renameSteps(world: World): Step[] {
  return renamesToMake(listing(world, 'here'), listing(world, 'there')).map(({ on, from, to }) => [
    () => {
      put(world[on], to, world[on].get(from));
      put(world.inodes[on], to, world.inodes[on].get(from));
      world[on].delete(from);
      world.inodes[on].delete(from);
    },
    ...recordBoth(world, [from, to]),
  ] as Step);
}

function steps(world: World, actions: TwoWayAction[]): Step[] {
  const { here, there, records } = world;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, world.rounds++));
  const out: Step[] = [];
  const copyTo = (side: Side, path: string): void => {
    const content = world[OTHER[side]].get(path);
    if (content !== undefined) world.sent++;
    put(world[side], path, content);
    put(world.inodes[side], path, content === undefined ? undefined : ++lastInode);
  };
  const moved = (path: string, to: Side): Step => [() => copyTo(to, path), ...recordBoth(world, [path])] as Step;
  for (const { path, kind } of actions) {
    if (kind === 'keepBoth') {
      const taken = (name: string): boolean => [here, there, records.here, records.there].some((tree) => tree.has(name));
      const copy = conflictName(path, 'there', at, taken);
      out.push([
        () => {
          put(here, copy, there.get(path));
          put(world.inodes.here, copy, ++lastInode);
        },
        () => undefined,
        () => undefined,
      ]);
      out.push(moved(path, 'there'), moved(copy, 'there'));
    } else if (kind === 'push' || kind === 'deleteRemote') out.push(moved(path, 'there'));
    else if (kind === 'pull' || kind === 'deleteLocal') out.push(moved(path, 'here'));
    else out.push([() => undefined, ...recordBoth(world, [path])] as Step);
  }
  // The records of versions both sides hold, brought up to them (absent on both: forgotten).
  const same = (): string[] => [...new Set([...here.keys(), ...there.keys(), ...records.here.keys(), ...records.there.keys()])].filter((path) => here.get(path) === there.get(path));
  out.push([() => undefined, () => same().forEach((path) => record(world, 'here', path)), () => same().forEach((path) => record(world, 'there', path))]);
  return out;
}

/** Versions a side changed since its own record: each must survive. */
function unsynced(world: World): string[] {
  return (['here', 'there'] as const).flatMap((side) => [...world[side]].filter(([path, content]) => world.records[side].get(path) !== content).map(([, content]) => content));
}

/** One sync, cut after `cut` parts of its steps when given. */
function sync(world: World, cut?: number): void {
  const mustSurvive = unsynced(world);
  const vouched = [...world.records.here.keys()].filter((path) => world.records.here.get(path) === world.records.there.get(path));
  const before = { here: new Map(world.here), there: new Map(world.there) };
  const renames = renameSteps(world).flat();
  renames.slice(0, cut ?? renames.length).forEach((part) => part());
  if (cut === undefined || cut > renames.length) {
    const parts = steps(world, planOf(world)).flat();
    parts.slice(0, cut === undefined ? parts.length : cut - renames.length).forEach((part) => part());
  }
  const kept = new Set([...world.here.values(), ...world.there.values()]);
  for (const content of mustSurvive) expect(kept).toContain(content);
  // A file goes from a side's name only where both records agreed on its path.
  for (const side of ['here', 'there'] as const) {
    for (const path of before[side].keys()) if (!world[side].has(path)) expect(vouched).toContain(path);
  }
  if (cut !== undefined) return;
  // A full sync: both sides hold every unsynced version, are equal, and both records agree with them.
  for (const content of mustSurvive) expect([...world.here.values()]).toContain(content);
  expect(world.there).toEqual(world.here);
  expect(world.records.here).toEqual(world.here);
  expect(world.records.there).toEqual(world.here);
  expect(planOf(world)).toEqual([]);
  expect(renameSteps(world)).toEqual([]);
}

type Op =
  | { kind: 'edit' | 'delete' | 'lose'; side: Side; path: string }
  | { kind: 'rename'; side: Side; path: string; to: string }
  | { kind: 'sync'; cut?: number };

const sides = fc.constantFrom('here' as const, 'there' as const);
/** Rename targets: the paths, and names only a rename makes. */
const TARGETS = [...PATHS, 'e', 'd/f', 'g/h'];
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('edit' as const), side: sides, path: fc.constantFrom(...PATHS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), side: sides, path: fc.constantFrom(...PATHS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), side: sides, path: fc.constantFrom(...TARGETS), to: fc.constantFrom(...TARGETS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), side: sides, path: fc.constant('') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), cut: fc.option(fc.nat(20), { nil: undefined }) }, { requiredKeys: ['kind'] }) },
);

const emptyWorld = (): World => ({
  here: new Map(),
  there: new Map(),
  records: { here: new Map(), there: new Map() },
  inodes: { here: new Map(), there: new Map() },
  recordedInodes: { here: new Map(), there: new Map() },
  rounds: 0,
  sent: 0,
});

/** An edit in place: the content (and mtime) changes, the inode stays (a new file gets one). */
function edit(world: World, side: Side, path: string, content: string): void {
  world[side].set(path, content);
  if (!world.inodes[side].has(path)) world.inodes[side].set(path, ++lastInode);
}

/** A rename on one side: the file and its inode under the new name, when the old is there and the new is free. */
function rename(world: World, side: Side, from: string, to: string): void {
  const content = world[side].get(from);
  if (content === undefined || world[side].has(to)) return;
  world[side].delete(from);
  world[side].set(to, content);
  put(world.inodes[side], to, world.inodes[side].get(from));
  world.inodes[side].delete(from);
}

test('edits, renames and deletions on both sides, offline stretches, cut syncs and lost records: nothing unsynced is lost, and a full sync converges', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const world = emptyWorld();
      let edits = 0;
      for (const o of ops) {
        if (o.kind === 'sync') sync(world, o.cut);
        else if (o.kind === 'edit') edit(world, o.side, o.path, `${o.side}:${o.path}:${edits++}`);
        else if (o.kind === 'rename') rename(world, o.side, o.path, o.to);
        else if (o.kind === 'delete') {
          world[o.side].delete(o.path);
          world.inodes[o.side].delete(o.path);
        } else {
          world.records[o.side].clear();
          world.recordedInodes[o.side].clear();
        }
      }
      sync(world);
    }),
    { numRuns: 500 },
  );
});

test('a file renamed on one side is renamed on the other: no content moves, the file there keeps its inode', () => {
  const world = emptyWorld();
  edit(world, 'here', 'a', 'v1');
  sync(world);
  const inodeHere = world.inodes.here.get('a');
  rename(world, 'there', 'a', 'g/h');
  const sent = world.sent;
  sync(world);
  expect([...world.here]).toEqual([['g/h', 'v1']]);
  expect(world.sent).toBe(sent);
  expect(world.inodes.here.get('g/h')).toBe(inodeHere);
});

test('renamed on one side, edited on the other: both versions survive, the edit under the old name', () => {
  const world = emptyWorld();
  edit(world, 'here', 'a', 'v1');
  sync(world);
  rename(world, 'here', 'a', 'e');
  edit(world, 'there', 'a', 'edited there');
  sync(world);
  expect([...world.here].sort()).toEqual([['a', 'edited there'], ['e', 'v1']]);
});

test('a deletion both records vouch for reaches the other side', () => {
  const world = emptyWorld();
  world.here.set('a', 'v1');
  sync(world);
  world.there.delete('a');
  sync(world);
  expect(world.here.has('a')).toBe(false);
});

test('a lost record here deletes nothing: a file deleted there comes back, one deleted here is sent again', () => {
  const world = emptyWorld();
  for (const path of PATHS) world.here.set(path, `${path}:v1`);
  sync(world);
  world.records.here.clear();
  world.there.delete('a');
  world.here.delete('b');
  expect(planOf(world).map(({ path, kind }) => [path, kind])).toEqual([['a', 'push'], ['b', 'pull'], ['d/c', 'settle']]);
  sync(world);
  expect([...world.here.keys()].sort()).toEqual([...PATHS].sort());
});

test('both sides edited: the version here keeps the name, the one there is kept on both sides under a conflict name', () => {
  const world = emptyWorld();
  world.here.set('a', 'old');
  sync(world);
  world.here.set('a', 'mine');
  world.there.set('a', 'theirs');
  expect(planOf(world)).toEqual([{ path: 'a', kind: 'keepBoth', conflict: 'bothEdited' }]);
  sync(world);
  expect([...world.here]).toEqual([['a', 'mine'], ['a.conflict-there-20260101T000001Z', 'theirs']]);
});

test('edited on one side, deleted on the other: the edit is kept on both, reported as a conflict', () => {
  const world = emptyWorld();
  world.here.set('a', 'old');
  sync(world);
  world.here.delete('a');
  world.there.set('a', 'edited');
  expect(planOf(world)).toEqual([{ path: 'a', kind: 'pull', conflict: 'editOverDelete' }]);
});

test('a conflict name already taken gets a number', () => {
  const at = new Date(Date.UTC(2026, 11, 4, 23, 18, 0, 500));
  expect(conflictName('d/x.txt', 'box one', at, () => false)).toBe('d/x.txt.conflict-box_one-20261204T231800Z');
  const taken = new Set(['x.conflict-h-20261204T231800Z', 'x.conflict-h-20261204T231800Z-2']);
  expect(conflictName('x', 'h', at, (name) => taken.has(name))).toBe('x.conflict-h-20261204T231800Z-3');
});
