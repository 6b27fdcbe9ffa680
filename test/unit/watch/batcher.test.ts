/** fcp --watch's batches: debounce and max delay, and the fewest paths that cover a batch. */
import fc from 'fast-check';
import { ChangeBatcher, collapse, isBelow } from '../../../src/watch/batcher';

const name = fc.constantFrom('a', 'b', 'a.x', 'a-b', 'c d', 'é');
const relPath = fc.array(name, { minLength: 1, maxLength: 4 }).map((parts) => Buffer.from(parts.join('/')));

describe('collapse', () => {
  test('keeps exactly the paths no other path of the set contains, each once, sorted', () => {
    fc.assert(
      fc.property(fc.array(relPath, { maxLength: 30 }), (paths) => {
        const kept = collapse(paths);
        const expected = paths.filter((path) => !paths.some((other) => isBelow(path, other)));
        const unique = [...new Set(expected.map((path) => path.toString('latin1')))].sort();
        expect(kept.map((path) => path.toString('latin1'))).toEqual(unique.sort((a, b) => Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1'))));
        // Every path is covered by a kept one.
        for (const path of paths) expect(kept.some((dir) => dir.equals(path) || isBelow(path, dir))).toBe(true);
      }),
    );
  });

  test('a sibling whose name extends a directory name is not below it', () => {
    expect(collapse([Buffer.from('a'), Buffer.from('a.x/y'), Buffer.from('a/y'), Buffer.from('ab')]).map(String)).toEqual(['a', 'a.x/y', 'ab']);
  });
});

describe('ChangeBatcher', () => {
  test('is due a debounce after the last change, but never later than the max delay after the first', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 20 }), (gaps) => {
        const batcher = new ChangeBatcher(200, 2000);
        let now = 1_000;
        const first = now + gaps[0]!;
        for (const gap of gaps) {
          now += gap;
          batcher.add(Buffer.from(`f${now}`), now);
        }
        expect(batcher.dueAt()).toBe(Math.min(now + 200, first + 2000));
      }),
    );
  });

  test('a change that asks for a longer quiet holds the batch that long, within the max delay', () => {
    const batcher = new ChangeBatcher(200, 2000);
    batcher.add(Buffer.from('a'), 1_000);
    batcher.add(Buffer.from('b'), 1_100, 700);
    batcher.add(Buffer.from('c'), 1_200);
    expect(batcher.dueAt()).toBe(1_800);
    batcher.add(Buffer.from('d'), 2_900, 700);
    expect(batcher.dueAt()).toBe(3_000);
  });

  test('take() empties it: nothing is due until the next change', () => {
    const batcher = new ChangeBatcher(200, 2000);
    expect(batcher.dueAt()).toBeUndefined();
    batcher.add(Buffer.from('d/f'), 10);
    batcher.add(Buffer.from('d'), 20);
    batcher.add(Buffer.from('d/f'), 30);
    expect(batcher.size).toBe(2);
    expect(batcher.take().map(String)).toEqual(['d']);
    expect(batcher.size).toBe(0);
    expect(batcher.dueAt()).toBeUndefined();
    batcher.add(Buffer.from('e'), 5_000);
    expect(batcher.dueAt()).toBe(5_200);
  });
});
