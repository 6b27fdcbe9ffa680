/**
 * --follow latency on loopback, or on the emulated WAN with BENCH_WAN=1 (otherSide.ts) (not a test): the time from an append on one side to the bytes
 * being in the copy on the other (verified: the receiver writes an APPEND only once it hashed it),
 * over many small appends, for an upload and a download through a local fcpd (sealed, as over a
 * network). Each append waits for the previous one to arrive, after a random pause of up to one
 * poll interval, so appends fall anywhere in the sender's poll cycle. Prints median, p99 and max.
 *
 * Usage: node dist/bench/follow.js [APPENDS] [push|pull] (default 1000, both ways); BENCH_TIMES=FILE: in
 * parts (latencyFigures.ts), one way at a time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copy } from '../src';
import { FOLLOW_POLL_MS } from '../src/follow/constants';
import { latencyFigures } from './latencyFigures';
import { otherSide } from './otherSide';

const APPENDS = Number(process.argv[2] ?? 1000);
const LINE = Buffer.from('2026-12-04T20:00:00.000Z sensor=42 value=3.14159 status=ok\n');
/** One append that does not arrive within this is a failure of the run, not a figure. */
const ARRIVAL_LIMIT_MS = 10_000;
/** The first copy also waits for the SSH login and fcpd's start, which on a loaded machine take seconds. */
const FIRST_COPY_LIMIT_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves (with the ms it took since `since`) once `file` is `size` bytes long; inotify wakes it, a 2 ms poll backs it up. */
function arrival(file: string, size: number, since: bigint, limitMs = ARRIVAL_LIMIT_MS): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (): boolean => {
      let now = -1;
      try {
        now = fs.statSync(file).size;
      } catch {
        return false;
      }
      if (now < size) return false;
      clearInterval(poll);
      clearTimeout(limit);
      watcher?.close();
      resolve(Number(process.hrtime.bigint() - since) / 1e6);
      return true;
    };
    const poll = setInterval(done, 2);
    const limit = setTimeout(() => {
      clearInterval(poll);
      watcher?.close();
      reject(new Error(`${file} did not reach ${size} bytes within ${limitMs} ms`));
    }, limitMs);
    let watcher: fs.FSWatcher | undefined;
    try {
      watcher = fs.watch(file, () => void done());
    } catch {
      // Not there yet: the poll sees it.
    }
    done();
  });
}

async function run(way: 'push' | 'pull'): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-bench-follow-'));
  const source = path.join(work, 'app.log');
  const copied = path.join(work, 'copy.log');
  fs.writeFileSync(source, LINE);
  const controller = new AbortController();
  const side = otherSide();
  const done = copy({
    sources: [way === 'pull' ? side.at(source) : source],
    destination: way === 'push' ? side.at(copied) : copied,
    ...side.options(),
    encrypt: true,
    follow: { signal: controller.signal },
  });
  try {
    await arrival(copied, LINE.length, process.hrtime.bigint(), FIRST_COPY_LIMIT_MS);
    const latencies: number[] = [];
    for (let i = 0; i < APPENDS; i++) {
      await sleep(Math.random() * FOLLOW_POLL_MS);
      const since = process.hrtime.bigint();
      fs.appendFileSync(source, LINE);
      latencies.push(await arrival(copied, (i + 2) * LINE.length, since));
    }
    controller.abort();
    const summary = await done;
    if (!fs.readFileSync(copied).equals(fs.readFileSync(source)) || summary.errors.length > 0) throw new Error(`${way}: the copy differs from the source`);
    console.log(`${way} over ${side.label}, ${LINE.length} B appends, poll ${FOLLOW_POLL_MS} ms: ${latencyFigures(latencies, 'appends')}; load average ${os.loadavg()[0]!.toFixed(2)}`);
  } finally {
    controller.abort();
    await done.catch(() => undefined);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const asked = process.argv[3];
  const ways: ('push' | 'pull')[] = asked === 'push' || asked === 'pull' ? [asked] : ['push', 'pull'];
  for (const way of ways) await run(way);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
