/**
 * Slices of large blocks for buffers that live about a tick (small files read for FILE_INLINE,
 * queued until the control connection writes its batch): one allocation per block rather than
 * one per file. A block is never handed out twice while a slice of it may still be in use; the
 * garbage collector frees it once no slice of it is referenced any more.
 */
export class SliceArena {
  private block: Buffer;
  private used = 0;
  /** Recycling arenas only: slices of the block being filled taken and not given back yet. */
  private blockOut = 0;
  /**
   * Recycling arenas only: the same for each block filled before, while any of its slices are out.
   * Weak: a block one of whose slices is never given back is left to the collector. The block
   * being filled is counted apart (blockOut), so that a small file's slice, taken and given back
   * in the same block, costs no lookup here (four a file were 200-350 ns of it).
   */
  private readonly out: WeakMap<ArrayBufferLike, number> | undefined;
  /** Recycling arenas only: blocks all of whose slices came back, to be filled again. */
  private readonly spare: Buffer[] = [];

  /**
   * recycle: the user gives every slice back (give) once its bytes are no longer needed, so that
   * a block whose slices all came back is filled again instead of a new one being allocated (in
   * one process, where the receiver writes a small file from the very slice it was read into: a
   * new block's pages cost a page fault each on their first touch, more than the read itself). A
   * slice never given back only keeps its block from being filled again.
   */
  constructor(
    private readonly blockSize: number,
    recycle = false,
  ) {
    this.block = Buffer.allocUnsafeSlow(blockSize);
    this.out = recycle ? new WeakMap() : undefined;
  }

  /** `size` bytes of uninitialised memory: the caller fills all of them. */
  take(size: number): Buffer {
    if (this.used + size > this.block.length) {
      const full = this.block;
      this.block = (size <= this.blockSize && this.spare.pop()) || Buffer.allocUnsafeSlow(Math.max(this.blockSize, size));
      this.used = 0;
      if (this.out && this.blockOut > 0) this.out.set(full.buffer, this.blockOut);
      else if (this.out && this.spare.length < MAX_SPARE) this.spare.push(full);
      this.blockOut = 0;
    }
    const slice = this.block.subarray(this.used, this.used + size);
    this.used += size;
    if (this.out) this.blockOut++;
    return slice;
  }

  /** A recycling arena's slice whose bytes are no longer needed (given back once). */
  give(slice: Buffer): void {
    const block = slice.buffer;
    if (!this.out) return;
    // The block being filled goes on being filled.
    if (block === this.block.buffer) return void this.blockOut--;
    const left = this.out.get(block);
    if (left === undefined) return;
    if (left > 1) return void this.out.set(block, left - 1);
    this.out.delete(block);
    // Another block than the one being filled: it waits among the spare ones.
    if (this.spare.length < MAX_SPARE) this.spare.push(Buffer.from(block, 0, this.blockSize));
  }
}

/** Blocks kept for filling again, at most: more in flight at once are left to the garbage collector. */
const MAX_SPARE = 4;
