/**
 * Content-defined chunking (FastCDC, PROTOCOL.md §7.7): a block ends where a gear hash of its
 * last bytes has chosen bits all zero, so block boundaries follow the content and an insertion or
 * deletion moves only the boundaries next to it; every later block is cut as before.
 *
 * The gear hash: h = (h << 1) + GEAR[byte] (32 bits). Bit k of h depends only on the last k + 1
 * bytes, so the masks test high bits (a 32-byte window at bit 31). Normalized chunking: before
 * DELTA_AVG_BLOCK a harder mask (2 bits more), after it an easier one (2 bits fewer), which
 * narrows the spread of block sizes around the average. The hashing itself runs in gearScan.ts.
 */
import { DELTA_AVG_BLOCK, DELTA_MAX_BLOCK, DELTA_MIN_BLOCK } from '../protocol/constants';
import { findCut, RollingHash } from './gearScan';

const AVG_BITS = Math.log2(DELTA_AVG_BLOCK);
/** The top `bits` bits of a 32-bit word, as a signed 32-bit value (what `h & mask` compares with). */
const topBits = (bits: number): number => (~0 << (32 - bits)) | 0;
/** Before the average size: AVG_BITS + 2 bits must be zero. */
export const MASK_HARD = topBits(AVG_BITS + 2);
/** From the average size on: AVG_BITS - 2 bits. */
export const MASK_EASY = topBits(AVG_BITS - 2);

/**
 * Cuts a stream of bytes into blocks, fed in pieces of any size: `push` returns where blocks end
 * in the piece just fed; the bytes after the last cut stay part of the block in progress, which
 * `pending` counts (a last block the stream ends with).
 */
export class ContentChunker {
  private readonly rolling: RollingHash = { hash: 0 };
  /** Bytes of the block in progress. */
  private length = 0;

  get pending(): number {
    return this.length;
  }

  /** Offsets in `data` just past each block that ends in it. */
  push(data: Uint8Array): number[] {
    const cuts: number[] = [];
    const n = data.length;
    let i = 0;
    while (i < n) {
      // The first DELTA_MIN_BLOCK bytes of a block are not hashed: no cut can fall there.
      if (this.length < DELTA_MIN_BLOCK) {
        const skip = Math.min(DELTA_MIN_BLOCK - this.length, n - i);
        i += skip;
        this.length += skip;
        continue;
      }
      const hard = this.length < DELTA_AVG_BLOCK;
      const stretchEnd = Math.min(n, i + (hard ? DELTA_AVG_BLOCK : DELTA_MAX_BLOCK) - this.length);
      const cut = findCut(data, i, stretchEnd, this.rolling, hard ? MASK_HARD : MASK_EASY);
      const next = cut < 0 ? stretchEnd : cut;
      this.length += next - i;
      i = next;
      if (cut >= 0 || this.length === DELTA_MAX_BLOCK) {
        cuts.push(i);
        this.rolling.hash = 0;
        this.length = 0;
      }
    }
    return cuts;
  }
}
