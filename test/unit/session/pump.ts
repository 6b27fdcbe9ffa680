/**
 * In-memory harness: a ClientConnection and a ServerConnection talking THROUGH THE REAL CODEC.
 * Each side owns a FrameEncoder and a FrameDecoder; the pump performs each machine's actions in
 * order the way the socket owner will (send → encode → bytes into the peer's decoder; seal → set
 * sealing on the encoder or decoder at exactly that point; fail → ERROR to the peer, then stop),
 * and hands each decoded frame to the receiving machine one at a time, so a seal 'in' always
 * takes effect before the next frame is decoded. Everything is recorded for assertions.
 *
 * Hooks: `rewrite` changes a message before its sender encodes it (a lying peer, or a man in the
 * middle on unsealed frames); `tamper` sees every encoded frame and returns the bytes to put on
 * the wire instead (flip, drop, duplicate, reorder); `split` cuts each delivery into slices.
 */
import { FcpError, FcpErrorCode, wireFromCode } from '../../../src/errors';
import {
  CHKSUM_OFFSET,
  ChksumCoverage,
  ChksumCoverageValue,
  FrameDecoder,
  FrameEncoder,
  loadXxhash,
  Message,
  PacketType,
  PacketTypeValue,
  packetTypeName,
  parsePayload,
  XXHashAPI,
} from '../../../src/protocol';
import { checksumOfFrame } from '../../../src/protocol/chksum';
import { NONCE_SIZE } from '../../../src/protocol/constants';
import { keyIdOf, SECRET_SIZE } from '../../../src/protocol/keys';
import { ClientConnection, ServerConnection } from '../../../src/session/connection';
import type { ClientConnectionOptions, ConnectionAction, RequestAction } from '../../../src/session/connection';

export type Side = 'client' | 'server';
export const peerOf = (side: Side): Side => (side === 'client' ? 'server' : 'client');

/** One frame as its sender encoded it, before it goes on the wire. */
export interface WireFrame {
  from: Side;
  /** How many frames this side sent before this one. */
  index: number;
  message: Message;
  bytes: Buffer;
  sealed: boolean;
  /** A copy of `bytes` with the checksum recomputed as the sender would: anyone on the path can. */
  rechecksum(bytes: Buffer): Buffer;
}
export type Tamper = (frame: WireFrame) => Buffer[];

export interface PumpOptions {
  /** The server owner's answer to a request: a session id, a refusal, or undefined to leave it pending. */
  onRequest?: (request: RequestAction) => Buffer | FcpError | undefined;
  rewrite?: (message: Message, from: Side) => Message;
  tamper?: Tamper;
  /** Cuts the bytes of one delivery into the slices pushed into the decoder; default one slice. */
  split?: (bytes: Buffer) => Buffer[];
}

/** What one side did and saw. */
export interface Endpoint {
  readonly side: Side;
  /** Messages decoded and handed to the machine. */
  readonly received: Message[];
  /** Every action the machine returned, in order (including those of accept/refuse). */
  readonly actions: ConnectionAction[];
  /** Messages encoded, after `rewrite`. */
  readonly sent: Message[];
  /** Frames put on the wire, after `tamper`. */
  readonly wire: Buffer[];
  failure: FcpError | undefined;
  /** The machine failed (fail action) or the codec refused a frame before the machine saw it. */
  failedIn: 'machine' | 'codec' | undefined;
  stopped: boolean;
}

interface Io {
  machine: ClientConnection | ServerConnection;
  encoder: FrameEncoder;
  decoder: FrameDecoder;
  outSealed: boolean;
  outCoverage: ChksumCoverageValue;
  /** Bytes on their way to this side. */
  inbound: Buffer[];
}

/** Delivery rounds before the pump decides the machines are talking in circles. */
const MAX_ROUNDS = 10_000;

export class Pump {
  readonly client: Endpoint;
  readonly server: Endpoint;
  private readonly io: Record<Side, Io>;

