/**
 * SliceArena (src/transfer/sliceArena.ts): slices never overlap while in use; a recycling arena
 * fills a block again only once every slice of it came back, and a plain one never does.
 */
import { SliceArena } from '../../../src/transfer/sliceArena';

const blocksOf = (slices: Buffer[]): Set<ArrayBufferLike> => new Set(slices.map((slice) => slice.buffer));

test('slices of one block do not overlap, and a full block is followed by a new one', () => {
  const arena = new SliceArena(10);
  const slices = [arena.take(4), arena.take(4), arena.take(4)];
  slices.forEach((slice, i) => slice.fill(i + 1));
  expect(slices.map((slice) => [...slice])).toEqual([[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]]);
  expect(blocksOf(slices).size).toBe(2);
});

test('a plain arena never fills a block again, even when its slices are given back', () => {
  const arena = new SliceArena(8);
  const first = [arena.take(8)];
  arena.give(first[0]!);
  const later = [arena.take(8), arena.take(8), arena.take(8)];
  expect(blocksOf([...first, ...later]).size).toBe(4);
});

test('a recycling arena fills a block again once all its slices came back, not before', () => {
  const arena = new SliceArena(8, true);
  const a = [arena.take(4), arena.take(4)];
  const b = [arena.take(4), arena.take(4)];
  expect(a[0]!.buffer).not.toBe(b[0]!.buffer);
  arena.give(a[0]!);
  // One slice of the first block is still out: the third block is a new one.
  const c = arena.take(8);
  expect(blocksOf([...a, ...b, c]).size).toBe(3);
  arena.give(a[1]!);
  b.forEach((slice) => arena.give(slice));
  // The first and second blocks are spare now; the one being filled (c's) is not given out again.
  const d = [arena.take(8), arena.take(8)];
  expect(blocksOf(d)).toEqual(blocksOf([a[0]!, b[0]!]));
  expect(d.some((slice) => slice.buffer === c.buffer)).toBe(false);
});

test('a block all of whose slices came back while it was being filled is reused once it is full', () => {
  const arena = new SliceArena(8, true);
  const first = arena.take(8);
  arena.give(first);
  arena.take(8);
  // The first block went spare when the second was started; it comes back after the second.
  expect(arena.take(8).buffer).toBe(first.buffer);
});
