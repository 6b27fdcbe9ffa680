/**
 * A hostile client that authenticates, then sends what fcp never would, on the control and data
 * connections of a real fcpd receiving a push: each case gets ERROR with the right code, and fcpd
 * ends the session by itself with that error and its exit code (no allocation sized by the peer's
 * numbers: a FILE_COUNT of 4 billion or a 32 TiB file would end it in an out-of-memory crash).
 */
import * as fs from 'node:fs';
import { deflateRawSync } from 'node:zlib';
import { codeFromWire, exitCodeFor, FcpErrorCode } from '../../src/errors';
import { PacketType } from '../../src/protocol';
import type { Message } from '../../src/protocol/messages';
import { attachData, livePushSession } from './helpers/hostilePeer';
import { killAll, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();
afterAll(() => killAll());

const mtimeNs = 1_700_000_000_000_000_000n;
const NO_DIGEST = Buffer.alloc(16);
const fileInfo = (fileId: number, size: number, name: string): Message => ({
  type: PacketType.FILE_INFO,
  fileId,
  perm: 0o644,
  size,
  mtimeNs,
  digest: NO_DIGEST,
  path: Buffer.from(name),
});
const data = (fileId: number, seq: number): Message => ({ type: PacketType.DATA, fileId, seq, data: Buffer.alloc(8192) });

/** A DATA_Z at offset 0 of file 0 that claims rawLength bytes and carries `inflated` deflated. */
const dataZ = (rawLength: number, inflated: Buffer): Message => ({ type: PacketType.DATA_Z, fileId: 0, seq: 0, rawLength, data: deflateRawSync(inflated) });
/** A session offering COMPRESS, announcing one file of 8192 bytes, its data sent once fcpd is ready. */
const compressed = (dataMessage: Message): Script => ({ control: [count(1, 8192), fileInfo(0, 8192, 'f')], data: [dataMessage], afterReady: true, compress: true });

const count = (files: number, totalBytes: number): Message => ({ type: PacketType.FILE_COUNT, count: files, totalBytes });

/** What the hostile sender sends: on control, then (once fcpd answered FILE_READY, if it is to) on data connection 1. */
interface Script {
  control: Message[];
  data?: Message[];
  afterReady?: boolean;
  /** Offer COMPRESS (-C). */
  compress?: boolean;
}

const CASES: [string, Script, FcpErrorCode][] = [
  ['FILE_COUNT of 4 billion files, then DONE after none', { control: [count(4_294_967_295, 2 ** 53 - 1), { type: PacketType.DONE }] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['a file of 32 TiB over a FILE_COUNT total of 10', { control: [count(1, 10), fileInfo(0, 2 ** 45, 'huge')] }, 'FCP_ERR_PROTOCOL'],
  ['DATA on the control connection', { control: [count(1, 8192), fileInfo(0, 8192, 'f'), data(0, 0)] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['a receiver frame (FILE_OK) from the sender', { control: [count(1, 0), { type: PacketType.FILE_OK, fileId: 0 }] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['DATA for a file id never announced', { control: [count(1, 8192), fileInfo(0, 8192, 'f')], data: [data(7, 0)], afterReady: true }, 'FCP_ERR_PROTOCOL'],
  ['DATA past the end of its file', { control: [count(1, 8192), fileInfo(0, 8192, 'f')], data: [data(0, 1 << 20)], afterReady: true }, 'FCP_ERR_PROTOCOL'],
  ['a HARDLINK in a session that did not negotiate HARD_LINKS', { control: [count(1, 1), fileInfo(0, 1, 'f'), { type: PacketType.HARDLINK, path: Buffer.from('g'), target: Buffer.from('f') }] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['an OWNER in a session that did not negotiate OWNERS', { control: [count(1, 1), { type: PacketType.OWNER, uid: 0, gid: 0, user: Buffer.from('root'), group: Buffer.from('root') }] }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['a DATA_Z in a session that did not negotiate COMPRESS', { ...compressed(dataZ(8192, Buffer.alloc(8192))), compress: false }, 'FCP_ERR_UNEXPECTED_MESSAGE'],
  ['a DATA_Z whose bytes inflate past its raw_length', compressed(dataZ(8192, Buffer.alloc(8193))), 'FCP_ERR_PROTOCOL'],
  ['a DATA_Z whose bytes inflate short of its raw_length', compressed(dataZ(8192, Buffer.alloc(4096))), 'FCP_ERR_PROTOCOL'],
  ['a DATA_Z zip bomb (48 MiB of zeros for a raw_length of 8192)', compressed(dataZ(8192, Buffer.alloc(48 << 20))), 'FCP_ERR_PROTOCOL'],
  ['a DATA_Z that is no deflate stream', compressed({ type: PacketType.DATA_Z, fileId: 0, seq: 0, rawLength: 8192, data: Buffer.alloc(100, 0xff) }), 'FCP_ERR_PROTOCOL'],
  ['the same DATA twice', { control: [count(1, 3 * 8192), fileInfo(0, 3 * 8192, 'f')], data: [data(0, 0), data(0, 0)], afterReady: true }, 'FCP_ERR_PROTOCOL'],
];

test.each(CASES)('%s: fcpd answers with the right ERROR and ends the session', async (_name, script, expected) => {
  const work = temp.make('fcp-hostile');
  const live = await livePushSession(work, 1, { compress: script.compress });
  const { fcpd, control } = live;
  const dataConn = await attachData(live);
  const sendData = (): void => script.data?.forEach((message) => dataConn.send(message));
  const answered: string[] = [];
  const closed = new Promise<void>((resolve) =>
    control.start({
      message: (message) => {
        if (message.type === PacketType.ERROR) answered.push(codeFromWire(message.code));
        if (message.type === PacketType.FILE_READY && script.afterReady) sendData();
      },
      closed: () => resolve(),
    }),
  );
  control.resume();
  for (const message of script.control) control.send(message);
  if (!script.afterReady) sendData();
  await within(closed, 15_000, 'fcpd closing the session');
  const ended = await within(fcpd.exited, 15_000, 'fcpd exit');
  expect({ answered, ended }).toEqual({ answered: [expected], ended: { code: exitCodeFor(expected), signal: null } });
  expect(fcpd.stderr()).not.toMatch(/^\s+at /m);
  // Nothing of the refused session stays behind.
  expect(fs.readdirSync(work)).toEqual([]);
});

test('a name longer than the file system allows (a 300-byte component): refused for that file with FCP_ERR_BAD_PATH, nothing created; the session goes on to DONE', async () => {
  const work = temp.make('fcp-hostile');
  const live = await livePushSession(work, 1);
  const { fcpd, control } = live;
  await attachData(live);
  const refused: string[] = [];
  const closed = new Promise<void>((resolve) =>
    control.start({
      message: (message) => {
        if (message.type === PacketType.ERROR) refused.push(`ERROR ${codeFromWire(message.code)}`);
        if (message.type === PacketType.FILE_ERROR) {
          refused.push(`FILE_ERROR ${message.fileId} ${codeFromWire(message.code)}`);
          control.send({ type: PacketType.DONE });
        }
      },
      closed: () => resolve(),
    }),
  );
  control.resume();
  for (const message of [count(1, 8192), fileInfo(0, 8192, 'x'.repeat(300))]) control.send(message);
  await within(closed, 15_000, 'fcpd closing the session');
  await within(fcpd.exited, 15_000, 'fcpd exit');
  expect(refused[0]).toBe('FILE_ERROR 0 FCP_ERR_BAD_PATH');
  expect(fcpd.stderr()).not.toMatch(/^\s+at /m);
  expect(fs.readdirSync(work)).toEqual([]);
});
