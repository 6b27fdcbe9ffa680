/**
 * The signature on the wire (PROTOCOL.md §7.7): the receiver's old file as its blocks in order,
 * in as many DELTA_SIG messages as it takes, each saying at which old offset its first block
 * starts; the sender collects them and checks every bound before it trusts one. With SIG_CACHE
 * the sender's blocks of the new file come back the same way (NEW_SIG), for the receiver's cache.
 */
import { DELTA_MIN_BLOCK, DELTA_SIG_ENTRY_SIZE, DELTA_SIG_MAX_BLOCK, DELTA_SIG_UNIT, MAX_SIG_BLOCKS, MAX_SIG_ENTRIES, PacketType } from '../protocol/constants';
import type { DeltaSigMessage, NewSigMessage } from '../protocol/messages';
import type { SignedBlock } from './blocks';

/**
 * Blocks a signature for a new file of `size` bytes holds at most: one per DELTA_SIG_UNIT of it
 * (about the new file's size of old blocks), within MAX_SIG_BLOCKS.
 */
export function signatureLimit(size: number): number {
  return Math.min(MAX_SIG_BLOCKS, Math.floor(size / DELTA_SIG_UNIT) + 1);
}

/** `blocks` as signature entries: length u32 and xxh64 u64 each (DELTA_SIG's, NEW_SIG's, a signature cache record's). */
export function encodeEntries(blocks: readonly SignedBlock[]): Buffer {
  const entries = Buffer.allocUnsafe(blocks.length * DELTA_SIG_ENTRY_SIZE);
  blocks.forEach((block, i) => {
    entries.writeUInt32BE(block.length, i * DELTA_SIG_ENTRY_SIZE);
    entries.writeBigUInt64BE(block.hash, i * DELTA_SIG_ENTRY_SIZE + 4);
  });
  return entries;
}

/** `blocks` as MAX_SIG_ENTRIES entries at most to a part, each with the offset its first block starts at (`offset` for the first). */
function entryParts(blocks: readonly SignedBlock[], offset: number): { offset: number; entries: Buffer }[] {
  const parts: { offset: number; entries: Buffer }[] = [];
  for (let first = 0; first < blocks.length; first += MAX_SIG_ENTRIES) {
    const part = blocks.slice(first, first + MAX_SIG_ENTRIES);
    parts.push({ offset, entries: encodeEntries(part) });
    for (const block of part) offset += block.length;
  }
  return parts;
}

/** The DELTA_SIG messages that carry `blocks`, the first at old offset `oldOffset`: MAX_SIG_ENTRIES to a message. */
export function signatureMessages(fileId: number, blocks: readonly SignedBlock[], oldOffset = 0): DeltaSigMessage[] {
  return entryParts(blocks, oldOffset).map(({ offset, entries }) => ({ type: PacketType.DELTA_SIG, fileId, oldOffset: offset, entries }));
}

/** Feature SIG_CACHE: the NEW_SIG messages that carry the blocks of a new file, as the sender cut it. */
export function newSignatureMessages(fileId: number, blocks: readonly SignedBlock[]): NewSigMessage[] {
  return entryParts(blocks, 0).map(({ offset, entries }) => ({ type: PacketType.NEW_SIG, fileId, offset, entries }));
}

/**
 * Blocks the new file of `size` bytes has at most, as the sender cuts it: every block but the
 * last is at least DELTA_MIN_BLOCK long (what a NEW_SIG may describe).
 */
export function newSignatureLimit(size: number): number {
  return Math.floor(size / DELTA_MIN_BLOCK) + 1;
}

/**
 * A signature as its messages arrive (DELTA_SIG's, NEW_SIG's): blocks of `maxBlock` bytes at most,
 * `limit` of them, covering `maxExtent` bytes at most.
 */
export class SignatureCollector {
  readonly blocks: SignedBlock[] = [];
  /** Bytes of the file the blocks cover. */
  extent = 0;

  constructor(
    private readonly limit: number,
    private readonly maxBlock = DELTA_SIG_MAX_BLOCK,
    private readonly maxExtent = Infinity,
  ) {}

  /** Adds the blocks of one message, the first at `offset`; returns why they are refused, or undefined. */
  add(offset: number, entries: Buffer): string | undefined {
    if (entries.length % DELTA_SIG_ENTRY_SIZE !== 0) return `its entries take ${entries.length} bytes, not a multiple of ${DELTA_SIG_ENTRY_SIZE}`;
    if (offset !== this.extent) return `its first block is at offset ${offset}, the blocks before end at ${this.extent}`;
    const count = entries.length / DELTA_SIG_ENTRY_SIZE;
    if (this.blocks.length + count > this.limit) return `it brings the signature to ${this.blocks.length + count} blocks, over the ${this.limit} the file's size allows`;
    for (let i = 0; i < count; i++) {
      const length = entries.readUInt32BE(i * DELTA_SIG_ENTRY_SIZE);
      if (length < 1 || length > this.maxBlock) return `block ${this.blocks.length} is ${length} bytes long, outside 1..${this.maxBlock}`;
      if (this.extent + length > this.maxExtent) return `block ${this.blocks.length} ends past the file's ${this.maxExtent} bytes`;
      this.blocks.push({ length, hash: entries.readBigUInt64BE(i * DELTA_SIG_ENTRY_SIZE + 4) });
      this.extent += length;
    }
    return undefined;
  }
}
