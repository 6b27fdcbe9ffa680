/**
 * fcpd's policy file as fcpd reads it: `fcpd --serve --config FILE` started through SSH by
 * `--fcpd-path`, the standing daemon started with `-d --config FILE` and made to read a changed
 * file by `--restart`, `fcpd --echo-config`, and a bad file refused with exit 2 naming file:line.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { alive, childEnv, expectExit, expectFailure, killAll, runFcp, runFcpd, show, tempDir } from './harness';
import { fcpdCommand, freePort, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

let sshd: Sshd;
let work: string;
let state: string;
let env: NodeJS.ProcessEnv;
let fcpdEnv: NodeJS.ProcessEnv;
const daemonPids = new Set<number>();
const fcpd = (args: string[]) => runFcpd(args, { env: fcpdEnv, timeoutMs: 30_000 });

beforeAll(async () => {
  sshd = await startSshd();
  work = tempDir('policy-work');
  state = tempDir('policy-state');
  env = childEnv(tempDir('policy-home'));
  // No fcpd.toml of the user running the tests is read: the config home is an empty directory.
  fcpdEnv = childEnv(os.userInfo().homedir, { XDG_STATE_HOME: state, XDG_CONFIG_HOME: tempDir('policy-config') });
});

afterAll(async () => {
  killAll();
  await fcpd(['--stop']);
  for (const pid of daemonPids) if (pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
  await sshd?.stop();
  for (const dir of [work, state]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function policyFile(name: string, text: string): string {
  const file = path.join(work, name);
  fs.writeFileSync(file, text);
  return file;
}

function upload(fcpdPath: string, source: string, target: string) {
  return runFcp(['-F', sshd.sshConfig, '--fcpd-path', fcpdPath, source, `${sshd.alias}:${target}`], { env });
}

test('fcpd --serve --config FILE, started through SSH, refuses what the file forbids and serves the rest', async () => {
  const policy = policyFile('serve.toml', 'forbidden_files = ["*.key"]\n');
  const allowed = path.join(work, 'notes.txt');
  const forbidden = path.join(work, 'id.key');
  fs.writeFileSync(allowed, 'notes');
  fs.writeFileSync(forbidden, 'secret');
  const into = tempDir('policy-into');
  const ok = await upload(fcpdCommand(state, `--config ${policy}`), allowed, path.join(into, 'notes.txt'));
  expectExit(ok, 0);
  const refused = await upload(fcpdCommand(state, `--config ${policy}`), forbidden, path.join(into, 'id.key'));
  expectFailure(refused, 5, 'FCP_ERR_POLICY', /forbidden_files/, /id\.key matches \*\.key/);
  expect(fs.readdirSync(into)).toEqual(['notes.txt']);
});

test('a bad policy file: fcpd --serve and fcpd -d exit 2 naming file:line and key; fcp reports it', async () => {
  const bad = policyFile('bad.toml', 'max_sessions = 2\nallowed_hosts = ["10.0.0.0/40"]\n');
  const message = `${bad}:2: allowed_hosts: "10.0.0.0/40" is not an IPv4 or IPv6 network`;
  for (const args of [['--serve', '--config', bad], ['-d', '--config', bad], ['--echo-config', '--config', bad]]) {
    const run = await fcpd(args);
    expectExit(run, 2);
    expect(run.stderr).toContain(message);
  }
  const viaSsh = await upload(fcpdCommand(state, `--config ${bad}`), path.join(work, 'notes.txt'), path.join(work, 'never.txt'));
  expect(viaSsh.code).not.toBe(0);
  expect(show(viaSsh)).toContain(message);
  expect(fs.existsSync(path.join(work, 'never.txt'))).toBe(false);
});

test('fcpd --echo-config --json: every key with its source', async () => {
  const policy = policyFile('echo.toml', 'forbidden_dirs = ["/etc"]\n\n[modules.pub]\npath = "/srv/pub"\nread_only = true\n');
  const run = await fcpd(['--echo-config', '--json', '--config', policy]);
  expectExit(run, 0);
  const echo = JSON.parse(run.stdout);
  expect(echo.program).toBe('fcpd');
  expect(echo.files[0]).toEqual({ file: policy, found: true });
  expect(echo.settings.forbidden_dirs).toEqual({ value: ['/etc'], source: 'file', where: `${policy}:1` });
  expect(echo.settings['modules.pub.path']).toEqual({ value: '/srv/pub', source: 'file', where: `${policy}:4` });
  expect(echo.settings['modules.pub.read_only']).toEqual({ value: true, source: 'file', where: `${policy}:5` });
  expect(echo.settings.max_sessions).toEqual({ value: null, source: 'default', where: 'default' });
});

test('fcpd -d --config FILE applies it to the sessions handed over; --restart reads the changed file', async () => {
  const readOnly = tempDir('policy-module');
  const file = policyFile('daemon.toml', `[modules.pub]\npath = "${readOnly}"\nread_only = true\n`);
  const port = String(await freePort());
  const start = await fcpd(['-d', '--port', port, '--config', file]);
  expectExit(start, 0);
  for (const match of start.stdout.matchAll(/pid (\d+)/g)) daemonPids.add(Number(match[1]));
  const source = path.join(work, 'notes.txt');
  const refused = await upload(fcpdCommand(state), source, path.join(readOnly, 'notes.txt'));
  expectFailure(refused, 5, 'FCP_ERR_POLICY', /read_only/, /module pub/);
  expect(fs.readdirSync(readOnly)).toEqual([]);
  const log = fs.readFileSync(path.join(state, 'fcp', 'fcpd.log'), 'utf8');
  expect(log).toMatch(/refused client .*read_only/);

  fs.writeFileSync(file, `[modules.pub]\npath = "${readOnly}"\nread_only = false\n`);
  const restart = await fcpd(['--restart', '--port', port, '--config', file]);
  expectExit(restart, 0);
  for (const match of restart.stdout.matchAll(/pid (\d+)/g)) daemonPids.add(Number(match[1]));
  expect(restart.stdout).toMatch(/^fcpd daemon stopped \(pid \d+\)\nfcpd daemon started: pid \d+/);
  const allowed = await upload(fcpdCommand(state), source, path.join(readOnly, 'notes.txt'));
  expectExit(allowed, 0);
  expect(fs.readFileSync(path.join(readOnly, 'notes.txt'), 'utf8')).toBe('notes');
});
