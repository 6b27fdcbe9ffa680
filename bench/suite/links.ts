/**
 * Where `npm run bench` copies: tmpfs on this machine, an sshd of its own on 127.0.0.1, and the
 * emulated WAN of ../shared/bench/wan/wan.sh (two network namespaces that share this file system,
 * so a remote path is a local path too). A network link knows how much CPU its ssh server's
 * finished sessions used, so that every tool's server side is counted alike.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export type LinkName = 'local' | 'loopback' | 'wan50' | 'wan200' | 'wan50-loss' | 'wan200-loss';
export const LINK_NAMES: readonly LinkName[] = ['local', 'loopback', 'wan50', 'wan200', 'wan50-loss', 'wan200-loss'];

/** One-way delay (ms), rate (Mbit/s) and loss (%) of each emulated WAN. */
const WAN_SHAPES: Record<string, [number, number, number]> = {
  wan50: [25, 1000, 0],
  wan200: [100, 1000, 0],
  'wan50-loss': [25, 1000, 0.1],
  'wan200-loss': [100, 1000, 0.1],
};
const WAN_SCRIPT = path.resolve(__dirname, '../../../../shared/bench/wan/wan.sh');
export const WAN_DIR = process.env.WAN_DIR ?? '/tmp/fcp-wan';
export const WAN_HOST_B = '10.77.0.2';
/** The client's end of the WAN (wan.sh's host A) and the namespaces of both ends. */
export const WAN_HOST_A = '10.77.0.1';
export const WAN_NETNS_A = 'fcpA';
export const WAN_NETNS_B = 'fcpB';
const IPERF_SECONDS = 10;
/** wanlink's real-time (SCHED_RR) priority. */
const WANLINK_PRIORITY = 50;
/**
 * The WAN sshd's priority is the bench's own, inherited by every session it starts (the server
 * side of scp, rsync, tar and fcpd): real-time when the bench runs under `chrt -r N`, as the runs
 * did until 2026-12-06, normal otherwise. At normal priority under a real-time bench the server
 * side alone waited for the other engineers' builds: fcp's remote command took 0.55 s from the
 * exec to its first line at load 2.5 and 2.1 s at load 10 (FCP_TRACE, 2026-12-05), while the
 * floors' receivers, children of the timed command, ran at real-time priority. Without chrt
 * (docs/BENCHMARKS.md, Scheduling) both sides run as users run them.
 */
function ownRealtimePriority(): number | undefined {
  const shown = execFileSync('chrt', ['-p', String(process.pid)], { encoding: 'utf8' });
  if (!/SCHED_(RR|FIFO)/.test(shown)) return undefined;
  const priority = /scheduling priority: (\d+)/.exec(shown)?.[1];
  return priority === undefined ? undefined : Number(priority);
}

export interface Link {
  name: LinkName;
  /** What the tables say of it. */
  description: string;
  /** The ssh_config Host and the file defining it; none for the local link. */
  host?: string;
  sshConfig?: string;
  /** The command as it runs on the client's host. */
  wrap(command: string[]): string[];
  /** The ssh server's pid, where the bench started it (its sessions are its children). */
  serverPid?: number;
  /** CPU seconds (user + system) the ssh server's finished sessions have used so far. */
  serverCpu(): number | undefined;
  /** Waits until the server has reaped the sessions of a finished command. */
  settle(): void;
  /** What TCP carries on the link with 1 and 8 streams (Mbit/s), measured once: the WAN's reference. */
  iperf?: { streams1: number; streams8: number };
  close(): void;
}

/** user + system CPU seconds of the children `pid` has reaped (fields 16 and 17 of /proc/PID/stat). */
function reapedCpu(pid: number): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[13]) + Number(fields[14])) / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  } catch {
    return undefined;
  }
}

function waitForNoChildren(pid: number): void {
  for (let tries = 0; tries < 100 && spawnSync('pgrep', ['-P', String(pid)]).status === 0; tries++) spawnSync('sleep', ['0.05']);
}

export function sshConfigFile(file: string, host: string, hostName: string, port: number, identity: string): void {
  fs.writeFileSync(
    file,
    [`Host ${host}`, `  HostName ${hostName}`, `  Port ${port}`, '  User root', `  IdentityFile ${identity}`, '  StrictHostKeyChecking no', '  UserKnownHostsFile /dev/null', '  LogLevel ERROR', ''].join('\n'),
  );
}

function localLink(): Link {
  return { name: 'local', description: 'this machine, tmpfs to tmpfs', wrap: (c) => c, serverCpu: () => undefined, settle: () => undefined, close: () => undefined };
}

