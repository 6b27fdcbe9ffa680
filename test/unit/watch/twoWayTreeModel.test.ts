/**
 * fcp --watch --two-way with directories and symlinks, checked on real trees: fast-check sequences
 * of operations on both sides of a local pair (files written, directories made, symlinks made and
 * retargeted, entries deleted whole and renamed, directories included), with stretches without a
 * round in between (offline periods), each round the real one (runRound, two LocalSides, files
 * moved by copy()). Invariants: after a round both trees are the same (kind, content, link target);
 * no file content or link target a side held unsynced before the round is lost; a second round has
 * nothing to do. The named cases below check what a directory rename, a directory deleted against
 * an edit inside, and a symlink conflict come to.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SWEEP_SLICES } from '../../../src/watch/constants';
import { LocalSide, WatchEvents } from '../../../src/watch/localSide';
import { sideFilter } from '../../../src/watch/sideListing';
import { Moves } from '../../../src/watch/twoWayMoves';
import { RoundCounts, RoundListing, runRound } from '../../../src/watch/twoWayRound';
import { Tree, treeOf } from '../../integration/helpers/kindTree';

jest.setTimeout(240_000);

type Side = 'a' | 'b';

interface Pair {
  roots: Record<Side, string>;
  /** A round listed whole (the default), narrowed to the paths the sides' events named (heard), or swept (those and what differs from each side's record). */
  round(how?: RoundListing): Promise<RoundCounts>;
  /** A side's watcher names this path (relative). */
  heard(side: Side, path: string): void;
  close(): Promise<void>;
}

let rounds = 0;
async function openPair(): Promise<Pair> {
  const hearing: Partial<Record<Side, (path: Buffer) => void>> = {};
  /** A watcher the test speaks for: it hears exactly what heard() says. */
  const eventsOf = (side: Side): WatchEvents => async (_root, changed) => {
    hearing[side] = changed;
    return { stop: async () => undefined };
  };
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-2way-tree-'));
  const roots = { a: path.join(base, 'a'), b: path.join(base, 'b') };
  fs.mkdirSync(roots.a);
  fs.mkdirSync(roots.b);
  const filter = sideFilter(undefined);
  const here = await LocalSide.open(Buffer.from(roots.a), path.join(base, 'a.db'), filter, () => undefined, () => undefined, eventsOf('a'));
  const there = await LocalSide.open(Buffer.from(roots.b), path.join(base, 'b.db'), filter, () => undefined, () => undefined, eventsOf('b'));
  const moves = new Moves(Buffer.from(roots.a), Buffer.from(roots.b), Buffer.from(roots.b), { sources: [Buffer.from(roots.a)], destination: Buffer.from(roots.b), itemizeChanges: true }, undefined);
  return {
    roots,
    round: (how) => runRound({ here, there, moves }, new Date(Date.UTC(2026, 0, 1, 0, 0, rounds++ % 60)), how),
    heard: (side, p) => hearing[side]!(Buffer.from(p, 'latin1')),
    async close() {
      await here.close();
      await there.close();
      fs.rmSync(base, { recursive: true, force: true });
    },
  };
}

type Op =
  | { kind: 'write'; side: Side; path: string }
  | { kind: 'mkdir'; side: Side; path: string }
  | { kind: 'link'; side: Side; path: string; target: string }
  | { kind: 'delete'; side: Side; path: string }
  | { kind: 'rename'; side: Side; path: string; to: string }
  | { kind: 'round' };

const sides = fc.constantFrom('a' as const, 'b' as const);
const FILES = ['x', 'd/y', 'd/e/z'];
const DIRS = ['d', 'd/e', 'g'];
const ANY = [...FILES, ...DIRS, 'l', 'd/l'];
const TARGETS = [...ANY, 'h', 'g/d', 'd/e2'];
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('write' as const), side: sides, path: fc.constantFrom(...FILES) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('mkdir' as const), side: sides, path: fc.constantFrom(...DIRS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('link' as const), side: sides, path: fc.constantFrom('l', 'd/l', 'x'), target: fc.constantFrom('x', '../x', '/etc', 'nowhere') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delete' as const), side: sides, path: fc.constantFrom(...ANY) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rename' as const), side: sides, path: fc.constantFrom(...ANY), to: fc.constantFrom(...TARGETS) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('round' as const) }) },
);

let written = 0;
/** The path and every directory on the way to it. */
const withParents = (p: string): string[] => p.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));

