/**
 * The latency benches' figures (watch.ts, follow.ts): median, p99 and max of the times measured.
 * BENCH_TIMES=FILE: a run adds its times to FILE, one a line, and its figures are of all the
 * times in it, so a bench can run in parts (on the shared WAN, held only a few minutes at a time).
 */
import * as fs from 'node:fs';

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `times` (ms) with those of earlier parts of the run, sorted. */
function withEarlierTimes(times: readonly number[]): number[] {
  const file = process.env.BENCH_TIMES;
  if (!file) return [...times].sort((a, b) => a - b);
  fs.appendFileSync(file, times.map((ms) => `${ms}\n`).join(''));
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
}

/** "N changes: median .. ms, p99 .. ms, max .. ms" of `times` and any earlier parts'. */
export function latencyFigures(times: readonly number[], what: string): string {
  const sorted = withEarlierTimes(times);
  const ms = (value: number): string => `${value.toFixed(1)} ms`;
  return `${sorted.length} ${what}: median ${ms(percentile(sorted, 50))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1)!)}`;
}
