/**
 * Sends one fuzz case to fcpd on a fresh connection and reports how the connection ended. A
 * postAuth case first establishes a PUSH or PULL session with a secret registered with the daemon, using
 * the client's own connection machine, so its bytes reach the transfer, not the handshake.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { isFcpError } from '../../src/errors';
import { dialTcp } from '../../src/launch/dial';
import { ModeFlag, PacketType } from '../../src/protocol/constants';
import type { XXHashAPI } from '../../src/protocol/xxhash';
import { ClientConnection } from '../../src/session/connection';
import { makeOffer } from '../../src/session/params';
import { FramedConnection } from '../../src/wire/framedConnection';
import { runHandshake } from '../../src/wire/handshake';
import type { FuzzCase } from './cases';

/**
 * closed: fcpd closed the connection within the case's time. open: it was still open when the
 * time was up (fcpd may wait for more, up to its own timeouts). refused: the postAuth handshake
 * failed, so the case never reached its target (a fuzzer failure).
 */
export type Outcome = 'closed' | 'open' | 'refused';

export interface DeliveryTarget {
  port: number;
  xxh: XXHashAPI;
  register(secret: Buffer): Promise<void>;
  /** Where postAuth sessions push to. */
  destination: string;
  /** What postAuth pull sessions ask for. */
  pullSource: string;
  /** How long to watch a connection after the case is sent. */
  settleMs: number;
  /** Bound on connecting and on each handshake. */
  timeoutMs: number;
}

export async function deliver(fuzzCase: FuzzCase, target: DeliveryTarget): Promise<{ outcome: Outcome; detail?: string }> {
  const opened: Duplex[] = [];
  const open = async (): Promise<Duplex> => {
    const socket = await dialTcp('127.0.0.1', target.port, target.timeoutMs);
    // fcpd may close or reset while the case is being written: that is an answer, not an error.
    socket.on('error', () => undefined);
    opened.push(socket);
    return socket;
  };
  try {
    let socket: Duplex;
    let conn: FramedConnection | undefined;
    if (fuzzCase.phase === 'preAuth') {
      socket = await open();
      // fcpd's HELLO and ERROR are read and dropped: an unread stream would never see fcpd's FIN.
      socket.resume();
    } else {
      const session = await establish(fuzzCase, target, open);
      if ('refused' in session) return { outcome: 'refused', detail: session.refused };
      ({ socket, conn } = session);
      // Read on (what fcpd sends piles up with the handshake's early messages), so its FIN is seen.
      conn.resume();
    }
    const closed = new Promise<'closed'>((resolve) => socket.once('close', () => resolve('closed')));
    if (fuzzCase.bytes.length) socket.write(fuzzCase.bytes);
    for (const message of fuzzCase.messages) {
      try {
        conn!.send(message);
      } catch (err) {
        // A valid message too long to seal (a full-size PULL): the encoder refuses it, fcpd never sees it.
        if (!isFcpError(err) || err.code !== 'FCP_ERR_BAD_LENGTH') throw err;
      }
    }
    if (fuzzCase.end === 'fin') socket.end();
    let timer: NodeJS.Timeout | undefined;
    const settled = new Promise<'open'>((resolve) => (timer = setTimeout(() => resolve('open'), target.settleMs)));
    const outcome = await Promise.race([closed, settled]);
    clearTimeout(timer);
    return { outcome };
  } finally {
    for (const socket of opened) socket.destroy();
  }
}

type Session = { socket: Duplex; conn: FramedConnection } | { refused: string };

/** A PUSH or PULL session on fcpd, established as fcp would; the case's connection (control or data 1) ready to take it. */
async function establish(fuzzCase: FuzzCase, target: DeliveryTarget, open: () => Promise<Duplex>): Promise<Session> {
  const secret = randomBytes(32);
  await target.register(secret);
  const handshake = async (socket: Duplex, machine: ClientConnection, name: string) => {
    const conn = new FramedConnection(socket, target.xxh, name, target.timeoutMs);
    return { conn, established: await runHandshake(conn, machine, { timeoutMs: target.timeoutMs }) };
  };
  const common = { secret, nonce: randomBytes(32), peerName: 'fcpd under fuzzing' };
  try {
    const controlSocket = await open();
    const control = await handshake(
      controlSocket,
      new ClientConnection({
        ...common,
        role: 'control',
        offer: makeOffer({ encrypt: fuzzCase.encrypt, connections: 1 }),
        mode: { type: PacketType.MODE, flags: ModeFlag.RECURSIVE },
        request:
          fuzzCase.request === 'push'
            ? { type: PacketType.PUSH, path: Buffer.from(target.destination) }
            : { type: PacketType.PULL, paths: [Buffer.from(target.pullSource)] },
      }),
      'fuzz control connection',
    );
    if (fuzzCase.on === 'control') return { socket: controlSocket, conn: control.conn };
    // Before the data connection's handshake, so that fcpd has its file list when the case arrives.
    for (const message of fuzzCase.controlMessages) control.conn.send(message);
    const dataSocket = await open();
    const { sessionId, params } = control.established;
    const data = await handshake(dataSocket, new ClientConnection({ ...common, nonce: randomBytes(32), role: 'data', sessionId, connIndex: 1, params }), 'fuzz data connection 1');
    return { socket: dataSocket, conn: data.conn };
  } catch (err) {
    return { refused: isFcpError(err) ? `${err.code}: ${err.message}` : String(err) };
  }
}
