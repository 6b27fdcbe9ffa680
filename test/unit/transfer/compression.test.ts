/**
 * -C's framing (compression.ts): a chunk's frames are DATA_Z exactly where deflating shrinks the
 * frame, DATA elsewhere, fit the room of its DATA frames, and inflate back to the chunk; a DATA_Z
 * that inflates to anything but its raw_length is FCP_ERR_PROTOCOL.
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { FcpError } from '../../../src/errors';
import { DATA_FRAME_BYTES, DATA_UNIT, FrameDecoder, FrameEncoder, loadXxhash, PacketType } from '../../../src/protocol';
import type { DataZMessage, Message } from '../../../src/protocol/messages';
import { parsePayload } from '../../../src/protocol/parser';
import { encodeCompressedData, inflateDataZ } from '../../../src/transfer/compression';

const text = (bytes: number): Buffer => Buffer.from('a line of text that repeats itself\n'.repeat(Math.ceil(bytes / 35))).subarray(0, bytes);

test('a chunk of text, random bytes and text again: DATA_Z where a frame shrinks, DATA where not, the chunk back whole', async () => {
  const xxh = await loadXxhash();
  const encoder = new FrameEncoder(xxh);
  const chunk = Buffer.concat([text(2 * DATA_FRAME_BYTES), randomBytes(DATA_FRAME_BYTES), text(1000)]);
  const buf = Buffer.alloc(encoder.dataLength(chunk.length));
  const end = encodeCompressedData(encoder, 7, 128, chunk, buf, 0);
  const decoder = new FrameDecoder(xxh);
  decoder.push(buf.subarray(0, end));
  const messages: Message[] = [];
  for (let raw = decoder.next(); raw; raw = decoder.next()) messages.push(parsePayload(raw.type, raw.payload));
  expect(messages.map((m) => [m.type, 'seq' in m ? m.seq : -1])).toEqual([
    [PacketType.DATA_Z, 128],
    [PacketType.DATA_Z, 128 + 7],
    [PacketType.DATA, 128 + 14],
    [PacketType.DATA_Z, 128 + 21],
  ]);
  const back = messages.map((m) => (m.type === PacketType.DATA_Z ? inflateDataZ(m) : m)).map((m) => (m.type === PacketType.DATA ? m.data : Buffer.alloc(0)));
  expect(Buffer.concat(back).equals(chunk)).toBe(true);
  expect(end).toBeLessThan(buf.length / 2);
});

test.each([
  ['more bytes than raw_length', deflateRawSync(Buffer.alloc(8193)), /more than its raw_length of 8192/],
  ['fewer bytes than raw_length', deflateRawSync(Buffer.alloc(100)), /inflates to 100 bytes, not its raw_length of 8192/],
  ['bytes that are no deflate stream', Buffer.alloc(20, 0xff), /not a raw deflate stream/],
])('a DATA_Z that inflates to %s is FCP_ERR_PROTOCOL', (_label, data, message) => {
  const dataZ: DataZMessage = { type: PacketType.DATA_Z, fileId: 3, seq: 2, rawLength: 8192, data };
  let error: unknown;
  try {
    inflateDataZ(dataZ);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(FcpError);
  expect((error as FcpError).code).toBe('FCP_ERR_PROTOCOL');
  expect((error as FcpError).message).toMatch(message);
  expect((error as FcpError).message).toContain(`at offset ${2 * DATA_UNIT}`);
});
