/**
 * Authentication against a real fcpd, started by hand (bin/fcpd --serve --bind 127.0.0.1, the
 * secret on its stdin, the port from its FCPD-LISTEN line), attacked with the protocol classes
 * of src/ and with raw frames: a wrong secret, a forged MAC under the right key id, an ATTACH to
 * an unknown session, and during the session an ATTACH to the real session by someone without the
 * secret. fcpd must refuse each with the right code, log it, and keep serving its own client.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { copy, isFcpError } from '../../src';
import type { Launcher, LaunchedServer } from '../../src';
import { codeFromWire } from '../../src/errors';
import { FrameDecoder, FrameEncoder, keyIdOf, loadXxhash, PacketType, parsePayload } from '../../src/protocol';
import type { Message } from '../../src/protocol';
import { ClientConnection } from '../../src/session/connection';
import { makeOffer } from '../../src/session/params';
import { FramedConnection } from '../../src/wire/framedConnection';
import { Established, runHandshake, takeOver } from '../../src/wire/handshake';
import { compareTrees } from './helpers/compare';
import { livePushSession } from './helpers/hostilePeer';
import { dial, FCPD_BIN, killAll, stackLines, StartedFcpd, startFcpd, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { buildSmallTree } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
const started: StartedFcpd[] = [];
afterEach(() => {
  for (const fcpd of started.splice(0)) fcpd.kill();
});
afterAll(() => killAll());

/** What a handshake attempt ended with: the FCP_ERR code of its failure, or 'established'. */
async function handshakeOutcome(conn: FramedConnection, machine: ClientConnection): Promise<string> {
  try {
    await runHandshake(conn, machine, { timeoutMs: 10_000 });
    conn.close();
    return 'established';
  } catch (err) {
    return isFcpError(err) ? err.code : `not an FcpError: ${String(err)}`;
  }
}

async function attemptControl(port: number, secret: Buffer, encrypt: boolean): Promise<string> {
  const xxh = await loadXxhash();
  const conn = new FramedConnection(await dial(port), xxh, 'attacker control connection', 10_000);
  const machine = new ClientConnection({
    role: 'control',
    secret,
    nonce: randomBytes(32),
    peerName: 'fcpd under test',
    offer: makeOffer({ encrypt, connections: 2 }),
    mode: { type: PacketType.MODE, flags: 0 },
    request: { type: PacketType.PUSH, path: Buffer.from('/tmp') },
  });
  return handshakeOutcome(conn, machine);
}

function dataMachine(secret: Buffer, sessionId: Buffer, connIndex: number, params = makeOffer({ encrypt: false, connections: 2 })): ClientConnection {
  return new ClientConnection({ role: 'data', secret, nonce: randomBytes(32), peerName: 'fcpd under test', sessionId, connIndex, params });
}

async function attemptAttach(port: number, secret: Buffer, sessionId: Buffer, connIndex: number): Promise<string> {
  const conn = new FramedConnection(await dial(port), await loadXxhash(), 'attacker data connection', 10_000);
  return handshakeOutcome(conn, dataMachine(secret, sessionId, connIndex));
}

/**
 * Raw frames: after the server's HELLO, send HELLO, PARAMS and an AUTH that names the session's
 * real key id with a MAC made up of random bytes; returns the messages fcpd sent back until it
 * closed.
 */
async function forgedMac(port: number, secret: Buffer): Promise<Message[]> {
  const xxh = await loadXxhash();
  const socket: Duplex = await dial(port);
  const encoder = new FrameEncoder(xxh);
  const decoder = new FrameDecoder(xxh);
  const received: Message[] = [];
  return within(
    new Promise<Message[]>((resolve, reject) => {
      let sent = false;
      socket.on('data', (chunk: Buffer) => {
        try {
          decoder.push(chunk);
          for (let raw = decoder.next(); raw; raw = decoder.next()) received.push(parsePayload(raw.type, raw.payload));
        } catch (err) {
          reject(err);
        }
        if (!sent && received.some((m) => m.type === PacketType.HELLO)) {
          sent = true;
          socket.write(
            Buffer.concat([
              encoder.encode({ type: PacketType.HELLO, minVersion: 1, maxVersion: 1, nonce: randomBytes(32) }),
              encoder.encode(makeOffer({ encrypt: false })),
              encoder.encode({ type: PacketType.AUTH, keyId: keyIdOf(secret), mac: randomBytes(32) }),
            ]),
          );
        }
      });
      socket.on('error', () => resolve(received));
      socket.on('close', () => resolve(received));
    }),
    10_000,
    'forged-MAC exchange',
  );
}

