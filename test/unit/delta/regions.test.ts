import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { DATA_UNIT } from '../../../src/protocol/constants';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { Block, blocksOf, SignedBlock } from '../../../src/delta/blocks';
import { piecesIn, planDelta } from '../../../src/delta/plan';
import { ChunkPlan, RegionPlanner } from '../../../src/delta/regions';
import { SignatureIndex } from '../../../src/delta/signatureIndex';
import { apply, applyEdit, edit } from './deltaFixtures';

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

/** Chunk sizes small enough that the files below have many chunks: multiples of DATA_UNIT, as every chunk size is. */
const chunkSize = fc.constantFrom(4, 8, 16).map((units) => units * DATA_UNIT);

/**
 * Runs a planner as the engines do: the scan's blocks and the signature grow in steps (`steps`:
 * for each, the fraction of the new file's blocks and of the signature there by then), and the
 * whole signature comes last; every plan handed out, in order.
 */
function planInSteps(newBlocks: readonly Block[], signature: readonly SignedBlock[], size: number, chunk: number, steps: readonly [number, number][]): ChunkPlan[] {
  const planner = new RegionPlanner(size, chunk);
  const blocks: Block[] = [];
  const sigSoFar: SignedBlock[] = [];
  const index = new SignatureIndex();
  const plans: ChunkPlan[] = [];
  const covered = (): number => (blocks.length === newBlocks.length ? size : blocks.reduce((end, block) => Math.max(end, block.offset + block.length), 0));
  for (const [scanned, signed] of [...steps].sort((a, b) => a[0] - b[0])) {
    while (blocks.length < Math.floor(scanned * newBlocks.length)) blocks.push(newBlocks[blocks.length]!);
    while (sigSoFar.length < Math.max(sigSoFar.length, Math.floor(signed * signature.length))) sigSoFar.push(signature[sigSoFar.length]!);
    index.catchUp(sigSoFar);
    plans.push(...planner.advance(blocks, covered(), index, false));
  }
  blocks.push(...newBlocks.slice(blocks.length));
  sigSoFar.push(...signature.slice(sigSoFar.length));
  index.catchUp(sigSoFar);
  plans.push(...planner.advance(blocks, size, index, true));
  expect(planner.advance(blocks, size, index, true)).toEqual([]);
  return plans;
}

const files = fc.record({
  size: fc.integer({ min: 256 * 1024, max: 1024 * 1024 }),
  edits: fc.array(edit, { minLength: 0, maxLength: 4 }),
  chunk: chunkSize,
  steps: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 6 }),
});

describe('the plan chunk by chunk (DELTA_EARLY)', () => {
  it('plans every chunk once, each tiled by its pieces, and rebuilds the new file; with the whole signature, planDelta chunk by chunk', () => {
    fc.assert(
      fc.property(files, ({ size, edits, chunk, steps }) => {
        const oldBytes = randomBytes(size);
        const newBytes = edits.reduce(applyEdit, oldBytes);
        if (newBytes.length === 0) return;
        const signature = blocksOf(xxh, oldBytes);
        const newBlocks = blocksOf(xxh, newBytes);
        const plans = planInSteps(newBlocks, signature, newBytes.length, chunk, steps);
        const count = Math.ceil(newBytes.length / chunk);
        expect(plans.map((plan) => plan.index).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
        const whole = planDelta(signature, newBlocks, newBytes.length);
        for (const { index, pieces } of plans) {
          const start = index * chunk;
          const end = Math.min(newBytes.length, start + chunk);
          let at = start;
          for (const piece of pieces) {
            expect(piece.at).toBe(at);
            if (piece.from === undefined) {
              expect(piece.at % DATA_UNIT).toBe(0);
              expect((piece.at + piece.length) % DATA_UNIT === 0 || piece.at + piece.length === end).toBe(true);
            }
            at += piece.length;
          }
          expect(at).toBe(end);
          expect(apply(pieces, oldBytes, newBytes).equals(newBytes.subarray(start, end))).toBe(true);
          // A chunk settled early copies what the whole plan copies: a block once found stays where it was found.
          expect(pieces).toEqual(piecesIn(whole, start, end));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('settles the chunks whose blocks all match before the signature is whole, and holds back the others', () => {
    const oldBytes = randomBytes(2 * 1024 * 1024);
    const newBytes = Buffer.from(oldBytes);
    // One region rewritten in the middle: only the chunks that hold its blocks wait.
    randomBytes(4096).copy(newBytes, 1024 * 1024 + 100);
    const chunk = 16 * DATA_UNIT;
    const signature = blocksOf(xxh, oldBytes);
    const newBlocks = blocksOf(xxh, newBytes);
    const planner = new RegionPlanner(newBytes.length, chunk);
    const early = planner.advance(newBlocks, newBytes.length, new SignatureIndex(signature), false);
    const count = newBytes.length / chunk;
    const changed = newBlocks.filter((block) => !signature.some((old) => old.hash === block.hash && old.length === block.length));
    const held = new Set<number>();
    for (const block of changed) for (let c = Math.floor(block.offset / chunk); c * chunk < block.offset + block.length; c++) held.add(c);
    expect(held.size).toBeGreaterThan(0);
    expect(early.map((plan) => plan.index)).toEqual(Array.from({ length: count }, (_, i) => i).filter((i) => !held.has(i)));
    const late = planner.advance(newBlocks, newBytes.length, new SignatureIndex(signature), true);
    expect(late.map((plan) => plan.index)).toEqual([...held].sort((a, b) => a - b));
  });

  it('plans nothing past what the scan covers', () => {
    const data = randomBytes(1024 * 1024);
    const blocks = blocksOf(xxh, data);
    const planner = new RegionPlanner(data.length, 8 * DATA_UNIT);
    const half = blocks.filter((block) => block.offset + block.length <= data.length / 2);
    const covered = half.reduce((end, block) => end + block.length, 0);
    const plans = planner.advance(half, covered, new SignatureIndex(blocks), false);
    expect(plans.length).toBe(Math.floor(covered / (8 * DATA_UNIT)));
    expect(planner.advance(half, covered, new SignatureIndex(blocks), false)).toEqual([]);
  });
});
