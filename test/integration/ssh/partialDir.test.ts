/**
 * --partial-dir on an upload (issue 13 item 12): fcp hands it to the remote fcpd, shell-quoted, and
 * the interrupted upload's state is kept there (0700, under the destination directory, nothing
 * beside the file); the rerun resumes from it. A partial dir that would leave the destination
 * directory is refused by fcp and, handed to it directly, by fcpd.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { parseJournal } from '../../../src/state/chunkJournal';
import { childEnv, content, expectExit, expectFailure, FCP, killAll, runFcp, runFcpd, sha256, tempDir } from './harness';
import { fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(120_000);

/** A name a shell would expand if it were not quoted on its way to fcpd. */
const PARTIAL = '.part $(touch pwned) `id`';
const CHUNK = 256 * 1024;
const SIZE = 64 * CHUNK + 99;
/** Slow enough that the kill lands mid-file. */
const RATE = '1M';
/** The journal must vouch for this many chunks before the kill, so the rerun has something to resume. */
const HELD_BEFORE_KILL = 3;

let sshd: Sshd;
let work: string;
let env: NodeJS.ProcessEnv;
let xxh: XXHashAPI;

beforeAll(async () => {
  sshd = await startSshd();
  work = tempDir('partial-dir');
  env = childEnv(tempDir('partial-dir-home'));
  xxh = await loadXxhash();
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const upload = (extra: string[], file: string, destDir: string): string[] => [
  '-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(sshd.stateDir), '--json', '--chunk-size', '256K', '-n', '2', ...extra, file, `${sshd.alias}:${destDir}/`,
];

/** How many chunks the journal at `file` vouches for (0 while it is missing or unreadable). */
function journaled(file: string): number {
  try {
    return parseJournal(xxh, fs.readFileSync(file))?.chunks.size ?? 0;
  } catch {
    return 0;
  }
}

async function waitFor(what: string, done: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > end) throw new Error(`${what} within ${ms / 1000} s`);
  }
}

test('an interrupted upload keeps its state in the partial dir (quoted, 0700), and the rerun resumes from it', async () => {
  const source = path.join(work, 'big');
  fs.writeFileSync(source, content(SIZE, 'partial-dir'));
  const dest = path.join(work, 'dest');
  fs.mkdirSync(dest);
  const partialDir = path.join(dest, PARTIAL);
  const journal = path.join(partialDir, '.big.fcp-part.journal');

  const child = spawn(process.execPath, [FCP, ...upload(['--bwlimit', RATE, '--partial-dir', PARTIAL], source, dest)], { env, cwd: work, stdio: 'ignore', detached: true });
  try {
    await waitFor(`no journal vouching for ${HELD_BEFORE_KILL} chunks in ${partialDir}`, () => journaled(journal) >= HELD_BEFORE_KILL);
  } finally {
    child.kill('SIGKILL');
  }
  // fcpd notices that fcp is gone, flushes its journal and lets go of the part file.
  await waitFor('fcpd kept its lock', () => !fs.existsSync(path.join(partialDir, '.big.fcp-part.lock')), 20_000);
  expect(fs.statSync(partialDir).mode & 0o777).toBe(0o700);
  expect(fs.readdirSync(partialDir).sort()).toEqual(['.big.fcp-part', '.big.fcp-part.journal']);
  expect(fs.readdirSync(dest)).toEqual([PARTIAL]);
  const held = journaled(journal);

  const rerun = await runFcp(upload(['--partial-dir', PARTIAL], source, dest), { env, cwd: work });
  expectExit(rerun, 0);
  const summary = rerun.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>).find((r) => r.event === 'summary');
  expect(summary).toMatchObject({ bytes: SIZE, bytesResumed: held * CHUNK, bytesSent: SIZE - held * CHUNK });
  expect(sha256(path.join(dest, 'big'))).toBe(sha256(source));
  // Emptied, the partial dir goes; no shell ever ran the name.
  expect(fs.readdirSync(dest)).toEqual(['big']);
  expect(fs.existsSync(path.join(work, 'pwned'))).toBe(false);
});

test('a partial dir outside the destination directory: fcp refuses it (exit 2), and so does fcpd when handed one', async () => {
  const source = path.join(work, 'small');
  fs.writeFileSync(source, 'small\n');
  for (const dir of ['../out', '/tmp/abs', 'a/../../b', '']) {
    const run = await runFcp(upload(['--partial-dir', dir], source, path.join(work, 'nowhere')).filter((arg) => arg !== '--json'), { env, cwd: work });
    expectFailure(run, 2, 'FCP_ERR_USAGE', /--partial-dir/);
    expect(fs.existsSync(path.join(work, 'nowhere'))).toBe(false);
  }
  const fcpd = await runFcpd(['--serve', '--partial-dir', '../out'], { env });
  expectExit(fcpd, 2);
  expect(fcpd.stderr).toMatch(/relative path without \.\./);
});
