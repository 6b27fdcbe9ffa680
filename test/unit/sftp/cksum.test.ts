/**
 * The CRC SFTP copies compare with the remote host's `cksum`: the same number as coreutils' cksum
 * prints for the same bytes, however they are fed (the eight-byte steps and the single bytes
 * after them, and the length's bytes, meet at every boundary).
 */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { CKSUM, localHash } from '../../../src/sftp/cksum';

/** What this machine's cksum prints first for `bytes`. */
const cksum = (bytes: Uint8Array): string => execFileSync('cksum', { input: bytes }).toString().split(' ')[0]!;

function crc(pieces: Uint8Array[]): string {
  const hash = localHash(CKSUM);
  for (const piece of pieces) hash.update(piece);
  return hash.digest('hex');
}

describe('cksum CRC', () => {
  test('the empty input and known values', () => {
    expect(crc([])).toBe('4294967295');
    expect(crc([Buffer.from('123456789')])).toBe('930766865');
  });

  test("cksum's number for any bytes fed in any pieces", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }), (pieces) => {
        expect(crc(pieces)).toBe(cksum(Buffer.concat(pieces)));
      }),
      { numRuns: 40 },
    );
  });

  test('lengths of three bytes and more', () => {
    const bytes = Buffer.alloc(70_001);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131) & 0xff;
    expect(crc([bytes.subarray(0, 65_537), bytes.subarray(65_537)])).toBe(cksum(bytes));
  });
});
