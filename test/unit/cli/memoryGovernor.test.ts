import { collectionDue, RSS_GROWTH, RSS_THRESHOLD } from '../../../src/cli/memoryGovernor';

const MB = 1024 * 1024;

describe('memory governor: when a collection is due', () => {
  it('collects only above the threshold', () => {
    expect(collectionDue(RSS_THRESHOLD - MB, 0)).toBe(false);
    expect(collectionDue(RSS_THRESHOLD, 0)).toBe(false);
    expect(collectionDue(RSS_THRESHOLD + MB, 0)).toBe(true);
  });

  it('after a collection that left RSS near the threshold, waits for RSS_GROWTH more before the next', () => {
    const left = RSS_THRESHOLD - 4 * MB;
    expect(collectionDue(RSS_THRESHOLD + MB, left)).toBe(false);
    expect(collectionDue(left + RSS_GROWTH + MB, left)).toBe(true);
  });

  it('a process whose live data is above the threshold collects as it grows, not at every check', () => {
    const left = RSS_THRESHOLD + 100 * MB;
    expect(collectionDue(left + MB, left)).toBe(false);
    expect(collectionDue(left + RSS_GROWTH - MB, left)).toBe(false);
    expect(collectionDue(left + RSS_GROWTH + MB, left)).toBe(true);
  });
});
