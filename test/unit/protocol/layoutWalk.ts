/**
 * The layout walk as the reference for the messages written and read field by field (serializer.ts
 * writePayload, parser.ts parseAt): its bytes for a message, and its message or error for a payload.
 */
import { packetTypeName } from '../../../src/protocol/constants';
import { writeField } from '../../../src/protocol/fields';
import { LAYOUTS } from '../../../src/protocol/layouts';
import type { Message } from '../../../src/protocol/messages';
import { parseAt, parsePayload } from '../../../src/protocol/parser';
import { payloadLength, writePayload } from '../../../src/protocol/serializer';

/** The layout walk's bytes for the message, between two guard bytes. */
export function walked(message: Message): Buffer {
  const buf = Buffer.alloc(payloadLength(message) + 2, 0xee);
  let pos = 1;
  const name = packetTypeName[message.type]!;
  for (const field of LAYOUTS[message.type]!) pos = writeField(name, field, (message as unknown as Record<string, never>)[field.name], buf, pos);
  expect(pos).toBe(buf.length - 1);
  return buf;
}

/** writePayload's bytes for the message, between two guard bytes. */
export function written(message: Message): Buffer {
  const buf = Buffer.alloc(payloadLength(message) + 2, 0xee);
  expect(writePayload(message, buf, 1)).toBe(buf.length - 1);
  return buf;
}

export type Outcome = Message | { error: string; code: string };

function outcome(read: () => Message): Outcome {
  try {
    return read();
  } catch (err) {
    return { error: (err as Error).message, code: (err as { code: string }).code };
  }
}

/** The layout walk's message for a payload (parsePayload walks every type's layout), or its error. */
export function walkedRead(type: number, payload: Buffer): Outcome {
  return outcome(() => parsePayload(type, payload));
}

/** parseAt's message for the payload, read where it lies inside a larger buffer, or its error. */
export function readAt(type: number, payload: Buffer): Outcome {
  const buf = Buffer.concat([Buffer.from([0xee, 0xee, 0xee]), payload, Buffer.from([0xee])]);
  return outcome(() => parseAt(type, buf, 3, 3 + payload.length));
}
