/**
 * Daemon access (fcp://): no launch, a standing fcpd reached over TCP, logged in to as the user of
 * this host's line in the client's secrets file, with the login key of its token (PROTOCOL.md §5.4).
 */
import { clientSecretFor, clientSecretsFile } from '../config/secretFiles';
import type { Launcher, LaunchedServer } from '../launch/launcher';
import { loginKeyOf } from '../protocol/tokens';
import { DEFAULT_TIMEOUT_S } from '../timeouts';
import { tcpConnect } from '../wire/tcpConnect';
import type { Location } from './location';

type DaemonLocation = Extract<Location, { kind: 'remote' }> & { daemon: { port: number } };

export function daemonLauncher(remote: DaemonLocation, timeoutMs = DEFAULT_TIMEOUT_S * 1000, env: NodeJS.ProcessEnv = process.env): Launcher {
  const { host } = remote;
  const { port } = remote.daemon;
  return {
    // The session's secret is the login key: the one given is not used.
    launch: async (_secret, log): Promise<LaunchedServer> => {
      const file = clientSecretsFile(env);
      const { user, token } = clientSecretFor(file, host, port, remote.user);
      log(`daemon access: logging in to ${host} port ${port} as ${user} (token from ${file})`);
      const target = {
        host,
        port,
        label: `fcpd at ${host} port ${port}`,
        hint: () => 'fcp:// needs a standing fcpd (fcpd -d) there, reachable on that port',
      };
      return {
        name: target.label,
        login: { user: Buffer.from(user), key: loginKeyOf(token) },
        connect: async () => {
          const socket = await tcpConnect(target, timeoutMs);
          socket.setNoDelay(true);
          return socket;
        },
        close: async () => undefined,
      };
    },
  };
}
