/**
 * A network fuzzing campaign against a live fcpd: start the daemon, record a real session through
 * the test proxy (its frames are replayed by 'replay' cases), then send cases in batches, each on
 * a fresh connection, several at a time; after each batch, check fcpd's health. Stops at the
 * first problem and says which seed and cases to replay.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dialTcp } from '../../src/launch/dial';
import { loadXxhash } from '../../src/protocol/xxhash';
import { startProxy } from '../../test/integration/helpers/proxy';
import { caseArbitrary, caseAt, FuzzCase, Recording } from './cases';
import { deliver, DeliveryTarget, Outcome } from './deliver';
import { daemonLauncher, Health, makeSource, transferDifferences } from './health';
import { startTarget, Target } from './target';

export interface CampaignOptions {
  seed: number;
  /** Cases first, first + 1, ... first + iterations - 1. */
  first: number;
  iterations: number;
  /** Cases between two health checks. */
  batch: number;
  /** Cases in flight at once. */
  concurrency: number;
  settleMs: number;
  timeoutMs: number;
  rssLimitMb: number;
  /** Log every case: its number, what it sends and how fcpd answered. */
  show: boolean;
  log(line: string): void;
}

export const DEFAULT_OPTIONS: Omit<CampaignOptions, 'seed' | 'log'> = {
  first: 0,
  iterations: 2000,
  batch: 500,
  concurrency: 16,
  settleMs: 100,
  timeoutMs: 10_000,
  rssLimitMb: 400,
  show: false,
};

export interface CampaignResult {
  cases: number;
  outcomes: Record<Outcome, number>;
  /** Cases by phase, kind and outcome: 'preAuth flood closed'. */
  byKind: Record<string, number>;
  /** fcpd's resident memory after each health check, in KiB. */
  rssKb: number[];
  /** Empty when fcpd came through. */
  failures: string[];
  /** Kept when there are failures: fcpd's log and the scratch directories. */
  workDir: string;
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-fuzznet-'));
  const result: CampaignResult = { cases: 0, outcomes: { closed: 0, open: 0, refused: 0 }, byKind: {}, rssKb: [], failures: [], workDir };
  const target = await startTarget(path.join(workDir, 'state'));
  try {
    const source = makeSource(workDir);
    const received = path.join(workDir, 'received');
    const fuzzed = path.join(workDir, 'fuzzed');
    fs.mkdirSync(received);
    fs.mkdirSync(fuzzed);
    const recording = await recordSession(target, source, received);
    const health = new Health(target, source, received, options.rssLimitMb * 1024);
    const xxh = await loadXxhash();
    const arbitrary = caseArbitrary(xxh, recording);
    const delivery: DeliveryTarget = { port: target.port, xxh, register: (secret) => target.register(secret), destination: fuzzed, pullSource: source, settleMs: options.settleMs, timeoutMs: options.timeoutMs };
    const last = options.first + options.iterations;
    for (let start = options.first; start < last && result.failures.length === 0; start += options.batch) {
      const end = Math.min(last, start + options.batch);
      await runBatch(start, end, (index) => caseAt(options.seed, index, arbitrary), delivery, target, options, result);
      if (result.failures.length) break;
      const { rssKb, problems } = await health.check();
      result.rssKb.push(rssKb);
      const where = `seed ${options.seed}, after cases ${start}..${end - 1}`;
      options.log(`${where}: ${problems.length ? 'PROBLEM' : 'fcpd healthy'}, RSS ${Math.round(rssKb / 1024)} MiB, ${JSON.stringify(result.outcomes)}`);
      for (const problem of problems) result.failures.push(`${where}: ${problem} (replay one case with --seed ${options.seed} --case N, N in ${start}..${end - 1})`);
    }
  } finally {
    await target.stop();
    if (result.failures.length === 0) fs.rmSync(workDir, { recursive: true, force: true });
  }
  return result;
}

/** A real push through a recording proxy: what each connection sent, for replay cases. */
async function recordSession(target: Target, source: string, scratch: string): Promise<Recording> {
  const proxy = await startProxy(() => dialTcp('127.0.0.1', target.port, 5_000), { record: true });
  try {
    const differences = await transferDifferences(source, scratch, daemonLauncher(target, proxy.port));
    if (differences.length) throw new Error(`the recorded session failed before any fuzzing: ${differences.join('; ')}`);
    // Connections the session did not use (fcpd may lower their number) leave holes.
    return proxy.report.recorded.filter((chunks) => chunks !== undefined).map((chunks) => Buffer.concat(chunks));
  } finally {
    await proxy.close();
  }
}

/** Cases start..end-1, `concurrency` at a time; fcpd's death is caught at the case that saw it. */
async function runBatch(
  start: number,
  end: number,
  caseOf: (index: number) => FuzzCase,
  delivery: DeliveryTarget,
  target: Target,
  options: CampaignOptions,
  result: CampaignResult,
): Promise<void> {
  let next = start;
  const inFlight = new Set<number>();
  const worker = async (): Promise<void> => {
    while (next < end && result.failures.length === 0) {
      const index = next++;
      const fuzzCase = caseOf(index);
      inFlight.add(index);
      const { outcome, detail } = await deliver(fuzzCase, delivery);
      if (options.show) options.log(`case ${index}: ${fuzzCase.what}: ${outcome}${detail ? ` (${detail})` : ''}`);
      result.cases++;
      result.outcomes[outcome]++;
      const kind = `${fuzzCase.phase} ${fuzzCase.kind} ${outcome}`;
      result.byKind[kind] = (result.byKind[kind] ?? 0) + 1;
      const replay = `--seed ${options.seed} --case ${index}`;
      if (outcome === 'refused') result.failures.push(`case ${index} (${replay}): the session handshake failed, so the case never reached fcpd's transfer: ${detail}`);
      if (!target.alive()) result.failures.push(`fcpd died during case ${index} (${replay}: ${fuzzCase.what}) or one in flight with it: ${[...inFlight].join(', ')}`);
      inFlight.delete(index);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
}
