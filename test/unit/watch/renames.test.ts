/** Renames by inode: a vanished entry and an appeared one of the same identity are one rename. */
import fc from 'fast-check';
import { detectRenames, Stamp } from '../../../src/watch/renames';

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
