/**
 * The hostile resume and reconnect cases (features RESUME and RECONNECT, PROTOCOL.md §7.3 and
 * §7.5), as scripts a lying client plays against a real fcpd: hostileResume.test.ts against an
 * fcpd --serve of its own, hostileDaemon.test.ts against a standing fcpd -d serving others.
 */
import { randomBytes } from 'node:crypto';
import { codeFromWire, FcpErrorCode } from '../../../src/errors';
import { PacketType } from '../../../src/protocol';
import { HASH_SIZE, MAX_HELD_HASHES, StaleReason } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { FramedConnection } from '../../../src/wire/framedConnection';
import { takeOver } from '../../../src/wire/handshake';
import { attachData, PeerSession } from './hostilePeer';
import { within } from './run';

/** The file pushed or pulled: several chunks of the default chunk size (1 MiB). */
export const SIZE = 3 * 1024 * 1024 + 5;
export const CHUNKS = 4;
const STORM = 10_000;

const held = (fileId: number, firstIndex: number, count: number): Message => ({ type: PacketType.CHUNKS_HELD, fileId, firstIndex, hashes: randomBytes(count * HASH_SIZE) });
const kept = (fileId: number, index: number): Message => ({ type: PacketType.CHUNK_KEPT, fileId, index });
const lost = (connIndex: number, chunks: number): Message => ({ type: PacketType.DATA_LOST, connIndex, chunks });
const ack = (connIndex: number, chunks: number): Message => ({ type: PacketType.CHUNK_ACK, connIndex, chunks });
const stale = (fileId: number): Message => ({ type: PacketType.PARTIAL_STALE, fileId, reason: StaleReason.CHANGED });
const ready = (fileId: number): Message => ({ type: PacketType.FILE_READY, fileId });
const storm = (message: Message): Message[] => Array.from({ length: STORM }, () => message);

