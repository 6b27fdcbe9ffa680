/**
 * FILE_INLINE written without the layout walk (serializer.ts): the bytes the walk writes for
 * every message the layout admits, and the walk's own errors for every one it refuses.
 */
import fc from 'fast-check';
import { INLINE_MAX, MAX_PATH_BYTES, PacketType } from '../../../src/protocol/constants';
import { writeField } from '../../../src/protocol/fields';
import { LAYOUTS } from '../../../src/protocol/layouts';
import type { FileInlineMessage } from '../../../src/protocol/messages';
import { parsePayload } from '../../../src/protocol/parser';
import { payloadLength, writePayload } from '../../../src/protocol/serializer';
import { messageArbitraries } from './arbitraries';

/** The layout walk's bytes for the message, as writePayload wrote every type before. */
function walked(message: FileInlineMessage): Buffer {
  const buf = Buffer.alloc(payloadLength(message) + 2, 0xee);
  let pos = 1;
  for (const field of LAYOUTS[PacketType.FILE_INLINE]!) pos = writeField('FILE_INLINE', field, (message as unknown as Record<string, never>)[field.name], buf, pos);
  expect(pos).toBe(buf.length - 1);
  return buf;
}

function written(message: FileInlineMessage): Buffer {
  const buf = Buffer.alloc(payloadLength(message) + 2, 0xee);
  expect(writePayload(message, buf, 1)).toBe(buf.length - 1);
  return buf;
}

const inline = messageArbitraries.FILE_INLINE as fc.Arbitrary<FileInlineMessage>;
const message = (fields: Partial<FileInlineMessage>): FileInlineMessage => ({
  type: PacketType.FILE_INLINE,
  fileId: 7,
  perm: 0o644,
  mtimeNs: 1_700_000_000_123_456_789n,
  hash: 0xfedcba9876543210n,
  path: Buffer.from('dir/file'),
  data: Buffer.from('small file'),
  ...fields,
});

test('the layout walk\'s bytes, which parse back to the message', () => {
  fc.assert(
    fc.property(inline, (m) => {
      const bytes = written(m);
      expect(bytes).toEqual(walked(m));
      expect(parsePayload(PacketType.FILE_INLINE, bytes.subarray(1, bytes.length - 1))).toEqual(m);
    }),
  );
});

test('the ends of every field: the same bytes', () => {
  const ends: Partial<FileInlineMessage>[] = [
    { fileId: 0, perm: 0, mtimeNs: -(1n << 63n), hash: 0n, data: Buffer.alloc(0) },
    { fileId: 0xffffffff, perm: 0o7777, mtimeNs: (1n << 63n) - 1n, hash: (1n << 64n) - 1n, data: Buffer.alloc(INLINE_MAX, 1) },
    { mtimeNs: -1n, hash: 1n << 63n, path: Buffer.alloc(MAX_PATH_BYTES, 0x61) },
  ];
  for (const fields of ends) expect(written(message(fields))).toEqual(walked(message(fields)));
});

test.each([
  ['a file_id above u32', { fileId: 2 ** 32 }, 'FCP_ERR_BAD_FIELD'],
  ['a fractional file_id', { fileId: 1.5 }, 'FCP_ERR_BAD_FIELD'],
  ['a perm above 0o7777', { perm: 0o10000 }, 'FCP_ERR_BAD_FIELD'],
  ['an mtime above i64', { mtimeNs: 1n << 63n }, 'FCP_ERR_BAD_FIELD'],
  ['a negative hash', { hash: -1n }, 'FCP_ERR_BAD_FIELD'],
  ['an empty path', { path: Buffer.alloc(0) }, 'FCP_ERR_BAD_LENGTH'],
  ['a path too long', { path: Buffer.alloc(MAX_PATH_BYTES + 1, 0x61) }, 'FCP_ERR_BAD_LENGTH'],
  ['a path with ..', { path: Buffer.from('a/../b') }, 'FCP_ERR_BAD_PATH'],
  ['an absolute path', { path: Buffer.from('/etc/passwd') }, 'FCP_ERR_BAD_PATH'],
  ['a path with a NUL byte', { path: Buffer.from('a\0b') }, 'FCP_ERR_BAD_PATH'],
  ['data above INLINE_MAX', { data: Buffer.alloc(INLINE_MAX + 1) }, 'FCP_ERR_BAD_LENGTH'],
])('%s is refused as the layout walk refuses it (%s)', (_name, fields, code) => {
  const bad = message(fields as Partial<FileInlineMessage>);
  const buf = Buffer.alloc(MAX_PATH_BYTES + INLINE_MAX + 64);
  expect(() => writePayload(bad, buf, 0)).toThrow(expect.objectContaining({ code }));
});
