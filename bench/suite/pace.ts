/**
 * The machine's pace during a run: on a VM, what a vCPU gets of its physical core changes from
 * minute to minute (another tenant on the core's other thread), and a run that falls into a slow
 * stretch takes up to a third longer with every process's CPU up by as much, whatever it runs
 * (docs/BENCHMARKS.md "Per-file cost, seventh round"). One sampler pinned to each CPU, at a real-time
 * priority above the bench's, times a throughput-bound loop (eight independent xorshift chains,
 * about 0.1 ms) every 100 ms, under 0.2 % of a core. Its median over a run, in µs, is that run's
 * pace: the same machine at rest gives the same figure, a slow stretch a higher one.
 *
 * Run as a program (`node pace.js OUT`), it is one sampler: it appends each sample's ns to OUT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const SAMPLE_EVERY_MS = 100;
const LOOP_ROUNDS = 20_000;
/** Above the bench's `chrt -r 50`, so that a sample is not queued behind the tools it measures. */
const SAMPLER_PRIORITY = 60;

/** ns of one round of the loop: xorshift on eight int32 chains that do not wait on each other. */
function timeLoop(): number {
  let [a, b, c, d, e, f, g, h] = [1, 2, 3, 4, 5, 6, 7, 8];
  const start = process.hrtime.bigint();
  for (let i = 0; i < LOOP_ROUNDS; i++) {
    a ^= a << 13;
    b ^= b >>> 7;
    c ^= c << 17;
    d = (d + (a ^ b)) | 0;
    e ^= e >>> 9;
    f = (f + (c ^ d)) | 0;
    g ^= g << 5;
    h = (h + (e ^ f ^ g)) | 0;
  }
  const ns = Number(process.hrtime.bigint() - start);
  // The chains' result is used, so that the loop is not left out.
  return (a ^ b ^ c ^ d ^ e ^ f ^ g ^ h) === 0.5 ? -1 : ns;
}

function sample(out: string): void {
  const fd = fs.openSync(out, 'a');
  // The first rounds run before the loop is compiled: a second of warming up is left out.
  const warm = Date.now() + 1000;
  const tick = (): void => {
    const ns = timeLoop();
    if (Date.now() >= warm) fs.writeSync(fd, `${ns}\n`);
  };
  setInterval(tick, SAMPLE_EVERY_MS);
}

export interface Pace {
  /** Stops the samplers; the median µs of their samples, or undefined when none came (no taskset or chrt here). */
  stop(): number | undefined;
}

/** One sampler a CPU, each pinned with taskset at SAMPLER_PRIORITY, writing to a file of its own under `work`. */
export function startPace(work: string): Pace {
  const samplers: { child: ChildProcess; out: string }[] = os.cpus().map((_, cpu) => {
    const out = path.join(work, `pace-${cpu}`);
    fs.rmSync(out, { force: true });
    const child = spawn('taskset', ['-c', String(cpu), 'chrt', '-r', String(SAMPLER_PRIORITY), process.execPath, __filename, out], { stdio: 'ignore' });
    child.on('error', () => undefined);
    return { child, out };
  });
  return {
    stop() {
      const samples: number[] = [];
      for (const { child, out } of samplers) {
        child.kill();
        if (!fs.existsSync(out)) continue;
        for (const line of fs.readFileSync(out, 'utf8').split('\n')) if (line) samples.push(Number(line) / 1000);
        fs.rmSync(out, { force: true });
      }
      samples.sort((x, y) => x - y);
      return samples.length ? samples[Math.floor(samples.length / 2)] : undefined;
    },
  };
}

if (require.main === module) sample(process.argv[2]!);
