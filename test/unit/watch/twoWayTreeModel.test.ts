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
import { LocalSide } from '../../../src/watch/localSide';
import { sideFilter } from '../../../src/watch/sideListing';
import { Moves } from '../../../src/watch/twoWayMoves';
import { RoundCounts, runRound } from '../../../src/watch/twoWayRound';
import { Tree, treeOf } from '../../integration/helpers/kindTree';

jest.setTimeout(240_000);

type Side = 'a' | 'b';

interface Pair {
  roots: Record<Side, string>;
  round(): Promise<RoundCounts>;
  close(): Promise<void>;
}

let rounds = 0;
async function openPair(): Promise<Pair> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-2way-tree-'));
  const roots = { a: path.join(base, 'a'), b: path.join(base, 'b') };
  fs.mkdirSync(roots.a);
  fs.mkdirSync(roots.b);
  const filter = sideFilter(undefined);
  const here = await LocalSide.open(Buffer.from(roots.a), path.join(base, 'a.db'), filter, () => undefined);
  const there = await LocalSide.open(Buffer.from(roots.b), path.join(base, 'b.db'), filter, () => undefined);
  const moves = new Moves(Buffer.from(roots.a), Buffer.from(roots.b), Buffer.from(roots.b), { sources: [Buffer.from(roots.a)], destination: Buffer.from(roots.b), itemizeChanges: true }, undefined);
  return {
    roots,
    round: () => runRound({ here, there, moves }, new Date(Date.UTC(2026, 0, 1, 0, 0, rounds++ % 60))),
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

async function fullRound(pair: Pair, synced: Tree): Promise<Tree> {
  const before = { a: treeOf(pair.roots.a), b: treeOf(pair.roots.b) };
  const unsynced = (['a', 'b'] as const).flatMap((side) => Object.entries(before[side]).filter(([p, value]) => synced[p] !== value).map(([, value]) => value));
  await pair.round();
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