  private constructor(
    readonly clientMachine: ClientConnection,
    readonly serverMachine: ServerConnection,
    private readonly xxh: XXHashAPI,
    private readonly options: PumpOptions,
  ) {
    const endpoint = (side: Side): Endpoint => ({
      side,
      received: [],
      actions: [],
      sent: [],
      wire: [],
      failure: undefined,
      failedIn: undefined,
      stopped: false,
    });
    const io = (machine: ClientConnection | ServerConnection): Io => ({
      machine,
      encoder: new FrameEncoder(xxh),
      decoder: new FrameDecoder(xxh),
      outSealed: false,
      outCoverage: ChksumCoverage.FULL,
      inbound: [],
    });
    this.client = endpoint('client');
    this.server = endpoint('server');
    this.io = { client: io(clientMachine), server: io(serverMachine) };
  }

  static async create(client: ClientConnection, server: ServerConnection, options: PumpOptions = {}): Promise<Pump> {
    return new Pump(client, server, await loadXxhash(), options);
  }

  /** Starts and runs the handshake until both sides are quiet. */
  static async handshake(client: ClientConnection, server: ServerConnection, options: PumpOptions = {}): Promise<Pump> {
    return (await Pump.create(client, server, options)).start().run();
  }

  endpoint(side: Side): Endpoint {
    return side === 'client' ? this.client : this.server;
  }

  /**
   * The TCP connection is up: the server speaks first, and so does a control client that has
   * the launch's nonce; nothing is delivered yet.
   */
  start(): this {
    this.apply('server', this.serverMachine.start());
    this.apply('client', this.clientMachine.start());
    return this;
  }