const errorCodesOf = (messages: Message[]): string[] =>
  messages.flatMap((m) => (m.type === PacketType.ERROR ? [codeFromWire(m.code)] : []));

test('fcpd refuses a wrong secret, a forged MAC and unknown or unauthenticated ATTACHes, logs them, and still serves its client', async () => {
  const work = temp.make('fcp-auth');
  const tree = buildSmallTree(work, 'src');
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);

  const refusals: Record<string, string | string[]> = {};
  let fcpd: StartedFcpd | undefined;

  const launcher: Launcher = {
    async launch(secret): Promise<LaunchedServer> {
      fcpd = await startFcpd({ secret, verbose: true });
      started.push(fcpd);
      const server = fcpd;
      expect(server.address).toBe('127.0.0.1');
      // Before the real client connects: strangers.
      refusals.wrongSecret = await attemptControl(server.port, randomBytes(32), false);
      refusals.wrongSecretEncrypted = await attemptControl(server.port, randomBytes(32), true);
      refusals.forgedMac = errorCodesOf(await forgedMac(server.port, secret));
      refusals.unknownSession = await attemptAttach(server.port, secret, randomBytes(16), 1);
      return {
        name: `fcpd on 127.0.0.1:${server.port}`,
        connect: () => dial(server.port),
        close: async () => {
          await within(server.exited, 15_000, 'fcpd exit after its session');
        },
      };
    },
  };

  const summary = await copy({
    sources: [tree.root],
    destination: `localhost:${dst}`,
    recursive: true,
    connections: 2,
    encrypt: true,
    launcher,
  });

  expect(refusals).toEqual({
    wrongSecret: 'FCP_ERR_AUTH',
    wrongSecretEncrypted: 'FCP_ERR_AUTH',
    forgedMac: ['FCP_ERR_AUTH'],
    unknownSession: 'FCP_ERR_UNKNOWN_SESSION',
  });
  // The real session was not disturbed.
  expect(summary.errors).toEqual([]);
  expect(summary).toMatchObject({ files: tree.fileCount, filesFailed: 0, encrypted: true, connections: 2 });
  expect(compareTrees(tree.root, path.join(dst, 'src'))).toEqual([]);
  // fcpd ended by itself with success, having logged every refusal with the peer's address.
  expect(await within(fcpd!.exited, 15_000, 'fcpd exit')).toEqual({ code: 0, signal: null });
  const refusedLines = fcpd!.stderr().split('\n').filter((l) => /refused client 127\.0\.0\.1:\d+/.test(l));
  expect(refusedLines.length).toBeGreaterThanOrEqual(4);
  expect(fcpd!.stderr()).not.toMatch(/^\s+at /m);
});

/** A real fcpd with a real push session of 2 encrypted data connections, its control connection established. */
async function liveSession(): Promise<{ fcpd: StartedFcpd; secret: Buffer; control: FramedConnection; established: Established }> {
  const session = await livePushSession(temp.make('fcp-auth'), 2);
  started.push(session.fcpd);
  return session;
}

test('an ATTACH that names a live session but lacks its secret is refused with FCP_ERR_AUTH', async () => {
  // A real session, opened with the secret: the attacker learnt its id, not the secret.
  const { fcpd, control, established } = await liveSession();
  expect(await attemptAttach(fcpd.port, randomBytes(32), established.sessionId, 1)).toBe('FCP_ERR_AUTH');
  control.close();
  fcpd.kill();
});

