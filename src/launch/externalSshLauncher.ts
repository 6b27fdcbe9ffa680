/**
 * -e/--ssh PROGRAM: start fcpd through an external OpenSSH client, for what ssh2 lacks
 * (certificates, GSSAPI, ControlMaster). The same hand-off over the child's stdio; data
 * connections go straight to the address fcpd reports, or through `PROGRAM -W host:port`.
 */
import { Duplex } from 'node:stream';
import { dialTcp } from './dial';
import { isLoopbackAddress, type Launcher, type LaunchedServer } from './launcher';
import { RemoteFcpdOptions, RemoteShell, startRemoteFcpd } from './remoteFcpd';
import { addressOnServer, directAddress, stopRemoteFcpd } from './sshLauncher';
import { DIRECT_CONNECT_TIMEOUT_MS, tunnelFallback } from './tunnelFallback';

export interface ExternalSshOptions extends Omit<RemoteFcpdOptions, 'log'> {
  /** The ssh program and its leading arguments, e.g. ['ssh'] or ['ssh', '-o', 'ControlPath=...']. */
  program: string[];
  /** Options for it (-p, -i, -F, -J, -o ...), then the destination [user@]host. */
  args: string[];
  destination: string;
  /** The host name, for a direct connection when fcpd does not report its address. */
  hostName: string;
  forceTunnel: boolean;
}

function runSsh(options: ExternalSshOptions, extra: string[], command?: string) {
  const [program, ...leading] = options.program;
  const args = [...leading, ...options.args, ...extra, '--', options.destination, ...(command ? [command] : [])];
  // Loaded here, for -e only: fcp's own SSH client is what most copies log in with.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const child = spawn(program!, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', () => resolve(127));
  });
  return { child, exited };
}

export function externalSshLauncher(options: ExternalSshOptions): Launcher {
  return {
    async launch(secret, log): Promise<LaunchedServer> {
      const shell: RemoteShell = {
        name: options.destination,
        async run(command) {
          log(`ssh: ${options.program.join(' ')} ${options.destination}`);
          const { child, exited } = runSsh(options, [], command);
          child.once('error', (err) => log(`ssh: cannot run ${options.program[0]}: ${err.message}`));
          return { stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exited, stop: () => child.kill() };
        },
      };
      const started = await startRemoteFcpd(shell, secret, { ...options, log });
      const { ready: listen, mode } = started;
      const direct = directAddress(listen, undefined, options.hostName);
      return {
        name: `fcpd on ${options.destination}`,
        controlNonce: listen.nonce,
        mode,
        sameHost: isLoopbackAddress(direct),
        connect: tunnelFallback({
          direct: () => dialTcp(direct, listen.port, DIRECT_CONNECT_TIMEOUT_MS),
          tunnel: async () => {
            const hop = runSsh(options, ['-W', `${addressOnServer(listen)}:${listen.port}`]);
            hop.child.stderr.on('data', (chunk: Buffer) => log(`ssh -W: ${chunk.toString('utf8').trimEnd()}`));
            return Duplex.from({ readable: hop.child.stdout, writable: hop.child.stdin });
          },
          forceTunnel: options.forceTunnel,
          directTarget: `${direct}:${listen.port}`,
          notice: options.notice,
        }),
        async close(failed): Promise<void> {
          await stopRemoteFcpd(started, failed, options.reuseS !== undefined);
        },
      };
    },
  };
}
