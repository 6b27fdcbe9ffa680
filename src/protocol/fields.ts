/**
 * Reading and writing one field of a payload layout. Both directions apply the same checks
 * (checkValue), so an encoder never emits what the decoder would refuse.
 */
import { FcpError } from '../errors';
import { HASH_SIZE, HELLO_MAGIC, MAX_ACCOUNT_NAME_BYTES, MAX_PATH_BYTES } from './constants';
import { Field, fixedWidth, PayloadBounds, VARIABLE_BOUNDS, variableBounds } from './layouts';
import { checkEntryPath, checkUserPath } from './paths';

const NUL = 0x00;
export const U64_MAX = (1n << 64n) - 1n;
export const I64_MIN = -(1n << 63n);
export const I64_MAX = (1n << 63n) - 1n;

/** The largest value of each unsigned integer kind (a field's own max may say less). */
const UINT_LIMITS: Partial<Record<Field['kind'], number>> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff, u64num: Number.MAX_SAFE_INTEGER };

export type FieldValue = number | bigint | Buffer | Buffer[] | string | undefined;

/**
 * 64-bit fields written without a BigInt made on the way: Buffer's writeBig(U)Int64BE splits the
 * value with `&` and `>>` (three BigInts each), and a u64num went through BigInt() first; a small
 * file's FILE_INLINE (its mtime and hash) made six of them, about 200 B of the 3.6 KB the
 * sender allocated a 16-100 B file (docs/BENCHMARKS.md "Per-file cost, sixth round"). A store into
 * a BigInt64Array takes the value's low 64 bits as they are (a u64 above 2^63 too).
 */
const scratch64 = new BigInt64Array(1);
const scratchU64 = new BigUint64Array(scratch64.buffer);
const scratchBytes = new Uint8Array(scratch64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 2 ** 32;

export function write64(value: bigint, buf: Buffer, pos: number): number {
  scratch64[0] = value;
  for (let i = 0; i < 8; i++) buf[pos + i] = scratchBytes[LITTLE_ENDIAN ? 7 - i : i]!;
  return pos + 8;
}

/**
 * The 8 bytes at pos, big-endian, as an i64 (`signed`) or a u64, read with one BigInt made: Buffer's
 * readBig(U)Int64BE join two halves with BigInt arithmetic (20-25 against 35-50 ns a field here).
 */
export function read64(buf: Buffer, pos: number, signed: boolean): bigint {
  for (let i = 0; i < 8; i++) scratchBytes[LITTLE_ENDIAN ? 7 - i : i] = buf[pos + i]!;
  return signed ? scratch64[0]! : scratchU64[0]!;
}

/** A whole number up to Number.MAX_SAFE_INTEGER (checked) as 8 bytes, big-endian. */
function write64Number(value: number, buf: Buffer, pos: number): number {
  buf.writeUInt32BE(Math.floor(value / TWO_32), pos);
  return buf.writeUInt32BE(value >>> 0, pos + 4);
}

function badField(typeName: string, field: Field, detail: string): FcpError {
  return new FcpError('FCP_ERR_BAD_FIELD', `${typeName}.${field.name} ${detail}`);
}

function checkByteLength(typeName: string, field: Field, length: number, bounds: PayloadBounds = variableBounds(field)): void {
  if (length < bounds.min || length > bounds.max) {
    throw new FcpError(
      'FCP_ERR_BAD_LENGTH',
      `${typeName}.${field.name} is ${length} bytes; allowed ${bounds.min}..${bounds.max}`,
    );
  }
}

/** Range and shape checks shared by reading and writing (per field of every message: nothing allocated on the way). */
function checkValue(typeName: string, field: Field, value: FieldValue): void {
  switch (field.kind) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'u64num': {
      const limit = UINT_LIMITS[field.kind]!;
      const max = Math.min(field.max ?? limit, limit);
      const min = field.min ?? 0;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw badField(typeName, field, `is ${String(value)}; allowed ${min}..${max}`);
      }
      return;
    }
    case 'u64':
    case 'i64': {
      const min = field.kind === 'u64' ? 0n : I64_MIN;
      const max = field.kind === 'u64' ? U64_MAX : I64_MAX;
      if (typeof value !== 'bigint' || value < min || value > max) {
        throw badField(typeName, field, `is ${String(value)}; allowed ${min}..${max}`);
      }
      return;
    }
    case 'fixed':
      if (!Buffer.isBuffer(value) || value.length !== field.size) {
        throw badField(typeName, field, `must be ${field.size} bytes`);
      }
      return;
    case 'accountName':
      // Only an encoder can meet a longer name: a u8 length cannot say more.
      if ((value as Buffer).length > MAX_ACCOUNT_NAME_BYTES) throw badField(typeName, field, `is ${(value as Buffer).length} bytes; at most ${MAX_ACCOUNT_NAME_BYTES}`);
      if ((value as Buffer).includes(NUL)) throw badField(typeName, field, 'holds a NUL byte');
      return;
    case 'entryPath':
    case 'entryPathPrefixed':
      checkByteLength(typeName, field, (value as Buffer).length, VARIABLE_BOUNDS.entryPath);
      checkEntryPath(value as Buffer);
      return;
    case 'userPath':
    case 'linkTarget':
      checkByteLength(typeName, field, (value as Buffer).length);
      checkUserPath(value as Buffer, `${typeName}.${field.name}`);
      return;
    case 'userPathList': {
      const paths = value as Buffer[];
      if (paths.length === 0) throw new FcpError('FCP_ERR_BAD_PATH', `${typeName} names no path`);
      for (const path of paths) {
        if (path.length > MAX_PATH_BYTES) {
          throw new FcpError('FCP_ERR_BAD_LENGTH', `${typeName}.${field.name} has a path of ${path.length} bytes; allowed 1..${MAX_PATH_BYTES}`);
        }
        checkUserPath(path, `${typeName} path`);
      }
      return;
    }
    case 'text':
      checkByteLength(typeName, field, Buffer.byteLength(value as string, 'utf8'));
      return;
    case 'data':
      checkByteLength(typeName, field, (value as Buffer).length);
      return;
    case 'nameSuffix':
      if (value === undefined) return;
      checkByteLength(typeName, field, (value as Buffer).length);
      if ((value as Buffer).includes(0x2f) || (value as Buffer).includes(NUL)) {
        throw new FcpError('FCP_ERR_BAD_PATH', `${typeName}.${field.name} holds a / or a NUL byte: it must be part of one name`);
      }
      return;
    case 'hashes':
      checkByteLength(typeName, field, (value as Buffer).length);
      if ((value as Buffer).length % HASH_SIZE !== 0) throw badField(typeName, field, `is ${(value as Buffer).length} bytes, not a whole number of ${HASH_SIZE}-byte hashes`);
      return;
    case 'magic':
    case 'extension':
      return;
    case 'optU32':
      if (value === undefined) return;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) throw badField(typeName, field, `is ${String(value)}; allowed 0..4294967295`);
      return;
  }
}

