/**
 * Peers of a two-way side's session (PROTOCOL.md §7.12) that a test chooses the feature word of,
 * built from fcp's own codecs so that they speak the protocol and only differ where a test says:
 *
 * - sideSession: a client of a real fcpd's side session offering the features a test names (an
 *   older fcp, or one that sends what it did not negotiate), whose control connection the test
 *   then drives message by message, or byte by byte (a frame fcp's encoder would not write);
 * - olderFcpdLauncher: the real fcpd behind a proxy that rewrites the more_features word of a
 *   client's HELLO, so that the real fcpd answers as one without those bits (as an older build
 *   does) and the real fcp talks to it unchanged. The word is the one part of the handshake the
 *   MACs do not cover (§5.2: a man in the middle who strips it only makes the session one without
 *   the word's features), so this is exactly what an older fcpd's answer looks like to fcp. On a
 *   session without encryption the proxy also reads every frame of the side's session, both
 *   ways, and may put frames of its own in place of fcpd's (a hostile fcpd).
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { codeFromWire, FcpErrorCode } from '../../../src/errors';
import { localLauncher } from '../../../src/launch/localLauncher';
import type { Launcher, LaunchedServer } from '../../../src/launch/launcher';
import { checksumOfFrame } from '../../../src/protocol/chksum';
import { CHKSUM_OFFSET, ChksumCoverage, Feature, HEADER_SIZE, LENGTH_OFFSET, PacketType, TwoWayOp } from '../../../src/protocol/constants';
import { FrameDecoder } from '../../../src/protocol/frameDecoder';
import { FrameEncoder } from '../../../src/protocol/frameEncoder';
import type { HelloMessage, Message } from '../../../src/protocol/messages';
import { parsePayload } from '../../../src/protocol/parser';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { ClientConnection } from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { twoWayMessage } from '../../../src/watch/sideWire';
import { FramedConnection } from '../../../src/wire/framedConnection';
import { Established, runHandshake } from '../../../src/wire/handshake';
import { dial, within } from './run';

/** The features fcp offers for a side (remoteSide.ts): TWO_WAY with its optional parts. */
export const SIDE_FEATURES = Feature.TWO_WAY | Feature.TWO_WAY_MOVES | Feature.TWO_WAY_TREE;

/** A plain frame (cipher 0: full checksum coverage) of `type` around `payload`, whatever the payload holds. */
export function plainFrame(xxh: XXHashAPI, type: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(HEADER_SIZE + payload.length);
  frame[0] = type;
  frame.writeUInt16BE(payload.length, LENGTH_OFFSET);
  payload.copy(frame, HEADER_SIZE);
  frame.writeUInt32BE(checksumOfFrame(xxh, frame, ChksumCoverage.FULL), CHKSUM_OFFSET);
  return frame;
}

/** A TWO_WAY_SCOPE frame as bytes: any event number, any path (fcp's encoder would refuse some). */
export function scopeFrame(xxh: XXHashAPI, event: number, path: Buffer | string = ''): Buffer {
  return plainFrame(xxh, PacketType.TWO_WAY_SCOPE, Buffer.concat([Buffer.of(event), Buffer.from(path)]));
}

/** A side's session with a real fcpd, as a test drives it. */
export interface SideSession {
  control: FramedConnection;
  established: Established;
  xxh: XXHashAPI;
  /** Every message fcpd sent after the handshake, in order. */
  received: Message[];
  /** The codes of fcpd's ERRORs among them. */
  errors(): FcpErrorCode[];
  /** Resolves when fcpd closed the session, with the error the connection closed with, if any. */
  closed: Promise<unknown>;
  /** Resolves with fcpd's next message for which `match` holds (already received ones count); rejects after `ms`. */
  next(match: (message: Message) => boolean, ms?: number): Promise<Message>;
}

/**
 * Opens a side's session on fcpd at `port` (proving `secret`) for `directory`, offering `features`
 * (SIDE_FEATURES by default) and `moreFeatures` in the HELLO (none: a HELLO without the word),
 * without encryption, so that a test may write raw frames (control.write).
 */
