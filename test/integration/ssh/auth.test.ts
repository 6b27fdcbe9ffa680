/**
 * SSH authentication and host keys against a real OpenSSH server: ssh-agent without any identity
 * file, known_hosts (unknown key under yes and accept-new, a changed key under every
 * StrictHostKeyChecking mode, hashed entries), a key the server does not accept (no prompt, no
 * hang), and -J through a second sshd acting as jump host (its key checked too).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Agent,
  childEnv,
  content,
  expectExit,
  expectFailure,
  expectSameTree,
  killAll,
  newKey,
  runFcp,
  show,
  startAgent,
  tempDir,
  unique,
  writeFile,
  writeSshConfig,
} from './harness';
import { fcpdCommand, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

let sshd: Sshd;
let home: string;
let work: string;
let remote: string;
/** A file on the "remote" side to download, and a local one to upload. */
let remoteFile: string;
let localFile: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('auth-home');
  work = tempDir('auth-work');
  remote = path.join(work, 'remote');
  remoteFile = path.join(remote, 'data.bin');
  writeFile(remoteFile, content(600_000, 'auth/remote'), 0o640, 1);
  localFile = path.join(work, 'local.bin');
  writeFile(localFile, content(400_000, 'auth/local'), 0o604, 4);
  env = childEnv(home);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const fcpd = (): string => fcpdCommand(sshd.stateDir);
const fresh = (label: string): string => path.join(work, unique(label));
const at = (alias: string, p: string): string => `${alias}:${p}`;
/** known_hosts line of `pub` ("type base64 comment") for the test server's port. */
const knownLine = (port: number, pub: string): string => `[127.0.0.1]:${port} ${pub.split(' ').slice(0, 2).join(' ')}\n`;

/** Downloads remoteFile with these fcp options and checks the copy. */
async function download(args: string[], runEnv = env): Promise<Awaited<ReturnType<typeof runFcp>>> {
  const dest = fresh('dl');
  const run = await runFcp([...args, '--fcpd-path', fcpd(), at('fcptest', remoteFile), dest], { env: runEnv });
  if (run.code === 0) expectSameTree(dest, remoteFile, run);
  else expect(fs.existsSync(dest)).toBe(false);
  return run;
}

describe('ssh-agent', () => {
  let agent: Agent | undefined;
  afterAll(() => agent?.stop());

  test('the agent key logs in when no identity file is configured; without the agent it is refused', async () => {
    agent = startAgent();
    execFileSync('ssh-add', ['-q', sshd.identity], { env: { ...childEnv(home), SSH_AUTH_SOCK: agent.sock }, stdio: 'pipe' });
    // No IdentityFile anywhere, and HOME has no ~/.ssh: the agent is the only way in.
    const config = writeSshConfig(path.join(work, 'agent_config'), [
      { alias: 'fcptest', hostName: '127.0.0.1', port: sshd.port, user: sshd.user, knownHosts: sshd.knownHosts, strict: 'yes', batchMode: true },
    ]);
    expect(fs.existsSync(path.join(home, '.ssh'))).toBe(false);
    const [withAgent, without] = await Promise.all([
      download(['-F', config], childEnv(home, { SSH_AUTH_SOCK: agent.sock })),
      download(['-F', config]),
    ]);
    expectExit(withAgent, 0);
    expectFailure(without, 5, 'FCP_ERR_AUTH', /permission denied/i);
  });
});

