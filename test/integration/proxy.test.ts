/**
 * Self-test of the in-test fault proxy (helpers/proxy.ts) between a plain TCP client and server:
 * each fault does to the chosen stream what it says, at the chosen byte, and nothing else.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { FaultPlan, ProxyReport, startProxy } from './helpers/proxy';
import { dial, within } from './helpers/run';

/** What the proxy takes for a control connection: a HELLO frame with no payload, then PARAMS' type. */
const OPENING = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x10]);
const SENT = Buffer.concat([OPENING, randomBytes(4000)]);
const REPLY = randomBytes(256 * 1024);

interface Exchange {
  serverGot: Buffer;
  serverError?: string;
  clientGot: Buffer;
  clientError?: string;
  faulted: boolean;
}

/** Resolves once `ready()` holds, checking every 10 ms. */
async function until(ready: () => boolean): Promise<void> {
  while (!ready()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/**
 * The client sends SENT and ends once it has REPLY's length back (or its stream ended); the
 * server sends REPLY as soon as it is connected and keeps what it receives until its stream ends.
 * `settled`: what to wait for instead of both sides closing (a stall keeps the server's side open).
 */
async function exchange(plan: Omit<FaultPlan, 'connection'>, settled?: (now: Exchange, proxied: ProxyReport) => boolean): Promise<Exchange> {
  const result: Exchange = { serverGot: Buffer.alloc(0), clientGot: Buffer.alloc(0), faulted: false };
  let serverDone!: () => void;
  const serverClosed = new Promise<void>((resolve) => (serverDone = resolve));
  const server = net.createServer((socket) => {
    socket.on('data', (chunk: Buffer) => (result.serverGot = Buffer.concat([result.serverGot, chunk])));
    socket.on('error', (err: NodeJS.ErrnoException) => (result.serverError = err.code));
    socket.on('end', () => socket.end());
    socket.on('close', () => serverDone());
    socket.write(REPLY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxy = await startProxy(() => dial((server.address() as net.AddressInfo).port), { fault: { ...plan, connection: 0 } });
  try {
    const client = await dial(proxy.port);
    const clientClosed = new Promise<void>((resolve) => {
      client.on('data', (chunk: Buffer) => {
        result.clientGot = Buffer.concat([result.clientGot, chunk]);
        if (result.clientGot.length >= REPLY.length) client.end();
      });
      client.on('error', (err: NodeJS.ErrnoException) => (result.clientError = err.code));
      client.on('end', () => client.end());
      client.on('close', () => resolve());
    });
    client.write(SENT);
    const done = settled ? until(() => settled(result, proxy.report)) : Promise.all([clientClosed, serverClosed]).then(() => undefined);
    await within(done, 10_000, 'proxied exchange');
    result.faulted = proxy.report.faulted;
    return result;
  } finally {
    await proxy.close();
    server.close();
  }
}

test('corrupt: exactly the chosen byte of the chosen direction is flipped', async () => {
  const toServer = await exchange({ direction: 'toServer', at: 100, fault: { kind: 'corrupt', mask: 0x80 } });
  const expected = Buffer.from(SENT);
  expected[100] ^= 0x80;
  expect({ server: toServer.serverGot.equals(expected), client: toServer.clientGot.equals(REPLY), faulted: toServer.faulted }).toEqual({ server: true, client: true, faulted: true });

  const toClient = await exchange({ direction: 'toClient', at: 70_000, fault: { kind: 'corrupt' } });
  const expectedReply = Buffer.from(REPLY);
  expectedReply[70_000] ^= 0x01;
  expect({ server: toClient.serverGot.equals(SENT), client: toClient.clientGot.equals(expectedReply) }).toEqual({ server: true, client: true });
});

test('delay: the stream arrives whole and in order', async () => {
  const delayed = await exchange({ direction: 'toServer', at: 1000, fault: { kind: 'delay', ms: 200 } });
  expect({ server: delayed.serverGot.equals(SENT), client: delayed.clientGot.equals(REPLY), faulted: delayed.faulted }).toEqual({ server: true, client: true, faulted: true });
});

test('stall: nothing from the byte on reaches the server, the other direction still flows', async () => {
  // Settled once the proxy has taken in all the client sent, the client has had all of REPLY
  // (and has ended its side), and the server has had the bytes before the stall.
  const stalled = await exchange(
    { direction: 'toServer', at: 100, fault: { kind: 'stall' } },
    (now, proxied) => proxied.bytes[0]?.toServer === SENT.length && now.clientGot.length === REPLY.length && now.serverGot.length >= 100,
  );
  expect({ server: stalled.serverGot.equals(SENT.subarray(0, 100)), client: stalled.clientGot.equals(REPLY), errors: [stalled.serverError, stalled.clientError] }).toEqual({
    server: true,
    client: true,
    errors: [undefined, undefined],
  });
});

test('cut with FIN: the server gets the bytes before the cut and a clean end', async () => {
  const cut = await exchange({ direction: 'toServer', at: 100, fault: { kind: 'cut', how: 'fin' } });
  expect({ server: cut.serverGot.equals(SENT.subarray(0, 100)), serverError: cut.serverError, faulted: cut.faulted }).toEqual({ server: true, serverError: undefined, faulted: true });
});

test('cut with RST: both sides see a reset, the server got at most the bytes before the cut', async () => {
  const cut = await exchange({ direction: 'toServer', at: 100, fault: { kind: 'cut', how: 'rst' } });
  expect({
    serverPrefix: SENT.subarray(0, cut.serverGot.length).equals(cut.serverGot) && cut.serverGot.length <= 100,
    clientError: cut.clientError,
    clientShort: cut.clientGot.length < REPLY.length,
  }).toEqual({ serverPrefix: true, clientError: 'ECONNRESET', clientShort: true });
});