export async function sideSession(
  target: { port: number; secret: Buffer },
  directory: string,
  offer: { features?: number; moreFeatures?: number } = {},
  pair: Buffer = randomBytes(32),
): Promise<SideSession> {
  const xxh = await loadXxhash();
  const offered = makeOffer({ connections: 1, encrypt: false });
  const control = new FramedConnection(await dial(target.port), xxh, 'two-way side session under test', 30_000);
  const established = await runHandshake(
    control,
    new ClientConnection({
      role: 'control',
      secret: target.secret,
      nonce: randomBytes(32),
      peerName: 'fcpd under test',
      offer: { ...offered, features: offered.features | (offer.features ?? SIDE_FEATURES), ...(offer.moreFeatures === undefined ? {} : { moreFeatures: offer.moreFeatures }) },
      mode: { type: PacketType.MODE, flags: 0 },
      twoWay: { ...twoWayMessage(TwoWayOp.OPEN), digest: pair },
      request: { type: PacketType.PULL, paths: [Buffer.from(directory)] },
    }),
    { timeoutMs: 10_000 },
  );
  const received: Message[] = [];
  const waiting = new Set<() => void>();
  const closed = new Promise<unknown>((resolve) => {
    const handlers = {
      message: (message: Message) => {
        if (message.type === PacketType.KEEPALIVE) return;
        received.push(message);
        for (const check of [...waiting]) check();
      },
      closed: (error?: unknown) => {
        resolve(error);
        for (const check of [...waiting]) check();
      },
    };
    control.start(handlers);
    for (const message of established.early.splice(0)) handlers.message(message);
    if (established.closedEarly !== undefined) handlers.closed(established.closedEarly ?? undefined);
    else control.resume();
  });
  let over = false;
  void closed.then(() => (over = true));
  const next = (match: (message: Message) => boolean, ms = 15_000): Promise<Message> =>
    within(
      new Promise<Message>((resolve, reject) => {
        const check = (): void => {
          const found = received.find(match);
          if (found) {
            waiting.delete(check);
            resolve(found);
          } else if (over) {
            waiting.delete(check);
            reject(new Error(`fcpd closed the session without the message awaited; it sent types ${received.map((m) => m.type).join(', ')}`));
          }
        };
        waiting.add(check);
        check();
      }),
      ms,
      'fcpd\'s message',
    );
  return {
    control,
    established,
    xxh,
    received,
    errors: () => received.flatMap((message) => (message.type === PacketType.ERROR ? [codeFromWire(message.code)] : [])),
    closed,
    next,
  };
}

/** What a proxied link does with one side's session (a connection whose HELLO offered more_features). */
export interface SideLinkHooks {
  /** The word fcpd is to see: the offered one rewritten (undefined: no word at all, a 40-byte HELLO as an older fcp sends). */
  moreFeatures(offered: number): number | undefined;
  /** Every message fcp sent in it after its HELLO (sessions without encryption only). */
  fromClient?(message: Message): void;
  /** Every message fcpd sent in it (sessions without encryption only) and its frame: the frames to send fcp instead, or undefined to pass it on. */
  fromServer?(message: Message, frame: Buffer): Buffer[] | undefined;
}

/**
 * A TCP proxy in front of `upstream` that applies `hooks` to every connection whose first frame
 * is a HELLO with more_features (the side's session; pushes and pulls pass untouched). With
 * `plain` (sessions without encryption) it reads every frame of those sessions both ways.
 */
