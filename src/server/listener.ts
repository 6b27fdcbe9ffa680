/** fcpd's TCP listening socket, apart from the session server so it can listen before that loads. */
import * as net from 'node:net';
import { FcpError } from '../errors';

/**
 * Listens on bind:port (default: every address, '::', or '0.0.0.0' where IPv6 is off); resolves
 * with the bound address. Later listener errors go to log.
 *
 * Every address is asked for by giving none: Node then binds '::' and falls back to '0.0.0.0'
 * itself, without its resolver. Given any address, even '::', Node looks it up first, which
 * loads node:dns and starts c-ares (it reads resolv.conf and nsswitch.conf): 5-10 ms of fcpd's
 * start before its listen line.
 */
export function listenTcp(server: net.Server, bind: string | undefined, port: number, log: (line: string) => void): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new FcpError('FCP_ERR_CONNECT', `fcpd cannot listen on ${bind ?? '::'}:${port}: ${err.message}`, {
          cause: err,
          hint: err.code === 'EADDRINUSE' ? `port ${port} is taken (another fcpd, perhaps another user's, or another program); choose another with --port` : undefined,
        }),
      );
    };
    server.once('error', onError);
    const listening = (): void => {
      server.off('error', onError);
      server.on('error', (err) => log(`listener error: ${err.message}`));
      resolve(server.address() as net.AddressInfo);
    };
    if (bind === undefined) server.listen(port, listening);
    else server.listen(port, bind, listening);
  });
}
