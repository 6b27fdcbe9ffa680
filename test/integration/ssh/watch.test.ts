/**
 * fcp --watch to a host over SSH: one login and one fcpd (fcpd --serve --reuse) serve the initial
 * sync and every round of changes after it; the destination ends equal to the source, and SIGTERM
 * ends fcp with exit 0.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, FCP, killAll, tempDir, waitFor } from './harness';
import { fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(120_000);

let sshd: Sshd;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sshd = await startSshd();
  work = tempDir('watch');
  env = childEnv(tempDir('watch-home'));
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Every file below root with its content, sorted. */
function files(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true, encoding: 'utf8' }) as string[])
    .filter((name) => fs.lstatSync(path.join(root, name)).isFile())
    .map((name) => `${name}: ${fs.readFileSync(path.join(root, name), 'utf8')}`)
    .sort();
}

test('one SSH login serves the initial sync and every round; SIGTERM ends it with exit 0', async () => {
  const src = path.join(work, 'src');
  const dst = path.join(work, 'dst');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.mkdirSync(dst);
  fs.writeFileSync(path.join(src, 'a.txt'), 'a\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'b\n');
  // sshd says "Accepted key" while it checks a key, "Accepted publickey" once per login.
  const logins = (): number => sshd.log().split('\n').filter((line) => line.includes('Accepted publickey')).length;
  const before = logins();
  const args = ['-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(sshd.stateDir), '--watch', '--json', '--delete', `${src}/`, `${sshd.alias}:${dst}/`];
  const child = spawn(process.execPath, [FCP, ...args], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const rounds = (): number => stdout.split('\n').filter((line) => line.includes('"event":"round"')).length;
  try {
    await waitFor('the initial round', () => rounds() >= 1);
    fs.writeFileSync(path.join(src, 'c.txt'), 'c\n');
    await waitFor('c.txt at the destination', () => fs.existsSync(path.join(dst, 'c.txt')));
    fs.renameSync(path.join(src, 'sub'), path.join(src, 'moved'));
    fs.rmSync(path.join(src, 'a.txt'));
    await waitFor('the move and the deletion at the destination', () => files(dst).join() === files(src).join());
  } finally {
    child.kill('SIGTERM');
  }
  const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 15_000))]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(files(dst)).toEqual(['c.txt: c\n', 'moved/b.txt: b\n']);
  expect(rounds()).toBeGreaterThanOrEqual(3);
  expect(logins() - before).toBe(1);
});
