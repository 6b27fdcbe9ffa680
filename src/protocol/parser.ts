/** Payload bytes to typed messages. Buffers in the result are views into the payload. */
import { FcpError } from '../errors';
import { DATA_HEADER_SIZE, DIGEST_SIZE, FILE_INFO_HEAD, FILE_OK_LENGTH, FILE_WHOLE_HEAD, INLINE_HEAD, INLINE_MAX, MAX_FILE_SIZE, MAX_PATH_BYTES, PacketType, packetTypeName, PERM_MASK } from './constants';
import { read64, readField, FieldValue } from './fields';
import { LAYOUTS } from './layouts';
import type { DataMessage, FileInfoMessage, FileInlineMessage, FileWholeMessage, Message } from './messages';
import { checkEntryPath } from './paths';

/**
 * The payload of `type` at buf[start, end): the messages every file costs (FILE_INLINE; FILE_INFO
 * and FILE_WHOLE; the file_id alone of FILE_OK, FILE_READY, FILE_SAME and FILE_WANT) read field by
 * field, the rest through their layouts (parsePayload). The layout walk made a [value, next] pair a
 * field, grew the message a property at a time through a store that sees every field's name (V8's
 * megamorphic inline caches), and a BATCH entry was cut out first (docs/BENCHMARKS.md "Per-file
 * cost, ninth round"). The same checks as the layouts': a payload that fails one goes the layout's
 * way, which throws its error.
 */
export function parseAt(type: number, buf: Buffer, start: number, end: number): Message {
  switch (type) {
    case PacketType.FILE_INLINE:
      return readFileInline(buf, start, end) ?? parsePayload(type, buf.subarray(start, end));
    case PacketType.FILE_INFO:
      return readFileInfo(buf, start, end) ?? parsePayload(type, buf.subarray(start, end));
    case PacketType.FILE_WHOLE:
      return readFileWhole(buf, start, end) ?? parsePayload(type, buf.subarray(start, end));
    case PacketType.FILE_OK:
    case PacketType.FILE_READY:
    case PacketType.FILE_SAME:
    case PacketType.FILE_WANT:
      if (end - start === FILE_OK_LENGTH) return { type, fileId: buf.readUInt32BE(start) } as Message;
  }
  return parsePayload(type, buf.subarray(start, end));
}

/** FILE_INFO at buf[start, end), when its perm, size and path length are within the layout's bounds; a bad path throws as the layout's check does. */
function readFileInfo(buf: Buffer, start: number, end: number): FileInfoMessage | undefined {
  const pathStart = start + FILE_INFO_HEAD;
  if (pathStart >= end || end - pathStart > MAX_PATH_BYTES) return undefined;
  const perm = buf.readUInt16BE(start + 4);
  const size = buf.readUInt32BE(start + 6) * 2 ** 32 + buf.readUInt32BE(start + 10);
  if (perm > PERM_MASK || size > MAX_FILE_SIZE) return undefined;
  const path = buf.subarray(pathStart, end);
  checkEntryPath(path);
  return {
    type: PacketType.FILE_INFO,
    fileId: buf.readUInt32BE(start),
    perm,
    size,
    mtimeNs: read64(buf, start + 14, true),
    digest: buf.subarray(pathStart - DIGEST_SIZE, pathStart),
    path,
  };
}

/** FILE_WHOLE at buf[start, end), when its data is within the layout's bounds. */
function readFileWhole(buf: Buffer, start: number, end: number): FileWholeMessage | undefined {
  const dataStart = start + FILE_WHOLE_HEAD;
  if (dataStart > end || end - dataStart > INLINE_MAX) return undefined;
  return { type: PacketType.FILE_WHOLE, fileId: buf.readUInt32BE(start), hash: read64(buf, start + 4, false), data: buf.subarray(dataStart, end) };
}

/** FILE_INLINE at buf[start, end), when its lengths and perm are within the layout's bounds; a bad path throws as the layout's check does. */
function readFileInline(buf: Buffer, start: number, end: number): FileInlineMessage | undefined {
  const pathStart = start + INLINE_HEAD;
  if (pathStart > end) return undefined;
  const perm = buf.readUInt16BE(start + 4);
  const pathEnd = pathStart + buf.readUInt16BE(pathStart - 2);
  if (perm > PERM_MASK || pathEnd === pathStart || pathEnd > end || pathEnd - pathStart > MAX_PATH_BYTES || end - pathEnd > INLINE_MAX) return undefined;
  const path = buf.subarray(pathStart, pathEnd);
  checkEntryPath(path);
  return {
    type: PacketType.FILE_INLINE,
    fileId: buf.readUInt32BE(start),
    perm,
    mtimeNs: read64(buf, start + 6, true),
    hash: read64(buf, start + 14, false),
    path,
    data: buf.subarray(pathEnd, end),
  };
}

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
