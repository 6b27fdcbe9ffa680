/**
 * BATCH (PROTOCOL.md §4): control messages written together travel in one frame, so they cost
 * one seal (one AES-GCM setup, ~6 us here) and one checksum instead of one each. Ten thousand
 * small files otherwise cost four sealed control frames each.
 */
import { FcpError } from '../errors';
import { BATCH_ENTRY_HEADER, BATCHABLE_TYPES, PacketType, packetTypeName } from './constants';
import { payloadBounds } from './layouts';
import type { BatchMessage, Message } from './messages';
import { parseAt } from './parser';
import { payloadLength, writePayload } from './serializer';

/** Bytes a message takes as a batch entry. */
export function batchEntryLength(message: Message): number {
  return BATCH_ENTRY_HEADER + payloadLength(message);
}

/** Bytes the entries of a BATCH of these messages take. */
export function batchEntriesLength(messages: readonly Message[]): number {
  let total = 0;
  for (const message of messages) total += batchEntryLength(message);
  return total;
}

/**
 * Writes messages (at least two, each BATCHABLE_TYPES) as BATCH entries at pos, where
 * batchEntriesLength(messages) bytes are free (which checked each payload's length); returns the
 * end. Each entry's header is written behind its payload, whose length is then known: the
 * payload's length is not computed a second time (a no-change re-sync batches one FILE_INFO a file).
 */
export function writeBatchEntries(messages: readonly Message[], buf: Buffer, pos: number): number {
  if (messages.length < 2) throw new FcpError('FCP_ERR_INTERNAL', `a BATCH carries at least two messages, not ${messages.length}`);
  for (const message of messages) {
    if (!BATCHABLE_TYPES.has(message.type)) throw new FcpError('FCP_ERR_INTERNAL', `${packetTypeName[message.type]} cannot travel in a BATCH`);
    const start = pos + BATCH_ENTRY_HEADER;
    const end = writePayload(message, buf, start);
    writeEntryHeader(buf, pos, message.type, end - start);
    pos = end;
  }
  return pos;
}

/** A BATCH of messages (at least two, each BATCHABLE_TYPES). */
export function batchOf(messages: readonly Message[]): BatchMessage {
  const entries = Buffer.allocUnsafe(batchEntriesLength(messages));
  writeBatchEntries(messages, entries, 0);
  return { type: PacketType.BATCH, entries };
}

/** Writes an entry's header at pos (its payload of `length` bytes follows); returns where the payload goes. */
export function writeEntryHeader(buf: Buffer, pos: number, type: number, length: number): number {
  buf[pos] = type;
  buf.writeUInt16BE(length, pos + 1);
  return pos + BATCH_ENTRY_HEADER;
}

/**
 * The messages of a BATCH, each checked as if it had come in a frame of its own; `allowed` are
 * the types this connection may batch (control: BATCHABLE_TYPES, data: DATA_BATCHABLE_TYPES).
 */
export function unbatch(batch: BatchMessage, allowed: ReadonlySet<number> = BATCHABLE_TYPES): Message[] {
  const { entries } = batch;
  const messages: Message[] = [];
  for (let pos = 0; pos < entries.length; ) {
    if (entries.length - pos < BATCH_ENTRY_HEADER) throw badBatch(`it ends inside an entry header at byte ${pos}`);
    const type = entries[pos]!;
    const length = entries.readUInt16BE(pos + 1);
    if (!allowed.has(type)) throw badBatch(`entry ${messages.length} is ${packetTypeName[type] ?? `type 0x${type.toString(16)}`}, which cannot travel in a BATCH here`);
    const bounds = payloadBounds(type)!;
    if (length < bounds.min || length > bounds.max) {
      throw new FcpError('FCP_ERR_BAD_LENGTH', `BATCH entry ${messages.length} (${packetTypeName[type]}) declares ${length} bytes; its type allows ${bounds.min}..${bounds.max}`);
    }
    const start = pos + BATCH_ENTRY_HEADER;
    if (start + length > entries.length) throw badBatch(`entry ${messages.length} declares ${length} bytes and only ${entries.length - start} are left`);
    messages.push(parseAt(type, entries, start, start + length));
    pos = start + length;
  }
  if (messages.length < 2) throw badBatch(`it carries ${messages.length} message${messages.length === 1 ? '' : 's'}; a BATCH carries at least two`);
  return messages;
}

function badBatch(why: string): FcpError {
  return new FcpError('FCP_ERR_PROTOCOL', `malformed BATCH: ${why}`);
}
