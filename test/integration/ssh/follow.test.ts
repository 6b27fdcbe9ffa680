/**
 * fcp --follow over a real sshd, the case Hsync's --sync is for: a pull of a file that grows on
 * the server. fcp is started before the file exists (fcpd waits for it and says so), the file
 * appears and grows in steps, each step reaches the copy, and SIGINT ends the run with exit 0.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FCP, useSshdWorkspace, waitFor } from './harness';
import { fcpdCommand } from './sshd';

jest.setTimeout(120_000);

const space = useSshdWorkspace('follow');

const sameAs = (source: string, copied: string) => (): boolean => {
  try {
    return fs.readFileSync(copied).equals(fs.readFileSync(source));
  } catch {
    return false;
  }
};

test('a pull with --follow waits for the remote file, follows its growth, and ends on SIGINT with exit 0', async () => {
  const remote = path.join(space.work, 'run.log');
  const copied = path.join(space.work, 'copy.log');
  const args = ['-F', space.sshd.sshConfig, '--fcpd-path', fcpdCommand(space.sshd.stateDir), '--follow', `${space.sshd.alias}:${remote}`, copied];
  const child = spawn(process.execPath, [FCP, ...args], { env: space.env, cwd: space.work, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  try {
    await waitFor('the waiting notice', () => stderr.includes('does not exist yet; waiting for it'));
    fs.writeFileSync(remote, 'first line\n');
    await waitFor('the first copy', sameAs(remote, copied));
    for (let step = 0; step < 5; step++) {
      fs.appendFileSync(remote, `line ${step} ${'x'.repeat(step * 1000)}\n`);
      await waitFor(`step ${step}`, sameAs(remote, copied));
    }
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
  expect(fs.readFileSync(copied).equals(fs.readFileSync(remote))).toBe(true);
  expect(stderr).toContain('run.log on ');
  expect(stderr).not.toMatch(/FCP_ERR|interrupted/);
});
