/**
 * What the pure state machines ask their owner to do. Machines take events (a received message,
 * or the outcome of work they asked for) and return a list of actions; they never touch sockets
 * or files. The owner performs the actions in order before feeding the next event.
 */
import { codeFromWire, FcpError } from '../errors';
import { packetTypeName } from '../protocol/constants';
import type { ChksumCoverageValue, SealingCipher } from '../protocol/constants';
import type { ErrorMessage, Message, ParamsMessage } from '../protocol/messages';

/**
 * Send a message on the connection the machine belongs to (for transfer machines: the control
 * connection). `mayWait`: an answer to what came in, which may wait for the answers to the rest of
 * what came in the same turn of the event loop, to go in one frame with them (framedConnection.ts).
 */
export interface SendAction { type: 'send'; message: Message; mayWait?: true }

/**
 * The session or connection cannot go on. When notifyPeer is set the owner sends
 * ERROR(error.code, error.message) before closing; it is clear when the peer itself sent ERROR or
 * the machine already queued the ERROR as a send action.
 */
export interface FailAction { type: 'fail'; error: FcpError; notifyPeer: boolean }

/** From the next frame on, seal (out) or open (in) frames with this key and checksum coverage. */
export interface SealAction {
  type: 'seal';
  direction: 'in' | 'out';
  cipher: SealingCipher;
  key: Buffer;
  coverage: ChksumCoverageValue;
}

export interface AuthenticatedAction {
  type: 'authenticated';
  role: 'control' | 'data';
  /** The accepted session parameters (for data connections: those of the session joined). */
  params: ParamsMessage;
  sessionId: Buffer;
  connIndex: number;
}

export function send(message: Message): SendAction {
  return { type: 'send', message };
}

/** An answer that may wait for the others of this turn of the event loop (SendAction's mayWait). */
export function sendAnswer(message: Message): SendAction {
  return { type: 'send', message, mayWait: true };
}

export function fail(error: FcpError, notifyPeer = true): FailAction {
  return { type: 'fail', error, notifyPeer };
}

/** The peer's ERROR or FILE_ERROR as a local error; control characters are dropped from its text. */
export function peerError(message: Pick<ErrorMessage, 'code' | 'message'>, peer: string): FcpError {
  const text = message.message.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  return new FcpError(codeFromWire(message.code), `${peer} reported: ${text}`);
}

/** A message the current state does not allow. */
export function unexpected(message: Message, state: string): FcpError {
  return new FcpError(
    'FCP_ERR_UNEXPECTED_MESSAGE',
    `${packetTypeName[message.type]} is not allowed in state ${state}`,
  );
}
