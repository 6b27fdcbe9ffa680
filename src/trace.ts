/**
 * FCP_TRACE=1: a time line of start-up on stderr, one line a step, for finding where a short
 * copy's time goes (docs/BENCHMARKS.md "Start-up"). Each line has the wall clock in ms (to merge
 * fcp's lines with fcpd's, started with `--fcpd-path 'FCP_TRACE=1 fcpd'`) and the ms since this
 * process started. Off by default: then a step costs one comparison, and node:perf_hooks is
 * not loaded (1-2 ms of every start): Node's global `performance` loads it when first read.
 */
import * as path from 'node:path';

const enabled = process.env.FCP_TRACE === '1';
/** fcp, fcpd (also when run as fcpd.js from a host's cache). */
const program = enabled ? path.basename(process.argv[1] ?? 'node', '.js') : '';

/** Notes that `step` happened now, when FCP_TRACE=1. */
export function trace(step: string): void {
  if (!enabled) return;
  const sinceStart = performance.now();
  const wall = performance.timeOrigin + sinceStart;
  process.stderr.write(`trace ${program} ${wall.toFixed(1)} +${sinceStart.toFixed(1)} ms ${step}\n`);
}
