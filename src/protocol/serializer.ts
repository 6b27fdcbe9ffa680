/** Typed messages to payload bytes, walking the same layouts as the parser. */
import { FcpError } from '../errors';
import { MAX_PAYLOAD, packetTypeName } from './constants';
import { fieldLength, FieldValue, writeField } from './fields';
import { LAYOUTS } from './layouts';
import type { Message } from './messages';
import { unknownType } from './parser';

function layoutOf(message: Message) {
  const layout = LAYOUTS[message.type];
  if (!layout) throw unknownType(message.type);
  return layout;
}

function valueOf(message: Message, name: string): FieldValue {
  return (message as unknown as Record<string, FieldValue>)[name];
}

export function payloadLength(message: Message): number {
  let length = 0;
  for (const field of layoutOf(message)) length += fieldLength(field, valueOf(message, field.name));
  if (length > MAX_PAYLOAD) {
    throw new FcpError(
      'FCP_ERR_BAD_LENGTH',
      `${packetTypeName[message.type]} payload would be ${length} bytes; the limit is ${MAX_PAYLOAD}`,
    );
  }
  return length;
}

/** Writes the payload at pos (room for payloadLength(message) bytes); returns the end position. */
export function writePayload(message: Message, buf: Buffer, pos: number): number {
  const typeName = packetTypeName[message.type]!;
  for (const field of layoutOf(message)) pos = writeField(typeName, field, valueOf(message, field.name), buf, pos);
  return pos;
}

/** The payload alone, in a Buffer of its own (the handshake MACs cover PARAMS payloads). */
export function encodePayload(message: Message): Buffer {
  const payload = Buffer.allocUnsafe(payloadLength(message));
  writePayload(message, payload, 0);
  return payload;
}
