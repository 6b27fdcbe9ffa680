/** BATCH: control messages carried together in one frame (PROTOCOL.md §4, 0x20). */
import fc from 'fast-check';
import { FcpError } from '../../../src/errors';
import { batchEntriesLength, batchOf, unbatch } from '../../../src/protocol/batch';
import { BATCH_ROOM, BATCHABLE_TYPES, ChksumCoverage, Cipher, DATA_BATCHABLE_TYPES, PacketType, packetTypeName } from '../../../src/protocol/constants';
import { FrameEncoder } from '../../../src/protocol/frameEncoder';
import { loadXxhash } from '../../../src/protocol/xxhash';
import type { BatchMessage, Message } from '../../../src/protocol/messages';
import { messageArbitraries } from './arbitraries';
import { numRuns } from './fuzzRuns';
import { toPlain } from './vectors';

const batchable = fc.oneof(
  ...Object.entries(messageArbitraries)
    .filter(([name]) => BATCHABLE_TYPES.has(PacketType[name as keyof typeof PacketType]))
    .map(([, arbitrary]) => arbitrary as fc.Arbitrary<Message>),
);

const entry = (type: number, payload: Buffer): Buffer => Buffer.concat([Buffer.of(type, payload.length >> 8, payload.length & 0xff), payload]);
const batch = (...entries: Buffer[]): BatchMessage => ({ type: PacketType.BATCH, entries: Buffer.concat(entries) });
const FILE_OK = entry(PacketType.FILE_OK, Buffer.from([0, 0, 0, 7]));

function refusal(message: BatchMessage): { code: string; message: string } {
  try {
    unbatch(message);
  } catch (err) {
    if (err instanceof FcpError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('unbatch accepted it');
}

test('any two or more batchable messages come out of a BATCH as they went in', () => {
  fc.assert(
    fc.property(fc.array(batchable, { minLength: 2, maxLength: 12 }), (messages) => {
      expect(unbatch(batchOf(messages)).map(toPlain)).toEqual(messages.map(toPlain));
    }),
    { numRuns: numRuns(300) },
  );
});

test('a frame encoder writes a BATCH frame byte for byte as it would encode batchOf(messages), sealed or not', async () => {
  const xxh = await loadXxhash();
  const key = Buffer.alloc(32, 9);
  fc.assert(
    fc.property(
      // What one frame can hold (a CHUNKS_HELD alone may fill it).
      fc.array(batchable, { minLength: 2, maxLength: 8 }).filter((messages) => batchEntriesLength(messages) <= BATCH_ROOM),
      fc.boolean(), (messages, sealed) => {
      const [direct, viaMessage] = [new FrameEncoder(xxh), new FrameEncoder(xxh)];
      for (const encoder of [direct, viaMessage]) encoder.setSealing(sealed ? { cipher: Cipher.AES_256_GCM, key } : undefined, ChksumCoverage.FULL);
      expect(direct.encodeBatch(messages).equals(viaMessage.encode(batchOf(messages)))).toBe(true);
    }),
    { numRuns: numRuns(100) },
  );
});

test('encodeBatchApart gives the same bytes as encodeBatch, frame after frame, in any sealing and coverage', async () => {
  const xxh = await loadXxhash();
  const key = Buffer.alloc(32, 5);
  fc.assert(
    fc.property(
      fc.array(fc.array(batchable, { minLength: 2, maxLength: 8 }).filter((messages) => batchEntriesLength(messages) <= BATCH_ROOM), { minLength: 1, maxLength: 4 }),
      fc.constantFrom(undefined, Cipher.AES_256_GCM, Cipher.CHACHA20_POLY1305),
      fc.constantFrom(ChksumCoverage.FULL, ChksumCoverage.HEADER),
      (batches, cipher, coverage) => {
        const [whole, apart] = [new FrameEncoder(xxh), new FrameEncoder(xxh)];
        for (const encoder of [whole, apart]) encoder.setSealing(cipher === undefined ? undefined : { cipher, key }, coverage);
        // Frame after frame: the reused scratch Buffer and the frame counter carry nothing over wrongly.
        for (const messages of batches) expect(Buffer.concat(apart.encodeBatchApart(messages)).equals(whole.encodeBatch(messages))).toBe(true);
      },
    ),
    { numRuns: numRuns(100) },
  );
});

test('only the control messages of a running transfer can travel in a BATCH', () => {
  expect([...BATCHABLE_TYPES].map((t) => packetTypeName[t]).sort()).toEqual(
    ['APPEND', 'FOLLOW', 'CHUNK_ACK', 'CHUNK_KEPT', 'CHUNKS_HELD', 'DATA_LOST', 'DELTA_SIG', 'DIR_INFO', 'DONE', 'ENTRY_ERROR', 'ERROR', 'FILE_COUNT', 'FILE_DONE', 'FILE_ERROR', 'FILE_INFO', 'FILE_INLINE', 'FILE_OK', 'FILE_READY', 'FILE_SAME', 'FILE_SAME_INODE', 'FILE_WANT', 'FILE_WHOLE', 'HARDLINK', 'ITEM', 'KEEPALIVE', 'NEW_SIG', 'OWNER', 'PARTIAL_STALE', 'RESEND', 'SOURCE_KEPT', 'SYMLINK'].sort(),
  );
  expect(() => batchOf([{ type: PacketType.KEEPALIVE }, { type: PacketType.DATA, fileId: 0, seq: 0, data: Buffer.alloc(1) }])).toThrow(/DATA cannot travel in a BATCH/);
  expect(() => batchOf([{ type: PacketType.KEEPALIVE }])).toThrow(/at least two/);
});

test('on a data connection a BATCH carries small chunks, DATA then CHUNK_SUM, and nothing of the control connection', () => {
  const data = entry(PacketType.DATA, Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]), Buffer.from('abc')]));
  const sum = entry(PacketType.CHUNK_SUM, Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(8, 1)]));
  expect(unbatch(batch(data, sum), DATA_BATCHABLE_TYPES).map(toPlain)).toEqual(
    [
      { type: PacketType.DATA, fileId: 3, seq: 0, data: Buffer.from('abc') },
      { type: PacketType.CHUNK_SUM, fileId: 3, seq: 0, length: 3, hash: 0x0101010101010101n },
    ].map(toPlain),
  );
  expect(refusal({ ...batch(data, FILE_OK) }).message).toMatch(/entry 0 is DATA, which cannot travel in a BATCH here/);
  const onData = (() => {
    try {
      unbatch(batch(data, FILE_OK), DATA_BATCHABLE_TYPES);
    } catch (err) {
      return (err as FcpError).message;
    }
    return 'accepted';
  })();
  expect(onData).toMatch(/entry 1 is FILE_OK, which cannot travel in a BATCH here/);
});

