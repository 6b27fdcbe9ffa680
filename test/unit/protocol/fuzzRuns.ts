/**
 * Number of fast-check runs per property: a bounded default in CI, FCP_FUZZ_RUNS in fuzz mode
 * (`npm run fuzz` sets it to 1,000,000).
 */
export function numRuns(base: number): number {
  const env = process.env.FCP_FUZZ_RUNS;
  if (env === undefined || env === '') return base;
  const runs = Number(env);
  // A typo must not silently turn fuzzing into a zero-run (or NaN-run) pass.
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FCP_FUZZ_RUNS must be a positive integer, not ${env}`);
  return runs;
}

/**
 * In fuzz mode one property may run for hours: call this at the top of a property test file to
 * lift jest's per-test timeout (to the largest delay setTimeout accepts) when FCP_FUZZ_RUNS is set.
 */
export function allowLongFuzzRuns(): void {
  if (process.env.FCP_FUZZ_RUNS) jest.setTimeout(2 ** 31 - 1);
}