  /** Delivers frames, one per side in turn, until neither side has a whole frame to read. */
  run(): this {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const server = this.step('server');
      const client = this.step('client');
      if (!server && !client) return this;
    }
    throw new Error(`pump: still busy after ${MAX_ROUNDS} rounds`);
  }

  /**
   * Both sides close their sending half, as a peer does after its last frame or a failure: a
   * side left holding part of a frame fails with FCP_ERR_TRUNCATED (no one is left to tell).
   */
  end(): this {
    for (const side of ['server', 'client'] as const) {
      if (this.endpoint(side).stopped) continue;
      try {
        this.io[side].decoder.end();
      } catch (err) {
        if (!(err instanceof FcpError)) throw err;
        this.stop(side, err, 'codec', false);
      }
    }
    return this;
  }

  /** Puts a message on the wire as if `from`'s machine had sent it (its encoder, its sealing). */
  inject(from: Side, message: Message): this {
    this.send(from, message);
    return this;
  }

  /** The server's owner accepts the pending request, then the pump runs. */
  accept(sessionId: Buffer): this {
    this.apply('server', this.serverMachine.accept(sessionId));
    return this.run();
  }

  refuse(error: FcpError): this {
    this.apply('server', this.serverMachine.refuse(error));
    return this.run();
  }

  /** The actions of one type a side emitted. */
  actionsOf<T extends ConnectionAction['type']>(side: Side, type: T): Extract<ConnectionAction, { type: T }>[] {
    return this.endpoint(side).actions.filter((a): a is Extract<ConnectionAction, { type: T }> => a.type === type);
  }

  /** Everything a side put on the wire. */
  bytesFrom(side: Side): Buffer {
    return Buffer.concat(this.endpoint(side).wire);
  }

  /** Delivers what reached `side` and hands it at most one frame; false when there was none. */
  private step(side: Side): boolean {
    const io = this.io[side];
    const endpoint = this.endpoint(side);
    if (endpoint.stopped) {
      io.inbound.length = 0;
      return false;
    }
    if (io.inbound.length > 0) {
      const bytes = Buffer.concat(io.inbound);
      io.inbound.length = 0;
      for (const slice of this.options.split?.(bytes) ?? [bytes]) io.decoder.push(slice);
    }
    let message: Message;
    try {
      const frame = io.decoder.next();
      if (!frame) return false;
      message = parsePayload(frame.type, frame.payload);
    } catch (err) {
      if (!(err instanceof FcpError)) throw err;
      // What the owner does on a decoding error (PROTOCOL.md §2): ERROR if it can, then close.
      this.stop(side, err, 'codec', true);
      return true;
    }
    endpoint.received.push(message);
    this.apply(side, io.machine.receive(message));
    return true;
  }

  private apply(side: Side, actions: ConnectionAction[]): void {
    const io = this.io[side];
    const endpoint = this.endpoint(side);
    for (const action of actions) {
      if (endpoint.stopped) throw new Error(`pump: ${side} machine returned ${action.type} after failing`);
      endpoint.actions.push(action);
      switch (action.type) {
        case 'send':
          this.send(side, action.message);
          break;
        case 'seal':
          if (action.direction === 'out') {
            io.encoder.setSealing(action, action.coverage);
            io.outSealed = true;
            io.outCoverage = action.coverage;
          } else {
            io.decoder.setSealing(action, action.coverage);
          }
          break;
        case 'fail':
          this.stop(side, action.error, 'machine', action.notifyPeer);
          break;
        case 'request':
          this.answerRequest(action);
          break;
        case 'authenticated':
        case 'sessionCreated':
          break;
      }
    }
  }

  private answerRequest(request: RequestAction): void {
    const answer = this.options.onRequest?.(request);
    if (answer instanceof FcpError) this.apply('server', this.serverMachine.refuse(answer));
    else if (answer) this.apply('server', this.serverMachine.accept(answer));
  }

  private stop(side: Side, error: FcpError, where: 'machine' | 'codec', notifyPeer: boolean): void {
    if (notifyPeer) this.send(side, { type: PacketType.ERROR, code: wireFromCode(error.code), message: error.message });
    const endpoint = this.endpoint(side);
    endpoint.failure = error;
    endpoint.failedIn = where;
    endpoint.stopped = true;
  }

  private send(from: Side, original: Message): void {
    const io = this.io[from];
    const endpoint = this.endpoint(from);
    const message = this.options.rewrite?.(original, from) ?? original;
    const bytes = io.encoder.encode(message);
    const coverage = io.outCoverage;
    const frame: WireFrame = {
      from,
      index: endpoint.sent.length,
      message,
      bytes,
      sealed: io.outSealed,
      rechecksum: (changed) => {
        const copy = Buffer.from(changed);
        copy.writeUInt32BE(0, CHKSUM_OFFSET);
        copy.writeUInt32BE(checksumOfFrame(this.xxh, copy, coverage), CHKSUM_OFFSET);
        return copy;
      },
    };
    endpoint.sent.push(message);
    const onWire = this.options.tamper?.(frame) ?? [bytes];
    endpoint.wire.push(...onWire);
    this.io[peerOf(from)].inbound.push(...onWire);
  }
}

// --- action summaries -----------------------------------------------------------------------

/** An action in one short line, so whole action lists compare with toEqual. */
export function summary(action: ConnectionAction): string {
  switch (action.type) {
    case 'send':
      return `send ${packetTypeName[action.message.type]}`;
    case 'seal':
      return `seal ${action.direction}`;
    case 'authenticated':
      return `authenticated ${action.role}`;
    case 'request':
      return `request ${action.kind}`;
    case 'sessionCreated':
      return 'sessionCreated';
    case 'fail':
      return `fail ${action.error.code}${action.notifyPeer ? ' notify' : ''}`;
  }
}

export const summaries = (actions: readonly ConnectionAction[]): string[] => actions.map(summary);

// --- byte-stream hooks ----------------------------------------------------------------------

/** A tamper hook that changes the frames `from` sends of one type and passes every other frame. */
export function changeFrames(from: Side, type: PacketTypeValue, change: (frame: WireFrame) => Buffer[]): Tamper {
  return (frame) => (frame.from === from && frame.message.type === type ? change(frame) : [frame.bytes]);
}

