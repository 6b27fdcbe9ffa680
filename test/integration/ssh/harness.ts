/**
 * What the SSH test files share: running bin/fcp and bin/fcpd as real child processes with a
 * controlled environment (a temporary HOME, no agent unless a test starts one, no controlling
 * terminal), trees to copy and their snapshots (content sha256, mode, mtime to the microsecond,
 * symlink targets), ssh_config files, and ssh-agent.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { runNode as runProcess, runProgram } from '../helpers/run';
import type { RunResult } from '../helpers/run';
import { killAll } from '../helpers/run';
import { fcpdCommand, Sshd, startSshd } from './sshd';
export { killAll };

export const REPO = path.resolve(__dirname, '../../..');
export const FCP = path.join(REPO, 'bin', 'fcp');
export const FCPD = path.join(REPO, 'bin', 'fcpd');

// --- processes --------------------------------------------------------------------------------

export interface Run extends RunResult {
  /** What ran: bin/fcp or bin/fcpd and its arguments. */
  args: string[];
}

/**
 * The environment of every fcp/fcpd child: this process's, with HOME replaced (so ~/.ssh is the
 * test's, never the real one), and no agent, daemon state or SSH session inherited.
 */
export function childEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // undefined, not deleted: runs lay this over this process's environment, leaving such keys out.
  for (const name of ['SSH_AUTH_SOCK', 'SSH_AGENT_PID', 'XDG_STATE_HOME', 'SSH_CONNECTION', 'SSH_CLIENT', 'SSH_TTY']) env[name] = undefined;
  env.HOME = home;
  for (const [key, value] of Object.entries(extra)) {
    env[key] = value;
  }
  return env;
}

/**
 * Runs `node <bin> args...` in a new session (detached: no controlling terminal, so no prompt
 * can ever be shown) with stdin from /dev/null; a run that outlives timeoutMs is killed with its
 * whole process group and reported as timed out. Never rejects.
 */
