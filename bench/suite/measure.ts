/**
 * Runs the tools RUNS times each, round robin, on one link and data set: the median wall-clock seconds and their
 * spread, CPU seconds of the client (the command and its children) and of the server (the ssh
 * server's sessions, fcpd among them), and peak RSS of the client and, for fcp, of fcpd. The
 * first run's output is compared with the source before any time is reported.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { treeDigest, type DataSet } from './data';
import type { Link } from './links';
import type { Tool } from './tools';

export interface Measurement {
  label: string;
  role: Tool['role'];
  /** Median wall-clock seconds, fastest and slowest run, every run. */
  seconds: number;
  spread: [number, number];
  runs: number[];
  /** Median CPU seconds (user + system) of the client side and of the server side. */
  cpuClient: number;
  cpuServer?: number;
  /** Largest peak RSS (MB) of one client process, and of fcpd. */
  rssClientMb: number;
  rssServerMb?: number;
  /** Why the tool has no time: it failed, or its output differs from the source. */
  error?: string;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** How long fcpd may take to exit after fcp has. */
const FCPD_EXIT_MS = 10_000;

/**
 * CPU seconds and the largest peak RSS (MB) of the fcpds of a run, from the "user system
 * maxrss-KiB" lines GNU time appends as each exits; none when no fcpd ran through the wrapper.
 */
function fcpdUsage(log: string, expected: boolean): { cpu: number; rssMb: number } | undefined {
  const deadline = Date.now() + (expected ? FCPD_EXIT_MS : 0);
  for (;;) {
    const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((line) => /^[\d.]+ [\d.]+ \d+$/.test(line)) : [];
    if (lines.length > 0) {
      const fields = lines.map((line) => line.split(' ').map(Number));
      return { cpu: fields.reduce((sum, f) => sum + f[0]! + f[1]!, 0), rssMb: Math.max(...fields.map((f) => f[2]!)) / 1024 };
    }
    if (Date.now() >= deadline) return undefined;
    spawnSync('sleep', ['0.1']);
  }
}

export interface MeasureContext {
  link: Link;
  data: DataSet;
  /** The source's treeDigest. */
  digest: string;
  /** The output directory: emptied and made again before each run. */
  out: string;
  /** Where the fcpd wrapper writes its usage (timedFcpd). */
  fcpdLog: string;
  runs: number;
}

/** One tool's runs so far, kept between the rounds of measureAll. */
interface Samples {
  tool: Tool;
  seconds: number[];
  cpuClient: number[];
  cpuServer: number[];
  rssClientMb: number;
  rssServerMb?: number;
  error?: string;
}

/** The unrelated file every run's output directory holds before the copy. */
const HELD_ENTRY = '.profile';

/** What a landing data set's output holds before the copy: its first directory, or all of it (cp -a: modes and mtimes kept, so that a quick check finds them). */
function prepareLanding(data: DataSet, landing: string): void {
  if (data.landing === 'all') return void execFileSync('cp', ['-a', data.path, landing]);
  fs.mkdirSync(landing);
  execFileSync('cp', ['-a', path.join(data.path, 'd0'), landing]);
}

/** One run of one tool, added to its samples; its output is checked on its first run. */
function runOnce(samples: Samples, context: MeasureContext): void {
  const { tool } = samples;
  const { link, data, out, fcpdLog } = context;
  const timeFile = path.join(path.dirname(out), 'time.out');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  // The output directory holds something else, as a home directory does (`fcp -r dir host:`):
  // into an empty one the receiver says so (DEST_STATE 0), a path users take less often.
  fs.writeFileSync(path.join(out, HELD_ENTRY), '');
  if (data.landing) prepareLanding(data, path.join(out, data.name));
  fs.rmSync(fcpdLog, { force: true });
  const before = link.serverCpu();
  const done = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...link.wrap(tool.command(data, out))], { encoding: 'utf8' });
  link.settle();
  const fcpd = fcpdUsage(fcpdLog, tool.role === 'fcp' && link.host !== undefined);
  const after = link.serverCpu();
  if (done.status !== 0) {
    samples.error = `exit ${done.status}: ${(done.stderr ?? '').trim().split('\n').slice(-2).join(' ')}`;
    return;
  }
  if (samples.seconds.length === 0 && treeDigest(path.join(out, data.name)) !== context.digest) {
    samples.error = 'its output differs from the source';
    return;
  }
  const [wall, user, system, rssKb] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  samples.seconds.push(wall!);
  samples.cpuClient.push(user! + system!);
  if (before !== undefined && after !== undefined) {
    // fcpd outlives the SSH session that started it when fcp closes the connection first: then
    // no sshd reaps it and its CPU is not among the sessions', so it is added from its wrapper.
    const sessions = after - before;
    samples.cpuServer.push(fcpd && fcpd.cpu > sessions ? sessions + fcpd.cpu : sessions);
  }
  samples.rssClientMb = Math.max(samples.rssClientMb, rssKb! / 1024);
  if (fcpd) samples.rssServerMb = Math.max(samples.rssServerMb ?? 0, fcpd.rssMb);
}

/**
 * Every tool `runs` times, round robin (one run of each tool per round), so that a slow spell
 * of a shared machine falls on every tool alike rather than on whichever ran then. A tool that
 * fails or whose output differs runs no more and gets no time.
 */
export function measureAll(tools: Tool[], context: MeasureContext): Measurement[] {
  const all: Samples[] = tools.map((tool) => ({ tool, seconds: [], cpuClient: [], cpuServer: [], rssClientMb: 0 }));
  for (let round = 0; round < context.runs; round++) for (const samples of all) if (!samples.error) runOnce(samples, context);
  fs.rmSync(context.out, { recursive: true, force: true });
  return all.map(({ tool, seconds, cpuClient, cpuServer, rssClientMb, rssServerMb, error }): Measurement => {
    const result: Measurement = { label: tool.label, role: tool.role, seconds: NaN, spread: [NaN, NaN], runs: seconds, cpuClient: NaN, rssClientMb, rssServerMb };
    if (error) return { ...result, error };
    return {
      ...result,
      seconds: median(seconds),
      spread: [Math.min(...seconds), Math.max(...seconds)],
      cpuClient: median(cpuClient),
      cpuServer: cpuServer.length === context.runs ? median(cpuServer) : undefined,
    };
  });
}
