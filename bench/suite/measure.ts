/**
 * Runs one tool RUNS times on one link and data set: the median wall-clock seconds and their
 * spread, CPU seconds of the client (the command and its children) and of the server (the ssh
 * server's sessions, fcpd among them), and peak RSS of the client and, for fcp, of fcpd. The
 * first run's output is compared with the source before any time is reported.
 */
import { spawnSync } from 'node:child_process';
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

export function measure(tool: Tool, context: MeasureContext): Measurement {
  const { link, data, out, fcpdLog, runs } = context;
  const timeFile = path.join(path.dirname(out), 'time.out');
  const seconds: number[] = [];
  const cpuClient: number[] = [];
  const cpuServer: number[] = [];
  const result: Measurement = { label: tool.label, role: tool.role, seconds: NaN, spread: [NaN, NaN], runs: seconds, cpuClient: NaN, rssClientMb: 0 };
  for (let run = 0; run < runs; run++) {
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    fs.rmSync(fcpdLog, { force: true });
    const before = link.serverCpu();
    const done = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...link.wrap(tool.command(data, out))], { encoding: 'utf8' });
    link.settle();
    const fcpd = fcpdUsage(fcpdLog, tool.role === 'fcp' && link.host !== undefined);
    const after = link.serverCpu();
    if (done.status !== 0) return { ...result, error: `exit ${done.status}: ${(done.stderr ?? '').trim().split('\n').slice(-2).join(' ')}` };
    if (run === 0 && treeDigest(path.join(out, data.name)) !== context.digest) return { ...result, error: 'its output differs from the source' };
    const [wall, user, system, rssKb] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    seconds.push(wall!);
    cpuClient.push(user! + system!);
    if (before !== undefined && after !== undefined) {
      // fcpd outlives the SSH session that started it when fcp closes the connection first: then
      // no sshd reaps it and its CPU is not among the sessions', so it is added from its wrapper.
      const sessions = after - before;
      cpuServer.push(fcpd && fcpd.cpu > sessions ? sessions + fcpd.cpu : sessions);
    }
    result.rssClientMb = Math.max(result.rssClientMb, rssKb! / 1024);
    if (fcpd) result.rssServerMb = Math.max(result.rssServerMb ?? 0, fcpd.rssMb);
  }
  fs.rmSync(out, { recursive: true, force: true });
  return {
    ...result,
    seconds: median(seconds),
    spread: [Math.min(...seconds), Math.max(...seconds)],
    cpuClient: median(cpuClient),
    cpuServer: cpuServer.length === runs ? median(cpuServer) : undefined,
  };
}
