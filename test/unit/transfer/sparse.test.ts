/**
 * sparse.ts: a chunk scanned on the sending side and laid out on the receiving side gives back
 * the very bytes and hash it started from, whatever its pattern of zeros; its holes are whole
 * DATA_UNITs of zeros, and only files with fewer blocks than their size are scanned.
 */
import fc from 'fast-check';
import { DATA_FRAME_BYTES, DATA_UNIT, PacketType } from '../../../src/protocol/constants';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import type { HolePiece } from '../../../src/session/transfer';
import { hasHoles, isZero, laidOutHash, layOut, sparseChunk, zeroHash } from '../../../src/transfer/sparse';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

/** A chunk as units that are zeros or not, and how long its last one is. */
const chunkArb = fc
  .record({
    units: fc.array(fc.boolean(), { minLength: 1, maxLength: 40 }),
    lastLength: fc.integer({ min: 1, max: DATA_UNIT }),
    start: fc.integer({ min: 0, max: 1000 }).map((n) => n * 40 * DATA_UNIT),
  })
  .map(({ units, lastLength, start }) => {
    const data = Buffer.alloc((units.length - 1) * DATA_UNIT + lastLength);
    units.forEach((zero, i) => {
      // One non-zero byte somewhere in the unit: a unit of data may be mostly zeros.
      if (!zero) data[Math.min(data.length - 1, i * DATA_UNIT + ((i * 977) % DATA_UNIT))] = 1 + (i % 255);
    });
    return { data, start };
  });

test('sparseChunk and layOut give back the bytes and the hash of any chunk; holes are whole units of zeros', () => {
  fc.assert(
    fc.property(chunkArb, ({ data, start }) => {
      const { hash, messages } = sparseChunk(xxh, 3, start, data);
      expect(hash).toBe(xxh.h64Raw(data, 0n));
      const last = messages[messages.length - 1]!;
      expect(last).toEqual({ type: PacketType.CHUNK_SUM, fileId: 3, seq: start / DATA_UNIT, length: data.length, hash });
      const holes: HolePiece[] = [];
      const frames: Buffer[] = [];
      let next = start;
      for (const message of messages.slice(0, -1)) {
        if (message.type === PacketType.HOLE) {
          expect(message.seq * DATA_UNIT).toBe(next);
          const at = message.seq * DATA_UNIT - start;
          expect(isZero(data.subarray(at, at + message.length))).toBe(true);
          expect(message.length % DATA_UNIT === 0 || at + message.length === data.length).toBe(true);
          holes.push({ at: message.seq * DATA_UNIT, length: message.length });
          next += message.length;
        } else if (message.type === PacketType.DATA) {
          expect(message.seq * DATA_UNIT).toBe(next);
          expect(message.data.length).toBeLessThanOrEqual(DATA_FRAME_BYTES);
          frames.push(message.data);
          next += message.data.length;
        }
      }
      expect(next).toBe(start + data.length);
      const { runs, hashParts } = layOut(start, frames, holes);
      expect(laidOutHash(xxh, runs, hashParts, data.length)).toBe(hash);
      const rebuilt = Buffer.alloc(data.length);
      for (const run of runs) Buffer.concat(run.buffers).copy(rebuilt, run.at - start);
      expect(rebuilt.equals(data)).toBe(true);
    }),
  );
});

test('a chunk of zeros is one HOLE whose hash is that of its zeros; a short one of zeros goes as DATA', () => {
  const zeros = Buffer.alloc(5 * DATA_UNIT + 3);
  expect(sparseChunk(xxh, 0, 0, zeros).messages.map((m) => m.type)).toEqual([PacketType.HOLE, PacketType.CHUNK_SUM]);
  expect(sparseChunk(xxh, 0, 0, zeros).hash).toBe(zeroHash(xxh, zeros.length));
  expect(zeroHash(xxh, zeros.length)).toBe(xxh.h64Raw(zeros, 0n));
  expect(sparseChunk(xxh, 0, 0, Buffer.alloc(100)).messages.map((m) => m.type)).toEqual([PacketType.DATA, PacketType.CHUNK_SUM]);
});

test('only a file with fewer allocated blocks than its size has holes', () => {
  expect(hasHoles({ blocks: 0, size: 1 })).toBe(true);
  expect(hasHoles({ blocks: 8, size: 4096 })).toBe(false);
  expect(hasHoles({ blocks: 8n, size: 4097n })).toBe(true);
  expect(hasHoles({ blocks: 0, size: 0 })).toBe(false);
});

test('isZero looks at the range it is given, past its pooled zeros too', () => {
  const big = Buffer.alloc(3 * 1024 * 1024);
  expect(isZero(big)).toBe(true);
  big[big.length - 1] = 1;
  expect(isZero(big)).toBe(false);
  expect(isZero(big, 0, big.length - 1)).toBe(true);
});
