/**
 * Questions on the terminal, against a real sshd: fcp runs under a pseudo-terminal (script(1))
 * and the test answers each prompt when it appears, as a person would: the passphrase of an
 * encrypted key, and an unknown host key under StrictHostKeyChecking=ask (yes and no).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, content, FCP, killAll, newKey, sha256, tempDir, unique, writeFile, writeSshConfig } from './harness';
import { fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

const PASSPHRASE = 'open sesame';
let sshd: Sshd;
let key: string;
let home: string;
let source: string;

beforeAll(async () => {
  const keys = tempDir('tty-keys');
  const encrypted = newKey(path.join(keys, 'id_encrypted'), PASSPHRASE);
  key = encrypted.file;
  sshd = await startSshd({ userKey: encrypted });
  home = tempDir('tty-home');
  source = path.join(home, 'payload.bin');
  writeFile(source, content(300_000, 'tty'), 0o640, 1);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
});

interface Conversation {
  code: number | null;
  screen: string;
}

/** Runs fcp on a pseudo-terminal; each answer is typed once the screen shows its prompt. */
function converse(args: string[], answers: [RegExp, string][]): Promise<Conversation> {
  const command = [process.execPath, FCP, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('script', ['-qec', command, '/dev/null'], { env: childEnv(home), stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let next = 0;
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    screen += text;
    while (next < answers.length && answers[next]![0].test(screen)) child.stdin.write(`${answers[next++]![1]}\n`);
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, screen });
    });
  });
}

function config(name: string, knownHosts: string, strict: 'yes' | 'ask'): string {
  return writeSshConfig(path.join(tempDir('tty-config'), name), [
    {
      alias: 'ttyhost',
      hostName: '127.0.0.1',
      port: sshd.port,
      user: sshd.user,
      identity: key,
      identitiesOnly: true,
      knownHosts,
      strict,
      batchMode: false,
    },
  ]);
}

function upload(configFile: string, destination: string): string[] {
  return ['-F', configFile, '--fcpd-path', fcpdCommand(sshd.stateDir), source, `ttyhost:${destination}`];
}

test('the passphrase of an encrypted key is asked on the terminal', async () => {
  const destination = path.join(sshd.dir, unique('passphrase'));
  const run = await converse(upload(config('pass', sshd.knownHosts, 'yes'), destination), [[/Enter passphrase for key '[^']+': $/m, PASSPHRASE]]);
  expect({ code: run.code, screen: run.screen }).toMatchObject({ code: 0 });
  expect(run.screen).toContain(`Enter passphrase for key '${key}'`);
  expect(sha256(destination)).toBe(sha256(source));
});

test('an unknown host key under StrictHostKeyChecking=ask: "yes" records it and copies', async () => {
  const knownHosts = path.join(tempDir('tty-kh'), 'known_hosts');
  const destination = path.join(sshd.dir, unique('ask-yes'));
  const run = await converse(upload(config('ask', knownHosts, 'ask'), destination), [
    [/Are you sure you want to continue connecting \(yes\/no[^)]*\)\? ?$/m, 'yes'],
    [/Enter passphrase for key/, PASSPHRASE],
  ]);
  expect(run.code).toBe(0);
  expect(run.screen).toMatch(/The authenticity of host .*127\.0\.0\.1.* can't be established/);
  expect(run.screen).toMatch(/SHA256:[A-Za-z0-9+/]{43}/);
  expect(fs.readFileSync(knownHosts, 'utf8')).toContain(`[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub.split(' ').slice(0, 2).join(' ')}`);
  expect(sha256(destination)).toBe(sha256(source));
});

test('an unknown host key under StrictHostKeyChecking=ask: "no" refuses, exit 5, nothing copied', async () => {
  const knownHosts = path.join(tempDir('tty-kh'), 'known_hosts');
  const destination = path.join(sshd.dir, unique('ask-no'));
  const run = await converse(upload(config('askno', knownHosts, 'ask'), destination), [
    [/Are you sure you want to continue connecting \(yes\/no[^)]*\)\? ?$/m, 'no'],
  ]);
  expect(run.code).toBe(5);
  expect(run.screen).toContain('FCP_ERR_AUTH');
  expect(fs.existsSync(destination)).toBe(false);
  expect(fs.existsSync(knownHosts) ? fs.readFileSync(knownHosts, 'utf8') : '').toBe('');
});
