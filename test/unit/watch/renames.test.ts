/** Renames by inode: a vanished entry and an appeared one of the same identity are one rename. */
import fc from 'fast-check';
import { detectRenames, MoveLedger, Stamp } from '../../../src/watch/renames';

const file = (ino: number, size = 10): Stamp => ({ kind: 'file', dev: 1, ino, size, mtimeMs: 5.25 });
const dir = (ino: number): Stamp => ({ kind: 'dir', dev: 1, ino, size: 4096, mtimeMs: 7.5 });

describe('detectRenames', () => {
  test('a file under a new name with the same inode, size and mtime is a rename', () => {
    expect(detectRenames(new Map([['a', file(3)]]), new Map([['b', file(3)]]))).toEqual([{ from: 'a', to: 'b', kind: 'file' }]);
  });

  test('the same inode with another size is not (a new file reused the inode)', () => {
    expect(detectRenames(new Map([['a', file(3, 10)]]), new Map([['b', file(3, 11)]]))).toEqual([]);
  });

  test('two vanished names of one inode (hard links) make no rename: which one moved is unknown', () => {
    expect(detectRenames(new Map([['a', file(3)], ['c', file(3)]]), new Map([['b', file(3)]]))).toEqual([]);
  });

  test('a moved directory stands for its contents; a file renamed inside it too is still listed', () => {
    const vanished = new Map([['d', dir(9)], ['d/x', file(10)], ['d/y', file(11)]]);
    const appeared = new Map([['e', dir(9)], ['e/x', file(10)], ['e/z', file(11)]]);
    expect(detectRenames(vanished, appeared)).toEqual([
      { from: 'd', to: 'e', kind: 'dir' },
      { from: 'd/y', to: 'e/z', kind: 'file' },
    ]);
  });

  test('property: every rename pairs a vanished and an appeared name of one identity, each name used once', () => {
    const entries = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), fc.integer({ min: 1, max: 4 })), { maxLength: 8 });
    fc.assert(
      fc.property(entries, entries, (gone, come) => {
        const vanished = new Map(gone.map(([path, ino]) => [`v/${path}`, file(ino)]));
        const appeared = new Map(come.map(([path, ino]) => [`n/${path}`, file(ino)]));
        const renames = detectRenames(vanished, appeared);
        const froms = renames.map((r) => r.from);
        const tos = renames.map((r) => r.to);
        expect(new Set(froms).size).toBe(froms.length);
        expect(new Set(tos).size).toBe(tos.length);
        for (const rename of renames) expect(vanished.get(rename.from)!.ino).toBe(appeared.get(rename.to)!.ino);
      }),
    );
  });
});

describe('MoveLedger: what a batch of looks found, netted as the destination sees it', () => {
  const one = (path: string, stamp: Stamp): Map<string, Stamp> => new Map([[path, stamp]]);
  const none = new Map<string, Stamp>();

  test('a rename whose two names were found by two looks is one rename', () => {
    const moves = new MoveLedger();
    moves.note(one('new/d', dir(4)), none);
    moves.note(none, one('back', dir(4)));
    expect(moves.take()).toEqual([{ from: 'new/d', to: 'back', kind: 'dir' }]);
    expect(moves.take()).toEqual([]);
  });

  test('an entry that appeared and moved on within the batch was never at the destination: no rename from it', () => {
    const moves = new MoveLedger();
    moves.note(none, one('a', file(3)));
    moves.note(one('a', file(3)), one('b', file(3)));
    expect(moves.take()).toEqual([]);
  });

  test('moved away and back to its name: nothing moved; moved on from a name it was renamed to: the first name is kept', () => {
    const back = new MoveLedger();
    back.note(one('a', file(3)), one('b', file(3)));
    back.note(one('b', file(3)), one('a', file(3)));
    expect(back.take()).toEqual([]);
    const on = new MoveLedger();
    on.note(one('a', file(3)), one('b', file(3)));
    on.note(one('b', file(3)), one('c', file(3)));
    expect(on.take()).toEqual([{ from: 'a', to: 'c', kind: 'file' }]);
  });

  test('property: the renames of looks noted one by one are those of one look at the start and the end', () => {
    // A model: names a..d hold inodes; each step moves one name's inode to another (free) name.
    const step = fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.constantFrom('a', 'b', 'c', 'd'));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 8 }), (steps) => {
        const start = new Map<string, number>([['a', 1], ['b', 2]]);
        const now = new Map(start);
        const moves = new MoveLedger();
        for (const [from, to] of steps) {
          const ino = now.get(from);
          if (ino === undefined || now.has(to)) continue;
          now.delete(from);
          now.set(to, ino);
          moves.note(one(from, file(ino)), one(to, file(ino)));
        }
        const vanished = new Map([...start].filter(([path, ino]) => now.get(path) !== ino).map(([path, ino]) => [path, file(ino)]));
        const appeared = new Map([...now].filter(([path, ino]) => start.get(path) !== ino).map(([path, ino]) => [path, file(ino)]));
        expect(moves.take()).toEqual(detectRenames(vanished, appeared));
      }),
    );
  });
});
