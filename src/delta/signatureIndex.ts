/**
 * The receiver's signature as the sender looks blocks up in it: by length and xxh64 (which old
 * block holds these bytes) and by position (which old block follows a given one). It follows a
 * signature that grows as its DELTA_SIG messages arrive: `catchUp` takes in the blocks added since.
 */
import type { SignedBlock } from './blocks';

/** A block of the old file, where it starts there. */
export interface OldBlock extends SignedBlock {
  offset: number;
}

export class SignatureIndex {
  /** The blocks taken in so far, in order. */
  readonly blocks: OldBlock[] = [];
  /** The position in `blocks` of the first block of each xxh64 and length (by length within a hash: a peer may send one hash at many lengths). */
  private readonly byHash = new Map<bigint, Map<number, number>>();
  /** Bytes of the old file the blocks taken in cover. */
  private extent = 0;

  constructor(signature: readonly SignedBlock[] = []) {
    this.catchUp(signature);
  }

  /** Takes in the blocks of `signature` (the same list, grown or not since the last call) past those taken in. */
  catchUp(signature: readonly SignedBlock[]): void {
    for (let i = this.blocks.length; i < signature.length; i++) {
      const { length, hash } = signature[i]!;
      this.blocks.push({ length, hash, offset: this.extent });
      this.extent += length;
      const same = this.byHash.get(hash);
      if (!same) this.byHash.set(hash, new Map([[length, i]]));
      else if (!same.has(length)) same.set(length, i);
    }
  }

  /** The position of the first old block of this length and xxh64, or -1. */
  find(length: number, hash: bigint): number {
    return this.byHash.get(hash)?.get(length) ?? -1;
  }
}
