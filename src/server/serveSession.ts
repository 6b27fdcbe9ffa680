/**
 * fcpd serving one session: listen, authenticate every connection, take the control
 * connection's request (checked before SESSION is answered), wait for the data connections, run
 * the transfer as receiver (PUSH) or sender (PULL), and end. Connections that fail to
 * authenticate are refused and logged; the session is not disturbed by them.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { parse as parseUuid, v4 as uuidv4 } from 'uuid';
import { FcpError } from '../errors';
import { ModeFlag } from '../protocol/constants';
import { keyIdOf, sameMac } from '../protocol/keys';
import type { ParamsMessage } from '../protocol/messages';
import { loadXxhash } from '../protocol/xxhash';
import type { RequestAction, SessionEntry } from '../session/connection';
import { ServerConnection } from '../session/connection';
import type { ServerPolicy } from '../session/params';
import { resolveDestination } from '../transfer/destination';
import type { LinkedConnection, TransferSummary } from '../transfer/link';
import { ReceiveEngine } from '../transfer/receiver';
import { SendEngine } from '../transfer/sender';
import { walkSources, WalkResult } from '../transfer/walk';
import type { Destination } from '../transfer/destination';
import { FramedConnection } from '../wire/framedConnection';
import { runHandshake } from '../wire/handshake';
import { HANDSHAKE_TIMEOUT_MS, IDLE_TIMEOUT_MS, LAUNCH_TIMEOUT_MS } from '../timeouts';

export interface ServeOptions {
  secret: Buffer;
  bind: string;
  /** 0: an ephemeral port. */
  port: number;
  policy?: ServerPolicy;
  /** How long to wait for the client's control connection and data connections. */
  acceptTimeoutMs?: number;
  idleMs?: number;
  log(line: string): void;
  listening(port: number, address: string): void;
}

interface PendingSession {
  id: Buffer;
  entry: SessionEntry;
  control: LinkedConnection;
  data: LinkedConnection[];
  work: { kind: 'push'; destination: Destination } | { kind: 'pull'; walk: WalkResult };
}

function peerOf(socket: net.Socket): string {
  const host = socket.remoteAddress?.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `client ${host}:${socket.remotePort}`;
}

/** Checks a request and prepares its work, so that a bad path is refused before SESSION. */
function prepare(request: RequestAction): PendingSession['work'] {
  const recursive = (request.flags & ModeFlag.RECURSIVE) !== 0;
  const followSymlinks = (request.flags & ModeFlag.FOLLOW_SYMLINKS) !== 0;
  if (request.kind === 'push') return { kind: 'push', destination: resolveDestination(request.paths[0]!, request.flags) };
  return { kind: 'pull', walk: walkSources(request.paths, { recursive, followSymlinks }) };
}

export async function serveSession(options: ServeOptions): Promise<TransferSummary> {
  const xxh = await loadXxhash();
  const keyId = keyIdOf(options.secret);
  const acceptTimeoutMs = options.acceptTimeoutMs ?? LAUNCH_TIMEOUT_MS;
  const idleMs = options.idleMs ?? IDLE_TIMEOUT_MS;
  let session: PendingSession | undefined;
  const server = net.createServer();

  return new Promise<TransferSummary>((resolve, reject) => {
    let over = false;
    const end = (error: FcpError | undefined, summary?: TransferSummary): void => {
      if (over) return;
      over = true;
      clearTimeout(acceptTimer);
      server.close();
      if (error) reject(error);
      else resolve(summary!);
    };
    const acceptTimer = setTimeout(
      () =>
        end(
          new FcpError('FCP_ERR_TIMEOUT', `no client completed a session within ${acceptTimeoutMs / 1000} s`, {
            hint: 'fcpd --serve is started by fcp and waits for it; check that the client can reach this port',
          }),
        ),
      acceptTimeoutMs,
    );

    const decide = async (request: RequestAction, params: ParamsMessage): Promise<Buffer> => {
      if (session) throw new FcpError('FCP_ERR_PROTOCOL', 'this fcpd already serves a session');
      const work = prepare(request);
      const id = Buffer.from(parseUuid(uuidv4()));
      session = { id, entry: { secret: options.secret, params, attached: new Set() }, control: undefined!, data: [], work };
      return id;
    };

    const startTransfer = (s: PendingSession): void => {
      clearTimeout(acceptTimer);
      const link = {
        control: s.control,
        data: s.data,
        params: s.entry.params,
        xxh,
        peerName: s.control.conn.name,
        log: options.log,
      };
      options.log(`session ${s.id.toString('hex')}: ${s.work.kind}, ${s.data.length} data connections`);
      const engine = s.work.kind === 'push' ? new ReceiveEngine(link, s.work.destination) : new SendEngine(link, s.work.walk);
      engine.run().then(
        (summary) => end(undefined, summary),
        (error: FcpError) => end(error),
      );
    };

    server.on('connection', (socket) => {
      if (over) return void socket.destroy();
      socket.setNoDelay(true);
      const peerName = peerOf(socket);
      const conn = new FramedConnection(socket, xxh, peerName, idleMs);
      const machine = new ServerConnection({
        nonce: randomBytes(32),
        peerName,
        secretFor: (candidate) => (sameMac(candidate, keyId) ? options.secret : undefined),
        sessionFor: (id) => (session && id.equals(session.id) ? session.entry : undefined),
        policy: options.policy,
      });
      runHandshake(conn, machine, { timeoutMs: HANDSHAKE_TIMEOUT_MS, decide, log: options.log }).then(
        (established) => {
          const s = session;
          if (!s) return conn.close();
          if (established.role === 'control') s.control = { conn, established };
          else {
            (s.entry.attached as Set<number>).add(established.connIndex);
            s.data[established.connIndex - 1] = { conn, established };
          }
          if (s.control && s.entry.attached.size === s.entry.params.connections) startTransfer(s);
        },
        (error: FcpError) => {
          options.log(`refused ${peerName}: ${error.message}`);
          // The client's own control connection failing (its request refused) ends this
          // one-session server; strangers failing to authenticate do not.
          if (machine.authenticatedRole === 'control') end(error);
        },
      );
    });
    server.on('error', (err: NodeJS.ErrnoException) =>
      end(
        new FcpError('FCP_ERR_CONNECT', `fcpd cannot listen on ${options.bind}:${options.port}: ${err.message}`, {
          cause: err,
          hint: err.code === 'EADDRINUSE' ? 'the port is taken; choose another with --port or leave it out' : undefined,
        }),
      ),
    );
    server.listen(options.port, options.bind, () => {
      const address = server.address() as net.AddressInfo;
      options.listening(address.port, address.address);
    });
  });
}
