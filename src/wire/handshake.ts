/**
 * Drives a connection machine's handshake over a FramedConnection: applies its actions, asks the
 * owner to decide a server-side request, and settles when the machine is ESTABLISHED or FAILED.
 * Once established the connection is paused and anything already received is kept in `early`,
 * so the transfer engine that takes the connection over loses nothing and nothing piles up.
 */
import { asFcpError, FcpError } from '../errors';
import { BATCHABLE_TYPES, DATA_BATCHABLE_TYPES, Feature } from '../protocol/constants';
import type { Message, ParamsMessage } from '../protocol/messages';
import type { ClientConnection, ConnectionAction, RequestAction, ServerConnection } from '../session/connection';
import type { FramedConnection, FramedConnectionEvents } from './framedConnection';

export interface Established {
  role: 'control' | 'data';
  params: ParamsMessage;
  /** The session's id (on a control connection: as SESSION carried it). */
  sessionId: Buffer;
  connIndex: number;
  /** Server control connections: what the client asked for. */
  request?: RequestAction;
  /** Messages received after the handshake, before the transfer engine took the connection over. */
  early: Message[];
  /** Set when the connection closed in that interval (null: closed cleanly). */
  closedEarly?: FcpError | null;
}

export interface HandshakeOptions {
  timeoutMs: number;
  /** Server control connections: check the request; resolve with the new session's id or throw FcpError. */
  decide?: (request: RequestAction, params: ParamsMessage) => Promise<Buffer>;
  /** Every authenticated connection (for logging). */
  log?: (line: string) => void;
  /**
   * Milliseconds to hold a refusal of ours before it is sent and the connection closed (fcpd's
   * growing delay after failed daemon logins); 0 or left out: at once.
   */
  holdRefusal?: (error: FcpError) => number;
}

export function runHandshake(
  conn: FramedConnection,
  machine: ClientConnection | ServerConnection,
  options: HandshakeOptions,
): Promise<Established> {
  return new Promise((resolve, reject) => {
    const result: Partial<Established> & { early: Message[] } = { early: [] };
    let settled = false;
    // The verdict waits for the poll phase (setImmediate runs after it), as the idle check does:
    // after a long synchronous turn the peer's answer may be waiting unread.
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          conn.fail(
            new FcpError('FCP_ERR_TIMEOUT', `${conn.name}: handshake not finished within ${options.timeoutMs / 1000} s`, {
              hint: 'the peer is not answering as fcp does; check that the port belongs to fcpd',
            }),
            true,
          );
        }),
      options.timeoutMs,
    );
    timer.unref();

    const settle = (error?: FcpError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) return reject(error);
      conn.pause();
      resolve(result as Established);
    };

    const apply = (actions: ConnectionAction[]): void => {
      for (const action of actions) {
        switch (action.type) {
          case 'send':
            conn.send(action.message);
            break;
          case 'seal':
            conn.seal(action);
            break;
          case 'fail': {
            const holdMs = action.notifyPeer ? (options.holdRefusal?.(action.error) ?? 0) : 0;
            if (holdMs <= 0) {
              conn.fail(action.error, action.notifyPeer);
              return settle(action.error);
            }
            // The hold replaces the handshake timeout (it is bounded itself); what comes meanwhile is not read.
            conn.deafen();
            clearTimeout(timer);
            setTimeout(() => {
              conn.fail(action.error, true);
              settle(action.error);
            }, holdMs).unref();
            return;
          }
          case 'authenticated': {
            Object.assign(result, { role: action.role, params: action.params, sessionId: action.sessionId, connIndex: action.connIndex });
            conn.startKeepalive();
            // Handed over whether or not anyone logs it.
            const threads = action.role === 'data' ? cryptoInThreads(conn) : '';
            options.log?.(`${conn.name}: authenticated (${action.role})${threads}`);
            // The peer may batch control messages, or small chunks, from its first transfer message on.
            if (action.params.features & Feature.BATCH) conn.allowBatches(action.role === 'control' ? BATCHABLE_TYPES : DATA_BATCHABLE_TYPES);
            break;
          }
          case 'sessionCreated':
            result.sessionId = action.sessionId;
            break;
          case 'request':
            result.request = action;
            decide(action);
            break;
        }
      }
      if (machine.state === 'ESTABLISHED') settle();
    };

    const decide = (request: RequestAction): void => {
      const decision = options.decide?.(request, result.params!) ?? Promise.reject(new FcpError('FCP_ERR_INTERNAL', 'no request handler'));
      decision.then(
        (sessionId) => {
          result.sessionId = sessionId;
          apply((machine as ServerConnection).accept(sessionId));
        },
        (err: unknown) => {
          const error = asFcpError(err);
          apply((machine as ServerConnection).refuse(error));
        },
      );
    };

    const handlers: FramedConnectionEvents = {
      // Server: what follows the request while the owner decides on it (a client's first transfer
      // flight, PROTOCOL.md §5.3) waits, with what comes after the handshake, for the transfer.
      message: (message) => (settled || machine.state === 'AWAIT_ACCEPT' ? result.early.push(message) : apply(machine.receive(message))),
      closed: (error) => {
        if (settled) result.closedEarly = error ?? null;
        else settle(error ?? machine.failure ?? new FcpError('FCP_ERR_CONNECTION_LOST', `${conn.name} closed during the handshake`));
      },
    };
    conn.start(handlers);
    if ('start' in machine) apply(machine.start());
  });
}

/** Hands an established connection to new handlers: replays what arrived early, then reads on. */
export function takeOver(
  conn: Pick<FramedConnection, 'start' | 'resume'>,
  established: Pick<Established, 'early' | 'closedEarly'>,
  handlers: FramedConnectionEvents,
): void {
  conn.start(handlers);
  for (const message of established.early.splice(0)) handlers.message(message);
  if (established.closedEarly !== undefined) handlers.closed(established.closedEarly ?? undefined);
  else conn.resume();
}

/**
 * Hands a data connection's sealing and opening to the process's crypto threads where it has
 * cores to spare (cryptoThreads.ts); returns what -v says of it.
 */
function cryptoInThreads(conn: FramedConnection): string {
  const sealed = conn.sealInThread();
  const opened = conn.openInThread();
  if (!sealed && !opened) return '';
  return `, its frames ${sealed && opened ? 'sealed and opened' : sealed ? 'sealed' : 'opened'} in threads`;
}
