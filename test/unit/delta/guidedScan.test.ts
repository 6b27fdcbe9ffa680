import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { DELTA_MAX_BLOCK, DELTA_MIN_BLOCK } from '../../../src/protocol/constants';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { Block, blocksOf, SignedBlock } from '../../../src/delta/blocks';
import * as gearScan from '../../../src/delta/gearScan';
import { GuidedScanner } from '../../../src/delta/guidedScan';
import { copiedBytes, planDelta } from '../../../src/delta/plan';
import { apply, applyEdit, edit } from './deltaFixtures';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

/**
 * The guided scan of `data` against `signature`, fed in pieces of `sizes` (then the rest);
 * `grow` runs before each piece (a signature still arriving).
 */
function guidedBlocks(data: Buffer, signature: readonly SignedBlock[], sizes: readonly number[] = [], grow: () => void = () => undefined): Block[] {
  const scanner = new GuidedScanner(xxh, signature);
  let at = 0;
  for (const size of [...sizes, data.length]) {
    grow();
    const piece = data.subarray(at, at + size);
    scanner.push(piece);
    at += piece.length;
  }
  return scanner.end();
}

/** Bytes the gear hash rolls over while `run` runs. */
function gearBytes(run: () => void): number {
  let bytes = 0;
  const findCut = gearScan.findCut;
  const spy = jest.spyOn(gearScan, 'findCut').mockImplementation((data, from, end, rolling, mask) => {
    const cut = findCut(data, from, end, rolling, mask);
    bytes += (cut < 0 ? end : cut) - from;
    return cut;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
  }
  return bytes;
}

const pieceSizes = fc.array(fc.integer({ min: 1, max: 300_000 }), { maxLength: 12 });

describe('GuidedScanner', () => {
  it('cuts the blocks the plain scan cuts, after any edits and in pieces of any size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1024 * 1024 }), fc.array(edit, { maxLength: 5 }), pieceSizes, (size, edits, sizes) => {
        const oldBytes = randomBytes(size);
        const newBytes = edits.reduce(applyEdit, oldBytes);
        expect(guidedBlocks(newBytes, blocksOf(xxh, oldBytes), sizes)).toEqual(blocksOf(xxh, newBytes));
      }),
      { numRuns: 60 },
    );
  });

  it('cuts the same blocks while the signature is still arriving', () => {
    fc.assert(
      fc.property(fc.array(edit, { maxLength: 4 }), pieceSizes, fc.integer({ min: 1, max: 40 }), (edits, sizes, step) => {
        const oldBytes = randomBytes(1024 * 1024);
        const newBytes = edits.reduce(applyEdit, oldBytes);
        const whole = blocksOf(xxh, oldBytes);
        const arrived: SignedBlock[] = [];
        const grow = (): void => void arrived.push(...whole.slice(arrived.length, arrived.length + step));
        expect(guidedBlocks(newBytes, arrived, sizes, grow)).toEqual(blocksOf(xxh, newBytes));
      }),
      { numRuns: 40 },
    );
  });

  it('gives valid blocks that rebuild the file against a signature cut another way', () => {
    // A peer's signature need not be this chunker's: fixed-size blocks, some outside the chunker's bounds.
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 3 * DELTA_MAX_BLOCK }), fc.array(edit, { maxLength: 4 }), pieceSizes, (blockSize, edits, sizes) => {
        const oldBytes = randomBytes(1024 * 1024);
        const newBytes = edits.reduce(applyEdit, oldBytes);
        const signature: SignedBlock[] = [];
        for (let at = 0; at < oldBytes.length; at += blockSize) {
          const bytes = oldBytes.subarray(at, at + blockSize);
          signature.push({ length: bytes.length, hash: xxh.h64Raw(bytes, 0n) });
        }
        const blocks = guidedBlocks(newBytes, signature, sizes);
        let at = 0;
        blocks.forEach((block, i) => {
          expect(block.offset).toBe(at);
          expect(block.hash).toBe(xxh.h64Raw(newBytes.subarray(at, at + block.length), 0n));
          expect(block.length).toBeLessThanOrEqual(DELTA_MAX_BLOCK);
          if (i < blocks.length - 1) expect(block.length).toBeGreaterThanOrEqual(DELTA_MIN_BLOCK);
          at += block.length;
        });
        expect(at).toBe(newBytes.length);
        expect(apply(planDelta(signature, blocks, newBytes.length), oldBytes, newBytes).equals(newBytes)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('rolls the gear hash over no matched bytes: an unchanged file costs at most its last block', () => {
    const data = randomBytes(8 * 1024 * 1024);
    const signature = blocksOf(xxh, data);
    let blocks: Block[] = [];
    expect(gearBytes(() => (blocks = guidedBlocks(data, signature, [3_000_000])))).toBeLessThanOrEqual(DELTA_MAX_BLOCK);
    expect(blocks).toEqual(signature);
  });

  it('cuts only near each change: 10 regions rewritten in place, 100 bytes inserted near the start', () => {
    const oldBytes = randomBytes(16 * 1024 * 1024);
    const signature = blocksOf(xxh, oldBytes);
    const inPlace = Buffer.from(oldBytes);
    for (let region = 1; region <= 10; region++) randomBytes(4096).copy(inPlace, region * 1_500_000);
    const inserted = Buffer.concat([oldBytes.subarray(0, 1000), randomBytes(100), oldBytes.subarray(1000)]);
    for (const [newBytes, changes] of [
      [inPlace, 10],
      [inserted, 1],
    ] as const) {
      let blocks: Block[] = [];
      // Each change: the block it falls in and the next (up to a slice each), and the last block.
      expect(gearBytes(() => (blocks = guidedBlocks(newBytes, signature)))).toBeLessThanOrEqual((changes * 3 + 1) * DELTA_MAX_BLOCK);
      expect(blocks).toEqual(blocksOf(xxh, newBytes));
      expect(newBytes.length - copiedBytes(planDelta(signature, blocks, newBytes.length))).toBeLessThanOrEqual(changes * 3 * DELTA_MAX_BLOCK);
    }
  });
});
