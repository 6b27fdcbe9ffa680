/** A sweep's slices of paths: ranges in byte order that cover every path once, and the walk's pruning test. */
import fc from 'fast-check';
import { cutIndexes, inRange, PathRange, rangesBetween, reachesBelow } from '../../../src/watch/pathRange';

/** The ranges a sweep cycle cuts `sorted` (paths in byte order) into. */
const rangesOf = (sorted: readonly string[], slices: number): PathRange[] => rangesBetween(cutIndexes(sorted.length, slices).map((index) => sorted[index]!));

const name = fc.constantFrom('a', 'b', 'a.x', 'a-b', 'a0', 'c d', '\u00e9', 'z');
const relPath = fc.array(name, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/'));
const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

describe('rangesOf', () => {
  test('the ranges cover every path, recorded or not, exactly once; at most `slices` of them, the recorded paths shared out evenly', () => {
    fc.assert(
      fc.property(fc.uniqueArray(relPath, { maxLength: 60 }), fc.array(relPath, { maxLength: 20 }), fc.integer({ min: 1, max: 12 }), (paths, others, slices) => {
        const sorted = [...paths].sort(byBytes);
        const ranges = rangesOf(sorted, slices);
        expect(ranges.length).toBeLessThanOrEqual(slices);
        for (const path of [...sorted, ...others, '']) expect(ranges.filter((range) => inRange(path, range))).toHaveLength(1);
        if (sorted.length >= slices) {
          expect(ranges).toHaveLength(slices);
          for (const range of ranges) {
            const held = sorted.filter((path) => inRange(path, range)).length;
            expect(held).toBeGreaterThanOrEqual(Math.floor(sorted.length / slices));
            expect(held).toBeLessThanOrEqual(Math.ceil(sorted.length / slices));
          }
        }
      }),
    );
  });

  test('no paths: one range, every path', () => {
    expect(rangesOf([], 10)).toEqual([{}]);
  });
});

describe('reachesBelow', () => {
  test('a range holding a path below a directory is reached below it: the walk enters every directory on the way', () => {
    fc.assert(
      fc.property(relPath, relPath, fc.uniqueArray(relPath, { maxLength: 30 }), fc.integer({ min: 1, max: 6 }), (dir, rest, paths, slices) => {
        const below = `${dir}/${rest}`;
        for (const range of rangesOf([...paths].sort(byBytes), slices)) if (inRange(below, range)) expect(reachesBelow(dir, range)).toBe(true);
      }),
    );
  });
});
