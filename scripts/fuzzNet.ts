/**
 * npm run fuzz:net -- [--iterations N] [--seed S] [--case I] [--batch B] [--concurrency C]
 *                     [--settle-ms MS] [--rss-mb MB] [--show]
 * Fuzzes a live fcpd over 127.0.0.1 (scripts/fuzz/campaign.ts); exit 0 when fcpd came through,
 * 1 with the seed and cases to replay when it did not, 2 on bad arguments.
 */
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, runCampaign } from './fuzz/campaign';

function count(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}, not ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string' },
      seed: { type: 'string' },
      case: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      'settle-ms': { type: 'string' },
      'rss-mb': { type: 'string' },
      show: { type: 'boolean' },
    },
  });
  const seed = count('seed', values.seed, randomInt(0, 2 ** 31), 0);
  const only = values.case === undefined ? undefined : count('case', values.case, 0, 0);
  const options = {
    ...DEFAULT_OPTIONS,
    seed,
    first: only ?? 0,
    iterations: only === undefined ? count('iterations', values.iterations, DEFAULT_OPTIONS.iterations) : 1,
    batch: count('batch', values.batch, DEFAULT_OPTIONS.batch),
    concurrency: count('concurrency', values.concurrency, DEFAULT_OPTIONS.concurrency),
    settleMs: count('settle-ms', values['settle-ms'], DEFAULT_OPTIONS.settleMs),
    rssLimitMb: count('rss-mb', values['rss-mb'], DEFAULT_OPTIONS.rssLimitMb),
    show: values.show === true || only !== undefined,
    log: (line: string) => process.stdout.write(`${line}\n`),
  };
  process.stdout.write(`fuzz:net: seed ${seed}, cases ${options.first}..${options.first + options.iterations - 1}, batches of ${options.batch}, ${options.concurrency} at a time\n`);
  const started = Date.now();
  const result = await runCampaign(options);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`fuzz:net: ${result.cases} cases in ${seconds} s; fcpd closed ${result.outcomes.closed}, left open ${result.outcomes.open}; by kind ${JSON.stringify(result.byKind)}\n`);
  if (result.failures.length === 0) return 0;
  process.stdout.write(`fuzz:net: FAILED (seed ${seed}); fcpd's log and scratch files are in ${result.workDir}\n${result.failures.join('\n')}\n`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fuzz:net: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
