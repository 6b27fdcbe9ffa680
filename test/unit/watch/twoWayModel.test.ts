/**
 * fcp --watch --two-way's decisions (reconcileTwoWay), checked against a model: fast-check
 * sequences of edits and deletions on both sides, with syncs in between (a stretch without one is
 * an offline period) and syncs cut short (the link lost after any step, a move made but not yet
 * recorded). The model carries the plan out as the watch does, step by step. Invariants: no
 * version a side changed since the last sync is ever lost (it is on both sides after a full sync,
 * under its name or a conflict name, and somewhere after a cut one); a deletion on one side of an
 * unchanged path reaches the other; after a full sync both sides are equal and a second sync has
 * nothing to do.
 */
import fc from 'fast-check';
import { reconcileTwoWay, TwoWayAction, Version, Versions } from '../../../src/track/reconcile';
import { conflictName } from '../../../src/watch/conflictName';

type Tree = Map<string, string>;
interface World { here: Tree; there: Tree; base: Tree; rounds: number }

const PATHS = ['a', 'b', 'd/c'];
const version = (content: string | undefined): Version | null => (content === undefined ? null : { hash: content, mode: 0o644 });

function versionsOf(world: World): Versions[] {
  return [...new Set([...world.here.keys(), ...world.there.keys(), ...world.base.keys()])].map((path) => ({
    path, base: version(world.base.get(path)), local: version(world.here.get(path)), remote: version(world.there.get(path)),
  }));
}

const put = (tree: Tree, path: string, content: string | undefined): void => void (content === undefined ? tree.delete(path) : tree.set(path, content));

/** The plan as the watch carries it out: a list of steps, each a move and then its record. */
function steps(world: World, actions: TwoWayAction[]): { move(): void; record(): void }[] {
  const { here, there, base } = world;
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, world.rounds++));
  const out: { move(): void; record(): void }[] = [];
  const same = (path: string): { move(): void; record(): void } => ({ move: () => undefined, record: () => put(base, path, here.get(path)) });
  for (const { path, kind } of actions) {
    switch (kind) {
      case 'keepBoth': {
        const copy = conflictName(path, 'there', at, (name) => here.has(name) || there.has(name) || base.has(name));
        out.push({ move: () => put(here, copy, there.get(path)), record: () => undefined });
        out.push({ move: () => put(there, path, here.get(path)), record: () => put(base, path, here.get(path)) });
        out.push({ move: () => put(there, copy, here.get(copy)), record: () => put(base, copy, here.get(copy)) });
        break;
      }
      case 'push':
      case 'deleteRemote':
        out.push({ move: () => put(there, path, here.get(path)), record: same(path).record });
        break;
      case 'pull':
      case 'deleteLocal':
        out.push({ move: () => put(here, path, there.get(path)), record: () => put(base, path, there.get(path)) });
        break;
      case 'settle':
        out.push(same(path));
        break;
    }
  }
  return out;
}

/** Versions a side changed since the last sync: each must survive it. */
function unsynced(world: World): string[] {
  return [world.here, world.there].flatMap((tree) => [...tree].filter(([path, content]) => world.base.get(path) !== content).map(([, content]) => content));
}

/** One sync, cut after `cut` steps (the next one's move made, not recorded) when given. */
function sync(world: World, cut?: number): void {
  const before = versionsOf(world);
  const mustSurvive = unsynced(world);
  const plan = steps(world, reconcileTwoWay(before));
  const done = cut === undefined ? plan.length : Math.min(cut, plan.length);
  plan.slice(0, done).forEach((step) => (step.move(), step.record()));
  if (cut !== undefined) plan[done]?.move();
  const kept = new Set([...world.here.values(), ...world.there.values()]);
  for (const content of mustSurvive) expect(kept).toContain(content);
  if (cut !== undefined) return;
  // A full sync: both sides hold every unsynced version, are equal, and agree with the record.
  for (const content of mustSurvive) expect([...world.here.values()]).toContain(content);
  expect(world.there).toEqual(world.here);
  expect(world.base).toEqual(world.here);
  for (const v of before) {
    // A deletion on one side of a path the other did not change reaches the other.
    const deletedHere = v.base && !v.local && v.remote?.hash === v.base.hash;
    const deletedThere = v.base && !v.remote && v.local?.hash === v.base.hash;
    if (deletedHere || deletedThere) expect(world.here.has(v.path)).toBe(false);
  }
  expect(reconcileTwoWay(versionsOf(world))).toEqual([]);
}

type Op =
  | { kind: 'edit'; side: 'here' | 'there'; path: string }
  | { kind: 'delete'; side: 'here' | 'there'; path: string }
  | { kind: 'sync'; cut?: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('edit' as const), side: fc.constantFrom('here' as const, 'there' as const), path: fc.constantFrom(...PATHS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), side: fc.constantFrom('here' as const, 'there' as const), path: fc.constantFrom(...PATHS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), cut: fc.option(fc.nat(6), { nil: undefined }) }, { requiredKeys: ['kind'] }) },
);

test('edits and deletions on both sides, offline stretches and cut syncs: nothing unsynced is lost, and a full sync converges', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const world: World = { here: new Map(), there: new Map(), base: new Map(), rounds: 0 };
      let edits = 0;
      for (const o of ops) {
        if (o.kind === 'sync') sync(world, o.cut);
        else if (o.kind === 'edit') world[o.side].set(o.path, `${o.side}:${o.path}:${edits++}`);
        else world[o.side].delete(o.path);
      }
      sync(world);
    }),
    { numRuns: 500 },
  );
});

test('both sides edited: the version here keeps the name, the one there is kept on both sides under a conflict name', () => {
  const world: World = { here: new Map([['a', 'old']]), there: new Map([['a', 'old']]), base: new Map([['a', 'old']]), rounds: 0 };
  world.here.set('a', 'mine');
  world.there.set('a', 'theirs');
  expect(reconcileTwoWay(versionsOf(world))).toEqual([{ path: 'a', kind: 'keepBoth', conflict: 'bothEdited' }]);
  sync(world);
  expect([...world.here]).toEqual([['a', 'mine'], ['a.conflict-there-20260101T000000Z', 'theirs']]);
});

test('edited on one side, deleted on the other: the edit is kept on both, reported as a conflict', () => {
  const world: World = { here: new Map(), there: new Map([['a', 'edited']]), base: new Map([['a', 'old']]), rounds: 0 };
  expect(reconcileTwoWay(versionsOf(world))).toEqual([{ path: 'a', kind: 'pull', conflict: 'editOverDelete' }]);
});

test('a conflict name already taken gets a number', () => {
  const at = new Date(Date.UTC(2026, 11, 4, 23, 18, 0, 500));
  expect(conflictName('d/x.txt', 'box one', at, () => false)).toBe('d/x.txt.conflict-box_one-20261204T231800Z');
  const taken = new Set(['x.conflict-h-20261204T231800Z', 'x.conflict-h-20261204T231800Z-2']);
  expect(conflictName('x', 'h', at, (name) => taken.has(name))).toBe('x.conflict-h-20261204T231800Z-3');
});
