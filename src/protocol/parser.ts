/** Payload bytes to typed messages. Buffers in the result are views into the payload. */
import { FcpError } from '../errors';
import { DATA_HEADER_SIZE, PacketType, packetTypeName } from './constants';
import { readField, FieldValue } from './fields';
import { LAYOUTS } from './layouts';
import type { DataMessage, Message } from './messages';

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

/**
 * A DATA payload from FrameDecoder.nextPieces (its length already checked against DATA's bounds):
 * file_id and seq from its first 8 bytes, the file bytes left in their pieces.
 */
export function parseDataPieces(pieces: Buffer[]): DataMessage {
  const first = pieces[0]!;
  let head = first;
  if (first.length < DATA_HEADER_SIZE) {
    head = Buffer.allocUnsafe(DATA_HEADER_SIZE);
    for (let i = 0, copied = 0; copied < DATA_HEADER_SIZE; i++) copied += pieces[i]!.copy(head, copied, 0, DATA_HEADER_SIZE - copied);
  }
  const data: Buffer[] = [];
  let skip = DATA_HEADER_SIZE;
  for (const piece of pieces) {
    if (skip < piece.length) data.push(skip > 0 ? piece.subarray(skip) : piece);
    skip = Math.max(0, skip - piece.length);
  }
  const message: DataMessage = { type: PacketType.DATA, fileId: head.readUInt32BE(0), seq: head.readUInt32BE(4), data: data[0]! };
  if (data.length > 1) message.more = data.slice(1);
  return message;
}

export function unknownType(type: number): FcpError {
  return new FcpError('FCP_ERR_UNKNOWN_TYPE', `unknown packet type 0x${type.toString(16).padStart(2, '0')}`, {
    hint: 'the peer may run a newer or different fcp; check both versions with --version',
  });
}
