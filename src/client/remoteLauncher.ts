/**
 * The launcher for a remote location: ssh2 with the user's ssh_config (default), or an external
 * ssh program (-e). Options are scp's: -P port, -i identity, -F config, -J jumps, -o Key=Value.
 */
import { FcpError } from '../errors';
import { externalSshLauncher } from '../launch/externalSshLauncher';
import type { Launcher } from '../launch/launcher';
import { sshLauncher } from '../launch/sshLauncher';
import { ttyPrompter } from '../ssh/prompt';
import type { SshConnection, SshContext } from '../ssh/sshClient';
import { loadSshConfig, resolveHost, ResolvedHost } from '../ssh/sshConfig';
import type { Location } from './location';

type RemoteLocation = Extract<Location, { kind: 'remote' }>;

export interface SshOptions {
  /** -F: ssh_config to read instead of ~/.ssh/config. */
  configFile?: string;
  /** -P */
  port?: number;
  /** -i, repeatable. */
  identityFiles?: string[];
  /** -J [user@]host[:port][,...] */
  jump?: string;
  /** -o Key=Value, repeatable; the first value of a key wins, as in ssh. */
  options?: string[];
  /** -e: an external ssh program (with arguments) instead of ssh2. */
  program?: string;
  /** --fcpd-path: the command that starts fcpd on the remote host (default: fcpd on its PATH). */
  fcpdPath?: string;
  /** --tunnel: carry the data connections through SSH instead of direct TCP. */
  tunnel?: boolean;
  /** --no-install (false): never copy fcp's own fcpd to a host that has Node.js but no fcpd. */
  install?: boolean;
  /**
   * Not an option of the command line: a connection with the built-in client already logged in to
   * the remote location's host (fcp-track makes one for all of a command's steps). fcpd is started
   * over it, and it is left open; the caller closes it.
   */
  connection?: SshConnection;
}

/** -o values as a map; "Key=Value" and "Key Value" are both ssh's syntax. */
export function parseSshOptions(options: string[] = []): Record<string, string> {
  const parsed: Record<string, string> = {};
  for (const option of options) {
    const match = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=|\s)\s*(.*?)\s*$/.exec(option);
    if (!match || match[2] === '') {
      throw new FcpError('FCP_ERR_USAGE', `-o ${option}: expected Key=Value`, { hint: 'for example -o StrictHostKeyChecking=accept-new' });
    }
    const key = Object.keys(parsed).find((k) => k.toLowerCase() === match[1]!.toLowerCase()) ?? match[1]!;
    parsed[key] ??= match[2]!;
  }
  return parsed;
}

/** The host to log in to with ssh2 (scp's -P, -i, -F, -J, -o over the ssh config) and how. */
export function sshLogin(remote: RemoteLocation, ssh: SshOptions, log: (line: string) => void): { host: ResolvedHost; context: SshContext } {
  const options = parseSshOptions(ssh.options);
  if (ssh.jump) options.ProxyJump ??= ssh.jump;
  const config = loadSshConfig({ file: ssh.configFile });
  const host = resolveHost(config, { host: remote.host, user: remote.user, port: ssh.port, identityFiles: ssh.identityFiles, options });
  return {
    host,
    context: {
      // Jump hosts are resolved with the same config, but not with this host's -o/-i/-P.
      resolveHop: (hop) => resolveHost(config, { host: hop.host, user: hop.user, port: hop.port }),
      prompter: ttyPrompter(),
      log,
    },
  };
}

export function remoteLauncher(
  remote: RemoteLocation,
  ssh: SshOptions,
  log: (line: string) => void,
  notice: (line: string) => void,
  /** fcp's --timeout in ms, passed on to fcpd. */
  timeoutMs?: number,
  /** --partial-dir, passed on to fcpd when it receives (an upload). */
  partialDir?: string,
  /** fcp --watch: fcpd serves one session after another until none came for this many seconds. */
  reuseS?: number,
): Launcher {
  const install = ssh.install ?? true;
  const forceTunnel = ssh.tunnel ?? false;
  if (ssh.program) {
    // A bad -o is a usage error whichever SSH client carries it.
    parseSshOptions(ssh.options);
    const args = [
      ...(ssh.configFile ? ['-F', ssh.configFile] : []),
      ...(ssh.port ? ['-p', String(ssh.port)] : []),
      ...(ssh.identityFiles ?? []).flatMap((file) => ['-i', file]),
      ...(ssh.jump ? ['-J', ssh.jump] : []),
      ...(ssh.options ?? []).flatMap((option) => ['-o', option]),
    ];
    return externalSshLauncher({
      program: ssh.program.trim().split(/\s+/),
      args,
      destination: `${remote.user ? `${remote.user}@` : ''}${remote.host}`,
      hostName: remote.host,
      fcpdPath: ssh.fcpdPath,
      install,
      forceTunnel,
      timeoutMs,
      partialDir,
      reuseS,
      notice,
    });
  }
  const { host, context } = sshLogin(remote, ssh, log);
  return sshLauncher({
    // --timeout bounds the SSH connection too, unless the ssh config or -o sets ConnectTimeout.
    host: host.connectTimeoutMs === undefined && timeoutMs !== undefined ? { ...host, connectTimeoutMs: timeoutMs } : host,
    ssh: context,
    fcpdPath: ssh.fcpdPath,
    install,
    forceTunnel,
    timeoutMs,
    partialDir,
    reuseS,
    notice,
    connection: ssh.connection,
  });
}