test('an ATTACH with a taken or out-of-range conn_index is refused with FCP_ERR_PROTOCOL; the session goes on', async () => {
  const { fcpd, secret, control, established } = await liveSession();
  const xxh = await loadXxhash();
  const attach = async (connIndex: number): Promise<FramedConnection> => {
    const conn = new FramedConnection(await dial(fcpd.port), xxh, `data ${connIndex}`, 30_000);
    await runHandshake(conn, dataMachine(secret, established.sessionId, connIndex, established.params), { timeoutMs: 10_000 });
    return conn;
  };
  const first = await attach(1);
  // With the secret, so refused for the index alone: a duplicate, and one beyond the accepted 2.
  const refusals = await Promise.all(
    [1, 3].map(async (connIndex) => {
      const conn = new FramedConnection(await dial(fcpd.port), xxh, `data ${connIndex}`, 10_000);
      return handshakeOutcome(conn, dataMachine(secret, established.sessionId, connIndex, established.params));
    }),
  );
  expect(refusals).toEqual(['FCP_ERR_PROTOCOL', 'FCP_ERR_PROTOCOL']);
  const second = await attach(2);

  // The session was not harmed: an empty push completes, DONE both ways, and fcpd exits 0.
  const received: Message[] = [];
  const serverDone = new Promise<void>((resolve, reject) =>
    takeOver(control, established, {
      message: (message) => {
        received.push(message);
        if (message.type === PacketType.DONE) resolve();
      },
      closed: (error) => (error ? reject(error) : resolve()),
    }),
  );
  control.send({ type: PacketType.FILE_COUNT, count: 0, totalBytes: 0 });
  control.send({ type: PacketType.DONE });
  await within(serverDone, 10_000, 'the server DONE');
  // DEST_STATE first: the receiver says whether its destination holds anything (PROTOCOL.md §7.4).
  expect(received.map((m) => m.type)).toEqual([PacketType.DEST_STATE, PacketType.DONE]);
  for (const conn of [control, first, second]) conn.close();
  expect(await within(fcpd.exited, 15_000, 'fcpd exit')).toEqual({ code: 0, signal: null });
  expect(fcpd.stderr().match(/refused client 127\.0\.0\.1:\d+: .*which is taken or outside 1\.\.2/g)).toHaveLength(2);
});

test('a client whose fcpd holds another secret gets FCP_ERR_AUTH (exit code 5) and sends nothing', async () => {
  const work = temp.make('fcp-auth');
  const tree = buildSmallTree(work, 'src');
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);
  let fcpd: StartedFcpd | undefined;
  const launcher: Launcher = {
    async launch(): Promise<LaunchedServer> {
      // fcpd is given a different secret than the one copy() generated.
      fcpd = await startFcpd({ secret: randomBytes(32), verbose: true });
      started.push(fcpd);
      const server = fcpd;
      return {
        name: `impostor fcpd on 127.0.0.1:${server.port}`,
        connect: () => dial(server.port),
        close: async () => {
          // Let fcpd log the refusal (it does so after closing the connection), then stop it.
          const deadline = Date.now() + 5000;
          while (!/refused/.test(server.stderr()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
          server.kill();
        },
      };
    },
  };
  const error = await copy({ sources: [tree.root], destination: `localhost:${dst}`, recursive: true, launcher }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isFcpError(error)).toBe(true);
  expect({ code: (error as { code: string }).code, exit: (error as { exitCode: number }).exitCode }).toEqual({ code: 'FCP_ERR_AUTH', exit: 5 });
  expect(fs.readdirSync(dst)).toEqual([]);
  expect(fcpd!.stderr()).toMatch(/refused client 127\.0\.0\.1:\d+/);
});

test.each([
  ['a malformed secret line', 'FCP-SECRET not-hex\n'],
  ['an empty line', '\n'],
  ['no line at all', ''],
])('fcpd given %s on stdin exits with FCP_ERR_USAGE (exit 2), no stack trace, and never listens', async (_label, input) => {
  const child = spawn(process.execPath, [FCPD_BIN, '--serve', '--bind', '127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(input);
  const code = await within(new Promise<number | null>((resolve) => child.on('close', resolve)), 15_000, 'fcpd exit');
  expect({ code, stdout, stackLines: stackLines(stderr), usage: stderr.includes('FCP_ERR_USAGE'), stderr }).toEqual({
    code: 2,
    stdout: '',
    stackLines: [],
    usage: true,
    stderr,
  });
});
