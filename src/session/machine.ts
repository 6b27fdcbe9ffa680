/**
 * The part every connection machine shares: a state name, the message types each state allows,
 * ERROR and KEEPALIVE handling, and the one-way trip to FAILED. Pure: no I/O.
 */
import { FcpError } from '../errors';
import { PacketType, PacketTypeValue } from '../protocol/constants';
import type { Message } from '../protocol/messages';
import { fail, FailAction, peerError, unexpected } from './actions';

export abstract class ConnectionMachine<S extends string, A> {
  state: S | 'FAILED';
  /** The error that took the machine to FAILED. */
  failure: FcpError | undefined;

  protected constructor(
    initial: S,
    /** Message types each state allows; anything else there is FCP_ERR_UNEXPECTED_MESSAGE. */
    private readonly allowed: Readonly<Record<S, readonly PacketTypeValue[]>>,
    /** States in which the connection is authenticated, so KEEPALIVE is allowed. */
    private readonly authenticatedStates: readonly S[],
    /** How the peer is named in errors: "server 10.0.0.2:7523", "client 10.0.0.1:51234". */
    protected readonly peerName: string,
  ) {
    this.state = initial;
  }

  /** A message arrived on this connection. */
  receive(message: Message): (A | FailAction)[] {
    const state = this.state;
    if (state === 'FAILED') return [];
    if (message.type === PacketType.ERROR) return this.fail(peerError(message, this.peerName), false);
    if (message.type === PacketType.KEEPALIVE && this.authenticatedStates.includes(state)) return [];
    if (!this.allowed[state].includes(message.type)) return this.fail(unexpected(message, state));
    return this.handle(message);
  }

  /** A message the current state allows. */
  protected abstract handle(message: Message): (A | FailAction)[];

  protected fail(error: FcpError, notifyPeer = true): FailAction[] {
    this.state = 'FAILED';
    this.failure = error;
    return [fail(error, notifyPeer)];
  }
}
