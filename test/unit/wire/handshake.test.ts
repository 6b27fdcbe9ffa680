/** runHandshake over in-memory streams: what a client sends right behind its request (PROTOCOL.md §5.3). */
import { randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import { PacketType, SESSION_ID_SIZE } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { ClientConnection, ServerConnection } from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { FramedConnection } from '../../../src/wire/framedConnection';
import { runHandshake } from '../../../src/wire/handshake';
import { toPlain } from '../protocol/vectors';

/** Two streams joined back to back, as a TCP connection is. */
function streamPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  for (const i of [0, 1]) {
    ends.push(
      new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, done) {
          ends[1 - i]!.push(chunk);
          done();
        },
        final(done) {
          ends[1 - i]!.push(null);
          done();
        },
      }),
    );
  }
  return [ends[0]!, ends[1]!];
}

const SESSION_ID = Buffer.alloc(SESSION_ID_SIZE, 0x5a);

test('the server keeps a first transfer flight sent behind the request until its owner accepts it, in order', async () => {
  const xxh = await loadXxhash();
  const [clientEnd, serverEnd] = streamPair();
  const client = new FramedConnection(clientEnd, xxh, 'client end', 60_000);
  const server = new FramedConnection(serverEnd, xxh, 'server end', 60_000);
  const secret = randomBytes(32);
  const launchNonce = randomBytes(32);
  const decided: string[] = [];
  const serverSide = runHandshake(
    server,
    new ServerConnection({ nonce: randomBytes(32), peerName: 'client', launchFor: () => ({ secret, nonce: launchNonce }), sessionFor: () => undefined }),
    {
      timeoutMs: 5000,
      // The owner takes its time: the flight arrives while it decides.
      decide: (request) =>
        new Promise((resolve) => setTimeout(() => (decided.push(request.kind), resolve(SESSION_ID)), 30)),
    },
  );
  const clientSide = runHandshake(
    client,
    new ClientConnection({
      role: 'control',
      secret,
      nonce: randomBytes(32),
      peerName: 'server',
      offer: makeOffer({ encrypt: true }),
      mode: { type: PacketType.MODE, flags: 0 },
      request: { type: PacketType.PUSH, path: Buffer.from('/srv/in') },
      launchNonce,
    }),
    { timeoutMs: 5000 },
  );
  const flight: Message[] = [
    { type: PacketType.FILE_COUNT, count: 1, totalBytes: 5 },
    { type: PacketType.FILE_INLINE, fileId: 0, perm: 0o644, mtimeNs: 0n, hash: 1n, path: Buffer.from('a'), data: Buffer.from('hello') },
    { type: PacketType.DONE },
  ];
  client.batchSends();
  for (const message of flight) client.send(message);

  const [atServer, atClient] = await Promise.all([serverSide, clientSide]);
  expect(decided).toEqual(['push']);
  expect(atServer.early.map(toPlain)).toEqual(flight.map(toPlain));
  expect(atClient.sessionId).toEqual(SESSION_ID);
  client.close();
  server.close();
});