/** XORs one byte of the frame with mask; with `rechecksum` the checksum is fixed up afterwards. */
export function flipByte(from: Side, type: PacketTypeValue, offset: number, mask = 0x01, rechecksum = false): Tamper {
  return changeFrames(from, type, (frame) => {
    const bytes = Buffer.from(frame.bytes);
    bytes[offset]! ^= mask;
    return [rechecksum ? frame.rechecksum(bytes) : bytes];
  });
}

export const dropFrame = (from: Side, type: PacketTypeValue): Tamper => changeFrames(from, type, () => []);

export const duplicateFrame = (from: Side, type: PacketTypeValue): Tamper =>
  changeFrames(from, type, (frame) => [frame.bytes, frame.bytes]);

/** Holds the frame of this type back and puts it on the wire after the next frame `from` sends. */
export function swapWithNext(from: Side, type: PacketTypeValue): Tamper {
  let held: Buffer | undefined;
  return (frame) => {
    if (frame.from !== from) return [frame.bytes];
    if (frame.message.type === type && !held) {
      held = frame.bytes;
      return [];
    }
    const out = held ? [frame.bytes, held] : [frame.bytes];
    held = undefined;
    return out;
  };
}

/** Replaces the frame of this type with other bytes (a frame from another connection, say). */
export const replaceFrame = (from: Side, type: PacketTypeValue, bytes: Buffer): Tamper => changeFrames(from, type, () => [bytes]);

/** A split hook cutting deliveries into slices of these lengths, cycling through them. */
export function sliceBy(lengths: readonly number[]): (bytes: Buffer) => Buffer[] {
  let next = 0;
  return (bytes) => {
    const slices: Buffer[] = [];
    for (let pos = 0; pos < bytes.length; next = (next + 1) % lengths.length) {
      const end = Math.min(bytes.length, pos + Math.max(1, lengths[next]!));
      slices.push(bytes.subarray(pos, end));
      pos = end;
    }
    return slices;
  };
}

/** A control client's own options: its offer, MODE, request and the messages a test is about. */
export type ControlClientOptions = Omit<Extract<ClientConnectionOptions, { role: 'control' }>, 'role' | 'secret' | 'nonce' | 'peerName'>;

const CONTROL_SECRET = Buffer.alloc(SECRET_SIZE, 0x5a);

/** A control client with `options` and a server that knows its secret, run through the handshake. */
export function controlHandshake(options: ControlClientOptions, pumpOptions: PumpOptions = {}): Promise<Pump> {
  const client = new ClientConnection({ role: 'control', secret: CONTROL_SECRET, nonce: Buffer.alloc(NONCE_SIZE, 2), peerName: 'server', ...options });
  const server = new ServerConnection({
    nonce: Buffer.alloc(NONCE_SIZE, 1),
    peerName: 'client',
    launchFor: (keyId) => (keyId.equals(keyIdOf(CONTROL_SECRET)) ? { secret: CONTROL_SECRET } : undefined),
    sessionFor: () => undefined,
  });
  return Pump.handshake(client, server, pumpOptions);
}

/** The server refused the request before its owner saw it: `code` in its last message, an ERROR. */
export function expectRequestRefused(pump: Pump, code: FcpErrorCode): void {
  expect(pump.server.failure?.code).toBe(code);
  expect(pump.server.sent.at(-1)).toMatchObject({ type: PacketType.ERROR, code: wireFromCode(code) });
  expect(pump.actionsOf('server', 'request')).toEqual([]);
}

/** A server whose PARAMS answer leaves `feature` out (one that does not know it). */
export function answerWithout(feature: number): PumpOptions {
  return { rewrite: (message, from) => (from === 'server' && message.type === PacketType.PARAMS ? { ...message, features: message.features & ~feature } : message) };
}
