import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { DATA_UNIT, DELTA_AVG_BLOCK, DELTA_MAX_BLOCK, DELTA_MIN_BLOCK, DELTA_SIG_UNIT } from '../../../src/protocol/constants';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { BlockScanner, blocksOf } from '../../../src/delta/blocks';
import { ContentChunker, MASK_EASY, MASK_HARD } from '../../../src/delta/chunker';
import { gearTable } from '../../../src/delta/gearScan';
import { copiedBytes, Piece, piecesIn, planDelta } from '../../../src/delta/plan';
import { signatureLimit } from '../../../src/delta/signature';
import { apply, applyEdit, edit } from './deltaFixtures';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

function plan(oldBytes: Buffer, newBytes: Buffer): Piece[] {
  return planDelta(blocksOf(xxh, oldBytes), blocksOf(xxh, newBytes), newBytes.length);
}

/** Pieces cover [0, size) in order, literals on DATA_UNIT boundaries (or the end), copies within the old file. */
function expectWellFormed(pieces: readonly Piece[], size: number, oldSize: number): void {
  let at = 0;
  for (const piece of pieces) {
    expect(piece.at).toBe(at);
    expect(piece.length).toBeGreaterThan(0);
    if (piece.from === undefined) {
      expect(piece.at % DATA_UNIT).toBe(0);
      const end = piece.at + piece.length;
      expect(end === size || end % DATA_UNIT === 0).toBe(true);
    } else {
      expect(piece.from).toBeGreaterThanOrEqual(0);
      expect(piece.from + piece.length).toBeLessThanOrEqual(oldSize);
    }
    at += piece.length;
  }
  expect(at).toBe(size);
}

/** The cuts PROTOCOL.md §7.7 describes, byte by byte in plain JavaScript: what the WebAssembly loop must match. */
function referenceCuts(data: Uint8Array): number[] {
  const gear = gearTable();
  const cuts: number[] = [];
  let length = 0;
  let h = 0;
  data.forEach((byte, i) => {
    if (++length <= DELTA_MIN_BLOCK) return;
    h = ((h << 1) + gear[byte]!) | 0;
    if ((h & (length <= DELTA_AVG_BLOCK ? MASK_HARD : MASK_EASY)) === 0 || length === DELTA_MAX_BLOCK) {
      cuts.push(i + 1);
      length = 0;
      h = 0;
    }
  });
  return cuts;
}

describe('content-defined blocks', () => {
  it('cuts where the byte-by-byte definition does, in pieces of any size', () => {
    // Runs of zeros reach DELTA_MAX_BLOCK without a cut (GEAR[0]'s hash never clears the mask).
    const data = Buffer.concat([randomBytes(1024 * 1024), Buffer.alloc(3 * DELTA_MAX_BLOCK), randomBytes(512 * 1024)]);
    const expected = referenceCuts(data);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        const chunker = new ContentChunker();
        const cuts: number[] = [];
        let at = 0;
        for (const size of [...sizes, data.length]) {
          const piece = data.subarray(at, at + size);
          cuts.push(...chunker.push(piece).map((cut) => at + cut));
          at += piece.length;
        }
        expect(cuts).toEqual(expected);
      }),
      { numRuns: 20 },
    );
  });

  it('cuts the same blocks whatever pieces the bytes are fed in', () => {
    const data = randomBytes(3 * 1024 * 1024);
    const whole = blocksOf(xxh, data);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300_000 }), { minLength: 1, maxLength: 40 }), (sizes) => {
        const scanner = new BlockScanner(xxh);
        let at = 0;
        for (const size of sizes) {
          scanner.push(data.subarray(at, at + size));
          at = Math.min(data.length, at + size);
        }
        scanner.push(data.subarray(at));
        expect(scanner.end()).toEqual(whole);
      }),
      { numRuns: 20 },
    );
  });

  it('keeps every block within its bounds (the last may be shorter) and covers the file', () => {
    const data = randomBytes(8 * 1024 * 1024);
    const blocks = blocksOf(xxh, data);
    let at = 0;
    blocks.forEach((block, i) => {
      expect(block.offset).toBe(at);
      expect(block.length).toBeLessThanOrEqual(DELTA_MAX_BLOCK);
      if (i < blocks.length - 1) expect(block.length).toBeGreaterThanOrEqual(DELTA_MIN_BLOCK);
      at += block.length;
    });
    expect(at).toBe(data.length);
    // The average lies near DELTA_AVG_BLOCK (16 KiB) on random data.
    expect(data.length / blocks.length).toBeGreaterThan(0.6 * DELTA_AVG_BLOCK);
    expect(data.length / blocks.length).toBeLessThan(1.6 * DELTA_AVG_BLOCK);
  });

  it('finds no cut in less than the minimum block', () => {
    expect(new ContentChunker().push(randomBytes(DELTA_MIN_BLOCK))).toEqual([]);
  });

  it('bounds the signature: a scanner stops at its limit', () => {
    const data = randomBytes(4 * 1024 * 1024);
    const limit = signatureLimit(256 * 1024);
    expect(limit).toBe((256 * 1024) / DELTA_SIG_UNIT + 1);
    const scanner = new BlockScanner(xxh, limit);
    scanner.push(data);
    expect(scanner.full).toBe(true);
    expect(scanner.end().length).toBe(limit);
  });
});

