/**
 * Hosts without fcpd (README "Modes"): a real OpenSSH server whose sessions get a PATH with the
 * basic tools and Node.js but no fcpd, and a HOME of the test's own. fcp installs its bundled fcpd
 * into ~/.cache/fcp/<version>/ there (a 0700 directory, checked by SHA-256), reuses it on the next
 * run, replaces it when its hash does not match, and says so; --no-install refuses instead; a
 * PATH without Node.js makes fcp copy over SFTP.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childEnv, content, expectExit, expectFailure, expectSameTree, killAll, runFcp, show, tempDir, unique, writeFile, writeSshConfig } from './harness';
import { explicitLogin, Sshd, sshdHost, startSshd } from './sshd';

jest.setTimeout(90_000);

const REPO = path.resolve(__dirname, '..', '..', '..');
const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
const BUNDLE = path.join(REPO, 'dist', 'fcpd.js');
const INSTALLING = "installing fcp's own";
/** What a login session may run: a shell and the tools the launch and install scripts use. */
const TOOLS = ['sh', 'bash', 'env', 'mkdir', 'chmod', 'cat', 'cut', 'rm', 'mv', 'sha256sum'];

/** A directory of symlinks to `tools` (and node when `withNode`): the PATH of the server's sessions. */
function binDir(parent: string, withNode: boolean): string {
  const dir = path.join(parent, withNode ? 'bin-node' : 'bin-plain');
  fs.mkdirSync(dir);
  for (const tool of [...TOOLS, ...(withNode ? ['node'] : [])]) fs.symlinkSync(`/usr/bin/${tool}`, path.join(dir, tool));
  return dir;
}

let work: string;
let file: string;
let env: NodeJS.ProcessEnv;
const servers: Sshd[] = [];

async function server(withNode: boolean): Promise<{ sshd: Sshd; home: string }> {
  const home = path.join(work, unique('remote-home'));
  fs.mkdirSync(home);
  const sshd = await startSshd({ extraConfig: `SetEnv HOME=${home} PATH=${binDir(home, withNode)}` });
  servers.push(sshd);
  return { sshd, home };
}

/** Everything on the command line but --fcpd-path: fcp's launch script decides. */
function login(sshd: Sshd): string[] {
  return explicitLogin(sshd).slice(0, -2);
}

beforeAll(() => {
  work = tempDir('install-work');
  file = path.join(work, 'file.bin');
  writeFile(file, content(200 * 1024, 'install'), 0o640, 2);
  env = childEnv(tempDir('install-home'));
});