describe('known_hosts', () => {
  /** An ssh_config for the server whose known_hosts is `knownHosts`. */
  function config(name: string, knownHosts: string): string {
    return writeSshConfig(path.join(work, `${name}_config`), [
      { alias: 'fcptest', hostName: '127.0.0.1', port: sshd.port, user: sshd.user, identity: sshd.identity, identitiesOnly: true, knownHosts, strict: 'yes', batchMode: true },
    ]);
  }

  test('StrictHostKeyChecking=yes and an empty known_hosts: exit 5, the host key is not known', async () => {
    const knownHosts = path.join(work, unique('kh-empty'));
    fs.writeFileSync(knownHosts, '');
    const run = await download(['-F', config('strict', knownHosts)]);
    expectFailure(run, 5, 'FCP_ERR_AUTH', /host key for \[127\.0\.0\.1\]:\d+ is not known/, /StrictHostKeyChecking is yes/);
    expect(fs.readFileSync(knownHosts, 'utf8')).toBe('');
  });

  test('accept-new and an empty known_hosts: works, and the key is added as [127.0.0.1]:port', async () => {
    const knownHosts = path.join(work, unique('kh-new'));
    fs.writeFileSync(knownHosts, '');
    const run = await download(['-F', config('accept-new', knownHosts), '-o', 'StrictHostKeyChecking=accept-new']);
    expectExit(run, 0);
    const lines = fs.readFileSync(knownHosts, 'utf8').split('\n').filter((l) => l !== '');
    expect(lines).toEqual([knownLine(sshd.port, sshd.hostKeyPub).trim()]);
    // OpenSSH agrees that the file now knows this host.
    const found = execFileSync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', knownHosts], { encoding: 'utf8' });
    expect(found).toContain(sshd.hostKeyPub.split(' ')[1]);
  });

  test('a changed host key is refused loudly under yes, accept-new and no (exit 5)', async () => {
    const other = newKey(path.join(work, unique('other-host-key')));
    const knownHosts = path.join(work, unique('kh-changed'));
    const wrong = knownLine(sshd.port, other.pub);
    fs.writeFileSync(knownHosts, wrong);
    const cfg = config('changed', knownHosts);
    const runs = await Promise.all(['yes', 'accept-new', 'no'].map((mode) => download(['-F', cfg, '-o', `StrictHostKeyChecking=${mode}`])));
    for (const run of runs) {
      expectFailure(run, 5, 'FCP_ERR_AUTH', /REMOTE HOST IDENTIFICATION HAS CHANGED/, new RegExp(`Offending ED25519 key in ${knownHosts}:1`));
    }
    // Nothing was added or replaced.
    expect(fs.readFileSync(knownHosts, 'utf8')).toBe(wrong);
  });

  test('hashed entries (ssh-keygen -H) are matched', async () => {
    const knownHosts = path.join(work, unique('kh-hashed'));
    fs.copyFileSync(sshd.knownHosts, knownHosts);
    execFileSync('ssh-keygen', ['-H', '-f', knownHosts], { stdio: 'pipe' });
    const text = fs.readFileSync(knownHosts, 'utf8');
    expect(text).toMatch(/^\|1\|/);
    expect(text).not.toContain('127.0.0.1');
    const run = await download(['-F', config('hashed', knownHosts)]);
    expectExit(run, 0);
  });
});

describe('a key the server does not accept', () => {
  test('BatchMode=yes: exit 5 FCP_ERR_AUTH, permission denied, says BatchMode; no prompt and no hang', async () => {
    const wrongKey = newKey(path.join(work, unique('wrong-key')));
    // An authorized key with a passphrase: without a terminal it cannot be used, and is not asked for.
    const locked = newKey(path.join(work, unique('locked-key')), 'a passphrase');
    fs.appendFileSync(path.join(sshd.dir, 'authorized_keys'), `${locked.pub}\n`);
    const cfg = (name: string, identity: string, batchMode: boolean): string =>
      writeSshConfig(path.join(work, `${name}_config`), [
        { alias: 'fcptest', hostName: '127.0.0.1', port: sshd.port, user: sshd.user, identity, identitiesOnly: true, knownHosts: sshd.knownHosts, strict: 'yes', batchMode },
      ]);
    const [batch, noBatch, passphrase] = await Promise.all([
      download(['-F', cfg('wrong-batch', wrongKey.file, true)]),
      download(['-F', cfg('wrong-nobatch', wrongKey.file, false)]),
      download(['-F', cfg('locked', locked.file, false)]),
    ]);
    expectFailure(batch, 5, 'FCP_ERR_AUTH', /permission denied for root@127\.0\.0\.1:\d+/i, /BatchMode/);
    expect(batch.stderr).toContain(wrongKey.file);
    // Without BatchMode but also without a terminal: still no prompt, the same refusal.
    expectFailure(noBatch, 5, 'FCP_ERR_AUTH', /permission denied/i);
    expectFailure(passphrase, 5, 'FCP_ERR_AUTH', /permission denied/i);
    for (const run of [batch, noBatch, passphrase]) {
      if (/passphrase|password:|\(yes\/no\)/i.test(run.stdout)) throw new Error(`a prompt was written\n${show(run)}`);
    }
  });
});