/** Whether an entry is at `file` (not when a directory on the way is a file: ENOTDIR). */
function entryAt(file: string): boolean {
  try {
    return fs.lstatSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Carries an operation out on a side's tree, and (unless `missed`) has the side's watcher hear
 * what a file-system watcher names: the path (and a rename's new name) and directories made on the
 * way, nothing else.
 */
function applyHeard(pair: Pair, o: Exclude<Op, { kind: 'round' }>, missed = false, late?: (() => void)[]): void {
  const named = [o.path, ...(o.kind === 'rename' ? [o.to] : [])].flatMap(withParents);
  const absent = named.filter((p) => !entryAt(path.join(pair.roots[o.side], p)));
  apply(pair, o);
  if (missed) return;
  for (const p of new Set([o.path, ...(o.kind === 'rename' ? [o.to] : []), ...absent])) {
    // A rename's old name heard after the next round (its event came in the watcher's next batch).
    if (late && o.kind === 'rename' && p === o.path) late.push(() => pair.heard(o.side, p));
    else pair.heard(o.side, p);
  }
}

/** Carries an operation out on a side's tree; one the tree does not allow (a parent that is a file, a name taken) is skipped. */
function apply(pair: Pair, o: Exclude<Op, { kind: 'round' }>): void {
  const file = path.join(pair.roots[o.side], o.path);
  try {
    if (o.kind === 'delete') return fs.rmSync(file, { recursive: true, force: true });
    if (o.kind === 'rename') {
      const to = path.join(pair.roots[o.side], o.to);
      if (!fs.lstatSync(file, { throwIfNoEntry: false }) || fs.lstatSync(to, { throwIfNoEntry: false }) || `${o.to}/`.startsWith(`${o.path}/`)) return;
      fs.mkdirSync(path.dirname(to), { recursive: true });
      return fs.renameSync(file, to);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (o.kind === 'mkdir') return void fs.mkdirSync(file, { recursive: true });
    const held = fs.lstatSync(file, { throwIfNoEntry: false });
    if (o.kind === 'link') {
      if (held?.isDirectory()) return;
      fs.rmSync(file, { force: true });
      return fs.symlinkSync(`${o.target}.${written++}`, file);
    }
    if (held && !held.isFile()) return;
    fs.writeFileSync(file, `${o.side}:${o.path}:${written++}`);
  } catch {
    // Not allowed by the tree as it is (a file where a directory is wanted, ...): skipped.
  }
}

/** A tree's file contents and link targets (each written once: a value found anywhere is that version kept). */
const valuesOf = (tree: Tree): string[] => Object.values(tree).filter((value) => value !== 'dir');

async function fullRound(pair: Pair, synced: Tree, how: RoundListing = 'whole'): Promise<Tree> {
  const before = { a: treeOf(pair.roots.a), b: treeOf(pair.roots.b) };
  const unsynced = (['a', 'b'] as const).flatMap((side) => Object.entries(before[side]).filter(([p, value]) => synced[p] !== value).map(([, value]) => value));
  await pair.round(how);
  const after = { a: treeOf(pair.roots.a), b: treeOf(pair.roots.b) };
  expect(after.b).toEqual(after.a);
  const kept = new Set(valuesOf(after.a));
  for (const value of unsynced) if (value !== 'dir') expect(kept).toContain(value);
  const again = await pair.round();
  expect(again).toMatchObject({ pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: 0, renamedThere: 0, conflicts: [] });
  return after.a;
}

test('files, directories and symlinks changed on both sides, with offline stretches: a round makes both trees the same and loses no unsynced version', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 14 }), async (ops) => {
      const pair = await openPair();
      try {
        let synced: Tree = {};
        for (const o of ops) {
          if (o.kind === 'round') synced = await fullRound(pair, synced);
          else apply(pair, o);
        }
        await fullRound(pair, synced);
      } finally {
        await pair.close();
      }
    }),
    { numRuns: 80 },
  );
});

test('narrowed rounds (only the paths the events named listed) do what whole rounds do, when no event is missed, even when a rename\'s old name is heard a round late', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 14 }), fc.boolean(), async (ops, oldNamesLate) => {
      const pair = await openPair();
      try {
        // The first round is whole: nothing was heard before the watchers ran.
        let synced = await fullRound(pair, {});
        let late: (() => void)[] = [];
        for (const [i, o] of ops.entries()) {
          if (o.kind !== 'round') {
            // Events come in order: an old name is late only when the rename is the last change before the round (what follows it would be late too).
            const lastBeforeRound = i === ops.length - 1 || ops[i + 1].kind === 'round';
            applyHeard(pair, o, false, oldNamesLate && lastBeforeRound ? late : undefined);
            continue;
          }
          synced = await fullRound(pair, synced, 'narrowed');
          for (const hear of late) hear();
          late = [];
        }
        await fullRound(pair, synced, 'narrowed');
      } finally {
        await pair.close();
      }
    }),
    { numRuns: 60 },
  );
});

