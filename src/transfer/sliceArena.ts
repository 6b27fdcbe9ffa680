/**
 * Slices of large blocks for buffers that live about a tick (small files read for FILE_INLINE,
 * queued until the control connection writes its batch): one allocation per block rather than
 * one per file. A block is never handed out twice; the garbage collector frees it once no slice
 * of it is referenced any more.
 */
export class SliceArena {
  private block: Buffer;
  private used = 0;

  constructor(private readonly blockSize: number) {
    this.block = Buffer.allocUnsafe(blockSize);
  }

  /** `size` bytes of uninitialised memory: the caller fills all of them. */
  take(size: number): Buffer {
    if (this.used + size > this.block.length) {
      this.block = Buffer.allocUnsafe(Math.max(this.blockSize, size));
      this.used = 0;
    }
    const slice = this.block.subarray(this.used, this.used + size);
    this.used += size;
    return slice;
  }
}
