/**
 * fcp --watch's figures (node dist/bench/watch.js [latency|idle]):
 * - latency: a watch pushing through one fcpd (fcpd --serve --reuse): on loopback, or on the
 *   emulated WAN with BENCH_WAN=1 (otherSide.ts);
 *   BENCH_CHANGES (default 1,000) small files written one after another, each timed from its
 *   write until the destination holds it with the same bytes; median, p99 and max. Each write
 *   waits for the previous change to arrive and then a random pause of up to one debounce, so
 *   that every change is a round of its own (latency, not one batch) and writes fall anywhere in
 *   the watch's once-a-second rescan ticks. The 200 ms debounce (src/watch/constants.ts) is part
 *   of every figure by design. BENCH_TIMES=FILE: in parts (latencyFigures.ts).
 * - idle: `fcp --watch --via-fcpd` of a BENCH_FILES (default 100,000) file tree (the destination
 *   a `cp -a` of it), left alone after its initial sync; the CPU time of fcp and its fcpd over BENCH_IDLE_S (default 120) seconds, as
 *   a share of one core, per thread of fcp (is the watcher's thread idle?) and for its fcpd, and
 *   the least and most of any whole minute in it. One
 *   rescan pass (--interval BENCH_INTERVAL_S, default 60, in slices) and one keep-alive round fall
 *   in the window; with a BENCH_INTERVAL_S longer than the window, neither does: the cost of the
 *   watch itself. BENCH_TWO_WAY=1: the same of `fcp --watch --two-way` (its records under the
 *   bench's own XDG_STATE_HOME here; fcpd's side record, over SSH, under the sshd user's, removed after).
 * Not a test: the machine has other work, so figures are indicative.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEBOUNCE_MS } from '../src/watch/constants';
import { watch } from '../src/watch/watch';
import { latencyFigures } from './latencyFigures';
import { otherSide } from './otherSide';
import { openLink } from './suite/links';

const ROOT = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'fcp-bench-watch-'));
const CHANGES = Number(process.env.BENCH_CHANGES ?? 1000);
const FILES = Number(process.env.BENCH_FILES ?? 100_000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 120);
const INTERVAL_S = Number(process.env.BENCH_INTERVAL_S ?? 60);
const SETTLE_S = 10;
const MINUTE_S = 60;
const POLL_MS = 2;
const WAIT_LIMIT_MS = 30_000;
const CLOCK_TICKS = 100;
const TWO_WAY = process.env.BENCH_TWO_WAY === '1';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
    onRound: (report) => {
      rounds++;
      // A failed round is retried, and its change arrives later: the figures would hide why.
      if (report.error) console.error(`round ${report.round} (${report.kind}) failed: ${report.error.message}`);
    },
  });
  while (rounds === 0) await sleep(10);
  const loadBefore = os.loadavg()[0]!;
  const times: number[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const name = `f${i % 100}.txt`;
    const content = `change ${i} ${'x'.repeat(i % 50)}\n`;
    await sleep(Math.random() * DEBOUNCE_MS);
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
  console.log(`latency, write to verified at the destination, pushed over ${side.label} (one fcpd for every round):`);
  console.log(`  ${latencyFigures(times, 'small changes')}; ${rounds} rounds; load average ${loadBefore.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end`);
}

/** CPU seconds (user + system) in a /proc stat file; 0 once the process is gone. */
function statSeconds(file: string): number {
  const text = readIfThere(file);
  if (text === undefined) return 0;
  const fields = text.slice(text.lastIndexOf(') ') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Every process below `pid`, by pid, with what it runs (`fcpd` for an fcpd, else its comm). */
function descendants(pid: number): Map<number, string> {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    const stat = /^\d+$/.test(entry) ? readIfThere(`/proc/${entry}/stat`) : undefined;
    if (stat !== undefined) parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(') ') + 2).split(' ')[1]));
  }
  const found = new Map<number, string>();
  const visit = (parent: number): void => {
    for (const [child, of] of parents) {
      if (of !== parent || found.has(child)) continue;
      const command = readIfThere(`/proc/${child}/cmdline`) ?? '';
      found.set(child, command.includes('fcpd') ? 'fcpd' : (readIfThere(`/proc/${child}/comm`) ?? '?').trim());
      visit(child);
    }
  };
  visit(pid);
  return found;
}

/** CPU seconds so far of fcp by thread (`main` is the event loop's), and of the other side's processes by what they run. */
function cpuSeconds(fcp: number, otherSide: number): { fcp: number; threads: Map<string, number>; other: Map<string, number> } {
  const threads = new Map<string, number>();
  for (const tid of fs.readdirSync(`/proc/${fcp}/task`).map(Number)) {
    // Node 20 names neither its libuv pool nor V8's helpers: those show as `node/TID`.
    const name = tid === fcp ? 'main' : `${(readIfThere(`/proc/${fcp}/task/${tid}/comm`) ?? '?').trim()}/${tid}`;
    threads.set(name, (threads.get(name) ?? 0) + statSeconds(`/proc/${fcp}/task/${tid}/stat`));
  }
  const other = new Map<string, number>();
  for (const [pid, what] of descendants(otherSide)) other.set(what, (other.get(what) ?? 0) + statSeconds(`/proc/${pid}/stat`));
  return { fcp: statSeconds(`/proc/${fcp}/stat`), threads, other };
}

const total = (seconds: Map<string, number>): number => [...seconds.values()].reduce((sum, value) => sum + value, 0);

