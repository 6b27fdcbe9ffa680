/**
 * The other messages every file costs, written and read without the layout walk (serializer.ts,
 * parser.ts parseAt) as FILE_INLINE is (fileInline.test.ts): FILE_INFO, FILE_WHOLE, and the
 * file_id alone of FILE_READY, FILE_SAME and FILE_WANT. The bytes the walk writes for every message
 * the layout admits, the walk's own errors for every one it refuses, and the walk's message or
 * error for any payload read.
 */
import fc from 'fast-check';
import { DIGEST_SIZE, INLINE_MAX, MAX_FILE_SIZE, MAX_PATH_BYTES, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { writePayload } from '../../../src/protocol/serializer';
import { messageArbitraries } from './arbitraries';
import { readAt, walked, walkedRead, written } from './layoutWalk';

const TYPES = ['FILE_INFO', 'FILE_WHOLE', 'FILE_READY', 'FILE_SAME', 'FILE_WANT'] as const;

describe.each(TYPES)('%s', (name) => {
  const type = PacketType[name];
  const arbitrary = messageArbitraries[name] as fc.Arbitrary<Message>;

  test("the layout walk's bytes, which read back as the message without the walk", () => {
    fc.assert(
      fc.property(arbitrary, (m) => {
        const bytes = written(m);
        expect(bytes).toEqual(walked(m));
        expect(readAt(type, bytes.subarray(1, -1))).toEqual(m);
      }),
    );
  });

  test("any payload: the walk's message or the walk's error", () => {
    // Valid payloads with bytes changed, cut or added: sizes, perm, path bytes ('.', '/', NUL) and the rest.
    const mutated = fc
      .tuple(arbitrary, fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 0x2e, 0x2f, 0xff, 0x10)), { maxLength: 4 }), fc.integer({ min: -3, max: 3 }))
      .map(([m, changes, resize]) => {
        const bytes = Buffer.from(written(m).subarray(1, -1));
        for (const [at, byte] of changes) if (bytes.length > 0) bytes[at % bytes.length] = byte;
        return resize < 0 ? bytes.subarray(0, Math.max(0, bytes.length + resize)) : Buffer.concat([bytes, Buffer.alloc(resize, 0x61)]);
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 80 }).map((a) => Buffer.from(a))), (payload) => {
        expect(readAt(type, payload)).toEqual(walkedRead(type, payload));
      }),
      { numRuns: 1000 },
    );
  });
});

test.each([
  ['FILE_INFO with a file_id above u32', { type: PacketType.FILE_INFO, fileId: 2 ** 32 }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO with a perm above 0o7777', { type: PacketType.FILE_INFO, perm: 0o10000 }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO with a size above the largest file', { type: PacketType.FILE_INFO, size: MAX_FILE_SIZE + 1 }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO with a fractional size', { type: PacketType.FILE_INFO, size: 1.5 }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO with an mtime above i64', { type: PacketType.FILE_INFO, mtimeNs: 1n << 63n }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO with a short digest', { type: PacketType.FILE_INFO, digest: Buffer.alloc(DIGEST_SIZE - 1) }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_INFO with an empty path', { type: PacketType.FILE_INFO, path: Buffer.alloc(0) }, 'FCP_ERR_BAD_LENGTH'],
  ['FILE_INFO with a path too long', { type: PacketType.FILE_INFO, path: Buffer.alloc(MAX_PATH_BYTES + 1, 0x61) }, 'FCP_ERR_BAD_LENGTH'],
  ['FILE_INFO with a path with ..', { type: PacketType.FILE_INFO, path: Buffer.from('a/../b') }, 'FCP_ERR_BAD_PATH'],
  ['FILE_WHOLE with data above INLINE_MAX', { type: PacketType.FILE_WHOLE, data: Buffer.alloc(INLINE_MAX + 1) }, 'FCP_ERR_BAD_LENGTH'],
  ['FILE_WHOLE with a negative hash', { type: PacketType.FILE_WHOLE, hash: -1n }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_WANT with a negative file_id', { type: PacketType.FILE_WANT, fileId: -1 }, 'FCP_ERR_BAD_FIELD'],
  ['FILE_SAME with a fractional file_id', { type: PacketType.FILE_SAME, fileId: 1.5 }, 'FCP_ERR_BAD_FIELD'],
])('%s is refused as the layout walk refuses it (%s)', (_name, fields, code) => {
  const base = {
    fileId: 7,
    perm: 0o644,
    size: 10,
    mtimeNs: 1_700_000_000_123_456_789n,
    digest: Buffer.alloc(DIGEST_SIZE),
    path: Buffer.from('dir/file'),
    hash: 0xfedcba9876543210n,
    data: Buffer.from('small file'),
  };
  const bad = { ...base, ...fields } as unknown as Message;
  const buf = Buffer.alloc(MAX_PATH_BYTES + INLINE_MAX + 128);
  expect(() => writePayload(bad, buf, 0)).toThrow(expect.objectContaining({ code }));
});
