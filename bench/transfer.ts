/**
 * npm run bench: fcp against cp and rsync on tmpfs (/dev/shm), measured in the same run. A 1 GiB
 * file and 10,000 × 4 KiB files in 100 directories; fcp as a local copy in its own process (also
 * --no-verify), through a local fcpd (--via-fcpd), and as loopback push and pull through fcpd,
 * with and without encryption. Prints the median seconds of RUNS runs with their spread, the
 * ratio to cp, and peak RSS.
 * The "floor" rows (bench/floorCopy.ts) move the same bytes between two Node processes over
 * loopback TCP with no protocol at all: what this machine charges for the engine's shape alone.
 * Not a test: timings belong here, not in the test suite.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = fs.mkdtempSync('/dev/shm/fcp-bench-');
const RUN_COPY = path.join(__dirname, 'runCopy.js');
const FLOOR_COPY = path.join(__dirname, 'floorCopy.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

interface Timing {
  /** The median of the runs. */
  seconds: number;
  /** Fastest and slowest run. */
  spread: [number, number];
  maxRssMb: number;
}

/** Runs a command under GNU time RUNS times; the median (the machine has other work), its spread, the largest peak RSS. */
function timed(command: string[], cleanup: () => void): Timing {
  const runs: { seconds: number; maxRssMb: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    cleanup();
    const timeFile = path.join(ROOT, 'time.out');
    const result = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, ...command], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${command.join(' ')} failed: ${result.stderr}`);
    const [elapsed, rssKb] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    runs.push({ seconds: elapsed!, maxRssMb: rssKb! / 1024 });
  }
  cleanup();
  const seconds = runs.map((r) => r.seconds).sort((a, b) => a - b);
  return { seconds: seconds[Math.floor(seconds.length / 2)]!, spread: [seconds[0]!, seconds.at(-1)!], maxRssMb: Math.max(...runs.map((r) => r.maxRssMb)) };
}

function makeData(): { big: string; tree: string } {
  const big = path.join(ROOT, 'big');
  execFileSync('head', ['-c', String(1024 ** 3), '/dev/urandom'], { stdio: ['ignore', fs.openSync(big, 'w'), 'inherit'] });
  const tree = path.join(ROOT, 'tree');
  for (let d = 0; d < 100; d++) {
    const dir = path.join(tree, `d${d}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(dir, `f${f}`), randomBytes(4096));
  }
  return { big, tree };
}

function report(name: string, cp: Timing, cases: [string, Timing][]): void {
  console.log(`\n${name}: cp ${cp.seconds.toFixed(2)} s (${cp.spread[0].toFixed(2)}-${cp.spread[1].toFixed(2)}), median of ${RUNS}, load average ${os.loadavg()[0]!.toFixed(2)}`);
  for (const [label, t] of cases) {
    const spread = `(${t.spread[0].toFixed(2)}-${t.spread[1].toFixed(2)})`;
    console.log(`  ${label.padEnd(28)} ${t.seconds.toFixed(2)} s ${spread.padEnd(11)}  ${(t.seconds / cp.seconds).toFixed(2)}x cp  peak RSS ${t.maxRssMb.toFixed(0)} MB`);
  }
}

function main(): void {
  const { big, tree } = makeData();
  const out = path.join(ROOT, 'out');
  const clean = (): void => fs.rmSync(out, { recursive: true, force: true });
  for (const [name, source, cpArgs, floorKind] of [
    ['1 GiB file', big, [big, out], 'file'],
    ['10,000 x 4 KiB files', tree, ['-a', tree, out], 'tree'],
  ] as const) {
    const cp = timed(['cp', ...cpArgs], clean);
    // rsync -a copies a tree's contents with a trailing slash, as cp -a copies the tree to a new name.
    const rsync = timed(['rsync', '-a', floorKind === 'tree' ? `${source}/` : source, out], clean);
    const fcp = (mode: string, encrypt: boolean): Timing =>
      timed([process.execPath, RUN_COPY, mode, source, out, encrypt ? 'encrypt' : 'plain'], clean);
    const floor = (cipher: string): Timing => timed([process.execPath, FLOOR_COPY, floorKind, source, out, cipher], clean);
    report(name, cp, [
      ['rsync -a (local)', rsync],
      ['floor: bare pipe, plain', floor('plain')],
      ['floor: bare pipe, AES-GCM', floor('aes')],
      ['fcp local, in one process', fcp('local', false)],
      ['fcp local, --no-verify', fcp('local-no-verify', false)],
      ['fcp local --via-fcpd', fcp('local-via-fcpd', false)],
      ['fcp push loopback plain', fcp('push', false)],
      ['fcp push loopback AES-GCM', fcp('push', true)],
      ['fcp pull loopback AES-GCM', fcp('pull', true)],
    ]);
  }
  fs.rmSync(ROOT, { recursive: true, force: true });
}

main();
