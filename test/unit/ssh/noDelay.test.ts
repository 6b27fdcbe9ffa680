/**
 * The SSH connection sends each packet as written (TCP_NODELAY): with Nagle's algorithm ssh2's
 * login packets, written one by one, waited for the server's delayed ACKs (sshClient.ts). A
 * stand-in server greets and hangs up once the client has answered; the client's socket to it
 * must have had setNoDelay(true) by then.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectSsh } from '../../../src/ssh/sshClient';
import { loadSshConfig, resolveHost } from '../../../src/ssh/sshConfig';

jest.setTimeout(20_000);

test('the connection to the SSH server is made without Nagle', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-nodelay-'));
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    socket.write('SSH-2.0-StandIn\r\n');
    socket.once('data', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  // Where each call went, read when it is made (a closed socket no longer knows its peer).
  const calls: { port: number | undefined; noDelay: boolean | undefined }[] = [];
  const original = net.Socket.prototype.setNoDelay;
  const setNoDelay = jest.spyOn(net.Socket.prototype, 'setNoDelay').mockImplementation(function (this: net.Socket, noDelay?: boolean) {
    calls.push({ port: this.remotePort, noDelay });
    return original.call(this, noDelay);
  });
  try {
    const config = path.join(dir, 'config');
    fs.writeFileSync(config, '');
    const host = resolveHost(loadSshConfig({ file: config, home: dir }), {
      host: '127.0.0.1',
      port,
      options: { BatchMode: 'yes', UserKnownHostsFile: path.join(dir, 'known_hosts'), GlobalKnownHostsFile: '/dev/null', IdentityAgent: 'none' },
    });
    await expect(connectSsh(host, { resolveHop: () => host, prompter: undefined, log: () => undefined })).rejects.toMatchObject({ code: 'FCP_ERR_CONNECT' });
    const toServer = calls.filter((call) => call.port === port);
    expect(toServer.length).toBeGreaterThan(0);
    expect(toServer.every((call) => call.noDelay !== false)).toBe(true);
  } finally {
    setNoDelay.mockRestore();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
