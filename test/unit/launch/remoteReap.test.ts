/**
 * The pid line and the command that ends a failed remote launch (src/launch/remoteReap.ts), run
 * here with this machine's sh against a stand-in launch: a session leader with a child, as sshd
 * starts a command, and a process that leads no group of its own.
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { parsePidLine } from '../../../src/launch/handoff';
import { reapCommand } from '../../../src/launch/remoteReap';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the reap command as sshd would hand it to a login shell (asynchronously: this process must reap its children meanwhile), and waits for `exits`. */
async function reap(pid: number, exits: Promise<unknown>[]): Promise<void> {
  await promisify(execFile)('/bin/sh', ['-c', reapCommand(pid)], { timeout: 10_000 });
  await Promise.all(exits);
}

/** A shell that starts `sleep 600` and waits for it: the shell and the sleep's pid. */
async function shellWithChild(detached: boolean): Promise<{ shell: ChildProcess; child: number }> {
  const shell = spawn('/bin/sh', ['-c', 'sleep 600 & echo $!; wait $!'], { detached, stdio: ['ignore', 'pipe', 'ignore'] });
  const child = await new Promise<number>((resolve) => shell.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  return { shell, child };
}

test('the pid line: a pid above 1, nothing else', () => {
  expect(parsePidLine('FCPD-PID 4242')).toBe(4242);
  expect(parsePidLine('FCPD-PID 4242\r')).toBe(4242);
  for (const line of ['FCPD-PID 0', 'FCPD-PID 1', 'FCPD-PID -5', 'FCPD-PID 12345678901', 'FCPD-PID x', 'FCPD-LISTEN 1 ::', '']) {
    expect(parsePidLine(line)).toBeUndefined();
  }
});

test('a launch that leads its process group is ended with everything it started', async () => {
  // detached: a new session, as sshd gives each command.
  const { shell, child } = await shellWithChild(true);
  await reap(shell.pid!, [new Promise((resolve) => shell.once('exit', resolve))]);
  expect(shell.signalCode).toBe('SIGTERM');
  // The child's parent is gone: init reaps it, shortly after.
  for (let tries = 0; alive(child) && tries < 100; tries++) await new Promise((r) => setTimeout(r, 50));
  expect(alive(child)).toBe(false);
});

test('a launch in a group that is neither its own nor its parent\'s is ended alone, the group spared', async () => {
  // Not detached: the sleep is in this test's process group, which the reap must not touch; its shell lives on until it ends.
  const { shell, child } = await shellWithChild(false);
  await reap(child, [new Promise((resolve) => shell.once('exit', resolve))]);
  expect(shell.exitCode).toBe(128 + 15);
  expect(alive(process.pid)).toBe(true);
});

test('a pid that is gone: the command ends at once, without error', () => {
  expect(() => execFileSync('/bin/sh', ['-c', reapCommand(2 ** 22 + 12345)], { timeout: 10_000 })).not.toThrow();
});
