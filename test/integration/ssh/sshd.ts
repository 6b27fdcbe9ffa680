/**
 * A real OpenSSH server for the SSH tests: its own host and user keys, 127.0.0.1 on a free port,
 * its own known_hosts and a client ssh_config naming it, all in a temporary directory that stop()
 * removes. Runs as the test user (root in CI), key authentication only.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { HostBlock } from './harness';

export const SSHD = '/usr/sbin/sshd';
const REPO = path.resolve(__dirname, '../../..');
/** How tests start fcpd on the "remote" host: this checkout's, with its own daemon state dir. */
export function fcpdCommand(stateDir: string, extra = '', program = path.join(REPO, 'bin', 'fcpd')): string {
  return `env XDG_STATE_HOME=${stateDir} ${process.execPath} ${program}${extra ? ` ${extra}` : ''}`;
}

/**
 * Logging in to `sshd` with everything on the command line (no config file): -P, -i, its
 * known_hosts with `strict` host key checking, and this checkout's fcpd (or `fcpdPath`).
 */
export function explicitLogin(sshd: Sshd, strict: 'yes' | 'no' = 'yes', fcpdPath = fcpdCommand(sshd.stateDir)): string[] {
  return ['-P', String(sshd.port), '-i', sshd.identity, '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-o', `StrictHostKeyChecking=${strict}`, '--fcpd-path', fcpdPath];
}

/** fcp's options to log in to `sshd` through its ssh_config's alias, running the test fcpd. */
export function aliasLogin(sshd: Sshd): string[] {
  return ['-F', sshd.sshConfig, '--fcpd-path', fcpdCommand(sshd.stateDir)];
}

/** `path` on `sshd`, as fcp names it through the alias. */
export function atAlias(sshd: Sshd, path: string): string {
  return `${sshd.alias}:${path}`;
}

/** A `Host alias` block that logs in to `sshd` as its own config does: for a config naming several servers, or one twice. */
export function sshdHost(alias: string, sshd: Sshd): HostBlock {
  return {
    alias,
    hostName: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    identity: sshd.identity,
    identitiesOnly: true,
    knownHosts: sshd.knownHosts,
    strict: 'yes',
    batchMode: true,
  };
}

export interface Sshd {
  dir: string;
  port: number;
  user: string;
  /** The user's private key (ed25519, no passphrase), authorized on this server. */
  identity: string;
  /** known_hosts holding this server's host key as [127.0.0.1]:port. */
  knownHosts: string;
  /** The host key's public line ("ssh-ed25519 AAAA..."). */
  hostKeyPub: string;
  /** An ssh_config with `Host <alias>` for this server (User, Port, IdentityFile, known_hosts). */
  sshConfig: string;
  alias: string;
  /** fcpd's daemon state directory for this server's sessions. */
  stateDir: string;
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function keygen(file: string, type = 'ed25519', passphrase = ''): string {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'fcp-test', '-f', file]);
  return fs.readFileSync(`${file}.pub`, 'utf8').trim();
}

function waitForPort(port: number, proc: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      if (proc.exitCode !== null) return reject(new Error(`sshd exited: ${fs.readFileSync(logFile, 'utf8')}`));
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        if (Date.now() > deadline) return reject(new Error(`sshd did not listen on ${port}: ${fs.readFileSync(logFile, 'utf8')}`));
        setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export async function startSshd(
  /** tcpForwarding false: `AllowTcpForwarding no` (sshd takes a keyword's first value, so extraConfig cannot turn it off). */
  options: { alias?: string; extraConfig?: string; userKey?: { file: string; pub: string }; tcpForwarding?: boolean } = {},
): Promise<Sshd> {
  if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server (scripts/test.sh does it as root)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-sshd-'));
  fs.chmodSync(dir, 0o700);
  fs.mkdirSync('/run/sshd', { recursive: true });
  const hostKeyPub = keygen(path.join(dir, 'host_ed25519'));
  const identity = options.userKey?.file ?? path.join(dir, 'id_ed25519');
  const userPub = options.userKey?.pub ?? keygen(identity);
  fs.writeFileSync(path.join(dir, 'authorized_keys'), `${userPub}\n`, { mode: 0o600 });
  const port = await freePort();
  const user = os.userInfo().username;
  const logFile = path.join(dir, 'sshd.log');
  const config = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'StrictModes no',
      'UsePAM no',
      'PermitRootLogin yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `AllowTcpForwarding ${options.tcpForwarding === false ? 'no' : 'yes'}`,
      'LogLevel VERBOSE',
      'Subsystem sftp /usr/lib/openssh/sftp-server',
      options.extraConfig ?? '',
    ].join('\n'),
  );
  const proc = spawn(SSHD, ['-D', '-f', config, '-E', logFile], { stdio: 'ignore' });
  await waitForPort(port, proc, logFile);
  const knownHosts = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyPub}\n`);
  const alias = options.alias ?? 'fcptest';
  const sshConfig = path.join(dir, 'ssh_config');
  fs.writeFileSync(
    sshConfig,
    [
      `Host ${alias}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  User ${user}`,
      `  IdentityFile ${identity}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${knownHosts}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      '',
    ].join('\n'),
  );
  const stateDir = path.join(dir, 'state');
  return {
    dir,
    port,
    user,
    identity,
    knownHosts,
    hostKeyPub,
    sshConfig,
    alias,
    stateDir,
    log: () => fs.readFileSync(logFile, 'utf8'),
    async stop() {
      // An sshd that already died (a crash, a test that killed it) must not hang afterAll.
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve));
        proc.kill();
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