/** Bytes the field takes in a payload, for a value that passed checkValue. */
export function fieldLength(field: Field, value: FieldValue): number {
  const width = fixedWidth(field);
  if (width !== undefined) return width;
  switch (field.kind) {
    case 'entryPathPrefixed':
      return 2 + (value as Buffer).length;
    case 'accountName':
      return 1 + (value as Buffer).length;
    case 'userPathList':
      return (value as Buffer[]).reduce((sum, path) => sum + path.length + 1, -1);
    case 'text':
      return Buffer.byteLength(value as string, 'utf8');
    case 'extension':
      return 0;
    case 'optU32':
      return value === undefined ? 0 : 4;
    case 'nameSuffix':
      return value === undefined ? 0 : (value as Buffer).length;
    default:
      return (value as Buffer).length;
  }
}

/** Writes a checked field at pos; returns the position after it. */
export function writeField(typeName: string, field: Field, value: FieldValue, buf: Buffer, pos: number): number {
  checkValue(typeName, field, value);
  switch (field.kind) {
    case 'u8':
      return buf.writeUInt8(value as number, pos);
    case 'u16':
      return buf.writeUInt16BE(value as number, pos);
    case 'u32':
      return buf.writeUInt32BE(value as number, pos);
    case 'u64num':
      return write64Number(value as number, buf, pos);
    case 'u64':
    case 'i64':
      return write64(value as bigint, buf, pos);
    case 'magic':
      return pos + HELLO_MAGIC.copy(buf, pos);
    case 'extension':
      return pos;
    case 'optU32':
      return value === undefined ? pos : buf.writeUInt32BE(value as number, pos);
    case 'nameSuffix':
      return value === undefined ? pos : pos + (value as Buffer).copy(buf, pos);
    case 'text':
      return pos + buf.write(value as string, pos, 'utf8');
    case 'entryPathPrefixed': {
      const path = value as Buffer;
      pos = buf.writeUInt16BE(path.length, pos);
      return pos + path.copy(buf, pos);
    }
    case 'accountName': {
      const name = value as Buffer;
      pos = buf.writeUInt8(name.length, pos);
      return pos + name.copy(buf, pos);
    }
    case 'userPathList': {
      const paths = value as Buffer[];
      paths.forEach((path, i) => {
        if (i > 0) buf[pos++] = NUL;
        pos += path.copy(buf, pos);
      });
      return pos;
    }
    default:
      return pos + (value as Buffer).copy(buf, pos);
  }
}