afterAll(async () => {
  killAll();
  for (const sshd of servers) await sshd.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

const sha256 = (p: string): string => createHash('sha256').update(fs.readFileSync(p)).digest('hex');

/** Waits (at most 20 s) until `done()`. */
async function until(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 50) {
    if (waited > 20_000) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('Node.js but no fcpd: installed into ~/.cache/fcp once, reused, replaced when its hash does not match', async () => {
  const { sshd, home } = await server(true);
  const cache = path.join(home, '.cache', 'fcp', version);
  const cached = path.join(cache, 'fcpd.js');
  const upload = async (): Promise<Awaited<ReturnType<typeof runFcp>>> => {
    const dest = path.join(work, unique('up'));
    const run = await runFcp([...login(sshd), file, `${sshd.user}@127.0.0.1:${dest}`], { env });
    expectExit(run, 0);
    expectSameTree(dest, file, run);
    return run;
  };

  const first = await upload();
  expect(first.stderr).toContain(INSTALLING);
  expect(sha256(cached)).toBe(sha256(BUNDLE));
  expect(fs.statSync(cache).mode & 0o777).toBe(0o700);
  // fcpd writes its V8 code cache beside it once its session is done, after fcp has exited.
  const codeCache = path.join(cache, 'fcpd.js.v8cache');
  await until(() => fs.existsSync(codeCache));
  expect(fs.readdirSync(cache).sort()).toEqual(['fcpd.js', 'fcpd.js.v8cache']);
  expect(fs.statSync(codeCache).mode & 0o777).toBe(0o600);

  const second = await upload();
  if (second.stderr !== '') throw new Error(`the second run should find fcpd in the cache, silently\n${show(second)}`);

  // A corrupt code cache (a changed byte makes Node abort if V8 is given it) is passed over and written again.
  const good = fs.readFileSync(codeCache);
  const spoilt = Buffer.from(good);
  for (let i = good.indexOf(0x0a) + 200; i < spoilt.length; i += 997) spoilt[i]! ^= 0x5a;
  fs.writeFileSync(codeCache, spoilt, { mode: 0o600 });
  const afterSpoilt = await upload();
  if (afterSpoilt.stderr !== '') throw new Error(`a corrupt code cache should cost only its compile\n${show(afterSpoilt)}`);
  await until(() => !fs.readFileSync(codeCache).equals(spoilt));

  fs.appendFileSync(cached, '\n// changed on the host\n');
  const third = await upload();
  expect(third.stderr).toContain(INSTALLING);
  expect(sha256(cached)).toBe(sha256(BUNDLE));
});

/** An fcpd of another release on the PATH: it notes each start in $HOME/old-fcpd-ran, then answers as fcpd --serve would. */
function putOldFcpd(home: string, versionLine: string): string {
  const fake = path.join(home, 'bin-node', 'fcpd');
  const script = ['#!/bin/sh', 'echo "$@" >> "$HOME/old-fcpd-ran"', 'read secret', versionLine, 'echo "FCPD-LISTEN 9 127.0.0.1"', ''];
  fs.writeFileSync(fake, script.filter((line) => line !== '').join('\n') + '\n', { mode: 0o755 });
  return path.join(home, 'old-fcpd-ran');
}

test.each([
  ['release 0.0.1', 'echo "FCPD-VERSION 0.0.1"'],
  ['an older release', ''],
])('an fcpd of %s on the PATH is replaced by fcp\'s own, once; --no-install keeps it', async (said, versionLine) => {
  const { sshd, home } = await server(true);
  const ran = putOldFcpd(home, versionLine);
  const upload = async (extra: string[] = []): Promise<Awaited<ReturnType<typeof runFcp>>> => {
    const dest = path.join(work, unique('up-old'));
    const run = await runFcp([...login(sshd), ...extra, file, `${sshd.user}@127.0.0.1:${dest}`], { env });
    if (extra.length === 0) {
      expectExit(run, 0);
      expectSameTree(dest, file, run);
    }
    return run;
  };

  const first = await upload();
  expect(first.stderr).toContain(`fcpd on ${sshd.user}@127.0.0.1:${sshd.port} is ${said}, not ${version}: ${INSTALLING} (${version})`);
  expect(fs.readFileSync(ran, 'utf8')).toBe('--serve\n');
  expect(sha256(path.join(home, '.cache', 'fcp', version, 'fcpd.js'))).toBe(sha256(BUNDLE));

  const second = await upload();
  if (second.stderr !== '') throw new Error(`the second run should find fcpd in the cache, silently\n${show(second)}`);
  expect(fs.readFileSync(ran, 'utf8')).toBe('--serve\n');

  // Without installing, the old fcpd is what runs (and this fake one listens nowhere).
  fs.rmSync(path.join(home, '.cache'), { recursive: true });
  const kept = await upload(['--no-install', '--timeout', '5']);
  expect(kept.code).toBe(6);
  expect(fs.readFileSync(ran, 'utf8')).toBe('--serve\n--serve --timeout 5\n');
  expect(fs.existsSync(path.join(home, '.cache'))).toBe(false);
});

test('through an external ssh (-e ssh) too: installed on the first run, then found', async () => {
  const { sshd, home } = await server(true);
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const dest = path.join(work, unique('up-e'));
    const run = await runFcp(['-e', 'ssh', ...login(sshd), file, `${sshd.user}@127.0.0.1:${dest}`], { env });
    expectExit(run, 0);
    expectSameTree(dest, file, run);
    runs.push(run.stderr);
  }
  expect(runs[0]).toContain(INSTALLING);
  expect(runs[1]).not.toContain(INSTALLING);
  expect(sha256(path.join(home, '.cache', 'fcp', version, 'fcpd.js'))).toBe(sha256(BUNDLE));
});

test('between two hosts without fcpd: fcp installs its own on both, and host1 runs it as fcpd --connect', async () => {
  const [one, two] = [await server(true), await server(true)];
  const config = writeSshConfig(
    path.join(work, unique('ssh_config')),
    [one, two].map(({ sshd }, i) => sshdHost(`host${i + 1}`, sshd)),
  );
  const dest = path.join(work, unique('between'));
  const run = await runFcp(['-F', config, `host1:${file}`, `host2:${dest}`], { env });
  expectExit(run, 0);
  expectSameTree(dest, file, run);
  expect(run.stderr.split('\n').filter((line) => line.includes(INSTALLING))).toHaveLength(2);
  for (const { home } of [one, two]) expect(sha256(path.join(home, '.cache', 'fcp', version, 'fcpd.js'))).toBe(sha256(BUNDLE));
});

test('--no-install: fcpd missing is an error that says what to do (exit 6), and nothing is installed', async () => {
  const { sshd, home } = await server(true);
  const run = await runFcp([...login(sshd), '--no-install', file, `${sshd.user}@127.0.0.1:${work}/`], { env });
  expectFailure(run, 6, 'FCP_ERR_CONNECT', /fcpd was not found on /, /--fcpd-path/);
  expect(fs.existsSync(path.join(home, '.cache'))).toBe(false);
});

test('no Node.js on the host: nothing is installed, and the copy goes over SFTP instead, saying so', async () => {
  const { sshd, home } = await server(false);
  const dest = path.join(work, unique('up-sftp'));
  const run = await runFcp([...login(sshd), file, `${sshd.user}@127.0.0.1:${dest}`], { env });
  expectExit(run, 0);
  expect(run.stderr).toMatch(/no Node\.js 20\+ on .*: copying over SFTP/);
  // SFTP keeps mtimes to the second only (README "Modes"): the content is what must match.
  expect(sha256(dest)).toBe(sha256(file));
  expect(fs.existsSync(path.join(home, '.cache'))).toBe(false);
});
