/**
 * Resume over SSH (issue 12): kill -9 of `fcp`, of the remote `fcpd`, and of both at the same
 * moment (a reboot: neither flushes anything beyond the journal's own flush policy), at a point
 * fast-check picks during a multi-chunk upload and download through a real OpenSSH server, then
 * the same command again: the files are byte-identical and the rerun sends a bounded amount.
 *
 * The bound, from numbers the test observes: the rerun sends exactly what the journal on disk
 * after the kill does not vouch for (nothing verified and journaled is sent again), and that is
 * at most the rest of the file from the progress seen at the kill, plus the chunks in flight (the
 * sender's pump buffers), plus one journal flush interval at the --bwlimit rate.
 *
 * After kill -9 of fcp the remote fcpd must notice and exit within seconds (polled with a generous
 * deadline), keeping the part file and the journal that the rerun resumes from.
 *
 * The remote fcpd runs as a symlink with a name of its own, so that its processes are found by
 * their command line (they are children of sshd, not of fcp).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { SEND_BUFFERS_PER_CONNECTION } from '../../../src/session/buffering';
import { JOURNAL_FLUSH_BYTES, JOURNAL_FLUSH_MS } from '../../../src/state/chunkJournal';
import { alive, childEnv, content, expectExit, FCP, FCPD, killAll, processesWithArgument, runFcp, sha256, show, tempDir, unique } from './harness';
import { atProgress, journaledBytes as journaledBytesOf, resumeFigures } from '../helpers/interrupt';
import { Sshd, startSshd } from './sshd';

jest.setTimeout(180_000);

const CHUNK = 256 * 1024;
const CONNECTIONS = 2;
const SIZE = 40 * CHUNK + 777;
/** The interrupted run's --bwlimit, so that a kill lands mid-file and a flush interval is small. */
const RATE = 4 * 1024 * 1024;
const SHAPE = ['--chunk-size', '256K', '-n', String(CONNECTIONS)];
/** Written by the sender and perhaps not yet verified by the receiver when one of them dies. */
const IN_FLIGHT = CONNECTIONS * SEND_BUFFERS_PER_CONNECTION * CHUNK;
/** Chunks verified by the receiver and perhaps not yet in its journal on disk: one flush interval. */
const FLUSH_INTERVAL = Math.min(JOURNAL_FLUSH_BYTES, (RATE * JOURNAL_FLUSH_MS) / 1000);
/** How long an fcpd whose fcp died may take to notice and exit ("within a few seconds"; generous for loaded machines). */
const FCPD_EXIT_MS = 20_000;

let sshd: Sshd;
let home: string;
let work: string;
let env: NodeJS.ProcessEnv;
/** bin/fcpd under a name only this file's remote fcpd processes have on their command line. */
let fcpdLink: string;
let xxh: XXHashAPI;

beforeAll(async () => {
  xxh = await loadXxhash();
  sshd = await startSshd();
  home = tempDir('resume-kill-home');
  work = tempDir('resume-kill-work');
  env = childEnv(home);
  fcpdLink = path.join(work, unique('fcpd-resume-kill'));
  fs.symlinkSync(FCPD, fcpdLink);
});