test('a change whose event was missed is left by narrowed rounds and caught by a cycle of swept ones, as by a whole one', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 10 }), fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }), fc.boolean(), async (ops, misses, swept) => {
      const pair = await openPair();
      try {
        const synced = await fullRound(pair, {});
        ops.forEach((o, i) => o.kind !== 'round' && applyHeard(pair, o, misses[i]));
        const held = new Set([...valuesOf(treeOf(pair.roots.a)), ...valuesOf(treeOf(pair.roots.b))]);
        await pair.round('narrowed');
        // The narrowed round loses nothing either side held, heard or not.
        const after = new Set([...valuesOf(treeOf(pair.roots.a)), ...valuesOf(treeOf(pair.roots.b))]);
        for (const value of held) expect(after).toContain(value);
        // A cycle of swept rounds (or a whole one) makes both trees the same, and a whole round then has nothing to do (fullRound's checks).
        if (swept) for (let i = 1; i < SWEEP_SLICES; i++) await pair.round('swept');
        await fullRound(pair, synced, swept ? 'swept' : 'whole');
      } finally {
        await pair.close();
      }
    }),
    { numRuns: 40 },
  );
});

describe('named cases', () => {
  let pair: Pair;
  beforeEach(async () => (pair = await openPair()));
  afterEach(() => pair.close());
  const at = (side: Side, p: string): string => path.join(pair.roots[side], p);

  test('a directory renamed on one side is one rename on the other: the same inode there, nothing sent again', async () => {
    fs.mkdirSync(at('a', 'd/e'), { recursive: true });
    fs.writeFileSync(at('a', 'd/e/f'), 'f');
    fs.mkdirSync(at('a', 'd/empty'));
    await pair.round();
    const inode = fs.statSync(at('b', 'd')).ino;
    fs.renameSync(at('a', 'd'), at('a', 'moved'));
    const done = await pair.round();
    expect(done).toMatchObject({ renamedThere: 1, pushed: 0, pulled: 0, deletedThere: 0 });
    expect(fs.statSync(at('b', 'moved')).ino).toBe(inode);
    expect(treeOf(pair.roots.b)).toEqual({ moved: 'dir', 'moved/e': 'dir', 'moved/e/f': 'file:f', 'moved/empty': 'dir' });
    expect(await pair.round()).toMatchObject({ pushed: 0, pulled: 0, renamedHere: 0, renamedThere: 0 });
  });

  test('empty directories are made and deleted both ways', async () => {
    fs.mkdirSync(at('a', 'p/q'), { recursive: true });
    fs.mkdirSync(at('b', 'r'));
    await pair.round();
    expect(treeOf(pair.roots.a)).toEqual({ p: 'dir', 'p/q': 'dir', r: 'dir' });
    expect(treeOf(pair.roots.b)).toEqual(treeOf(pair.roots.a));
    fs.rmSync(at('b', 'p'), { recursive: true });
    fs.rmdirSync(at('a', 'r'));
    await pair.round();
    expect(treeOf(pair.roots.a)).toEqual({});
    expect(treeOf(pair.roots.b)).toEqual({});
  });

  test('a directory deleted on one side while the other changed a file inside: the directory stays, holding the changed file alone', async () => {
    fs.mkdirSync(at('a', 'd'));
    fs.writeFileSync(at('a', 'd/kept'), 'v1');
    fs.writeFileSync(at('a', 'd/gone'), 'v1');
    await pair.round();
    fs.rmSync(at('a', 'd'), { recursive: true });
    fs.writeFileSync(at('b', 'd/kept'), 'v2 edited there');
    const done = await pair.round();
    expect(treeOf(pair.roots.a)).toEqual({ d: 'dir', 'd/kept': 'file:v2 edited there' });
    expect(treeOf(pair.roots.b)).toEqual(treeOf(pair.roots.a));
    expect(done.conflicts.map((c) => [c.path, c.conflict])).toEqual(expect.arrayContaining([['d', 'editOverDelete'], ['d/kept', 'editOverDelete']]));
  });

  test('symlinks go as links (the target as text, never followed): made, retargeted and deleted both ways', async () => {
    fs.symlinkSync('/etc/passwd', at('a', 'abs'));
    fs.symlinkSync('../outside', at('b', 'rel'));
    await pair.round();
    expect(fs.readlinkSync(at('b', 'abs'))).toBe('/etc/passwd');
    expect(fs.readlinkSync(at('a', 'rel'))).toBe('../outside');
    fs.unlinkSync(at('b', 'abs'));
    fs.symlinkSync('elsewhere', at('b', 'abs'));
    fs.unlinkSync(at('a', 'rel'));
    await pair.round();
    expect(treeOf(pair.roots.a)).toEqual({ abs: 'link:elsewhere' });
    expect(treeOf(pair.roots.b)).toEqual({ abs: 'link:elsewhere' });
  });

  test('a symlink changed on both sides, and a file against a symlink: both versions kept, one under its conflict name', async () => {
    fs.symlinkSync('t0', at('a', 'l'));
    fs.writeFileSync(at('a', 'f'), 'f0');
    await pair.round();
    for (const side of ['a', 'b'] as const) fs.unlinkSync(at(side, 'l'));
    fs.symlinkSync('mine', at('a', 'l'));
    fs.symlinkSync('theirs', at('b', 'l'));
    fs.writeFileSync(at('a', 'f'), 'f edited here');
    fs.rmSync(at('b', 'f'));
    fs.symlinkSync('link there', at('b', 'f'));
    const done = await pair.round();
    const tree = treeOf(pair.roots.a);
    expect(treeOf(pair.roots.b)).toEqual(tree);
    expect(tree.l).toBe('link:mine');
    expect(tree.f).toBe('file:f edited here');
    expect(Object.values(tree).sort()).toEqual(['file:f edited here', 'link:link there', 'link:mine', 'link:theirs']);
    expect(done.conflicts.map((c) => c.conflict)).toEqual(['bothEdited', 'bothEdited']);
  });

  test('a directory against a file of the same name: the directory keeps the name, the file its conflict name', async () => {
    fs.mkdirSync(at('a', 'n'));
    fs.writeFileSync(at('a', 'n/inside'), 'in');
    fs.writeFileSync(at('b', 'n'), 'a file');
    await pair.round();
    const tree = treeOf(pair.roots.a);
    expect(treeOf(pair.roots.b)).toEqual(tree);
    expect(tree).toMatchObject({ n: 'dir', 'n/inside': 'file:in' });
    expect(Object.values(tree)).toContain('file:a file');
  });
});

