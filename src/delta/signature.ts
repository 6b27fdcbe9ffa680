/**
 * The signature on the wire (PROTOCOL.md §7.7): the receiver's old file as its blocks in order,
 * in as many DELTA_SIG messages as it takes, each saying at which old offset its first block
 * starts; the sender collects them and checks every bound before it trusts one.
 */
import { DELTA_SIG_ENTRY_SIZE, DELTA_SIG_MAX_BLOCK, DELTA_SIG_UNIT, MAX_SIG_BLOCKS, MAX_SIG_ENTRIES, PacketType } from '../protocol/constants';
import type { DeltaSigMessage } from '../protocol/messages';
import type { SignedBlock } from './blocks';

/**
 * Blocks a signature for a new file of `size` bytes holds at most: one per DELTA_SIG_UNIT of it
 * (about the new file's size of old blocks), within MAX_SIG_BLOCKS.
 */
export function signatureLimit(size: number): number {
  return Math.min(MAX_SIG_BLOCKS, Math.floor(size / DELTA_SIG_UNIT) + 1);
}

/** The DELTA_SIG messages that carry `blocks`, the first at old offset `oldOffset`: MAX_SIG_ENTRIES to a message. */
export function signatureMessages(fileId: number, blocks: readonly SignedBlock[], oldOffset = 0): DeltaSigMessage[] {
  const messages: DeltaSigMessage[] = [];
  for (let first = 0; first < blocks.length; first += MAX_SIG_ENTRIES) {
    const part = blocks.slice(first, first + MAX_SIG_ENTRIES);
    const entries = Buffer.allocUnsafe(part.length * DELTA_SIG_ENTRY_SIZE);
    part.forEach((block, i) => {
      entries.writeUInt32BE(block.length, i * DELTA_SIG_ENTRY_SIZE);
      entries.writeBigUInt64BE(block.hash, i * DELTA_SIG_ENTRY_SIZE + 4);
    });
    messages.push({ type: PacketType.DELTA_SIG, fileId, oldOffset, entries });
    for (const block of part) oldOffset += block.length;
  }
  return messages;
}

/** The signature of one file as its DELTA_SIG messages arrive. */
export class SignatureCollector {
  readonly blocks: SignedBlock[] = [];
  /** Bytes of the old file the blocks cover. */
  extent = 0;

  constructor(private readonly limit: number) {}

  /** Adds the blocks of one DELTA_SIG; returns why it is refused, or undefined. */
  add(message: DeltaSigMessage): string | undefined {
    const { oldOffset, entries } = message;
    if (entries.length % DELTA_SIG_ENTRY_SIZE !== 0) return `its entries take ${entries.length} bytes, not a multiple of ${DELTA_SIG_ENTRY_SIZE}`;
    if (oldOffset !== this.extent) return `its first block is at old offset ${oldOffset}, the blocks before end at ${this.extent}`;
    const count = entries.length / DELTA_SIG_ENTRY_SIZE;
    if (this.blocks.length + count > this.limit) return `it brings the signature to ${this.blocks.length + count} blocks, over the ${this.limit} the file's size allows`;
    for (let i = 0; i < count; i++) {
      const length = entries.readUInt32BE(i * DELTA_SIG_ENTRY_SIZE);
      if (length < 1 || length > DELTA_SIG_MAX_BLOCK) return `block ${this.blocks.length} is ${length} bytes long, outside 1..${DELTA_SIG_MAX_BLOCK}`;
      this.blocks.push({ length, hash: entries.readBigUInt64BE(i * DELTA_SIG_ENTRY_SIZE + 4) });
      this.extent += length;
    }
    return undefined;
  }
}
