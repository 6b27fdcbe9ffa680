/**
 * scp's own flags, with their scp meaning, against a real OpenSSH server on 127.0.0.1: -4 and -6
 * (address family), -A (agent forwarding), -B (batch mode), -c (fcp's cipher), -S (the ssh
 * program), -C (chunk data deflated where it shrinks), and -T / -O accepted as no-ops, so that
 * scripts written for scp run unchanged.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, content, expectExit, expectFailure, expectSameTree, killAll, runFcp, show, startAgent, tempDir, unique, writeFile } from './harness';
import { explicitLogin, fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

let sshd: Sshd;
let home: string;
let work: string;
let file: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('scp-flags-home');
  work = tempDir('scp-flags-work');
  file = path.join(work, 'file.bin');
  writeFile(file, content(300 * 1024, 'scp-flags'), 0o640, 2);
  env = childEnv(home);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Login options for `host` (127.0.0.1 or localhost, so no strict host key check) with this checkout's fcpd. */
const login = (fcpdPath?: string): string[] => explicitLogin(sshd, 'no', fcpdPath);
const target = (host: string): string => `${sshd.user}@${host}:${path.join(work, unique('up'))}`;

test('-4 -B -T -O -c chacha20-poly1305: an upload sealed with ChaCha20-Poly1305, the flags accepted', async () => {
  const dest = target('127.0.0.1');
  const run = await runFcp(['-4', '-B', '-T', '-O', '-c', 'chacha20-poly1305', '-v', ...login(), file, dest], { env });
  expectExit(run, 0);
  expect(run.stderr).toContain('ChaCha20-Poly1305');
  expectSameTree(dest.slice(dest.indexOf(':') + 1), file, run);
});

test.each([
  ['aes128-gcm@openssh.com', 'AES-256-GCM'],
  ['blowfish-cbc,chacha20-poly1305@openssh.com', 'ChaCha20-Poly1305'],
  ['none', 'no encryption'],
])('-c %s: OpenSSH names pick the fcp cipher of their family (%s)', async (cipher, label) => {
  const dest = target('127.0.0.1');
  const run = await runFcp(['-c', cipher, '-v', ...login(), file, dest], { env });
  expectExit(run, 0);
  expect(run.stderr).toContain(label);
});

test('-c with no cipher fcp has, and -c none with --encrypt: usage errors (exit 2)', async () => {
  expectFailure(await runFcp(['-c', 'blowfish-cbc', file, target('127.0.0.1')], { env }), 2, 'FCP_ERR_USAGE', /no cipher fcp has/);
  expectFailure(await runFcp(['-c', 'none', '--encrypt', file, target('127.0.0.1')], { env }), 2, 'FCP_ERR_USAGE');
});

test('-6 reaches localhost over IPv6 only, where this sshd does not listen; -4 reaches it', async () => {
  const six = await runFcp(['-6', '-B', ...login(), file, target('localhost')], { env });
  expectFailure(six, 6, 'FCP_ERR_CONNECT', /cannot connect to localhost port \d+/);
  const four = await runFcp(['-6', '-4', '-B', ...login(), file, target('localhost')], { env });
  expectExit(four, 0);
});

test('-A forwards the agent to the remote session: fcpd sees SSH_AUTH_SOCK there, and only with -A', async () => {
  const agent = startAgent();
  try {
    execFileSync('ssh-add', ['-q', sshd.identity], { env: { ...env, SSH_AUTH_SOCK: agent.sock }, stdio: 'pipe' });
    const seen = async (flags: string[]): Promise<string> => {
      const record = path.join(work, unique('agent'));
      const fcpd = `printenv SSH_AUTH_SOCK > ${record}; ${fcpdCommand(sshd.stateDir)}`;
      const run = await runFcp([...flags, ...login(fcpd), file, target('127.0.0.1')], { env: { ...env, SSH_AUTH_SOCK: agent.sock } });
      expectExit(run, 0);
      return fs.readFileSync(record, 'utf8').trim();
    };
    expect(await seen(['-A'])).not.toBe('');
    expect(await seen([])).toBe('');
  } finally {
    agent.stop();
  }
});

test('-S ssh starts fcpd through the external ssh client, as -e does', async () => {
  const dest = target('127.0.0.1');
  const run = await runFcp(['-S', 'ssh', '-v', ...login(), file, dest], { env });
  expectExit(run, 0);
  expect(run.stderr).toMatch(/ssh: ssh \S+@127\.0\.0\.1\n/);
  expectSameTree(dest.slice(dest.indexOf(':') + 1), file, run);
  if (show(run).includes('carrying the connections through SSH')) throw new Error(`unexpected fallback\n${show(run)}`);
});

test.each(['push', 'pull'])('-C: a compressible text file and a random one, %s, arrive exact; bytesSent counts the files\' bytes', async (direction) => {
  const tree = path.join(work, unique('compress'));
  const text = Array.from({ length: 200_000 }, (_, i) => `line ${i}: the same words again, number ${i % 97}\n`).join('').slice(0, 8 << 20);
  writeFile(path.join(tree, 'text.txt'), Buffer.from(text), 0o644, 0);
  writeFile(path.join(tree, 'random.bin'), randomBytes(8 << 20), 0o644, 1);
  const copied = path.join(work, unique('compressed'));
  const remote = (where: string): string => `${sshd.user}@127.0.0.1:${where}`;
  // The tree's contents into `copied` (a trailing slash, rsync's placement).
  const [from, to] = direction === 'push' ? [`${tree}/`, remote(copied)] : [remote(`${tree}/`), copied];
  const run = await runFcp(['-C', '-r', '--json', ...login(), from, to], { env });
  expectExit(run, 0);
  const summary = JSON.parse(run.stdout.trim().split('\n').pop()!) as { bytesSent: number; filesFailed: number };
  expect(summary).toMatchObject({ bytesSent: Buffer.byteLength(text) + (8 << 20), filesFailed: 0 });
  expectSameTree(copied, tree, run);
});
