/**
 * fcp --watch --two-way's decisions (versionsOf with each side's own record, reconcileTwoWay),
 * checked against a model: fast-check sequences of edits and deletions on both sides, with syncs
 * in between (a stretch without one is an offline period), syncs cut short (the link lost after
 * any move, or between the two records of a move), and a side's record lost (removed, or a new
 * one). The model carries the plan out as a round does (twoWayRound.ts): each move, then its
 * record here, then there; then the records of versions both sides hold brought up to them.
 * Invariants: no version a side changed since its own record is ever lost (it is on both sides
 * after a full sync, under its name or a conflict name, and somewhere after a cut one); a
 * deletion on one side of a path both records vouch for reaches the other; after a full sync both
 * sides are equal, both records hold them, and a second sync has nothing to do; a lost record
 * never makes anything be deleted.
 */
import fc from 'fast-check';
import type { Recorded } from '../../../src/state/twoWayDb';
import { reconcileTwoWay, TwoWayAction } from '../../../src/track/reconcile';
import { conflictName } from '../../../src/watch/conflictName';
import type { SideListing } from '../../../src/watch/sideListing';
import { versionsOf } from '../../../src/watch/twoWayRound';

type Tree = Map<string, string>;
type Side = 'here' | 'there';
interface World { here: Tree; there: Tree; records: Record<Side, Tree>; rounds: number }

const PATHS = ['a', 'b', 'd/c'];
const put = (tree: Tree, path: string, content: string | undefined): void => void (content === undefined ? tree.delete(path) : tree.set(path, content));
const row = (path: string, hash: string): Recorded => ({ path, hash, mode: 0o644, size: 0, mtimeUs: 0 });

/** A side as a listing shows it: its files with their contents as digests, its record. */
function listing(files: Tree, record: Tree): SideListing {
  return {
    files: new Map([...files].map(([path, content]) => [path, { size: 0, mtimeUs: 0, mode: 0o644, hash: content }])),
    records: new Map([...record].map(([path, content]) => [path, row(path, content)])),
    complete: true,
  };
}

const planOf = (world: World): TwoWayAction[] => reconcileTwoWay(versionsOf(listing(world.here, world.records.here), listing(world.there, world.records.there)));

/** A move, then its record on each side, as three parts a cut can fall between. */
type Step = [move: () => void, recordHere: () => void, recordThere: () => void];

function steps(world: World, actions: TwoWayAction[]): Step[] {
  const { here, there, records } = world;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, world.rounds++));
  const out: Step[] = [];
  const record = (path: string, from: Tree): Step => [() => undefined, () => put(records.here, path, from.get(path)), () => put(records.there, path, from.get(path))];
  const moved = (path: string, from: Tree, to: Tree): Step => [() => put(to, path, from.get(path)), ...record(path, from).slice(1)] as Step;
  for (const { path, kind } of actions) {
    if (kind === 'keepBoth') {
      const taken = (name: string): boolean => [here, there, records.here, records.there].some((tree) => tree.has(name));
      const copy = conflictName(path, 'there', at, taken);
      out.push([() => put(here, copy, there.get(path)), () => undefined, () => undefined]);
      out.push(moved(path, here, there), moved(copy, here, there));
    } else if (kind === 'push' || kind === 'deleteRemote') out.push(moved(path, here, there));
    else if (kind === 'pull' || kind === 'deleteLocal') out.push(moved(path, there, here));
    else out.push(record(path, here));
  }
  // The records of versions both sides hold, brought up to them (absent on both: forgotten).
  out.push([
    () => undefined,
    () => PATHS.forEach((path) => here.get(path) === there.get(path) && put(records.here, path, here.get(path))),
    () => PATHS.forEach((path) => here.get(path) === there.get(path) && put(records.there, path, there.get(path))),
  ]);
  return out;
}

/** Versions a side changed since its own record: each must survive. */
function unsynced(world: World): string[] {
  return (['here', 'there'] as const).flatMap((side) => [...world[side]].filter(([path, content]) => world.records[side].get(path) !== content).map(([, content]) => content));
}

/** One sync, cut after `cut.parts` parts of its steps when given. */
function sync(world: World, cut?: number): void {
  const plan = planOf(world);
  const mustSurvive = unsynced(world);
  const vouched = PATHS.filter((path) => world.records.here.has(path) && world.records.here.get(path) === world.records.there.get(path));
  const before = { here: new Map(world.here), there: new Map(world.there) };
  const parts = steps(world, plan).flat();
  parts.slice(0, cut ?? parts.length).forEach((part) => part());
  const kept = new Set([...world.here.values(), ...world.there.values()]);
  for (const content of mustSurvive) expect(kept).toContain(content);
  // A file goes from a side only where both records agreed on its path.
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
}

type Op =
  | { kind: 'edit' | 'delete' | 'lose'; side: Side; path: string }
  | { kind: 'sync'; cut?: number };

const sides = fc.constantFrom('here' as const, 'there' as const);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('edit' as const), side: sides, path: fc.constantFrom(...PATHS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), side: sides, path: fc.constantFrom(...PATHS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lose' as const), side: sides, path: fc.constant('') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), cut: fc.option(fc.nat(20), { nil: undefined }) }, { requiredKeys: ['kind'] }) },
);

const emptyWorld = (): World => ({ here: new Map(), there: new Map(), records: { here: new Map(), there: new Map() }, rounds: 0 });

test('edits and deletions on both sides, offline stretches, cut syncs and lost records: nothing unsynced is lost, and a full sync converges', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const world = emptyWorld();
      let edits = 0;
      for (const o of ops) {
        if (o.kind === 'sync') sync(world, o.cut);
        else if (o.kind === 'edit') world[o.side].set(o.path, `${o.side}:${o.path}:${edits++}`);
        else if (o.kind === 'delete') world[o.side].delete(o.path);
        else world.records[o.side].clear();
      }
      sync(world);
    }),
    { numRuns: 500 },
  );
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
