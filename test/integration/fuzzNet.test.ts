/**
 * The bounded network fuzz run of CI: a few thousand cases (random bytes, mutated, truncated and
 * flooded frames, replays of a recorded session, before and after authentication) against a live
 * fcpd daemon, whose health is checked after every batch: alive, memory bounded, no internal
 * error logged, and a real transfer still byte-identical. Long campaigns: npm run fuzz:net.
 */
import { DEFAULT_OPTIONS, runCampaign } from '../../scripts/fuzz/campaign';

jest.setTimeout(120_000);

const CASES = 3000;
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
