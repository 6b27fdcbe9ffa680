/** fcpd's TCP listening socket, apart from the session server so it can listen before that loads. */
import * as net from 'node:net';
import { FcpError } from '../errors';

/**
 * Listens on bind:port (default: every address, '::', or '0.0.0.0' where IPv6 is off); resolves
 * with the bound address. Later listener errors go to log.
 */
export function listenTcp(server: net.Server, bind: string | undefined, port: number, log: (line: string) => void): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    const attempt = (address: string): void => {
      const onError = (err: NodeJS.ErrnoException): void => {
        if (bind === undefined && address === '::' && (err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL')) return attempt('0.0.0.0');
        reject(
          new FcpError('FCP_ERR_CONNECT', `fcpd cannot listen on ${address}:${port}: ${err.message}`, {
            cause: err,
            hint: err.code === 'EADDRINUSE' ? `port ${port} is taken (another fcpd, perhaps another user's, or another program); choose another with --port` : undefined,
          }),
        );
      };
      server.once('error', onError);
      server.listen(port, address, () => {
        server.off('error', onError);
        server.on('error', (err) => log(`listener error: ${err.message}`));
        resolve(server.address() as net.AddressInfo);
      });
    };
    attempt(bind ?? '::');
  });
}
