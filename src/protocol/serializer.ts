/** Typed messages to payload bytes, walking the same layouts as the parser. */
import { FcpError } from '../errors';
import { DIGEST_SIZE, FILE_INFO_HEAD, FILE_OK_LENGTH, FILE_WHOLE_HEAD, INLINE_HEAD, INLINE_MAX, MAX_FILE_SIZE, MAX_PATH_BYTES, MAX_PAYLOAD, PacketType, packetTypeName, PERM_MASK } from './constants';
import { fieldLength, FieldValue, I64_MAX, I64_MIN, U64_MAX, write64, writeField } from './fields';
import { LAYOUTS } from './layouts';
import type { FileInfoMessage, FileInlineMessage, FileWholeMessage, Message } from './messages';
import { unknownType } from './parser';
import { checkEntryPath } from './paths';

/** Whether a FILE_INLINE passes its layout's checks (the path's own, checkEntryPath, throws as the layout's does). */
function inlineFits(message: FileInlineMessage): boolean {
  const { fileId, perm, mtimeNs, hash, path, data } = message;
  if (!(Number.isInteger(fileId) && fileId >= 0 && fileId <= 0xffffffff && Number.isInteger(perm) && perm >= 0 && perm <= PERM_MASK)) return false;
  if (!(typeof mtimeNs === 'bigint' && mtimeNs >= I64_MIN && mtimeNs <= I64_MAX && typeof hash === 'bigint' && hash >= 0n && hash <= U64_MAX)) return false;
  if (!(Buffer.isBuffer(path) && path.length >= 1 && path.length <= MAX_PATH_BYTES && Buffer.isBuffer(data) && data.length <= INLINE_MAX)) return false;
  checkEntryPath(path);
  return true;
}

/**
 * FILE_INLINE, a small file's one message, written field by field without the layout walk: the
 * walk reads each field's kind and value through a property load that sees every message type
 * and every field kind (V8's megamorphic inline caches), about a microsecond of a 16-100 B file's
 * sender (docs/BENCHMARKS.md "Per-file cost, eighth round"). The same checks as the layout's
 * (fields.ts checkValue): a message that fails one goes the generic way, which throws its error.
 */
function writeFileInline(message: FileInlineMessage, buf: Buffer, pos: number): number {
  const { path, data } = message;
  buf.writeUInt32BE(message.fileId, pos);
  buf.writeUInt16BE(message.perm, pos + 4);
  write64(message.mtimeNs, buf, pos + 6);
  write64(message.hash, buf, pos + 14);
  buf.writeUInt16BE(path.length, pos + 22);
  pos += INLINE_HEAD;
  pos += path.copy(buf, pos);
  return pos + data.copy(buf, pos);
}

/** Whether a FILE_INFO passes its layout's checks (the path's own, checkEntryPath, throws as the layout's does). */
function fileInfoFits(message: FileInfoMessage): boolean {
  const { fileId, perm, size, mtimeNs, digest, path } = message;
  if (!(isU32(fileId) && Number.isInteger(perm) && perm >= 0 && perm <= PERM_MASK && Number.isInteger(size) && size >= 0 && size <= MAX_FILE_SIZE)) return false;
  if (!(typeof mtimeNs === 'bigint' && mtimeNs >= I64_MIN && mtimeNs <= I64_MAX && Buffer.isBuffer(digest) && digest.length === DIGEST_SIZE)) return false;
  if (!(Buffer.isBuffer(path) && path.length >= 1 && path.length <= MAX_PATH_BYTES)) return false;
  checkEntryPath(path);
  return true;
}

/** FILE_INFO, every larger file's announcement (and every file's in a rerun), written field by field as FILE_INLINE is. */
function writeFileInfo(message: FileInfoMessage, buf: Buffer, pos: number): number {
  buf.writeUInt32BE(message.fileId, pos);
  buf.writeUInt16BE(message.perm, pos + 4);
  buf.writeUInt32BE(Math.floor(message.size / 2 ** 32), pos + 6);
  buf.writeUInt32BE(message.size >>> 0, pos + 10);
  write64(message.mtimeNs, buf, pos + 14);
  message.digest.copy(buf, pos + 22);
  return pos + FILE_INFO_HEAD + message.path.copy(buf, pos + FILE_INFO_HEAD);
}

function fileWholeFits(message: FileWholeMessage): boolean {
  const { fileId, hash, data } = message;
  return isU32(fileId) && typeof hash === 'bigint' && hash >= 0n && hash <= U64_MAX && Buffer.isBuffer(data) && data.length <= INLINE_MAX;
}

function writeFileWhole(message: FileWholeMessage, buf: Buffer, pos: number): number {
  buf.writeUInt32BE(message.fileId, pos);
  write64(message.hash, buf, pos + 4);
  return pos + FILE_WHOLE_HEAD + message.data.copy(buf, pos + FILE_WHOLE_HEAD);
}

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

/** The messages whose payload is a file_id alone (u32). */
function fileIdOnly(message: Message): message is Message & { fileId: number } {
  const { type } = message;
  return type === PacketType.FILE_OK || type === PacketType.FILE_READY || type === PacketType.FILE_SAME || type === PacketType.FILE_WANT;
}

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
  if (message.type === PacketType.FILE_INLINE) length = INLINE_HEAD + message.path.length + message.data.length;
  else if (message.type === PacketType.FILE_INFO) length = FILE_INFO_HEAD + message.path.length;
  else if (message.type === PacketType.FILE_WHOLE) length = FILE_WHOLE_HEAD + message.data.length;
  else if (fileIdOnly(message)) length = FILE_OK_LENGTH;
  else for (const field of layoutOf(message)) length += fieldLength(field, valueOf(message, field.name));
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
  if (message.type === PacketType.FILE_INLINE && inlineFits(message)) return writeFileInline(message, buf, pos);
  if (message.type === PacketType.FILE_INFO && fileInfoFits(message)) return writeFileInfo(message, buf, pos);
  if (message.type === PacketType.FILE_WHOLE && fileWholeFits(message)) return writeFileWhole(message, buf, pos);
  // FILE_OK, the answer to every small file, and the others of one u32: checked as the layout checks it.
  if (fileIdOnly(message) && isU32(message.fileId)) return buf.writeUInt32BE(message.fileId, pos);
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
