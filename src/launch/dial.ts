/** Opening a TCP connection to fcpd, with a deadline and an error that says where. */
import type { Duplex } from 'node:stream';
import { tcpConnect } from '../wire/tcpConnect';

export async function dialTcp(host: string, port: number, timeoutMs: number): Promise<Duplex> {
  const socket = await tcpConnect(
    { host, port, label: `fcpd at ${host} port ${port}`, hint: () => 'a firewall may block the port; try --tunnel to carry the connections over SSH' },
    timeoutMs,
  );
  socket.setNoDelay(true);
  return socket;
}