describe('-J through a jump host', () => {
  let jump: Sshd;
  beforeAll(async () => {
    // A second sshd that accepts the same user key; fcp logs into it, then into the first through it.
    jump = await startSshd({ alias: 'jumphost', userKey: { file: sshd.identity, pub: fs.readFileSync(`${sshd.identity}.pub`, 'utf8').trim() } });
  });
  afterAll(async () => {
    await jump?.stop();
  });

  /** Host fcptest = the target; every host (the jump hop too) gets the key, user and known_hosts. */
  function jumpConfig(name: string, knownHosts: string): string {
    return writeSshConfig(path.join(work, `${name}_config`), [
      { alias: 'fcptest', hostName: '127.0.0.1', port: sshd.port },
      { alias: '*', user: sshd.user, identity: sshd.identity, identitiesOnly: true, knownHosts, strict: 'yes', batchMode: true },
    ]);
  }

  test('upload and download through -J user@127.0.0.1:jumpport', async () => {
    const knownHosts = path.join(work, unique('kh-jump'));
    fs.writeFileSync(knownHosts, knownLine(sshd.port, sshd.hostKeyPub) + knownLine(jump.port, jump.hostKeyPub));
    const cfg = jumpConfig('jump', knownHosts);
    const jumpArg = `${sshd.user}@127.0.0.1:${jump.port}`;
    const target = path.join(remote, unique('via-jump'));
    const up = await runFcp(['-v', '-F', cfg, '-J', jumpArg, '--fcpd-path', fcpd(), localFile, at('fcptest', target)], { env });
    expectExit(up, 0);
    expectSameTree(target, localFile, up);
    expect(up.stderr).toContain(`ssh: connecting to ${sshd.user}@127.0.0.1:${jump.port}\n`);
    expect(up.stderr).toContain(`ssh: connecting to ${sshd.user}@127.0.0.1:${sshd.port} through ${sshd.user}@127.0.0.1:${jump.port}`);
    // The jump host really saw the login.
    expect(jump.log()).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1/);

    const down = await download(['-F', cfg, '-J', jumpArg]);
    expectExit(down, 0);
  });

  test('refused direct TCP behind a jump host: the data connections go through the SSH chain', async () => {
    const knownHosts = path.join(work, unique('kh-jump-tunnel'));
    fs.writeFileSync(knownHosts, knownLine(sshd.port, sshd.hostKeyPub) + knownLine(jump.port, jump.hostKeyPub));
    const target = path.join(remote, unique('jump-fallback'));
    // fcpd listens on 127.0.0.2 only, so the direct dial (to 127.0.0.1) is refused.
    const run = await runFcp(
      ['-F', jumpConfig('jump-tunnel', knownHosts), '-J', `${sshd.user}@127.0.0.1:${jump.port}`, '--fcpd-path', fcpdCommand(sshd.stateDir, '--bind 127.0.0.2'), localFile, at('fcptest', target)],
      { env },
    );
    expectExit(run, 0);
    expect(run.stderr.split('\n').filter((line) => line.includes('carrying the connections through SSH'))).toHaveLength(1);
    expectSameTree(target, localFile, run);
  });

  test("the jump host's key is verified: a wrong or unknown key for it is exit 5", async () => {
    const other = newKey(path.join(work, unique('other-jump-key')));
    const wrongKh = path.join(work, unique('kh-jump-wrong'));
    fs.writeFileSync(wrongKh, knownLine(sshd.port, sshd.hostKeyPub) + knownLine(jump.port, other.pub));
    const unknownKh = path.join(work, unique('kh-jump-unknown'));
    fs.writeFileSync(unknownKh, knownLine(sshd.port, sshd.hostKeyPub));
    const jumpArg = `${sshd.user}@127.0.0.1:${jump.port}`;
    const [wrong, unknown] = await Promise.all([
      download(['-v', '-F', jumpConfig('jump-wrong', wrongKh), '-J', jumpArg]),
      download(['-v', '-F', jumpConfig('jump-unknown', unknownKh), '-J', jumpArg]),
    ]);
    expectFailure(wrong, 5, 'FCP_ERR_AUTH', /REMOTE HOST IDENTIFICATION HAS CHANGED/, new RegExp(`\\[127\\.0\\.0\\.1\\]:${jump.port}`));
    expectFailure(unknown, 5, 'FCP_ERR_AUTH', new RegExp(`host key for \\[127\\.0\\.0\\.1\\]:${jump.port} is not known`));
    // fcp stopped at the jump host: it never went on to the target.
    for (const run of [wrong, unknown]) {
      expect(run.stderr).toContain(`ssh: connecting to ${sshd.user}@127.0.0.1:${jump.port}\n`);
      expect(run.stderr).not.toContain(`through ${sshd.user}@127.0.0.1:${jump.port}`);
    }
  });
});