/**
 * Reads the field at pos from payload[0..end); returns the value and the position after it.
 * Buffers returned are views into payload, not copies.
 */
export function readField(typeName: string, field: Field, payload: Buffer, pos: number): [FieldValue, number] {
  const width = fixedWidth(field);
  if (width !== undefined && pos + width > payload.length) {
    throw new FcpError(
      'FCP_ERR_BAD_LENGTH',
      `${typeName} payload is too short (${payload.length} bytes): ${field.name} needs ${width} bytes at offset ${pos}`,
    );
  }
  let value: FieldValue;
  let next = payload.length;
  switch (field.kind) {
    case 'u8':
      [value, next] = [payload.readUInt8(pos), pos + 1];
      break;
    case 'u16':
      [value, next] = [payload.readUInt16BE(pos), pos + 2];
      break;
    case 'u32':
      [value, next] = [payload.readUInt32BE(pos), pos + 4];
      break;
    case 'u64num': {
      const big = read64(payload, pos, false);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw badField(typeName, field, `is ${big}; too large`);
      [value, next] = [Number(big), pos + 8];
      break;
    }
    case 'u64':
      [value, next] = [read64(payload, pos, false), pos + 8];
      break;
    case 'i64':
      [value, next] = [read64(payload, pos, true), pos + 8];
      break;
    case 'fixed':
      [value, next] = [payload.subarray(pos, pos + width!), pos + width!];
      break;
    case 'magic':
      if (!payload.subarray(pos, pos + 4).equals(HELLO_MAGIC)) {
        throw new FcpError('FCP_ERR_PROTOCOL', 'peer is not an fcp endpoint (HELLO magic missing)');
      }
      return [undefined, pos + 4];
    case 'extension':
      return [undefined, payload.length];
    case 'optU32':
      // Absent rather than zero: a payload without it decodes as it did before the field existed.
      return payload.length - pos >= 4 ? [payload.readUInt32BE(pos), pos + 4] : [undefined, pos];
    case 'nameSuffix':
      // Absent rather than empty: a MODE without it decodes as it did before the field existed.
      if (pos === payload.length) return [undefined, pos];
      value = payload.subarray(pos);
      break;
    case 'entryPathPrefixed': {
      if (pos + 2 > payload.length) {
        throw new FcpError('FCP_ERR_BAD_LENGTH', `${typeName} payload is too short for ${field.name}'s length`);
      }
      const length = payload.readUInt16BE(pos);
      if (pos + 2 + length > payload.length) {
        throw new FcpError(
          'FCP_ERR_BAD_LENGTH',
          `${typeName}.${field.name} says ${length} bytes but the payload has ${payload.length - pos - 2} left`,
        );
      }
      [value, next] = [payload.subarray(pos + 2, pos + 2 + length), pos + 2 + length];
      break;
    }
    case 'accountName': {
      if (pos + 1 > payload.length) throw new FcpError('FCP_ERR_BAD_LENGTH', `${typeName} payload is too short for ${field.name}'s length`);
      const length = payload.readUInt8(pos);
      if (pos + 1 + length > payload.length) {
        throw new FcpError('FCP_ERR_BAD_LENGTH', `${typeName}.${field.name} says ${length} bytes but the payload has ${payload.length - pos - 1} left`);
      }
      [value, next] = [payload.subarray(pos + 1, pos + 1 + length), pos + 1 + length];
      break;
    }
    case 'userPathList': {
      const paths: Buffer[] = [];
      let start = pos;
      for (let i = pos; i <= payload.length; i++) {
        if (i === payload.length || payload[i] === NUL) {
          paths.push(payload.subarray(start, i));
          start = i + 1;
        }
      }
      value = paths;
      break;
    }
    case 'text':
      value = payload.toString('utf8', pos);
      checkByteLength(typeName, field, payload.length - pos);
      return [value, payload.length];
    default:
      value = payload.subarray(pos);
  }
  checkValue(typeName, field, value);
  return [value, next];
}
