/**
 * fcp --watch's figures (node dist/bench/watch.js [latency|idle]):
 * - latency: a watch pushing through one fcpd (fcpd --serve --reuse): on loopback, or on the
 *   emulated WAN with BENCH_WAN=1 (otherSide.ts);
 *   BENCH_CHANGES (default 1,000) small files written one after another, each timed from its
 *   write until the destination holds it with the same bytes; median and p99. The 200 ms debounce
 *   (src/watch/constants.ts) is part of every figure by design.
 * - idle: `fcp --watch --via-fcpd` of a BENCH_FILES (default 100,000) file tree (the destination
 *   a `cp -a` of it), left alone after its initial sync; the CPU time of fcp and its fcpd over BENCH_IDLE_S (default 60) seconds, as
 *   a share of one core, per thread of fcp (is the watcher's thread idle?) and for its fcpd. One
 *   rescan pass (--interval BENCH_INTERVAL_S, default 60, in slices) and one keep-alive round fall
 *   in the window; with a BENCH_INTERVAL_S longer than the window, neither does: the cost of the
 *   watch itself.
 * Not a test: the machine has other work, so figures are indicative.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { watch } from '../src/watch/watch';
import { otherSide } from './otherSide';

const ROOT = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'fcp-bench-watch-'));
const CHANGES = Number(process.env.BENCH_CHANGES ?? 1000);
const FILES = Number(process.env.BENCH_FILES ?? 100_000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);
const INTERVAL_S = Number(process.env.BENCH_INTERVAL_S ?? 60);
const SETTLE_S = 10;
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
  const side = otherSide();
  const watching = watch({
    copy: { sources: [`${src}/`], destination: side.at(dst), ...side.options(120) },
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
  console.log(`latency, write to verified at the destination, ${CHANGES} small changes, pushed over ${side.label} (one fcpd for every round):`);
  console.log(`  median ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ${rounds} rounds; load average ${os.loadavg()[0]!.toFixed(2)}`);
}

/** CPU seconds (user + system) in a /proc stat file. */
function statSeconds(file: string): number {
  const fields = fs.readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds so far of a process (fcp), of its children (fcpd), and of each of its threads by name (`main` is the event loop's). */
function cpuSeconds(pid: number): { fcp: number; children: number; threads: Map<string, number> } {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  const threads = new Map<string, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`).map(Number)) {
    // Node 20 names neither its libuv pool nor V8's helpers: those show as `node/TID`.
    const name = tid === pid ? 'main' : `${fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()}/${tid}`;
    threads.set(name, (threads.get(name) ?? 0) + statSeconds(`/proc/${pid}/task/${tid}/stat`));
  }
  return { fcp: statSeconds(`/proc/${pid}/stat`), children: children.reduce((sum, child) => sum + statSeconds(`/proc/${child}/stat`), 0), threads };
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
  // The destination holds the tree already (cp -a keeps the times the quick check compares): the
  // first round is a walk, not 100,000 files sent, which on this shared machine took minutes.
  execFileSync('cp', ['-a', `${src}/.`, dst]);
  const fcp = path.join(__dirname, '..', '..', 'bin', 'fcp');
  const child = spawn(process.execPath, [fcp, '--watch', '--json', '--via-fcpd', '--interval', String(INTERVAL_S), `${src}/`, dst], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  const started = Date.now();
  while (!output.includes('"event":"round"')) {
    if (child.exitCode !== null) throw new Error('fcp --watch ended before its first round');
    await sleep(100);
  }
  const initialS = (Date.now() - started) / 1000;
  // The first round's garbage is collected first: that is the sync's cost, not the idle watch's.
  await sleep(SETTLE_S * 1000);
  const before = cpuSeconds(child.pid!);
  const loadBefore = os.loadavg()[0]!;
  await sleep(IDLE_S * 1000);
  const after = cpuSeconds(child.pid!);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.once('close', resolve));
  const share = (seconds: number): string => `${seconds.toFixed(2)} CPU s = ${((100 * seconds) / IDLE_S).toFixed(2)} % of a core`;
  const threads = [...after.threads]
    .map(([name, seconds]) => [name, seconds - (before.threads.get(name) ?? 0)] as const)
    .filter(([, seconds]) => seconds >= 0.005)
    .map(([name, seconds]) => `${name} ${seconds.toFixed(2)}`)
    .join(', ');
  console.log(`idle watch of ${FILES} files, --interval ${INTERVAL_S} (initial sync ${initialS.toFixed(1)} s), over ${IDLE_S} s from ${SETTLE_S} s after it:`);
  console.log(`  fcp ${share(after.fcp - before.fcp)} (threads, CPU s: ${threads}); its fcpd ${share(after.children - before.children)}`);
  console.log(`  load average ${loadBefore.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end (2 cores, shared)`);
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
