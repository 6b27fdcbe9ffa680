/**
 * The SSH connection failing before login, against stand-in servers on 127.0.0.1: a closed port,
 * a name that does not resolve, a server that accepts and never speaks (ConnectTimeout, or --timeout
 * when none is set), one
 * that hangs up at once, and one that resets after its banner. Each is one line that names the
 * host and port and what happened, a hint line, exit 6, and with --json exactly one error event
 * on stdout and nothing else.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { childEnv, killAll, Run, runFcp, show, tempDir } from './harness';
import { freePort } from './sshd';

jest.setTimeout(30_000);

type Behaviour = 'silent' | 'hang up' | 'reset after banner';

/** A TCP server on 127.0.0.1 that treats every connection as `behaviour` says. */
function standIn(behaviour: Behaviour): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    if (behaviour === 'hang up') socket.end();
    if (behaviour === 'reset after banner') {
      socket.write('SSH-2.0-StandIn\r\n');
      // Once the client has answered (its banner and key exchange offer): it is mid-handshake.
      socket.once('data', () => socket.resetAndDestroy());
    }
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () => {
          for (const socket of sockets) socket.destroy();
          server.close();
        },
      }),
    ),
  );
}

let home: string;
let file: string;
let env: NodeJS.ProcessEnv;
const servers: { close(): void }[] = [];

beforeAll(() => {
  home = tempDir('connect-home');
  file = path.join(home, 'file');
  fs.writeFileSync(file, 'x');
  env = childEnv(home);
});

afterAll(() => {
  for (const server of servers) server.close();
  killAll();
  fs.rmSync(home, { recursive: true, force: true });
});

async function portOf(behaviour: Behaviour): Promise<number> {
  const server = await standIn(behaviour);
  servers.push(server);
  return server.port;
}

/** fcp to 127.0.0.1:port, plainly and with --json: both must fail with `code` and exit `exit`. */
async function expectConnectFailure(args: string[], host: string, port: number, what: RegExp, hint: RegExp): Promise<void> {
  const plain = await runFcp(['-o', 'BatchMode=yes', ...args, file, `${host}:/tmp/`], { env });
  const lines = plain.stderr.split('\n').filter((line) => line !== '');
  const expected = new RegExp(`^fcp: cannot connect to ${host.replace(/\./g, '\\.')} port ${port}: ${what.source} \\(FCP_ERR_CONNECT\\)$`);
  const problems = (run: Run, list: string[]): string => `${list.join('; ')}\n${show(run)}`;
  if (plain.code !== 6 || lines.length !== 2 || !expected.test(lines[0]!) || !hint.test(lines[1]!) || plain.stdout !== '') {
    throw new Error(problems(plain, [`expected exit 6, "${expected.source}", a hint matching ${hint}, nothing on stdout`]));
  }

  const json = await runFcp(['--json', '-o', 'BatchMode=yes', ...args, file, `${host}:/tmp/`], { env });
  const records = json.stdout.split('\n').filter((line) => line !== '');
  if (json.code !== 6 || json.stderr !== '' || records.length !== 1) throw new Error(problems(json, ['expected exit 6, one line on stdout, nothing on stderr']));
  expect(JSON.parse(records[0]!)).toEqual({
    event: 'error',
    code: 'FCP_ERR_CONNECT',
    message: expect.stringMatching(new RegExp(`^cannot connect to .* port ${port}: ${what.source}$`)),
    hint: expect.stringMatching(hint),
  });
}

test('a closed port: connection refused', async () => {
  const port = await freePort();
  await expectConnectFailure(['-P', String(port)], '127.0.0.1', port, /connection refused/, /sshd runs there.*-P/);
});

test('a host name that does not resolve', async () => {
  await expectConnectFailure([], 'nosuchhost.invalid', 22, /(no such host|could not be looked up).*/, /check the host name/);
});

test('a server that accepts and never speaks: ConnectTimeout ends the wait', async () => {
  const port = await portOf('silent');
  await expectConnectFailure(['-P', String(port), '-o', 'ConnectTimeout=2'], '127.0.0.1', port, /no SSH greeting within 2 s \(ConnectTimeout\)/, /ConnectTimeout=SECONDS/);
});

test('a server that accepts and never speaks, no ConnectTimeout set: --timeout ends the wait', async () => {
  const port = await portOf('silent');
  await expectConnectFailure(['-P', String(port), '--timeout', '2'], '127.0.0.1', port, /no SSH greeting within 2 s \(ConnectTimeout\)/, /ConnectTimeout=SECONDS/);
});

test('a server that hangs up before its greeting', async () => {
  const port = await portOf('hang up');
  await expectConnectFailure(['-P', String(port)], '127.0.0.1', port, /the server closed the connection during the SSH handshake/, /sshd log/);
});

test('a server that resets the connection after its banner, during the key exchange', async () => {
  const port = await portOf('reset after banner');
  await expectConnectFailure(['-P', String(port)], '127.0.0.1', port, /connection reset by peer during the SSH handshake/, /sshd log/);
});
