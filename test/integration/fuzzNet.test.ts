/**
 * The bounded network fuzz run of CI: a few thousand cases (random bytes, mutated, truncated and
 * flooded frames, replays of a recorded session, before and after authentication) against a live
 * fcpd daemon, whose health is checked after every batch: alive, memory bounded, no internal
 * error logged, and a real transfer still byte-identical. Long campaigns: npm run fuzz:net.
 */
import { createHash } from 'node:crypto';
import { caseArbitrary, caseAt } from '../../scripts/fuzz/cases';
import { DEFAULT_OPTIONS, runCampaign } from '../../scripts/fuzz/campaign';
import { loadXxhash } from '../../src/protocol/xxhash';

jest.setTimeout(120_000);

const CASES = 2000;
const SEED = 20_261_204;

test(`fcpd comes through ${CASES} fuzz cases (seed ${SEED}) alive, bounded and still copying exactly`, async () => {
  const lines: string[] = [];
  const result = await runCampaign({ ...DEFAULT_OPTIONS, seed: SEED, iterations: CASES, batch: 1000, log: (line) => lines.push(line) });
  expect({ failures: result.failures, cases: result.cases, refused: result.outcomes.refused }).toEqual({ failures: [], cases: CASES, refused: 0 });
  // Every kind of case was sent, before and after authentication, and fcpd did turn connections away.
  const kinds = new Set(Object.keys(result.byKind).map((key) => key.split(' ').slice(0, 2).join(' ')));
  for (const kind of ['random', 'mutated', 'truncated', 'flood', 'replay']) expect(kinds).toContain(`preAuth ${kind}`);
  for (const kind of ['transfer', 'random', 'mutated', 'flood']) expect(kinds).toContain(`postAuth ${kind}`);
  expect(result.outcomes.closed).toBeGreaterThan(0);
  expect(result.rssKb).toHaveLength(CASES / 1000);
});

test('a case is a function of its seed and number: replaying --seed S --case I sends the same bytes', async () => {
  const arbitrary = caseArbitrary(await loadXxhash(), [Buffer.from('recorded control bytes'), Buffer.from('recorded data bytes')]);
  // What it says it sends (every message with its numbers) and a hash of its raw bytes.
  const drawn = (seed: number, index: number): string => {
    const drawnCase = caseAt(seed, index, arbitrary);
    return `${drawnCase.what} | ${createHash('sha256').update(drawnCase.bytes).digest('hex')}`;
  };
  const indexes = Array.from({ length: 50 }, (_, i) => i * 7);
  expect(indexes.map((i) => drawn(SEED, i))).toEqual(indexes.map((i) => drawn(SEED, i)));
  // Cases differ (two may coincide: a replay of the whole recording, or no bytes at all), and the
  // next seed is another stream, not this one shifted by a case.
  expect(new Set(indexes.map((i) => drawn(SEED, i))).size).toBeGreaterThan(indexes.length * 0.8);
  expect(indexes.filter((i) => drawn(SEED, i + 1) === drawn(SEED + 1, i)).length).toBeLessThan(indexes.length * 0.2);
});
