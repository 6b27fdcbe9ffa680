/** Payload bytes to typed messages. Buffers in the result are views into the payload. */
import { FcpError } from '../errors';
import { packetTypeName, RESERVED_TYPES } from './constants';
import { readField, FieldValue } from './fields';
import { LAYOUTS } from './layouts';
import type { Message } from './messages';

export function parsePayload(type: number, payload: Buffer): Message {
  const layout = LAYOUTS[type];
  const typeName = packetTypeName[type];
  if (!layout || !typeName) throw unknownType(type);
  const message: Record<string, FieldValue> = { type };
  let pos = 0;
  for (const field of layout) {
    const [value, next] = readField(typeName, field, payload, pos);
    if (value !== undefined) message[field.name] = value;
    pos = next;
  }
  if (pos !== payload.length) {
    throw new FcpError(
      'FCP_ERR_TRAILING_BYTES',
      `${typeName} payload has ${payload.length - pos} trailing bytes after its last field (${payload.length} bytes, expected ${pos})`,
    );
  }
  return message as unknown as Message;
}

export function unknownType(type: number): FcpError {
  const reserved = type >= RESERVED_TYPES.first && type <= RESERVED_TYPES.last ? ' (reserved for resume and sync)' : '';
  return new FcpError('FCP_ERR_UNKNOWN_TYPE', `unknown packet type 0x${type.toString(16).padStart(2, '0')}${reserved}`, {
    hint: 'the peer may run a newer or different fcp; check both versions with --version',
  });
}
