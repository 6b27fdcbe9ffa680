/**
 * The sender's scan of its new file against the receiver's signature (PROTOCOL.md §7.7): where
 * the new file goes on as the old one did, its blocks are the signature's, checked by their xxh64
 * alone, without the gear hash; the content-defined cutting runs only from where an expected block
 * does not match until a block it cuts is one of the signature's again. Matched bytes cost one
 * xxh64 pass instead of the gear scan, and a shift is still found: a mismatch falls back to cutting.
 *
 * The blocks are those of the plain scan (blocksOf): the chunker starts every block afresh (its
 * gear hash and length reset at a cut), so the cut that ends a block depends only on the bytes
 * from the block's start. An old block that ended at a cut, met at a block start of the new file
 * with the same bytes (its xxh64), ends at the same cut there. The last block the signature has
 * so far may end where the old file (or the signature) does rather than at a cut, so it is never
 * expected, nor is a block of a length the chunker never cuts (a signature cut otherwise): the
 * chunker cuts there, as the plain scan would.
 */
import { DELTA_MAX_BLOCK, DELTA_MIN_BLOCK } from '../protocol/constants';
import type { XXHashAPI } from '../protocol/xxhash';
import { Block, BlockScanner, FileScanner, SignedBlock } from './blocks';
import { SignatureIndex } from './signatureIndex';

/** Bytes the chunker is fed at a time while it cuts: after each, the block it cut last may be the signature's again. */
const CUT_SLICE = DELTA_MAX_BLOCK;

export class GuidedScanner implements FileScanner {
  readonly full = false;
  private readonly index = new SignatureIndex();
  private readonly blocks: Block[] = [];
  /** Where in the file the next piece fed starts. */
  private offset = 0;
  /** Following the signature: the position in it of the old block expected next, and where that block would start here. */
  private expected = 0;
  private at = 0;
  /** Following the signature: the bytes from `at` that came in earlier pieces (part of the expected block). */
  private readonly carry = Buffer.allocUnsafe(DELTA_MAX_BLOCK);
  private carried = 0;
  /** Cutting: the plain scan from `at` on, and how many of its blocks are taken into `blocks`. */
  private cutter: BlockScanner | undefined;
  private taken = 0;

  /** signature: the receiver's blocks in order; it may grow while the scan runs (DELTA_SIG messages still coming). */
  constructor(
    private readonly xxh: XXHashAPI,
    private readonly signature: readonly SignedBlock[],
  ) {}

  push(data: Uint8Array): void {
    for (let i = 0; i < data.length; ) i = this.cutter ? this.cut(data, i) : this.follow(data, i);
    this.offset += data.length;
  }

  get closed(): readonly Block[] {
    return this.blocks;
  }

  end(): Block[] {
    // Bytes short of the expected block: the file ends within it, the chunker cuts them.
    if (!this.cutter && this.carried > 0) this.startCutting();
    if (this.cutter) this.take(this.cutter.end());
    this.cutter = undefined;
    return this.blocks;
  }

  /** The old block expected next, when the chunker is known to cut it as it stands; else undefined. */
  private expectedBlock(): SignedBlock | undefined {
    this.index.catchUp(this.signature);
    if (this.expected >= this.index.blocks.length - 1) return undefined;
    const block = this.index.blocks[this.expected]!;
    return block.length >= DELTA_MIN_BLOCK && block.length <= DELTA_MAX_BLOCK ? block : undefined;
  }

  /** Following the signature from data[i]: where in `data` the scan goes on. */
  private follow(data: Uint8Array, i: number): number {
    const block = this.expectedBlock();
    if (!block) return this.startCutting(i);
    const want = block.length - this.carried;
    if (data.length - i < want) {
      this.carry.set(data.subarray(i), this.carried);
      this.carried += data.length - i;
      return data.length;
    }
    let bytes = data.subarray(i, i + want);
    if (this.carried > 0) {
      this.carry.set(bytes, this.carried);
      bytes = this.carry.subarray(0, block.length);
    }
    if (this.xxh.h64Raw(bytes, 0n) !== block.hash) return this.startCutting(i);
    this.blocks.push({ offset: this.at, length: block.length, hash: block.hash });
    this.at += block.length;
    this.expected++;
    this.carried = 0;
    return i + want;
  }

  /** The chunker takes over at `at`, fed the bytes carried first; returns `i`, where it goes on in the piece. */
  private startCutting(i = 0): number {
    this.cutter = new BlockScanner(this.xxh, Infinity, this.at);
    this.taken = 0;
    if (this.carried > 0) this.cutter.push(this.carry.subarray(0, this.carried));
    this.carried = 0;
    return i;
  }

  /** Cutting from data[i], a slice at a time: where in `data` the scan goes on. */
  private cut(data: Uint8Array, i: number): number {
    const cutter = this.cutter!;
    const end = Math.min(data.length, i + CUT_SLICE);
    cutter.push(data.subarray(i, end));
    const closed = cutter.closed;
    if (closed.length === this.taken) return end;
    this.take(closed);
    const last = closed[closed.length - 1]!;
    const lastEnd = last.offset + last.length;
    // A block that ended in the bytes carried over leaves nothing of this piece to follow from.
    if (lastEnd < this.offset + i) return end;
    this.index.catchUp(this.signature);
    const position = this.index.find(last.length, last.hash);
    if (position < 0) return end;
    // The new file goes on as the old one did after this block: the signature is followed again from its end.
    this.cutter = undefined;
    this.expected = position + 1;
    this.at = lastEnd;
    return lastEnd - this.offset;
  }

  private take(closed: readonly Block[]): void {
    for (let k = this.taken; k < closed.length; k++) this.blocks.push(closed[k]!);
    this.taken = closed.length;
  }
}
