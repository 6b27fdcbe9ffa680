/**
 * Starts fcpd on the remote host through an SSH exec (ssh2): the secret goes down the exec
 * channel's stdin, the port comes back on its stdout, fcpd's stderr reaches the log. Data
 * connections go straight to the host the SSH connection reached, or through SSH (forwardOut,
 * along the jump chain) when direct TCP does not connect.
 */
import type { ClientChannel } from 'ssh2';
import { FcpError } from '../errors';
import { connectSsh, SshConnection, SshContext } from '../ssh/sshClient';
import { LAUNCH_TIMEOUT_MS } from '../timeouts';
import type { ResolvedHost } from '../ssh/sshConfig';
import { dialTcp } from './dial';
import { startFcpd } from './fcpdProcess';
import type { Listen } from './handoff';
import type { Launcher, LaunchedServer } from './launcher';
import { packageVersion } from './packageRoot';
import { FcpdBundle, installCommand, LAUNCH_EXIT, launchCommand, localBundle } from './remoteInstall';
import { DIRECT_CONNECT_TIMEOUT_MS, tunnelFallback } from './tunnelFallback';

export interface SshLaunchOptions {
  host: ResolvedHost;
  ssh: SshContext;
  /** The command that starts fcpd on the remote host, like rsync's --rsync-path; undefined: fcp's launch script. */
  fcpdPath: string | undefined;
  /** Install fcp's own fcpd into the host's cache when it has Node.js but no fcpd (not with --no-install). */
  install: boolean;
  forceTunnel: boolean;
  notice(line: string): void;
}

/** After a failed session, how long to wait for fcpd's last words. */
export const FAILED_EXIT_WAIT_MS = 2000;

const WILDCARDS = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0']);

/** Where fcpd is, as seen from the SSH server: for forwardOut. */
export function addressOnServer(listen: Listen): string {
  return WILDCARDS.has(listen.address) ? '127.0.0.1' : listen.address;
}

/** Where to dial fcpd directly from here: the address our SSH connection reached, else fcpd's word. */
export function directAddress(listen: Listen, reached: string | undefined, hostName: string): string {
  return reached ?? listen.reached ?? (WILDCARDS.has(listen.address) ? hostName : listen.address);
}

/** The launch script said fcpd is missing and Node.js 20+ is there: fcp may install its own. */
class FcpdMissing extends Error {}

export function sshLauncher(options: SshLaunchOptions): Launcher {
  return {
    async launch(secret, log): Promise<LaunchedServer> {
      const ssh = await connectSsh(options.host, options.ssh);
      try {
        // --fcpd-path wins; otherwise the launch script, which can also run an fcpd fcp installed.
        const bundle = options.fcpdPath === undefined ? localBundle(packageVersion()) : null;
        const command = options.fcpdPath !== undefined ? `${options.fcpdPath} --serve` : bundle ? launchCommand(bundle) : 'fcpd --serve';
        const notFound = (): FcpError =>
          new FcpError('FCP_ERR_CONNECT', `fcpd was not found on ${ssh.name}`, {
            hint: 'install fcp there (npm install -g fastcopy), give its path with --fcpd-path, or leave out --no-install',
          });
        const exits = {
          [LAUNCH_EXIT.NEEDS_FCPD]: () => (options.install && bundle ? new FcpdMissing() : notFound()),
          [LAUNCH_EXIT.NO_NODE]: () =>
            new FcpError('FCP_ERR_NO_REMOTE_NODE', `no Node.js 20 or later on ${ssh.name} to run fcpd`, {
              hint: 'install Node.js 20+ there, or give a Node.js and fcpd with --fcpd-path',
            }),
        };
        const start = async (): Promise<{ listen: Listen; channel: ClientChannel; exited: Promise<number | null> }> => {
          log(`ssh: running ${options.fcpdPath === undefined && bundle ? 'the fcpd launch script' : command} on ${ssh.name}`);
          const channel = await ssh.exec(command);
          const exited = new Promise<number | null>((resolve) => channel.once('exit', (code: number | null) => resolve(code)));
          const listen = await startFcpd({ stdin: channel, stdout: channel, stderr: channel.stderr, exited }, secret, log, `on ${ssh.name}`, command, exits);
          return { listen, channel, exited };
        };
        let installed = false;
        const started = await start().catch(async (err: unknown) => {
          if (!(err instanceof FcpdMissing)) throw err;
          options.notice(`no fcpd on ${ssh.name}: installing fcp's own (${bundle!.version}) into ~/.cache/fcp there`);
          await installBundle(ssh, bundle!, log);
          installed = true;
          return start();
        });
        const { listen, channel, exited } = started;
        const direct = directAddress(listen, ssh.reachedAddress, options.host.hostName);
        const server = `fcpd on ${ssh.name}`;
        return {
          name: server,
          controlNonce: listen.nonce,
          mode: installed ? 'fcpd-installed' : 'fcpd',
          connect: tunnelFallback({
            direct: () => dialTcp(direct, listen.port, DIRECT_CONNECT_TIMEOUT_MS),
            tunnel: () => ssh.forwardOut(addressOnServer(listen), listen.port),
            forceTunnel: options.forceTunnel,
            directTarget: `${direct}:${listen.port}`,
            notice: options.notice,
          }),
          async close(failed): Promise<void> {
            if (failed) await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, FAILED_EXIT_WAIT_MS))]);
            channel.close();
            ssh.close();
          },
        };
      } catch (err) {
        ssh.close();
        throw err;
      }
    },
  };
}

/** Copies the bundle into the host's cache (remoteInstall.installCommand); fails with what the host said. */
async function installBundle(ssh: SshConnection, bundle: FcpdBundle, log: (line: string) => void): Promise<void> {
  const channel = await ssh.exec(installCommand(bundle));
  let said = '';
  channel.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
  channel.resume();
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      channel.close();
      resolve(null);
    }, LAUNCH_TIMEOUT_MS);
    channel.once('exit', (exit: number | null) => {
      clearTimeout(timer);
      resolve(exit);
    });
    channel.end(bundle.bytes);
  });
  if (code !== 0) {
    throw new FcpError('FCP_ERR_CONNECT', `could not install fcpd into ~/.cache/fcp on ${ssh.name}${said.trim() ? `: ${said.trim()}` : ''}`, {
      hint: 'check the space and permissions of ~/.cache there, or install fcp there (npm install -g fastcopy)',
    });
  }
  log(`ssh: installed fcpd ${bundle.version} (SHA-256 ${bundle.sha256}) on ${ssh.name}`);
}