function freePort(): number {
  return Number(execFileSync('python3', ['-c', 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'], { encoding: 'utf8' }));
}

function loopbackLink(work: string): Link {
  const dir = path.join(work, 'sshd');
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync('/run/sshd', { recursive: true });
  for (const key of ['host', 'id']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, key)]);
  fs.copyFileSync(path.join(dir, 'id.pub'), path.join(dir, 'authorized_keys'));
  const port = freePort();
  fs.writeFileSync(
    path.join(dir, 'sshd_config'),
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host`, `AuthorizedKeysFile ${dir}/authorized_keys`, 'PermitRootLogin yes', 'StrictModes no', 'UsePAM no', 'MaxSessions 64', 'MaxStartups 64', 'Subsystem sftp /usr/lib/openssh/sftp-server', ''].join('\n'),
  );
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-f', path.join(dir, 'sshd_config'), '-E', path.join(dir, 'log')], { stdio: 'ignore' });
  const sshConfig = path.join(dir, 'config');
  sshConfigFile(sshConfig, 'bench', '127.0.0.1', port, path.join(dir, 'id'));
  for (let tries = 0; spawnSync('ssh', ['-F', sshConfig, 'bench', 'true']).status !== 0; tries++) {
    if (tries > 50) throw new Error(`the loopback sshd did not start: ${fs.readFileSync(path.join(dir, 'log'), 'utf8')}`);
    spawnSync('sleep', ['0.1']);
  }
  return {
    name: 'loopback',
    description: `an sshd on 127.0.0.1 (OpenSSH ${spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim()})`,
    host: 'bench',
    sshConfig,
    wrap: (c) => c,
    serverPid: sshd.pid!,
    serverCpu: () => reapedCpu(sshd.pid!),
    settle: () => waitForNoChildren(sshd.pid!),
    close: () => sshd.kill(),
  };
}

/** How often a client tries again while the iperf3 server in host B is still starting. */
const IPERF_CONNECT_TRIES = 50;
/** Each reference is the better of this many iperf3 runs: one stalled run on a loaded machine would flatter every tool. */
const IPERF_REPEATS = 2;

/** One iperf3 run from host A with `streams` streams (Mbit/s received), against the server already started in host B. */
function iperfOnce(streams: number): number {
  for (let tries = 0; ; tries++) {
    const run = spawnSync('bash', [WAN_SCRIPT, 'a', 'iperf3', '-J', '-c', WAN_HOST_B, '-P', String(streams), '-t', String(IPERF_SECONDS)], { encoding: 'utf8' });
    let report: { error?: string; end?: { sum_received?: { bits_per_second: number } } } = {};
    try {
      report = JSON.parse(run.stdout) as typeof report;
    } catch {
      // No report at all: the error is in stderr.
    }
    const received = report.end?.sum_received?.bits_per_second;
    if (run.status === 0 && received !== undefined) return received / 1e6;
    if (!/unable to connect|refused/i.test(report.error ?? '') || tries >= IPERF_CONNECT_TRIES) throw new Error(`iperf3 -P ${streams} failed: ${report.error ?? run.stderr}`);
    spawnSync('sleep', ['0.1']);
  }
}

/**
 * What TCP carries on the link with 1 and 8 streams, from one iperf3 server in host B (a one-off
 * server per run raced its own start: the client was refused, or measured a stall).
 */
function measureIperf(): { streams1: number; streams8: number } {
  const pidFile = path.join(WAN_DIR, 'iperf3.pid');
  execFileSync('bash', [WAN_SCRIPT, 'b', 'iperf3', '-s', '-D', '-I', pidFile]);
  try {
    const best = (streams: number) => Math.max(...Array.from({ length: IPERF_REPEATS }, () => iperfOnce(streams)));
    return { streams1: best(1), streams8: best(8) };
  } finally {
    for (let tries = 0; tries < 20 && !fs.existsSync(pidFile); tries++) spawnSync('sleep', ['0.1']);
    if (fs.existsSync(pidFile)) spawnSync('kill', [fs.readFileSync(pidFile, 'utf8').trim()]);
  }
}

function wanLink(name: LinkName, work: string): Link {
  const [delay, rate, loss] = WAN_SHAPES[name]!;
  if (!fs.existsSync(WAN_SCRIPT)) throw new Error(`${WAN_SCRIPT} is missing`);
  const down = () => execFileSync('bash', [WAN_SCRIPT, 'down'], { stdio: 'ignore' });
  execFileSync('bash', [WAN_SCRIPT, 'up', String(delay), String(rate), String(loss)], { stdio: 'ignore' });
  let iperf: Link['iperf'];
  try {
    // wanlink is the link itself: at normal priority on a loaded machine it stalls and adds delay
    // no tool asked for, so it runs at real-time priority, above the tools it carries.
    execFileSync('chrt', ['-r', '-p', String(WANLINK_PRIORITY), fs.readFileSync(path.join(WAN_DIR, 'wanlink.pid'), 'utf8').trim()]);
    execFileSync('bash', [WAN_SCRIPT, 'sshd'], { stdio: 'ignore' });
    const serverPriority = ownRealtimePriority();
    if (serverPriority !== undefined) execFileSync('chrt', ['-r', '-p', String(serverPriority), fs.readFileSync(path.join(WAN_DIR, 'sshd.pid'), 'utf8').trim()]);
    iperf = measureIperf();
  } catch (err) {
    // The WAN is shared: a link that failed to open is not left up.
    down();
    throw err;
  }
  const sshConfig = path.join(work, 'wanconfig');
  sshConfigFile(sshConfig, 'wanb', WAN_HOST_B, 22, path.join(WAN_DIR, 'id_ed25519'));
  const sshdPid = () => Number(fs.readFileSync(path.join(WAN_DIR, 'sshd.pid'), 'utf8'));
  return {
    name,
    description: `emulated WAN, ${2 * delay} ms RTT, ${rate} Mbit/s, ${loss} % loss`,
    host: 'wanb',
    sshConfig,
    wrap: (c) => ['bash', WAN_SCRIPT, 'a', ...c],
    serverCpu: () => reapedCpu(sshdPid()),
    settle: () => waitForNoChildren(sshdPid()),
    iperf,
    close: down,
  };
}

export function openLink(name: LinkName, work: string): Link {
  if (name === 'local') return localLink();
  if (name === 'loopback') return loopbackLink(work);
  return wanLink(name, work);
}