export async function sideLinkProxy(upstream: () => Promise<Duplex>, hooks: SideLinkHooks, plain: boolean): Promise<{ port: number; close(): Promise<void> }> {
  const xxh = await loadXxhash();
  const open = new Set<Duplex>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client)).on('error', () => client.destroy());
    upstream().then(
      (fcpd) => {
        open.add(fcpd);
        fcpd.on('close', () => (open.delete(fcpd), client.destroy())).on('error', () => client.destroy());
        client.on('close', () => fcpd.destroy());
        link(xxh, client, fcpd, hooks, plain);
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Reads plain frames off a stream's chunks, calling `each` with each frame's bytes and message
 * (BATCH: not sent on a side's session, so not taken apart); a stream that is not plain frames
 * goes to `fail`.
 */
function frames(xxh: XXHashAPI, each: (frame: Buffer, message: Message) => void, fail: () => void): (chunk: Buffer) => void {
  const decoder = new FrameDecoder(xxh);
  return (chunk) => {
    try {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame; frame = decoder.next()) {
        const payload = Buffer.from(frame.payload);
        each(plainFrame(xxh, frame.type, payload), parsePayload(frame.type, payload));
      }
    } catch {
      fail();
    }
  };
}

function link(xxh: XXHashAPI, client: Duplex, fcpd: Duplex, hooks: SideLinkHooks, plain: boolean): void {
  let head = Buffer.alloc(0);
  let side: boolean | undefined;
  const cut = (): void => void (client.destroy(), fcpd.destroy());
  const toServer = frames(xxh, (_frame, message) => hooks.fromClient?.(message), cut);
  // fcpd may speak first (its HELLO): on a plain link every frame of it is read, those of a side's session shown to the hooks.
  const toClient = frames(
    xxh,
    (frame, message) => {
      const instead = side ? hooks.fromServer?.(message, frame) : undefined;
      for (const bytes of instead ?? [frame]) client.write(bytes);
    },
    cut,
  );
  fcpd.on('data', (chunk: Buffer) => (plain ? toClient(chunk) : client.write(chunk)));
  client.on('data', (chunk: Buffer) => {
    if (side !== undefined) {
      fcpd.write(chunk);
      if (side && plain) toServer(chunk);
      return;
    }
    // The client's first frame is its HELLO: rewritten here (its word), the rest passed on.
    head = Buffer.concat([head, chunk]);
    if (head.length < HEADER_SIZE || head.length < HEADER_SIZE + head.readUInt16BE(LENGTH_OFFSET)) return;
    const end = HEADER_SIZE + head.readUInt16BE(LENGTH_OFFSET);
    const hello = parsePayload(head[0]!, head.subarray(HEADER_SIZE, end)) as HelloMessage;
    side = hello.type === PacketType.HELLO && hello.moreFeatures !== undefined;
    const word = side ? hooks.moreFeatures(hello.moreFeatures!) : hello.moreFeatures;
    const { moreFeatures: _offered, ...rest } = hello;
    fcpd.write(side ? new FrameEncoder(xxh).encode(word === undefined ? rest : { ...rest, moreFeatures: word }) : head.subarray(0, end));
    fcpd.write(head.subarray(end));
    if (side && plain) toServer(head.subarray(end));
  });
}

/**
 * A Launcher of a local fcpd (fcpd --serve --reuse, as fcp --watch launches) reached through
 * sideLinkProxy with `hooks`: an fcpd that answers the side's session as one without the bits
 * `hooks.moreFeatures` takes away. `plain`: the sessions go without encryption (the copy's
 * `encrypt: false`), so that the hooks see every message.
 */
export function olderFcpdLauncher(hooks: SideLinkHooks, plain = false): { launcher: Launcher; launches: () => number } {
  let launches = 0;
  const launcher: Launcher = {
    async launch(secret, log): Promise<LaunchedServer> {
      launches++;
      const inner = await localLauncher({ reuseS: 60 }).launch(secret, log);
      const proxy = await sideLinkProxy(() => inner.connect(), hooks, plain);
      return {
        name: inner.name,
        controlNonce: inner.controlNonce,
        ...(inner.secret ? { secret: inner.secret } : {}),
        connect: () => dial(proxy.port),
        async close(failed) {
          await proxy.close();
          await inner.close(failed);
        },
      };
    },
  };
  return { launcher, launches: () => launches };
}
