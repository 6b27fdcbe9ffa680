/**
 * Opening a TCP connection with a deadline. A failure is one FcpError (FCP_ERR_CONNECT) that
 * says what was dialled and what happened in words ("connection refused", not "connect
 * ECONNREFUSED 127.0.0.1:22"), with the caller's hint for that kind of failure.
 */
import * as net from 'node:net';
import { FcpError } from '../errors';

/** What happened, in the words ssh uses; the errno code when there are none. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host (the name does not resolve)',
  EAI_AGAIN: 'the host name could not be looked up (no answer from DNS)',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset by peer',
  EPIPE: 'connection closed by peer',
};

export interface ConnectTarget {
  host: string;
  port: number;
  /** How messages name what was dialled; default "HOST port PORT". */
  label?: string;
  /** What to try, by cause: an errno code (ECONNREFUSED, ENOTFOUND...) or 'timeout'. */
  hint?(cause: string): string | undefined;
}

export function targetLabel(target: ConnectTarget): string {
  return target.label ?? `${target.host} port ${target.port}`;
}

/** "connection refused" for an ECONNREFUSED, the error's own message for anything unnamed. */
export function describeSocketError(err: NodeJS.ErrnoException): string {
  return (err.code && REASONS[err.code]) || err.message;
}

/** The error for a connection to `target` that failed: `what` happened, because of `cause`. */
export function connectError(target: ConnectTarget, what: string, cause: string, err?: unknown): FcpError {
  return new FcpError('FCP_ERR_CONNECT', `cannot connect to ${targetLabel(target)}: ${what}`, { cause: err, hint: target.hint?.(cause) });
}

export function socketConnectError(target: ConnectTarget, err: NodeJS.ErrnoException, during = ''): FcpError {
  return connectError(target, `${describeSocketError(err)}${during}`, err.code ?? 'error', err);
}

/**
 * Connects to target within timeoutMs; rejects with FCP_ERR_CONNECT, never leaves a socket open.
 * `family` 4 or 6 resolves the host to that family only (ssh -4/-6).
 */
export function tcpConnect(target: ConnectTarget, timeoutMs: number, family: 0 | 4 | 6 = 0): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port, family });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(connectError(target, `no answer within ${timeoutMs / 1000} s`, 'timeout'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(socketConnectError(target, err));
    });
  });
}
