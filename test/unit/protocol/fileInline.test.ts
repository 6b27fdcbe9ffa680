/**
 * FILE_INLINE written and read without the layout walk (serializer.ts, parser.ts parseAt), and
 * FILE_OK, its answer: the bytes the walk writes for every message the layout admits, the walk's
 * own errors for every one it refuses, and the walk's message or error for any payload read.
 */
import fc from 'fast-check';
import { INLINE_MAX, MAX_PATH_BYTES, PacketType } from '../../../src/protocol/constants';
import { read64, writeField } from '../../../src/protocol/fields';
import { LAYOUTS } from '../../../src/protocol/layouts';
import type { FileInlineMessage, FileOkMessage } from '../../../src/protocol/messages';
import { parsePayload } from '../../../src/protocol/parser';
import { payloadLength, writePayload } from '../../../src/protocol/serializer';
import { messageArbitraries } from './arbitraries';
import { readAt, walked, walkedRead, written } from './layoutWalk';

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

describe('read without the walk', () => {
  test('every message the layout admits reads back as itself', () => {
    fc.assert(
      fc.property(inline, (m) => {
        const bytes = written(m).subarray(1, -1);
        expect(readAt(PacketType.FILE_INLINE, bytes)).toEqual(m);
      }),
    );
  });

  test('any payload: the walk\'s message or the walk\'s error', () => {
    // Valid payloads with bytes changed, cut or added: lengths, perm, path bytes ('.', '/', NUL) and the rest.
    const mutated = fc
      .tuple(inline, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 0x2e, 0x2f, 0xff, 0x10)), { maxLength: 4 }), fc.integer({ min: -3, max: 3 }))
      .map(([m, changes, resize]) => {
        const bytes = Buffer.from(written(m).subarray(1, -1));
        for (const [at, byte] of changes) bytes[at % bytes.length] = byte;
        return resize < 0 ? bytes.subarray(0, Math.max(0, bytes.length + resize)) : Buffer.concat([bytes, Buffer.alloc(resize, 0x61)]);
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a))), (payload) => {
        expect(readAt(PacketType.FILE_INLINE, payload)).toEqual(walkedRead(PacketType.FILE_INLINE, payload));
      }),
      { numRuns: 2000 },
    );
  });

  test.each([
    ['a perm above 0o7777', (b: Buffer) => b.writeUInt16BE(0o10000, 4)],
    ['an empty path', (b: Buffer) => b.writeUInt16BE(0, 22)],
    ['a path longer than the payload', (b: Buffer) => b.writeUInt16BE(0xffff, 22)],
    ['a path with ..', (b: Buffer) => b.write('../', 24, 'latin1')],
  ])('%s: the walk\'s error', (_name, spoil) => {
    const payload = Buffer.from(written(message({ path: Buffer.from('dir/file') })).subarray(1, -1));
    spoil(payload);
    const walked = walkedRead(PacketType.FILE_INLINE, payload);
    expect(walked).toHaveProperty('error');
    expect(readAt(PacketType.FILE_INLINE, payload)).toEqual(walked);
  });

  test('FILE_OK: the walk\'s bytes, message and errors', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 6 }), (fileId, junk) => {
        const ok: FileOkMessage = { type: PacketType.FILE_OK, fileId };
        const buf = Buffer.alloc(6, 0xee);
        expect(payloadLength(ok)).toBe(4);
        expect(writePayload(ok, buf, 1)).toBe(5);
        const walkedBuf = Buffer.alloc(6, 0xee);
        writeField('FILE_OK', LAYOUTS[PacketType.FILE_OK]![0]!, fileId, walkedBuf, 1);
        expect(buf).toEqual(walkedBuf);
        expect(readAt(PacketType.FILE_OK, buf.subarray(1, 5))).toEqual(ok);
        expect(readAt(PacketType.FILE_OK, Buffer.from(junk))).toEqual(walkedRead(PacketType.FILE_OK, Buffer.from(junk)));
      }),
    );
    for (const fileId of [-1, 1.5, 2 ** 32]) {
      expect(() => writePayload({ type: PacketType.FILE_OK, fileId }, Buffer.alloc(8), 0)).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
    }
  });

  test('read64: Buffer\'s readBigInt64BE and readBigUInt64BE', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 16 }), fc.nat(8), (bytes, at) => {
        const buf = Buffer.from(bytes);
        const pos = Math.min(at, buf.length - 8);
        expect(read64(buf, pos, true)).toBe(buf.readBigInt64BE(pos));
        expect(read64(buf, pos, false)).toBe(buf.readBigUInt64BE(pos));
      }),
    );
  });
});
