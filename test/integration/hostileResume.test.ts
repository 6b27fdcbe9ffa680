/**
 * A hostile client against a real fcpd with the resume and reconnect messages (features RESUME
 * and RECONNECT, PROTOCOL.md §7.3 and §7.5), both ways: pushing (fcpd receives, the client lies
 * as a sender: CHUNK_KEPT, DATA_LOST answers, receiver-only messages) and pulling (fcpd sends, the
 * client lies as a receiver: CHUNKS_HELD past the file, near 4 billion, too many, twice;
 * PARTIAL_STALE out of place; CHUNK_ACK and DATA_LOST for connections that do not exist or
 * beyond what was sent; a DATA_LOST storm). Each gets ERROR with the right code, and fcpd ends
 * the session by itself with that error's exit code, no stack trace, nothing left behind.
 *
 * The client facing a hostile server runs the same state machines (src/session/transfer.ts):
 * test/unit/session/resume.test.ts and dataLoss.test.ts drive them with these messages directly.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { codeFromWire, exitCodeFor, FcpErrorCode } from '../../src/errors';
import { PacketType } from '../../src/protocol';
import { HASH_SIZE, MAX_HELD_HASHES, StaleReason } from '../../src/protocol/constants';
import type { Message } from '../../src/protocol/messages';
import { FramedConnection } from '../../src/wire/framedConnection';
import { takeOver } from '../../src/wire/handshake';
import { attachData, LiveSession, livePullSession, livePushSession } from './helpers/hostilePeer';
import { killAll, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

/** The file pushed or pulled: several chunks of the default chunk size (1 MiB). */
const SIZE = 3 * 1024 * 1024 + 5;
const CHUNKS = 4;
const STORM = 10_000;

const held = (fileId: number, firstIndex: number, count: number): Message => ({ type: PacketType.CHUNKS_HELD, fileId, firstIndex, hashes: randomBytes(count * HASH_SIZE) });
const kept = (fileId: number, index: number): Message => ({ type: PacketType.CHUNK_KEPT, fileId, index });
const lost = (connIndex: number, chunks: number): Message => ({ type: PacketType.DATA_LOST, connIndex, chunks });
const ack = (connIndex: number, chunks: number): Message => ({ type: PacketType.CHUNK_ACK, connIndex, chunks });
const stale = (fileId: number): Message => ({ type: PacketType.PARTIAL_STALE, fileId, reason: StaleReason.CHANGED });
const ready = (fileId: number): Message => ({ type: PacketType.FILE_READY, fileId });
const storm = (message: Message): Message[] => Array.from({ length: STORM }, () => message);

/** The hostile sender of a push: FILE_COUNT and FILE_INFO of file 0, then these. */
const PUSH_CASES: [string, Message[], FcpErrorCode][] = [
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
interface PullScript {
  beforeReady?: Message[];
  afterReady?: Message[];
}

const PULL_CASES: [string, PullScript, FcpErrorCode][] = [
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
 * with the ERROR codes fcpd sent once it closed the session, and how fcpd exited.
 */
async function play(live: LiveSession, onMessage: (message: Message) => void, opening: Message[]): Promise<{ answered: string[]; ended: unknown }> {
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
  return { answered, ended: await within(live.fcpd.exited, 15_000, 'fcpd exit') };
}

describe('pushing: fcpd receives from a lying sender', () => {
  test.each(PUSH_CASES)('%s: the right ERROR, and fcpd ends the session', async (_name, messages, expected) => {
    const work = temp.make('fcp-hostile-resume');
    const live = await livePushSession(work, 1);
    const opening: Message[] = [
      { type: PacketType.FILE_COUNT, count: 1, totalBytes: SIZE },
      { type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: SIZE, mtimeNs: 1_700_000_000_000_000_000n, digest: Buffer.alloc(16), path: Buffer.from('f') },
      ...messages,
    ];
    const outcome = await play(live, () => undefined, opening);
    expect(outcome).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
    expect(live.fcpd.stderr()).not.toMatch(/^\s+at /m);
    // Neither the file nor any partial state of it is left: the session failed, nothing was verified.
    expect(fs.readdirSync(work)).toEqual([]);
  });
});

describe('pulling: fcpd sends to a lying receiver', () => {
  test.each(PULL_CASES)('%s: the right ERROR, and fcpd ends the session', async (_name, script, expected) => {
    const work = temp.make('fcp-hostile-resume');
    const source = path.join(work, 'source');
    const content = randomBytes(SIZE);
    fs.writeFileSync(source, content);
    const live = await livePullSession(source, 1);
    expect(Math.ceil(SIZE / live.established.params.chunkSize)).toBe(CHUNKS);
    const send = (messages: Message[] | undefined): void => messages?.forEach((message) => live.control.send(message));
    let data: FramedConnection | undefined;
    const outcome = await play(
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
    expect(outcome).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
    expect(live.fcpd.stderr()).not.toMatch(/^\s+at /m);
    expect(fs.readFileSync(source).equals(content)).toBe(true);
  });
});
