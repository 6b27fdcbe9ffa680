/**
 * fcp --watch's figures (node dist/bench/watch.js [latency|idle]):
 * - latency: a watch pushing over loopback through one local fcpd (fcpd --serve --reuse);
 *   BENCH_CHANGES (default 1,000) small files written one after another, each timed from its
 *   write until the destination holds it with the same bytes; median and p99. The 200 ms debounce
 *   (src/watch/constants.ts) is part of every figure by design.
 * - idle: `fcp --watch --via-fcpd` of a BENCH_FILES (default 100,000) file tree, left alone after
 *   its initial sync; the CPU time of fcp and its fcpd over BENCH_IDLE_S (default 60) seconds, as
 *   a share of one core. One rescan (--interval 60) and one keep-alive round fall in the window.
 * Not a test: the machine has other work, so figures are indicative.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localLauncher } from '../src';
import { watch } from '../src/watch/watch';

const ROOT = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'fcp-bench-watch-'));
const CHANGES = Number(process.env.BENCH_CHANGES ?? 1000);
const FILES = Number(process.env.BENCH_FILES ?? 100_000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);
const POLL_MS = 2;
const WAIT_LIMIT_MS = 30_000;
const CLOCK_TICKS = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function readIfThere(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function latency(): Promise<void> {
  const src = path.join(ROOT, 'lat-src');
  const dst = path.join(ROOT, 'lat-dst');
  fs.mkdirSync(src, { recursive: true });
  fs.mkdirSync(dst, { recursive: true });
  const stop = new AbortController();
  let rounds = 0;
  const watching = watch({
    copy: { sources: [`${src}/`], destination: dst, launcher: localLauncher({ reuseS: 120 }) },
    intervalS: 60,
    signal: stop.signal,
    onRound: () => rounds++,
  });
  while (rounds === 0) await sleep(10);
  const times: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const name = `f${i % 100}.txt`;
    const content = `change ${i} ${'x'.repeat(i % 50)}\n`;
    const started = process.hrtime.bigint();
    fs.writeFileSync(path.join(src, name), content);
    const deadline = Date.now() + WAIT_LIMIT_MS;
    for (;;) {
      const held = readIfThere(path.join(dst, name));
      if (held === content) break;
      if (Date.now() > deadline) throw new Error(`change ${i} did not arrive within ${WAIT_LIMIT_MS} ms`);
      await sleep(POLL_MS);
    }
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  stop.abort();
  await watching;
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`latency, write to verified at the destination, ${CHANGES} small changes, push over loopback through one fcpd:`);
  console.log(`  median ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ${rounds} rounds; load average ${os.loadavg()[0]!.toFixed(2)}`);
}

/** CPU seconds (user + system) a process and its children used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const own = (p: number): number => {
    const fields = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  };
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return own(pid) + children.reduce((sum, child) => sum + own(child), 0);
}

async function idle(): Promise<void> {
  const src = path.join(ROOT, 'idle-src');
  const dst = path.join(ROOT, 'idle-dst');
  const perDir = 100;
  for (let d = 0; d < FILES / perDir; d++) {
    const dir = path.join(src, `d${Math.floor(d / 10)}`, `e${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < perDir; f++) fs.writeFileSync(path.join(dir, `f${f}`), `${d}/${f}\n`);
  }
  fs.mkdirSync(dst, { recursive: true });
  const fcp = path.join(__dirname, '..', '..', 'bin', 'fcp');
  const child = spawn(process.execPath, [fcp, '--watch', '--json', '--via-fcpd', `${src}/`, dst], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  const started = Date.now();
  while (!output.includes('"event":"round"')) {
    if (child.exitCode !== null) throw new Error('fcp --watch ended before its first round');
    await sleep(100);
  }
  const initialS = (Date.now() - started) / 1000;
  const before = cpuSeconds(child.pid!);
  await sleep(IDLE_S * 1000);
  const used = cpuSeconds(child.pid!) - before;
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('close', resolve));
  console.log(`idle watch of ${FILES} files (initial sync ${initialS.toFixed(1)} s): fcp and fcpd used ${used.toFixed(2)} CPU s in ${IDLE_S} s = ${((100 * used) / IDLE_S).toFixed(2)} % of a core; load average ${os.loadavg()[0]!.toFixed(2)}`);
}

async function main(): Promise<void> {
  const which = process.argv[2];
  try {
    if (which !== 'idle') await latency();
    if (which !== 'latency') await idle();
  } finally {
    fs.rmSync(ROOT, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