describe('planDelta', () => {
  it('rebuilds the new bytes exactly after random edits (rewrite, insert, delete, truncate, append)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 * 1024 * 1024 }), fc.array(edit, { minLength: 0, maxLength: 5 }), (size, edits) => {
        const oldBytes = randomBytes(size);
        const newBytes = edits.reduce(applyEdit, oldBytes);
        const pieces = plan(oldBytes, newBytes);
        expectWellFormed(pieces, newBytes.length, oldBytes.length);
        expect(apply(pieces, oldBytes, newBytes).equals(newBytes)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('handles empty files on either side', () => {
    const data = randomBytes(100_000);
    expect(plan(Buffer.alloc(0), Buffer.alloc(0))).toEqual([]);
    expect(plan(data, Buffer.alloc(0))).toEqual([]);
    expect(plan(Buffer.alloc(0), data)).toEqual([{ at: 0, length: data.length }]);
  });

  it('keeps every later block after an insertion near the start', () => {
    const oldBytes = randomBytes(16 * 1024 * 1024);
    const newBytes = Buffer.concat([oldBytes.subarray(0, 1000), randomBytes(100), oldBytes.subarray(1000)]);
    const pieces = plan(oldBytes, newBytes);
    expect(apply(pieces, oldBytes, newBytes).equals(newBytes)).toBe(true);
    const literal = newBytes.length - copiedBytes(pieces);
    // Only the block the insertion falls in (at most DELTA_MAX_BLOCK, widened to DATA_UNIT) goes literal.
    expect(literal).toBeLessThanOrEqual(DELTA_MAX_BLOCK + 2 * DATA_UNIT);
    expect(pieces[pieces.length - 1]!.from).toBe(oldBytes.length - (newBytes.length - pieces[pieces.length - 1]!.at));
  });

  it('sends about one block per region rewritten in place', () => {
    const oldBytes = randomBytes(16 * 1024 * 1024);
    const newBytes = Buffer.from(oldBytes);
    for (let region = 1; region <= 10; region++) randomBytes(4096).copy(newBytes, region * 1_500_000);
    const pieces = plan(oldBytes, newBytes);
    expect(apply(pieces, oldBytes, newBytes).equals(newBytes)).toBe(true);
    expect(newBytes.length - copiedBytes(pieces)).toBeLessThanOrEqual(10 * 2 * (DELTA_MAX_BLOCK + 2 * DATA_UNIT));
  });

  it('sends everything of unrelated bytes', () => {
    const newBytes = randomBytes(1024 * 1024);
    expect(plan(randomBytes(1024 * 1024), newBytes)).toEqual([{ at: 0, length: newBytes.length }]);
  });
});

describe('piecesIn', () => {
  it('cuts the plan at chunk edges and the pieces still rebuild each chunk', () => {
    const oldBytes = randomBytes(3 * 1024 * 1024);
    const newBytes = Buffer.concat([randomBytes(777), oldBytes.subarray(0, 2_000_000), randomBytes(50_000), oldBytes.subarray(2_100_000)]);
    const pieces = plan(oldBytes, newBytes);
    const chunk = 256 * 1024;
    const chunks: Buffer[] = [];
    for (let start = 0; start < newBytes.length; start += chunk) {
      const end = Math.min(newBytes.length, start + chunk);
      const inside = piecesIn(pieces, start, end);
      expect(inside[0]!.at).toBe(start);
      chunks.push(apply(inside, oldBytes, newBytes));
    }
    expect(Buffer.concat(chunks).equals(newBytes)).toBe(true);
  });
});
