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
export interface FileScanner {
  push(data: Uint8Array): void;
  /** The blocks cut so far (the one in progress not yet). */
  readonly closed: readonly Block[];
  /** Every block, the last one (shorter than a cut would make it) included. */
  end(): Block[];
  /** The scan describes no more of the file: what follows is left out. */
  readonly full: boolean;
}

/** The plain scan: every block cut by the content-defined chunker. */
export class BlockScanner implements FileScanner {
  private readonly chunker = new ContentChunker();
  private readonly blocks: Block[] = [];
  /** The xxh64 of the block in progress, when part of it came in an earlier piece. */
  private hasher: ReturnType<XXHashAPI['create64']> | undefined;
  /** Where the next byte fed is in the file. */
  private offset: number;
  /** Where the block in progress starts. */
  private blockStart: number;

  /** limit: blocks kept at most (the scan stops counting past it: `full` says so); start: where in the file the first byte fed is, a block's start. */
  constructor(
    private readonly xxh: XXHashAPI,
    private readonly limit = Infinity,
    start = 0,
  ) {
    this.offset = start;
    this.blockStart = start;
  }

  /** The limit of blocks is reached. */
  get full(): boolean {
    return this.blocks.length >= this.limit;
  }

  push(data: Uint8Array): void {
    let from = 0;
    for (const cut of this.chunker.push(data)) {
      if (this.full) return;
      this.close(this.offset + cut, data.subarray(from, cut));
      from = cut;
    }
    if (!this.full && from < data.length) {
      this.hasher ??= this.xxh.create64(0n);
      this.hasher.update(data.subarray(from));
    }
    this.offset += data.length;
  }

  get closed(): readonly Block[] {
    return this.blocks;
  }

  end(): Block[] {
    if (!this.full && this.offset > this.blockStart) this.close(this.offset, new Uint8Array(0));
    return this.blocks;
  }

  /** Ends the block in progress at `end`; `tail` holds its bytes not hashed yet (all of them, mostly: one call then hashes it). */
  private close(end: number, tail: Uint8Array): void {
    const hash = this.hasher ? this.hasher.update(tail).digest() : this.xxh.h64Raw(tail, 0n);
    this.blocks.push({ offset: this.blockStart, length: end - this.blockStart, hash });
    this.blockStart = end;
    this.hasher = undefined;
  }
}

/** The blocks of `data`, whole in memory (tests, and small files). */
export function blocksOf(xxh: XXHashAPI, data: Uint8Array): Block[] {
  const scanner = new BlockScanner(xxh);
  scanner.push(data);
  return scanner.end();
}
