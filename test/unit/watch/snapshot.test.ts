/**
 * The watch's snapshot against a real directory: a rescan pass (whole, or cut into slices) and a
 * refresh of event-named paths report exactly the paths that changed, renames by inode, and leave
 * the snapshot equal to the disk; a later pass with nothing changed reports nothing.
 */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MoveLedger, Rename } from '../../../src/watch/renames';
import { Excluded, PassKind, TreeSnapshot } from '../../../src/watch/snapshot';

let root: string;
beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-snapshot-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const none: Excluded = () => false;
const at = (rel: string): string => path.join(root, rel);

function write(rel: string, text: string): void {
  fs.mkdirSync(path.dirname(at(rel)), { recursive: true });
  fs.writeFileSync(at(rel), text);
}

function snapshot(slices = 1, excluded = none, racyMs?: number): TreeSnapshot {
  return new TreeSnapshot(Buffer.from(root), excluded, slices, racyMs);
}

/** Every slice of one pass, joined. */
function pass(held: TreeSnapshot, kind: PassKind = 'whole'): { changed: string[]; renames: Rename[] } {
  const changed: string[] = [];
  const moves = new MoveLedger();
  for (let i = 0; i < held.slices; i++) {
    const found = held.rescan(kind);
    changed.push(...found.changed.map((p) => p.toString('latin1')));
    moves.note(found.vanished, found.appeared);
  }
  return { changed: changed.sort(), renames: moves.take() };
}

/** Every path below the root on disk, relative. */
function onDisk(dir = ''): string[] {
  return fs.readdirSync(at(dir) || root, { withFileTypes: true }).flatMap((entry) => {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    return entry.isDirectory() ? [rel, ...onDisk(rel)] : [rel];
  });
}

/** The snapshot holds what lstat says of every path on disk, and nothing of `gone`. */
function expectHeldAsOnDisk(held: TreeSnapshot, gone: readonly string[]): void {
  for (const rel of onDisk()) {
    const stat = fs.lstatSync(at(rel));
    // A directory's size and times are not held up to date: they change with what it holds.
    const times = stat.isDirectory() ? {} : { size: stat.size, mtimeMs: stat.mtimeMs };
    expect({ rel, ...held.stamp(rel) }).toMatchObject({ rel, ino: stat.ino, perm: stat.mode & 0o7777, ...times });
  }
  for (const rel of gone) if (!fs.existsSync(at(rel))) expect({ rel, held: held.stamp(rel) }).toEqual({ rel, held: undefined });
}

