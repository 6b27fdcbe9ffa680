/**
 * Starts fcpd on the remote host through an SSH exec (ssh2): the secret goes down the exec
 * channel's stdin, the port comes back on its stdout, fcpd's stderr reaches the log. Data
 * connections go straight to the host the SSH connection reached, or through SSH (forwardOut,
 * along the jump chain) when direct TCP does not connect.
 */
import { connectSsh, SshConnection, SshContext } from '../ssh/sshClient';
import type { ResolvedHost } from '../ssh/sshConfig';
import { dialTcp } from './dial';
import type { Listen } from './handoff';
import { isLoopbackAddress, type Launcher, type LaunchedServer } from './launcher';
import { prepareLaunch, RemoteFcpd, RemoteFcpdOptions, RemoteShell, startRemoteFcpd } from './remoteFcpd';
import { DIRECT_CONNECT_TIMEOUT_MS, tunnelFallback } from './tunnelFallback';

export interface SshLaunchOptions extends Omit<RemoteFcpdOptions, 'log'> {
  host: ResolvedHost;
  ssh: SshContext;
  forceTunnel: boolean;
  /**
   * A connection already logged in to `host` (fcp-track's, one for all of a push's steps): fcpd
   * starts over it instead of a login of its own, and it stays open when fcpd is let go.
   */
  connection?: SshConnection;
}

/** After a failed session, how long to wait for fcpd's last words. */
const FAILED_EXIT_WAIT_MS = 2000;

/**
 * Ends a remote fcpd's launch once fcp is done with it: after a failed session, fcpd's last words
 * waited for a moment; a reused fcpd (fcp --watch) reaped, as it would wait out its --reuse seconds
 * for a session that never comes.
 */
export async function stopRemoteFcpd({ process, reap }: Pick<RemoteFcpd, 'process' | 'reap'>, failed: boolean, reused: boolean): Promise<void> {
  if (failed) await Promise.race([process.exited, new Promise((resolve) => setTimeout(resolve, FAILED_EXIT_WAIT_MS))]);
  if (reused) await reap();
  process.stop();
}

/** Addresses that mean "every address" in a listen line. */
export const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '::ffff:0.0.0.0']);

/** Where fcpd is, as seen from the SSH server: for forwardOut. */
export function addressOnServer(listen: Listen): string {
  return WILDCARDS.has(listen.address) ? '127.0.0.1' : listen.address;
}

/** Where to dial fcpd directly from here: the address our SSH connection reached, else fcpd's word. */
export function directAddress(listen: Listen, reached: string | undefined, hostName: string): string {
  return reached ?? listen.reached ?? (WILDCARDS.has(listen.address) ? hostName : listen.address);
}

/** Commands on the host of an SSH connection, each in an exec channel. */
export function execShell(ssh: SshConnection): RemoteShell {
  return {
    name: ssh.name,
    async run(command) {
      const channel = await ssh.exec(command);
      // The exit status comes before the channel closes; a channel closed without one ends the wait too.
      const exited = new Promise<number | null>((resolve) => {
        channel.once('exit', (code: number | null) => resolve(code));
        channel.once('close', () => resolve(null));
      });
      return { stdin: channel, stdout: channel, stderr: channel.stderr, exited, stop: () => channel.close() };
    },
  };
}

export function sshLauncher(options: SshLaunchOptions): Launcher {
  return {
    async launch(secret, log): Promise<LaunchedServer> {
      prepareLaunch(options);
      const shared = options.connection;
      const ssh = shared ?? (await connectSsh(options.host, options.ssh));
      const letGo = (): void => {
        if (!shared) ssh.close();
      };
      try {
        const started = await startRemoteFcpd(execShell(ssh), secret, { ...options, log });
        const { ready: listen, mode } = started;
        const direct = directAddress(listen, ssh.reachedAddress, options.host.hostName);
        return {
          name: `fcpd on ${ssh.name}`,
          controlNonce: listen.nonce,
          mode,
          listen,
          sameHost: isLoopbackAddress(direct),
          connect: tunnelFallback({
            direct: () => dialTcp(direct, listen.port, DIRECT_CONNECT_TIMEOUT_MS),
            tunnel: () => ssh.forwardOut(addressOnServer(listen), listen.port),
            forceTunnel: options.forceTunnel,
            directTarget: `${direct}:${listen.port}`,
            notice: options.notice,
          }),
          async close(failed): Promise<void> {
            await stopRemoteFcpd(started, failed, options.reuseS !== undefined);
            letGo();
          },
        };
      } catch (err) {
        letGo();
        throw err;
      }
    },
  };
}
