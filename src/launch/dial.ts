/** Opening a TCP connection to fcpd, with a deadline and an error that says where. */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { FcpError } from '../errors';

export function dialTcp(host: string, port: number, timeoutMs: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new FcpError('FCP_ERR_TIMEOUT', `no TCP connection to fcpd at ${host}:${port} within ${timeoutMs / 1000} s`, {
          hint: 'a firewall may block the port; try --tunnel to carry the connections over SSH',
        }),
      );
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new FcpError('FCP_ERR_CONNECT', `cannot connect to fcpd at ${host}:${port}: ${err.message}`, { cause: err }));
    });
  });
}