export async function runNode(bin: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<Run> {
  // fcpd -d leaves a daemon in this run's process group: it must outlive the run.
  const result = await runProcess(bin, args, { ...options, timeoutMs: options.timeoutMs ?? 45_000, keepGroup: true });
  return { ...result, args: [path.basename(bin), ...args] };
}

export function runFcp(args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<Run> {
  return runNode(FCP, args, options);
}

/**
 * fcpd run locally (fcpd -d, --status, --stop): its process group is not killed afterwards.
 * `openFiles` starts it with that open-file limit (prlimit: Node cannot set its own).
 */
export async function runFcpd(args: string[], options: { env: NodeJS.ProcessEnv; timeoutMs?: number; openFiles?: number }): Promise<Run> {
  if (options.openFiles === undefined) return runNode(FCPD, args, options);
  const run = await runProgram('prlimit', [`--nofile=${options.openFiles}`, process.execPath, FCPD, ...args], { ...options, timeoutMs: options.timeoutMs ?? 45_000, keepGroup: true });
  return { ...run, args: [path.basename(FCPD), ...args] };
}

/** For assertion messages: what ran and everything it said. */
export function show(run: Run): string {
  return (
    `${run.args.map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n` +
    `=> exit ${run.code}${run.signal ? ` signal ${run.signal}` : ''}${run.timedOut ? ' (TIMED OUT)' : ''} in ${run.ms} ms\n` +
    `--- stderr ---\n${run.stderr}--- stdout ---\n${run.stdout.slice(0, 3000)}`
  );
}

/**
 * A test file's sshd, work directory and child environment (a home of its own, `extraEnv` laid
 * over it): started in beforeAll, stopped and removed in afterAll with every process the file
 * started. Read its fields inside tests (they are set once beforeAll ran).
 */
export function useSshdWorkspace(label: string, extraEnv: NodeJS.ProcessEnv = {}): { sshd: Sshd; work: string; env: NodeJS.ProcessEnv } {
  const space = {} as { sshd: Sshd; work: string; env: NodeJS.ProcessEnv; home: string };
  beforeAll(async () => {
    space.sshd = await startSshd();
    space.work = tempDir(label);
    space.home = tempDir(`${label}-home`);
    space.env = childEnv(space.home, extraEnv);
  });
  afterAll(async () => {
    killAll();
    await space.sshd?.stop();
    for (const dir of [space.home, space.work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return space;
}

/** Asserts a run's outcome, with everything it printed in the failure message. */
export function expectExit(run: Run, code: number): void {
  if (run.code !== code || run.timedOut) throw new Error(`expected exit ${code}\n${show(run)}`);
}

/** Asserts an exit code, an FCP_ERR code and message fragments on stderr. */
export function expectFailure(run: Run, code: number, errCode: string, ...patterns: RegExp[]): void {
  expectExit(run, code);
  const problems: string[] = [];
  if (!run.stderr.includes(errCode)) problems.push(`stderr does not name ${errCode}`);
  for (const pattern of patterns) if (!pattern.test(run.stderr)) problems.push(`stderr does not match ${pattern}`);
  if (/^\s+at\s/m.test(run.stderr)) problems.push('stderr shows a stack trace');
  if (problems.length > 0) throw new Error(`${problems.join('; ')}\n${show(run)}`);
}

// --- files ------------------------------------------------------------------------------------

/** Waits until `done()` holds, failing with "`what` within N s" after `ms`. */
export async function waitFor(what: string, done: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`${what} within ${ms / 1000} s`);
  }
}

export function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `fcp-${label}-`));
}

export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Deterministic pseudo-random content (incompressible, different per seed). */
export function content(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * mtimes with sub-second parts (down to 1/64 s) that a double holds exactly: a copy that keeps
 * only seconds or milliseconds shows. Exactness to the microsecond for arbitrary values is what
 * the dedicated test in copy.test.ts checks (one bug, one failing test).
 */
const MTIMES = [1_600_000_000.5, 1_500_000_123.5, 1_400_000_456.125, 1_300_000_789.0625, 1_234_567_890.03125, 1_111_111_111.015625];

export function writeFile(file: string, data: Buffer, mode: number, mtimeIndex: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  fs.chmodSync(file, mode);
  const mtime = MTIMES[mtimeIndex % MTIMES.length]!;
  fs.utimesSync(file, mtime, mtime);
}

/**
 * Sets a file's mtime to exactly `us` microseconds since the epoch. fs.utimes takes seconds as a
 * double and libuv truncates it to whole microseconds, so the value is nudged by half a
 * microsecond to land on `us` whatever the double's rounding; checked with a bigint stat.
 */
export function setMtimeUs(file: string, us: bigint): void {
  const seconds = Number(us) / 1e6 + 5e-7;
  fs.utimesSync(file, seconds, seconds);
  const got = fs.statSync(file, { bigint: true }).mtimeNs / 1000n;
  if (got !== us) throw new Error(`test setup: could not set the mtime of ${file} to ${us} us (got ${got})`);
}

/**
 * A small tree: files of several modes, sizes (empty, odd, a few chunks) and mtimes, an empty
 * directory, a nested directory with its own mode, and a symlink. Directory mtimes are set last.
 */
export function makeTree(root: string, seed: string): void {
  fs.mkdirSync(root, { recursive: true });
  writeFile(path.join(root, 'big.bin'), content(2 * 1024 * 1024 + 12_345, `${seed}/big`), 0o644, 0);
  writeFile(path.join(root, 'run.sh'), Buffer.from('#!/bin/sh\necho fcp\n'), 0o755, 1);
  writeFile(path.join(root, 'secret'), content(777, `${seed}/secret`), 0o600, 2);
  writeFile(path.join(root, 'empty'), Buffer.alloc(0), 0o640, 3);
  writeFile(path.join(root, 'sub dir', 'nested.dat'), content(70_001, `${seed}/nested`), 0o604, 4);
  writeFile(path.join(root, 'sub dir', 'deeper', 'leaf'), content(3, `${seed}/leaf`), 0o444, 5);
  fs.mkdirSync(path.join(root, 'empty dir'));
  fs.symlinkSync('sub dir/nested.dat', path.join(root, 'link'));
  fs.chmodSync(path.join(root, 'sub dir', 'deeper'), 0o700);
  fs.chmodSync(path.join(root, 'sub dir'), 0o750);
  fs.chmodSync(path.join(root, 'empty dir'), 0o705);
  fs.utimesSync(path.join(root, 'sub dir', 'deeper'), 1_222_222_222.5, 1_222_222_222.5);
  fs.utimesSync(path.join(root, 'sub dir'), 1_333_333_333.75, 1_333_333_333.75);
  fs.utimesSync(path.join(root, 'empty dir'), 1_444_444_444.125, 1_444_444_444.125);
  fs.utimesSync(root, 1_555_555_555.5, 1_555_555_555.5);
}

export interface Entry {
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: string;
  /** mtime in whole microseconds (fcp preserves it to the microsecond). */
  mtimeUs: string;
  sha256?: string;
  target?: string;
}

function entry(p: string): Entry {
  const st = fs.lstatSync(p, { bigint: true });
  const mode = (Number(st.mode) & 0o7777).toString(8).padStart(4, '0');
  const mtimeUs = (st.mtimeNs / 1000n).toString();
  if (st.isSymbolicLink()) return { type: 'symlink', mode: '-', mtimeUs: '-', target: fs.readlinkSync(p) };
  if (st.isDirectory()) return { type: 'dir', mode, mtimeUs };
  if (st.isFile()) return { type: 'file', mode, mtimeUs, sha256: sha256(p) };
  return { type: 'other', mode, mtimeUs };
}

/**
 * Everything about a file or tree that fcp must preserve, keyed by path relative to root ('.' is
 * the root itself). Symlink modes and mtimes are not compared (Linux ignores link modes).
 */
export function snapshot(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  const visit = (rel: string): void => {
    const full = rel === '.' ? root : path.join(root, rel);
    const e = entry(full);
    out[rel] = e;
    if (e.type === 'dir') for (const name of fs.readdirSync(full).sort()) visit(rel === '.' ? name : path.join(rel, name));
  };
  visit('.');
  return out;
}

/** Asserts that `copy` holds what `original` holds: content, modes, mtimes, links. */
export function expectSameTree(copy: string, original: string, run?: Run): void {
  const want = snapshot(original);
  let got: Record<string, Entry>;
  try {
    got = snapshot(copy);
  } catch (err) {
    throw new Error(`${copy} is missing: ${(err as Error).message}${run ? `\n${show(run)}` : ''}`);
  }
  expect(got).toEqual(want);
}

export function unique(label: string): string {
  return `${label}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

// --- ssh_config and keys ----------------------------------------------------------------------

export interface HostBlock {
  alias: string;
  hostName?: string;
  port?: number;
  user?: string;
  /** null: no IdentityFile line. */
  identity?: string | null;
  identitiesOnly?: boolean;
  knownHosts?: string;
  strict?: 'yes' | 'no' | 'accept-new' | 'ask';
  batchMode?: boolean;
  extra?: string[];
}

export function hostBlock(b: HostBlock): string {
  return [
    `Host ${b.alias}`,
    ...(b.hostName ? [`  HostName ${b.hostName}`] : []),
    ...(b.port ? [`  Port ${b.port}`] : []),
    ...(b.user ? [`  User ${b.user}`] : []),
    ...(b.identity ? [`  IdentityFile ${b.identity}`] : []),
    ...(b.identitiesOnly ? ['  IdentitiesOnly yes'] : []),
    ...(b.knownHosts ? [`  UserKnownHostsFile ${b.knownHosts}`] : []),
    ...(b.strict ? [`  StrictHostKeyChecking ${b.strict}`] : []),
    ...(b.batchMode === undefined ? [] : [`  BatchMode ${b.batchMode ? 'yes' : 'no'}`]),
    ...(b.extra ?? []).map((line) => `  ${line}`),
    '',
  ].join('\n');
}

export function writeSshConfig(file: string, blocks: HostBlock[]): string {
  fs.writeFileSync(file, blocks.map(hostBlock).join('\n'), { mode: 0o600 });
  return file;
}

/** A fresh ed25519 key pair; returns the private key's path and the public line. */
export function newKey(file: string, passphrase = ''): { file: string; pub: string } {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'fcp-test-other', '-f', file]);
  return { file, pub: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

export interface Agent {
  sock: string;
  pid: number;
  stop(): void;
}

/** `ssh-agent -s`, parsed; the caller stops it. */
export function startAgent(): Agent {
  const out = execFileSync('ssh-agent', ['-s'], { encoding: 'utf8', env: childEnv(os.tmpdir()) });
  const sock = /SSH_AUTH_SOCK=([^;\s]+)/.exec(out)?.[1];
  const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
  if (!sock || !Number.isInteger(pid) || pid <= 0) throw new Error(`cannot parse ssh-agent -s output: ${out}`);
  return {
    sock,
    pid,
    stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    },
  };
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Processes with `arg` as one of their arguments, exactly (a path only a test's processes have). */
export function processesWithArgument(arg: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(arg)) pids.push(Number(name));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/**
 * fcpd under a name of its own (a link in `dir`): the --fcpd-path command that runs it on `sshd`,
 * and its processes (node with the link as an argument of its own; fcp and the shell sshd runs
 * have it only inside a longer argument), which no other test's runs are among.
 */
export function ownFcpd(sshd: Sshd, dir: string): { command: string; running(): number[]; ended(): Promise<void> } {
  const link = path.join(dir, unique('fcpd'));
  fs.symlinkSync(FCPD, link);
  const running = (): number[] => processesWithArgument(link);
  // A signalled fcpd is gone once the kernel has run its exit, which a loaded machine delays:
  // waited for, but far short of the minute a reused fcpd would wait for another round.
  return { command: fcpdCommand(sshd.stateDir, '', link), running, ended: () => waitFor('fcpd to end', () => running().length === 0, 15_000) };
}

/** Every file below root as `name: content`, sorted (fcp's partial files of a transfer under way left out). */
export function filesWithContent(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((name) => !name.includes('.fcp-part') && fs.lstatSync(path.join(root, name), { throwIfNoEntry: false })?.isFile())
    // A file renamed or removed since the listing (a watch still at work) is not there: left out.
    .flatMap((name) => {
      try {
        return [`${name}: ${fs.readFileSync(path.join(root, name), 'utf8')}`];
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
    })
    .sort();
}
