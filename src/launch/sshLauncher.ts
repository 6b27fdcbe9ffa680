/**
 * Starts fcpd on the remote host through an SSH exec (ssh2): the secret goes down the exec
 * channel's stdin, the port comes back on its stdout, fcpd's stderr reaches the log. Data
 * connections go straight to the host the SSH connection reached, or through SSH (forwardOut,
 * along the jump chain) when direct TCP does not connect.
 */
import type { FcpError } from '../errors';
import { connectSsh, SshContext } from '../ssh/sshClient';
import type { ResolvedHost } from '../ssh/sshConfig';
import { dialTcp } from './dial';
import { startFcpd } from './fcpdProcess';
import { noRemoteNode } from './nodeProbe';
import type { Listen } from './handoff';
import type { Launcher, LaunchedServer } from './launcher';
import { DIRECT_CONNECT_TIMEOUT_MS, tunnelFallback } from './tunnelFallback';

export interface SshLaunchOptions {
  host: ResolvedHost;
  ssh: SshContext;
  /** The command that starts fcpd on the remote host, like rsync's --rsync-path. */
  fcpdPath: string;
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

export function sshLauncher(options: SshLaunchOptions): Launcher {
  return {
    async launch(secret, log): Promise<LaunchedServer> {
      const ssh = await connectSsh(options.host, options.ssh);
      try {
        const command = `${options.fcpdPath} --serve`;
        log(`ssh: running ${command} on ${ssh.name}`);
        const channel = await ssh.exec(command);
        const exited = new Promise<number | null>((resolve) => channel.once('exit', (code: number | null) => resolve(code)));
        const listen = await startFcpd({ stdin: channel, stdout: channel, stderr: channel.stderr, exited }, secret, log, `on ${ssh.name}`, command);
        const direct = directAddress(listen, ssh.reachedAddress, options.host.hostName);
        const server = `fcpd on ${ssh.name}`;
        return {
          name: server,
          controlNonce: listen.nonce,
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
        // fcpd did not start: a host without Node says so (copy() then falls back to SFTP).
        const noNode = (err as FcpError).code === 'FCP_ERR_CONNECT' ? await noRemoteNode(ssh).catch(() => undefined) : undefined;
        ssh.close();
        throw noNode ?? err;
      }
    },
  };
}
