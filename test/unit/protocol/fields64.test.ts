/** writeField's 64-bit kinds, written without BigInt arithmetic: the bytes of Buffer's own writers, for any value in range. */
import fc from 'fast-check';
import { writeField } from '../../../src/protocol/fields';
import type { Field } from '../../../src/protocol/layouts';

const field = (kind: Field['kind']): Field => ({ name: 'value', kind }) as Field;

function written(kind: Field['kind'], value: number | bigint): Buffer {
  const buf = Buffer.alloc(10, 0xee);
  expect(writeField('TEST', field(kind), value, buf, 1)).toBe(9);
  return buf;
}

function expected(write: (buf: Buffer) => void): Buffer {
  const buf = Buffer.alloc(10, 0xee);
  write(buf);
  return buf;
}

test('u64: the bytes of writeBigUInt64BE, the ends of the range included', () => {
  const ends = [0n, 1n, (1n << 32n) - 1n, 1n << 32n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n];
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...ends), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })), (value) => {
      expect(written('u64', value)).toEqual(expected((buf) => buf.writeBigUInt64BE(value, 1)));
    }),
  );
});

test('i64: the bytes of writeBigInt64BE, negative times and the ends included', () => {
  const ends = [-(1n << 63n), -1n, 0n, 1n, (1n << 63n) - 1n, -1_000_000_000n];
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...ends), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })), (value) => {
      expect(written('i64', value)).toEqual(expected((buf) => buf.writeBigInt64BE(value, 1)));
    }),
  );
});

test('u64num: the bytes of writeBigUInt64BE of the same number, up to Number.MAX_SAFE_INTEGER', () => {
  const ends = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
  fc.assert(
    fc.property(fc.oneof(fc.constantFrom(...ends), fc.maxSafeNat()), (value) => {
      expect(written('u64num', value)).toEqual(expected((buf) => buf.writeBigUInt64BE(BigInt(value), 1)));
    }),
  );
});

test('out of range is still refused before anything is written', () => {
  expect(() => written('u64', 1n << 64n)).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
  expect(() => written('i64', 1n << 63n)).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
  expect(() => written('u64num', Number.MAX_SAFE_INTEGER + 1)).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
  expect(() => written('u64num', -1)).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
});
