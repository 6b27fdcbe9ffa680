/**
 * The sender's plan chunk by chunk (feature DELTA_EARLY, PROTOCOL.md §7.7): a chunk is planned as
 * soon as the sender's scan has cut the blocks that cover it and its plan can no longer change,
 * so that it goes (and the receiver assembles it) while the receiver still signs its old version.
 *
 * A chunk's plan depends only on the blocks that overlap it: literal runs are widened to
 * DATA_UNIT boundaries, and a chunk starts and ends on one (or at the end of the file), so no
 * widening crosses into a neighbour. A block found in the signature so far is found at the same
 * old offset in every longer signature (the first block of its length and hash stays first), so a
 * chunk whose blocks all match is settled at once; one with a block not (yet) in the signature
 * waits for the whole signature (FILE_READY), since a later DELTA_SIG may still describe it. With
 * the whole signature the plans are those of planDelta, chunk by chunk.
 */
import type { Block } from './blocks';
import { alignLiterals, Piece, piecesIn } from './plan';
import type { SignatureIndex } from './signatureIndex';

/** A chunk (by index) and its share of the plan. */
export interface ChunkPlan {
  index: number;
  pieces: Piece[];
}

export class RegionPlanner {
  /** The first chunk not looked at yet. */
  private nextChunk = 0;
  /** The first block that may overlap it. */
  private nextBlock = 0;
  /** Chunks looked at whose blocks did not all match: planned once the signature is whole. */
  private readonly waiting: number[] = [];
  /** Every chunk is planned. */
  private done = false;

  constructor(
    private readonly size: number,
    private readonly chunkSize: number,
  ) {}

  get chunkCount(): number {
    return Math.ceil(this.size / this.chunkSize);
  }

  /**
   * The chunks settled since the last call. `blocks`: the new file's blocks cut so far, in order
   * (the same list, grown); `covered`: the bytes from the start that they (and the chunks' hashes)
   * cover, `size` once the scan is over; `index`: the signature so far, caught up; `whole`: the
   * signature is all there is (FILE_READY came): every chunk covered is then settled.
   */
  advance(blocks: readonly Block[], covered: number, index: SignatureIndex, whole: boolean): ChunkPlan[] {
    const plans: ChunkPlan[] = [];
    if (this.done) return plans;
    if (whole) for (const waiting of this.waiting.splice(0)) plans.push(this.plan(waiting, blocks, this.firstBlockOf(waiting, blocks), index));
    for (; this.nextChunk < this.chunkCount; this.nextChunk++) {
      const start = this.nextChunk * this.chunkSize;
      const end = Math.min(this.size, start + this.chunkSize);
      if (end > covered) break;
      while (blockEnd(blocks[this.nextBlock]!) <= start) this.nextBlock++;
      const matched = whole || this.allMatch(blocks, end, index);
      if (matched) plans.push(this.plan(this.nextChunk, blocks, this.nextBlock, index));
      else this.waiting.push(this.nextChunk);
    }
    this.done = whole && this.nextChunk === this.chunkCount;
    if (this.done) plans.sort((a, b) => a.index - b.index);
    return plans;
  }

  /** Every block from nextBlock that starts before `end` is in the signature. */
  private allMatch(blocks: readonly Block[], end: number, index: SignatureIndex): boolean {
    for (let i = this.nextBlock; i < blocks.length && blocks[i]!.offset < end; i++) {
      if (index.find(blocks[i]!.length, blocks[i]!.hash) < 0) return false;
    }
    return true;
  }

  /** The position of the first block that ends past the start of chunk `chunk` (a waiting chunk: a binary search). */
  private firstBlockOf(chunk: number, blocks: readonly Block[]): number {
    const start = chunk * this.chunkSize;
    let low = 0;
    let high = blocks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (blockEnd(blocks[mid]!) <= start) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** The plan of chunk `chunk`, from its blocks (the first at `first`) matched against the signature. */
  private plan(chunk: number, blocks: readonly Block[], first: number, index: SignatureIndex): ChunkPlan {
    const start = chunk * this.chunkSize;
    const end = Math.min(this.size, start + this.chunkSize);
    const matched: Piece[] = [];
    for (let i = first; i < blocks.length && blocks[i]!.offset < end; i++) {
      const block = blocks[i]!;
      const old = index.blocks[index.find(block.length, block.hash)];
      matched.push(old ? { at: block.offset, length: block.length, from: old.offset } : { at: block.offset, length: block.length });
    }
    return { index: chunk, pieces: piecesIn(alignLiterals(matched, this.size), start, end) };
  }
}

function blockEnd(block: Block): number {
  return block.offset + block.length;
}