function makeTree(src: string): void {
  const perDir = 100;
  for (let d = 0; d < FILES / perDir; d++) {
    const dir = path.join(src, `d${Math.floor(d / 10)}`, `e${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < perDir; f++) fs.writeFileSync(path.join(dir, `f${f}`), `${d}/${f}\n`);
  }
}

/**
 * `link`: `local` (--via-fcpd: fcpd is fcp's child) or `loopback` (fcpd over SSH through an sshd
 * of the bench's own on 127.0.0.1: the other side is everything that sshd starts).
 * BENCH_CPU_PROF=DIR: fcp, and over SSH fcpd (node refuses --cpu-prof in NODE_OPTIONS, which a local
 * fcpd would inherit), run under node --cpu-prof, their profiles written to DIR at exit.
 */
async function idle(link: 'local' | 'loopback'): Promise<void> {
  const src = path.join(ROOT, 'idle-src');
  const dst = path.join(ROOT, 'idle-dst');
  makeTree(src);
  // The destination holds the tree already (cp -a keeps the times the quick check compares): the
  // first round is a walk, not 100,000 files sent, which on this shared machine took minutes.
  execFileSync('cp', ['-a', `${src}/.`, dst]);
  const fcp = path.join(__dirname, '..', '..', 'bin', 'fcp');
  const fcpd = path.join(__dirname, '..', '..', 'bin', 'fcpd');
  const profileDir = process.env.BENCH_CPU_PROF;
  const profiling = profileDir ? [`--cpu-prof`, `--cpu-prof-dir=${path.resolve(profileDir)}`] : [];
  const ssh = link === 'loopback' ? openLink('loopback', ROOT) : undefined;
  const where = ssh
    ? ['-F', ssh.sshConfig!, '--fcpd-path', [process.execPath, ...profiling, fcpd].join(' '), `${src}/`, `${ssh.host!}:${dst}`]
    : ['--via-fcpd', `${src}/`, dst];
  const sideRecords = path.join(os.homedir(), '.local', 'state', 'fcp', 'two-way', 'sides');
  const recordsBefore = new Set(fs.existsSync(sideRecords) ? fs.readdirSync(sideRecords) : []);
  const mode = TWO_WAY ? ['--two-way'] : [];
  const env = TWO_WAY ? { ...process.env, XDG_STATE_HOME: path.join(ROOT, 'xdg') } : process.env;
  const child = spawn(process.execPath, [...profiling, fcp, '--watch', ...mode, '--json', '--interval', String(INTERVAL_S), ...where], { stdio: ['ignore', 'pipe', 'inherit'], env });
  // The other side: fcp's children (a local fcpd), or the sshd's (its session, fcpd).
  const sshdPid = ssh ? ssh.serverPid! : child.pid!;
  try {
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
    const before = cpuSeconds(child.pid!, sshdPid);
    const loadBefore = os.loadavg()[0]!;
    // Sampled every minute too: the target is a share of a core over any minute, not only on average.
    const minutes: { fcp: number; other: number }[] = [];
    let after = before;
    for (let waited = 0; waited < IDLE_S; waited += MINUTE_S) {
      await sleep(Math.min(MINUTE_S, IDLE_S - waited) * 1000);
      const now = cpuSeconds(child.pid!, sshdPid);
      if (IDLE_S - waited >= MINUTE_S) minutes.push({ fcp: now.fcp - after.fcp, other: total(now.other) - total(after.other) });
      after = now;
    }
    const rounds = output.split('"event":"round"').length - 1;
    const share = (seconds: number): string => `${seconds.toFixed(2)} CPU s = ${((100 * seconds) / IDLE_S).toFixed(2)} % of a core`;
    const used = (now: Map<string, number>, then: Map<string, number>): [string, number][] =>
      [...now].map(([name, seconds]) => [name, seconds - (then.get(name) ?? 0)] as [string, number]).filter(([, seconds]) => seconds >= 0.005);
    const threads = used(after.threads, before.threads).map(([name, seconds]) => `${name} ${seconds.toFixed(2)}`).join(', ');
    const other = used(after.other, before.other);
    console.log(`idle ${TWO_WAY ? 'two-way ' : ''}watch of ${FILES} files to ${ssh ? 'fcpd over SSH (loopback sshd)' : 'a local fcpd (--via-fcpd)'}, --interval ${INTERVAL_S} (initial sync ${initialS.toFixed(1)} s, ${rounds} rounds), over ${IDLE_S} s from ${SETTLE_S} s after it:`);
    console.log(`  fcp ${share(after.fcp - before.fcp)} (threads, CPU s: ${threads})`);
    console.log(`  other side: ${other.map(([name, seconds]) => `${name} ${share(seconds)}`).join('; ') || 'nothing measurable'}`);
    if (minutes.length > 1) {
      const range = (values: number[]): string => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)} CPU s (${((100 * Math.min(...values)) / MINUTE_S).toFixed(2)}-${((100 * Math.max(...values)) / MINUTE_S).toFixed(2)} %)`;
      console.log(`  each of ${minutes.length} whole minutes: fcp ${range(minutes.map((m) => m.fcp))}, other side ${range(minutes.map((m) => m.other))}`);
      console.log(`  minute by minute, CPU s (fcp/other side): ${minutes.map((m) => `${m.fcp.toFixed(2)}/${m.other.toFixed(2)}`).join(' ')}`);
    }
    console.log(`  load average ${loadBefore.toFixed(2)} at the start, ${os.loadavg()[0]!.toFixed(2)} at the end (2 cores, shared)`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('close', resolve)));
    ssh?.close();
    if (TWO_WAY && fs.existsSync(sideRecords)) for (const name of fs.readdirSync(sideRecords)) if (!recordsBefore.has(name)) fs.rmSync(path.join(sideRecords, name), { force: true });
  }
}

async function main(): Promise<void> {
  const which = process.argv[2];
  try {
    if (which !== 'idle') await latency();
    if (which !== 'latency') await idle(process.argv[3] === 'loopback' ? 'loopback' : 'local');
  } finally {
    fs.rmSync(ROOT, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
