import { changedRanges } from '../../../src/track/chunkDiff';
import { CHUNK_HASH_BYTES } from '../../../src/state/trackDb';

const hashes = (...values: number[]): Buffer => Buffer.concat(values.map((v) => Buffer.alloc(CHUNK_HASH_BYTES, v)));
const MB = 1024 * 1024;

test('one chunk edited in place: exactly that chunk', () => {
  expect(changedRanges(hashes(1, 9, 3, 4), hashes(1, 2, 3, 4), MB, 3.5 * MB)).toEqual([{ firstChunk: 1, lastChunk: 1, start: MB, end: 2 * MB }]);
});

test('runs of neighbours are merged; separate runs stay separate', () => {
  expect(changedRanges(hashes(9, 9, 3, 9), hashes(1, 2, 3, 4), MB, 4 * MB)).toEqual([
    { firstChunk: 0, lastChunk: 1, start: 0, end: 2 * MB },
    { firstChunk: 3, lastChunk: 3, start: 3 * MB, end: 4 * MB },
  ]);
});

test('grown or shrunk: the chunks past the shorter end differ, the last one ending at the larger size', () => {
  expect(changedRanges(hashes(1, 2, 7), hashes(1, 2), MB, 2 * MB + 10)).toEqual([{ firstChunk: 2, lastChunk: 2, start: 2 * MB, end: 2 * MB + 10 }]);
  expect(changedRanges(hashes(1), hashes(1, 2, 3), MB, 3 * MB)).toEqual([{ firstChunk: 1, lastChunk: 2, start: MB, end: 3 * MB }]);
});

test('the same chunks: no range (a mode-only change)', () => {
  expect(changedRanges(hashes(1, 2), hashes(1, 2), MB, 2 * MB)).toEqual([]);
});