describe('TreeSnapshot', () => {
  beforeEach(() => {
    write('a.txt', 'a');
    write('d/b.txt', 'bb');
    write('d/e/c.txt', 'ccc');
    write('m/k.txt', 'k');
  });

  test('a pass reports each changed, added and removed path, and a moved directory as one rename', () => {
    const held = snapshot();
    fs.writeFileSync(at('a.txt'), 'longer');
    fs.chmodSync(at('d/b.txt'), 0o600);
    fs.rmSync(at('d/e/c.txt'));
    write('new.txt', 'n');
    fs.renameSync(at('m'), at('moved'));
    const found = pass(held);
    expect(found.changed).toEqual(['a.txt', 'd/b.txt', 'd/e/c.txt', 'm', 'm/k.txt', 'moved', 'moved/k.txt', 'new.txt']);
    expect(found.renames).toEqual([{ from: 'm', to: 'moved', kind: 'dir' }]);
    expectHeldAsOnDisk(held, ['d/e/c.txt', 'm', 'm/k.txt']);
    expect(pass(held)).toEqual({ changed: [], renames: [] });
  });

  test('a changed mtime alone is a change; a directory whose contents changed is not one itself', () => {
    const held = snapshot();
    fs.utimesSync(at('d/e/c.txt'), 1_000, 1_000);
    write('d/e/other.txt', 'o');
    expect(pass(held).changed).toEqual(['d/e/c.txt', 'd/e/other.txt']);
  });

  test('a name that turns from a file into a directory is one change, and what the directory holds appeared', () => {
    const held = snapshot();
    fs.rmSync(at('a.txt'));
    write('a.txt/inside', 'i');
    fs.rmSync(at('d'), { recursive: true });
    fs.writeFileSync(at('d'), 'now a file');
    expect(pass(held).changed).toEqual(['a.txt', 'a.txt/inside', 'd', 'd/b.txt', 'd/e', 'd/e/c.txt']);
    expectHeldAsOnDisk(held, ['d/b.txt', 'd/e', 'd/e/c.txt']);
  });

  test('sliced: each directory is looked at in exactly one slice of a pass, and the pass finds every change', () => {
    for (let i = 0; i < 12; i++) write(`s${i}/f`, 'x');
    const held = snapshot(4);
    for (let i = 0; i < 12; i++) fs.writeFileSync(at(`s${i}/f`), `changed ${i}`);
    const slices: string[][] = [];
    for (let i = 0; i < 4; i++) slices.push(held.rescan().changed.map((p) => p.toString()));
    expect(slices.flat().sort()).toEqual(Array.from({ length: 12 }, (_, i) => `s${i}/f`).sort());
    // The work is spread: no slice holds every directory.
    expect(Math.max(...slices.map((slice) => slice.length))).toBeLessThan(12);
    expect(pass(held).changed).toEqual([]);
  });

  test('sliced: a file moved between directories of different slices is one rename over the pass', () => {
    for (let i = 0; i < 8; i++) write(`s${i}/f`, `x${i}`);
    const held = snapshot(4);
    fs.renameSync(at('s0/f'), at('s7/moved'));
    const moves = new MoveLedger();
    const slicesFinding: number[] = [];
    for (let i = 0; i < held.slices; i++) {
      const found = held.rescan();
      if (found.changed.length > 0) slicesFinding.push(i);
      moves.note(found.vanished, found.appeared);
    }
    // The old name and the new one were found by two slices, and still paired.
    expect(slicesFinding).toHaveLength(2);
    expect(moves.take()).toEqual([{ from: 's0/f', to: 's7/moved', kind: 'file' }]);
  });

  test('refresh looks at the named paths only (and below a named directory), from the closest directory it holds', () => {
    const held = snapshot();
    fs.writeFileSync(at('a.txt'), 'unnamed change');
    fs.writeFileSync(at('d/e/c.txt'), 'named below a named directory');
    write('fresh/deep/x.txt', 'x');
    const found = held.refresh([Buffer.from('d'), Buffer.from('fresh/deep/x.txt')]);
    expect(found.changed.map((p) => p.toString()).sort()).toEqual(['d/e/c.txt', 'fresh', 'fresh/deep', 'fresh/deep/x.txt']);
    // What no event named is the rescan's.
    expect(pass(held).changed).toEqual(['a.txt']);
  });

  test('the filters leave entries out of the snapshot, and out of what a pass reports', () => {
    const excluded: Excluded = (p) => p.toString().endsWith('.log') || p.toString() === 'd/e';
    const held = snapshot(1, excluded);
    write('x.log', 'l');
    fs.writeFileSync(at('d/e/c.txt'), 'under an excluded directory');
    write('y.txt', 'y');
    expect(pass(held).changed).toEqual(['y.txt']);
    expect(held.stamp('d/e')).toBeUndefined();
    expect(held.refresh([Buffer.from('d/e/c.txt')]).changed).toEqual([]);
  });

  test('names are bytes: a name that is not UTF-8 is held and reported as its bytes', () => {
    const name = Buffer.from([0x66, 0xff, 0x2e, 0x74]);
    const held = snapshot();
    fs.writeFileSync(Buffer.concat([Buffer.from(`${root}/d/`), name]), 'bytes');
    const found = pass(held);
    expect(found.changed).toEqual([`d/${name.toString('latin1')}`]);
    expect(held.stamp(`d/${name.toString('latin1')}`)).toMatchObject({ kind: 'file', size: 5 });
  });

  describe('a light pass', () => {
    /** The file system's clock ticks every few ms: past this margin a change always moves a directory's ctime. */
    const MARGIN_MS = 20;
    /** A snapshot of a tree left alone for longer than the margin: no directory is racy. */
    async function settledSnapshot(slices = 1): Promise<TreeSnapshot> {
      await new Promise((resolve) => setTimeout(resolve, 3 * MARGIN_MS));
      return snapshot(slices, none, MARGIN_MS);
    }

    test("finds entries added, removed and renamed and a directory's own mode, but not a file changed in place: the whole pass does", async () => {
      const held = await settledSnapshot(2);
      fs.writeFileSync(at('a.txt'), 'changed in place');
      fs.rmSync(at('d/e/c.txt'));
      write('d/new.txt', 'n');
      fs.renameSync(at('m/k.txt'), at('m/k2.txt'));
      fs.chmodSync(at('d/e'), 0o700);
      // The root, where a.txt is, did not change: it is not listed again.
      const found = pass(held, 'light');
      expect(found.changed).toEqual(['d/e', 'd/e/c.txt', 'd/new.txt', 'm/k.txt', 'm/k2.txt']);
      expect(found.renames).toEqual([{ from: 'm/k.txt', to: 'm/k2.txt', kind: 'file' }]);
      expect(pass(held, 'whole').changed).toEqual(['a.txt']);
      expectHeldAsOnDisk(held, ['d/e/c.txt', 'm/k.txt']);
    });

    test('lists again a directory whose ctime was too close to its listing (racy): a change in place there is found', () => {
      // The tree was written just now: every directory is racy for the default margin.
      const held = snapshot();
      fs.writeFileSync(at('d/b.txt'), 'changed in place');
      expect(pass(held, 'light').changed).toEqual(['d/b.txt']);
    });

    test('looks at a directory that appeared after the snapshot whole: what was moved in may have no events', async () => {
      const held = await settledSnapshot();
      write('late/inner/f.txt', 'f');
      expect(pass(held, 'light').changed).toEqual(['late', 'late/inner', 'late/inner/f.txt']);
      // Listed again once no longer racy: from here only its youth has it looked at.
      await new Promise((resolve) => setTimeout(resolve, 3 * MARGIN_MS));
      expect(pass(held, 'light').changed).toEqual([]);
      fs.writeFileSync(at('late/inner/f.txt'), 'changed in place');
      fs.writeFileSync(at('d/b.txt'), 'changed in place');
      expect(pass(held, 'light').changed).toEqual(['late/inner/f.txt']);
    });
  });

  test('property: after any operations, one pass leaves the snapshot as the disk, and the next pass reports nothing', () => {
    const names = ['p', 'q', 'r/s', 'r/t', 'u/v/w'];
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), name: fc.constantFrom(...names), text: fc.string({ maxLength: 8 }) }),
      fc.record({ kind: fc.constant('remove' as const), name: fc.constantFrom(...names, 'r', 'u', 'u/v') }),
      fc.record({ kind: fc.constant('move' as const), from: fc.constantFrom(...names, 'r', 'u'), to: fc.constantFrom('x', 'y', 'r/z') }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), fc.integer({ min: 1, max: 5 }), (ops, slices) => {
        fs.rmSync(root, { recursive: true, force: true });
        fs.mkdirSync(root);
        for (const name of names) write(name, name);
        const held = snapshot(slices);
        const touched = new Set<string>(names);
        for (const step of ops) {
          // A step the tree does not allow now (a file where a directory is needed) is left out.
          try {
            if (step.kind === 'write') {
              fs.rmSync(at(step.name), { recursive: true, force: true });
              write(step.name, step.text);
            } else if (step.kind === 'remove') {
              fs.rmSync(at(step.name), { recursive: true, force: true });
            } else if (fs.existsSync(at(step.from)) && !fs.existsSync(at(step.to)) && !step.to.startsWith(`${step.from}/`)) {
              fs.mkdirSync(path.dirname(at(step.to)), { recursive: true });
              fs.renameSync(at(step.from), at(step.to));
            }
          } catch {
            // ENOTDIR, EEXIST: nothing was changed by it.
          }
        }
        for (const rel of onDisk()) touched.add(rel);
        pass(held);
        expectHeldAsOnDisk(held, [...touched, 'x/s', 'y/s', 'r/z/s', 'x/v/w', 'y/v/w']);
        expect(pass(held)).toEqual({ changed: [], renames: [] });
      }),
      { numRuns: 60 },
    );
  });
});