test.each([
  ['a single entry', batch(FILE_OK), 'FCP_ERR_PROTOCOL', /carries 1 message; a BATCH carries at least two/],
  ['a DATA entry', batch(FILE_OK, entry(PacketType.DATA, Buffer.alloc(9))), 'FCP_ERR_PROTOCOL', /entry 1 is DATA, which cannot travel in a BATCH here/],
  ['a BATCH inside', batch(FILE_OK, entry(PacketType.BATCH, Buffer.concat([FILE_OK, FILE_OK]))), 'FCP_ERR_PROTOCOL', /entry 1 is BATCH/],
  ['a HELLO entry', batch(FILE_OK, entry(PacketType.HELLO, Buffer.alloc(40))), 'FCP_ERR_PROTOCOL', /entry 1 is HELLO/],
  ['an unknown type', batch(FILE_OK, entry(0x7f, Buffer.alloc(0))), 'FCP_ERR_PROTOCOL', /entry 1 is type 0x7f/],
  ['an entry header cut short', batch(FILE_OK, FILE_OK, Buffer.of(PacketType.FILE_OK, 0)), 'FCP_ERR_PROTOCOL', /ends inside an entry header at byte 14/],
  ['an entry longer than what is left', batch(FILE_OK, FILE_OK.subarray(0, 5)), 'FCP_ERR_PROTOCOL', /entry 1 declares 4 bytes and only 2 are left/],
  ['an entry length its type cannot have', batch(FILE_OK, entry(PacketType.FILE_OK, Buffer.alloc(5))), 'FCP_ERR_BAD_LENGTH', /entry 1 \(FILE_OK\) declares 5 bytes; its type allows 4\.\.4/],
  // The bounds are checked before the overrun (PROTOCOL.md §4, BATCH): the first failing check decides.
  ['an entry length its type cannot have that also runs past the end', batch(FILE_OK, Buffer.of(PacketType.FILE_OK, 0, 9, 0, 0)), 'FCP_ERR_BAD_LENGTH', /entry 1 \(FILE_OK\) declares 9 bytes; its type allows 4\.\.4/],
  ['a disallowed type whose length also runs past the end', batch(FILE_OK, Buffer.of(PacketType.HELLO, 0, 40)), 'FCP_ERR_PROTOCOL', /entry 1 is HELLO/],
  ['a bad field inside an entry', batch(FILE_OK, entry(PacketType.DIR_INFO, Buffer.concat([Buffer.of(0xff, 0xff), Buffer.alloc(8), Buffer.from('d')]))), 'FCP_ERR_BAD_FIELD', /perm/],
])('refuses %s', (_label, message, code, why) => {
  const refused = refusal(message);
  expect(refused.code).toBe(code);
  expect(refused.message).toMatch(why);
});