/** The hostile sender of a push: FILE_COUNT and FILE_INFO of file 0, then these. */
export const PUSH_CASES: [string, Message[], FcpErrorCode][] = [
  ['CHUNK_KEPT for a file id never announced', [kept(7, 0)], 'FCP_ERR_PROTOCOL'],
  ['CHUNK_KEPT for a chunk fcpd does not hold', [kept(0, 1)], 'FCP_ERR_PROTOCOL'],
  ['CHUNK_KEPT for chunk 4 billion', [kept(0, 4_294_967_295)], 'FCP_ERR_PROTOCOL'],
  ['DATA_LOST answering a loss fcpd never reported', [lost(1, 0)], 'FCP_ERR_PROTOCOL'],
  ['DATA_LOST for a connection index the session does not have', [lost(64, 0)], 'FCP_ERR_PROTOCOL'],
  [`a storm of ${STORM} DATA_LOST`, storm(lost(1, 0)), 'FCP_ERR_PROTOCOL'],
  ['CHUNKS_HELD, a receiver message, from the sender', [held(0, 0, 1)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['PARTIAL_STALE, a receiver message, from the sender', [stale(0)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['CHUNK_ACK, a receiver message, from the sender', [ack(1, 0)], 'FCP_ERR_UNEXPECTED_MESSAGE'],
];

/**
 * The hostile receiver of a pull: `beforeReady` answers fcpd's FILE_INFO of file 0 in place of
 * FILE_READY; `afterReady` follows a FILE_READY, with data connection 1 attached (fcpd is sending).
 */
export interface PullScript {
  beforeReady?: Message[];
  afterReady?: Message[];
}

export const PULL_CASES: [string, PullScript, FcpErrorCode][] = [
  ['CHUNKS_HELD past the last chunk', { beforeReady: [held(0, CHUNKS, 1)] }, 'FCP_ERR_PROTOCOL'],
  ['CHUNKS_HELD from chunk 4 billion (the range wraps u32)', { beforeReady: [held(0, 4_294_967_295, 2)] }, 'FCP_ERR_PROTOCOL'],
  [`CHUNKS_HELD with ${MAX_HELD_HASHES} hashes for a file of ${CHUNKS} chunks`, { beforeReady: [held(0, 0, MAX_HELD_HASHES)] }, 'FCP_ERR_PROTOCOL'],
  ['CHUNKS_HELD claiming a chunk twice', { beforeReady: [held(0, 0, 2), held(0, 1, 1)] }, 'FCP_ERR_PROTOCOL'],
  ['CHUNKS_HELD for a file id never announced', { beforeReady: [held(9, 0, 1)] }, 'FCP_ERR_PROTOCOL'],
  ['CHUNKS_HELD after FILE_READY', { afterReady: [held(0, 0, 1)] }, 'FCP_ERR_PROTOCOL'],
  ['PARTIAL_STALE after FILE_READY', { afterReady: [stale(0)] }, 'FCP_ERR_PROTOCOL'],
  ['PARTIAL_STALE for a file id never announced', { beforeReady: [stale(9)] }, 'FCP_ERR_PROTOCOL'],
  ['CHUNK_ACK for a connection index that does not exist', { afterReady: [ack(9, 128)] }, 'FCP_ERR_PROTOCOL'],
  ['CHUNK_ACK for more chunks than were sent', { afterReady: [ack(1, 1000)] }, 'FCP_ERR_PROTOCOL'],
  ['DATA_LOST for a connection index that does not exist', { afterReady: [lost(9, 0)] }, 'FCP_ERR_PROTOCOL'],
  ['DATA_LOST for more chunks than were sent', { afterReady: [lost(1, 1000)] }, 'FCP_ERR_PROTOCOL'],
  [`a storm of ${STORM} DATA_LOST for one connection`, { afterReady: storm(lost(1, 0)) }, 'FCP_ERR_PROTOCOL'],
  ['CHUNK_KEPT, a sender message, from the receiver', { beforeReady: [kept(0, 0)] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
];

/**
 * Runs the session: `onMessage` sees each control message from fcpd and may answer; resolves
 * with the ERROR codes fcpd sent once it closed the session.
 */
async function play(live: PeerSession, onMessage: (message: Message) => void, opening: Message[]): Promise<string[]> {
  const answered: string[] = [];
  // takeOver: a pulling fcpd's first messages may have come in with the end of the handshake.
  const closed = new Promise<void>((resolve) =>
    takeOver(live.control, live.established, {
      message: (message) => {
        if (message.type === PacketType.ERROR) answered.push(codeFromWire(message.code));
        else onMessage(message);
      },
      closed: () => resolve(),
    }),
  );
  for (const message of opening) live.control.send(message);
  await within(closed, 15_000, 'fcpd closing the session');
  return answered;
}

/** A push session's hostile sender: FILE_COUNT and FILE_INFO of file 0 (named `name`), then `messages`. */
export function playPush(live: PeerSession, messages: Message[], name = 'f'): Promise<string[]> {
  return play(live, () => undefined, [
    { type: PacketType.FILE_COUNT, count: 1, totalBytes: SIZE },
    { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: SIZE, mtimeNs: 1_700_000_000_000_000_000n, digest: Buffer.alloc(16), path: Buffer.from(name) },
    ...messages,
  ]);
}

/** A pull session's hostile receiver, playing `script` when fcpd announces its file. */
export async function playPull(live: PeerSession, script: PullScript): Promise<string[]> {
  const send = (messages: Message[] | undefined): void => messages?.forEach((message) => live.control.send(message));
  let data: FramedConnection | undefined;
  const answered = await play(
    live,
    (message) => {
      if (message.type !== PacketType.FILE_INFO) return;
      send(script.beforeReady);
      if (!script.afterReady) return;
      live.control.send(ready(message.fileId));
      void attachData(live).then(
        (conn) => {
          data = conn;
          send(script.afterReady);
        },
        () => undefined,
      );
    },
    [],
  );
  data?.close();
  return answered;
}