describe('narrowed rounds, named cases', () => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await openPair();
    fs.mkdirSync(path.join(pair.roots.a, 'd'));
    fs.writeFileSync(path.join(pair.roots.a, 'd/f'), 'f');
    fs.writeFileSync(path.join(pair.roots.a, 'g'), 'g');
    await pair.round();
  });
  afterEach(() => pair.close());
  const at = (side: Side, p: string): string => path.join(pair.roots[side], p);

  test('creates, edits, deletes and a directory rename heard on either side sync in a narrowed round', async () => {
    fs.writeFileSync(at('a', 'new'), 'new');
    pair.heard('a', 'new');
    fs.writeFileSync(at('b', 'g'), 'g edited there');
    pair.heard('b', 'g');
    fs.renameSync(at('b', 'd'), at('b', 'e'));
    pair.heard('b', 'd');
    pair.heard('b', 'e');
    const done = await pair.round('narrowed');
    expect(done).toMatchObject({ renamedHere: 1, conflicts: [] });
    expect(treeOf(pair.roots.a)).toEqual({ e: 'dir', 'e/f': 'file:f', g: 'file:g edited there', new: 'file:new' });
    expect(treeOf(pair.roots.b)).toEqual(treeOf(pair.roots.a));
    fs.rmSync(at('a', 'new'));
    pair.heard('a', 'new');
    await pair.round('narrowed');
    expect(treeOf(pair.roots.b)).toEqual({ e: 'dir', 'e/f': 'file:f', g: 'file:g edited there' });
  });

  test('a narrowed round leaves alone what no event named; the whole round catches it', async () => {
    fs.writeFileSync(at('a', 'g'), 'g edited, event missed');
    fs.writeFileSync(at('a', 'heard'), 'heard');
    pair.heard('a', 'heard');
    await pair.round('narrowed');
    expect(treeOf(pair.roots.b)).toEqual({ d: 'dir', 'd/f': 'file:f', g: 'file:g', heard: 'file:heard' });
    await pair.round();
    expect(treeOf(pair.roots.b)).toEqual(treeOf(pair.roots.a));
    expect(treeOf(pair.roots.b).g).toBe('file:g edited, event missed');
  });

  test('a cycle of swept rounds finds what no event named, on either side, as a whole round would', async () => {
    fs.writeFileSync(at('a', 'g'), 'g edited, event missed');
    fs.renameSync(at('b', 'd/f'), at('b', 'd/f-renamed'));
    fs.symlinkSync('target', at('b', 'l'));
    const done: RoundCounts[] = [];
    for (let i = 0; i < SWEEP_SLICES; i++) done.push(await pair.round('swept'));
    const sum = (key: 'renamedHere' | 'pushed' | 'pulled'): number => done.reduce((total, counts) => total + counts[key], 0);
    expect({ renamedHere: sum('renamedHere'), pushed: sum('pushed'), pulled: sum('pulled'), conflicts: done.flatMap((counts) => counts.conflicts) }).toEqual({ renamedHere: 1, pushed: 1, pulled: 1, conflicts: [] });
    expect(treeOf(pair.roots.a)).toEqual({ d: 'dir', 'd/f-renamed': 'file:f', g: 'file:g edited, event missed', l: 'link:target' });
    expect(treeOf(pair.roots.b)).toEqual(treeOf(pair.roots.a));
    expect(await pair.round()).toMatchObject({ pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: 0, renamedThere: 0 });
  });

  test.each(['a', 'b'] as const)('a rename on %s from a name no event of the round named (into a directory made and named just before) is made as a rename on the other side', async (side) => {
    const other: Side = side === 'a' ? 'b' : 'a';
    const inode = fs.statSync(at(other, 'g')).ino;
    fs.mkdirSync(at(side, 'archive'));
    pair.heard(side, 'archive');
    fs.renameSync(at(side, 'g'), at(side, 'archive/g'));
    const done = await pair.round('narrowed');
    expect(done).toMatchObject({ pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: side === 'b' ? 1 : 0, renamedThere: side === 'a' ? 1 : 0, conflicts: [] });
    expect(treeOf(pair.roots[other])).toEqual({ archive: 'dir', 'archive/g': 'file:g', d: 'dir', 'd/f': 'file:f' });
    expect(treeOf(pair.roots[side])).toEqual(treeOf(pair.roots[other]));
    expect(fs.statSync(at(other, 'archive/g')).ino).toBe(inode);
    // The old name's event comes a round late: nothing is left to do.
    pair.heard(side, 'g');
    expect(await pair.round('narrowed')).toMatchObject({ pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: 0, renamedThere: 0 });
  });

  test.each(['a', 'b'] as const)('a rename on %s onto a recorded name (that entry moved away first), the old name heard a round late, is made on the other side', async (side) => {
    const other: Side = side === 'a' ? 'b' : 'a';
    fs.renameSync(at(side, 'g'), at(side, 'g-moved'));
    pair.heard(side, 'g-moved');
    fs.renameSync(at(side, 'd'), at(side, 'g'));
    pair.heard(side, 'g');
    await pair.round('narrowed');
    expect(treeOf(pair.roots[other])).toEqual({ g: 'dir', 'g/f': 'file:f', 'g-moved': 'file:g' });
    expect(treeOf(pair.roots[side])).toEqual(treeOf(pair.roots[other]));
    pair.heard(side, 'd');
    expect(await pair.round('narrowed')).toMatchObject({ pushed: 0, pulled: 0, deletedHere: 0, deletedThere: 0, renamedHere: 0, renamedThere: 0 });
  });

  test('a scope path under a symlink is not followed', async () => {
    fs.mkdirSync(path.join(path.dirname(pair.roots.a), 'outside'));
    fs.writeFileSync(path.join(path.dirname(pair.roots.a), 'outside', 'secret'), 's');
    fs.symlinkSync('../outside', at('a', 'l'));
    pair.heard('a', 'l/secret');
    pair.heard('a', 'l');
    await pair.round('narrowed');
    expect(treeOf(pair.roots.b)).toMatchObject({ l: 'link:../outside' });
    expect(treeOf(pair.roots.b)).not.toHaveProperty('l/secret');
  });
});
