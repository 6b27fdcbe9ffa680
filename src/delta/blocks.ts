/**
 * A file as its content-defined blocks (chunker.ts), each with its xxh64: what the receiver
 * describes its old file by (the signature) and what the sender matches its new file against.
 */
import type { XXHashAPI } from '../protocol/xxhash';
import { ContentChunker } from './chunker';

/** A block of a signature: its length and xxh64; its offset is the sum of the lengths before it. */
export interface SignedBlock {
  length: number;
  hash: bigint;
}

/** A block of the new file, where it starts. */
export interface Block extends SignedBlock {
  offset: number;
}

/** Fed a file's bytes in order, in pieces of any size; `end` gives its blocks. */
export class BlockScanner {
  private readonly chunker = new ContentChunker();
  private readonly blocks: Block[] = [];
  private hasher: ReturnType<XXHashAPI['create64']>;
  /** Bytes fed so far. */
  private offset = 0;
  /** Where the block in progress starts. */
  private blockStart = 0;

  /** limit: blocks kept at most (the scan stops counting past it: `full` says so). */
  constructor(
    private readonly xxh: XXHashAPI,
    private readonly limit = Infinity,
  ) {
    this.hasher = xxh.create64(0n);
  }

  /** The limit of blocks is reached: what follows is not described. */
  get full(): boolean {
    return this.blocks.length >= this.limit;
  }

  push(data: Uint8Array): void {
    let from = 0;
    for (const cut of this.chunker.push(data)) {
      if (this.full) return;
      this.hasher.update(data.subarray(from, cut));
      this.close(this.offset + cut);
      from = cut;
    }
    if (!this.full) this.hasher.update(data.subarray(from));
    this.offset += data.length;
  }

  /** Every block, the last one (shorter than a cut would make it) included. */
  end(): Block[] {
    if (!this.full && this.offset > this.blockStart) this.close(this.offset);
    return this.blocks;
  }

  private close(end: number): void {
    this.blocks.push({ offset: this.blockStart, length: end - this.blockStart, hash: this.hasher.digest() });
    this.blockStart = end;
    this.hasher = this.xxh.create64(0n);
  }
}

/** The blocks of `data`, whole in memory (tests, and small files). */
export function blocksOf(xxh: XXHashAPI, data: Uint8Array): Block[] {
  const scanner = new BlockScanner(xxh);
  scanner.push(data);
  return scanner.end();
}