afterAll(async () => {
  for (const pid of remoteFcpds()) killHard(pid);
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const login = (): string[] => ['-F', sshd.sshConfig, '--fcpd-path', `env XDG_STATE_HOME=${sshd.stateDir} ${process.execPath} ${fcpdLink}`];
const at = (p: string): string => `${sshd.alias}:${p}`;

/**
 * The remote fcpd processes of this file's runs: node with fcpdLink as an argument of its own (fcp
 * and the shell sshd runs have it only inside a longer argument, the --fcpd-path command).
 */
const remoteFcpds = (): number[] => processesWithArgument(fcpdLink);

/** kill -9; a process that ended between the listing and the kill (an earlier run's fcpd, under load) is as good. */
function killHard(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

async function gone(pids: number[], ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (!pids.some(alive)) return true;
  return !pids.some(alive);
}

interface Case {
  direction: 'upload' | 'download';
  /** 'both': fcp and fcpd at the same moment, as a reboot does (nothing gets to flush or clean up). */
  victim: 'fcp' | 'fcpd' | 'both';
}

/** A source file of its own, and where the copy goes (the receiver's side holds the journal). */
function layout(direction: Case['direction']): { source: string; target: string; dest: string; args: [string, string] } {
  const dir = path.join(work, unique(direction));
  fs.mkdirSync(path.join(dir, 'from'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'to'));
  const source = path.join(dir, 'from', 'big');
  fs.writeFileSync(source, content(SIZE, dir));
  const dest = path.join(dir, 'to', 'big');
  // Both sides are this machine: "remote" is whichever side fcpd serves.
  const args: [string, string] = direction === 'upload' ? [source, at(dest)] : [at(source), dest];
  return { source, target: path.join(dir, 'to'), dest, args };
}

/**
 * Runs the copy at RATE and kill -9s the victim once fcp's progress passed `bytes`: resolves with
 * that progress, the remote fcpds alive at the kill, and how fcp ended.
 */
async function interrupt(args: [string, string], bytes: number, victim: Case['victim']): Promise<{ progress: number; fcpds: number[]; code: number | null }> {
  const child = spawn(process.execPath, [FCP, '--json', ...login(), ...SHAPE, '--bwlimit', `${RATE / 1024}K`, ...args], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let fcpds: number[] = [];
  const { progress, code } = await atProgress(child, bytes, () => {
    fcpds = remoteFcpds();
    if (victim !== 'fcpd') child.kill('SIGKILL');
    if (victim !== 'fcp') for (const pid of fcpds) killHard(pid);
  });
  return { progress, fcpds, code };
}

/** The bytes of the chunks the journal beside `dest` vouches for (0 when there is none). */
function journaledBytes(dest: string): number {
  return journaledBytesOf(xxh, path.join(path.dirname(dest), `.${path.basename(dest)}.fcp-part.journal`), SIZE, CHUNK);
}

async function killAndRerun({ direction, victim }: Case, fraction: number): Promise<void> {
  const { source, target, dest, args } = layout(direction);
  const killed = await interrupt(args, Math.floor(SIZE * fraction), victim);
  expect(killed.fcpds).toHaveLength(1);
  // Whichever side lives on notices that its peer is gone and exits, keeping its journal.
  if (victim === 'fcpd') expect(killed.code).toBeGreaterThan(0);
  if (victim === 'both') expect(killed.code).toBeNull();
  expect(await gone(killed.fcpds, FCPD_EXIT_MS)).toBe(true);
  const journaled = journaledBytes(dest);
  const receiverLived = victim !== 'both' && (direction === 'upload') === (victim === 'fcp');
  if (receiverLived) {
    // It flushed every chunk it had verified on its way out, and kept its part file for the rerun.
    expect(fs.existsSync(path.join(target, '.big.fcp-part'))).toBe(true);
    expect(journaled).toBeGreaterThanOrEqual(killed.progress - IN_FLIGHT);
  }

  const rerun = await runFcp(['--json', ...login(), ...SHAPE, ...args], { env });
  expectExit(rerun, 0);
  const summary = resumeFigures(rerun.stdout);
  expect(sha256(dest)).toBe(sha256(source));
  expect(fs.readdirSync(target).filter((name) => name.includes('.fcp-'))).toEqual([]);
  // Nothing the journal vouched for is sent again ...
  expect(summary).toEqual({ bytesSent: SIZE - journaled, bytesResumed: journaled });
  // ... and what it did not vouch for is at most what was in flight plus one flush interval.
  const bound = SIZE - killed.progress + IN_FLIGHT + FLUSH_INTERVAL;
  if (summary.bytesSent > bound) throw new Error(`rerun sent ${summary.bytesSent} bytes, more than ${bound} (progress ${killed.progress} at the kill)\n${show(rerun)}`);
}

const cases: Case[] = [
  { direction: 'upload', victim: 'fcp' },
  { direction: 'upload', victim: 'fcpd' },
  { direction: 'download', victim: 'fcp' },
  { direction: 'download', victim: 'fcpd' },
  { direction: 'upload', victim: 'both' },
  { direction: 'download', victim: 'both' },
];

const survivors: Record<Case['victim'], string> = {
  fcp: 'the remote fcpd exits within seconds, its',
  fcpd: 'fcp exits with an error, the',
  both: 'nothing flushes or cleans up (a reboot), the',
};

// One kill point per case (six in all): each run logs in over SSH twice, which is most of its time.
describe.each(cases)('$direction, kill -9 of $victim at a point fast-check picks', (which) => {
  const survivor = survivors[which.victim];
  test(`${survivor} partial state is kept, and the rerun gives an identical file sending at most the rest, what was in flight and one flush interval`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.double({ min: 0.2, max: 0.8, noNaN: true }), (fraction) => killAndRerun(which, fraction)),
      { numRuns: 1 },
    );
  });
});
