/** FileDigest (PROTOCOL.md §8): order independence, refusals, and values computed independently. */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { FcpError } from '../../../src/errors';
import { MIN_CHUNK_SIZE } from '../../../src/protocol/constants';
import { chunkCount, FileDigest, singleChunkDigest } from '../../../src/session/digest';
import { numRuns } from '../protocol/fuzzRuns';

/** The §8 formula written out directly, as the spec states it. */
function referenceDigest(size: number, chunkSize: number, hashes: readonly bigint[]): Buffer {
  const sha = createHash('sha256').update('fcp1 digest', 'latin1');
  const header = Buffer.alloc(12);
  header.writeBigUInt64BE(BigInt(size), 0);
  header.writeUInt32BE(chunkSize, 8);
  sha.update(header);
  for (const hash of hashes) {
    const word = Buffer.alloc(8);
    word.writeBigUInt64BE(hash);
    sha.update(word);
  }
  return sha.digest().subarray(0, 16);
}

function expectFcpError(run: () => unknown, code: string): void {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(FcpError);
  expect((caught as FcpError).code).toBe(code);
}

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const chunkSize = fc.constantFrom(MIN_CHUNK_SIZE, 2 * MIN_CHUNK_SIZE, 1 << 20);

/** A file of 0..12 chunks, sizes at and next to chunk boundaries included, with its chunk hashes. */
const file = chunkSize.chain((cs) =>
  fc
    .tuple(fc.integer({ min: 0, max: 12 }), fc.oneof(fc.constantFrom(-1, 0, 1), fc.integer({ min: 1, max: cs - 1 })))
    .map(([chunks, extra]) => Math.max(0, chunks * cs + extra))
    .chain((size) =>
      fc.record({
        size: fc.constant(size),
        chunkSize: fc.constant(cs),
        hashes: fc.array(u64, { minLength: chunkCount(size, cs), maxLength: chunkCount(size, cs) }),
      }),
    ),
);

describe('chunkCount', () => {
  it('counts a short last chunk and no chunk for an empty file', () => {
    expect(chunkCount(0, MIN_CHUNK_SIZE)).toBe(0);
    expect(chunkCount(1, MIN_CHUNK_SIZE)).toBe(1);
    expect(chunkCount(MIN_CHUNK_SIZE, MIN_CHUNK_SIZE)).toBe(1);
    expect(chunkCount(MIN_CHUNK_SIZE + 1, MIN_CHUNK_SIZE)).toBe(2);
  });
});

describe('FileDigest', () => {
  it('matches values computed with Python hashlib', () => {
    // python3: hashlib.sha256(b'fcp1 digest' + struct.pack('>QI', 0, 1048576)).hexdigest()[:32]
    expect(new FileDigest(0, 1 << 20).digest().toString('hex')).toBe('9ce9daf97e7e756f5d27e00d19e20a27');
    // ... + struct.pack('>QI', 65537, 65536) + struct.pack('>QQ', 0x0123456789abcdef, 0xfedcba9876543210)
    const digest = new FileDigest(65537, 65536);
    digest.add(1, 0xfedcba9876543210n);
    digest.add(0, 0x0123456789abcdefn);
    expect(digest.digest().toString('hex')).toBe('aba20f78a8520e06af5a16e0712169e8');
  });

  it('gives the §8 digest whatever order the chunk hashes come in', () => {
    fc.assert(
      fc.property(
        file.chain((f) => fc.tuple(fc.constant(f), fc.shuffledSubarray([...f.hashes.keys()], { minLength: f.hashes.length }))),
        ([f, order]) => {
          const digest = new FileDigest(f.size, f.chunkSize);
          expect(digest.chunks).toBe(f.hashes.length);
          // What the digest says before and right after each add: not complete, not yet there, there.
          const seen = order.map((index) => {
            const before = { complete: digest.complete, has: digest.has(index) };
            digest.add(index, f.hashes[index]!);
            return [before, digest.has(index)];
          });
          expect(seen).toEqual(order.map(() => [{ complete: false, has: false }, true]));
          expect(digest.complete).toBe(true);
          const expected = referenceDigest(f.size, f.chunkSize, f.hashes);
          expect(digest.digest()).toEqual(expected);
          expect(digest.digest()).toEqual(expected); // asking twice gives the same bytes
        },
      ),
      { numRuns: numRuns(200) },
    );
  });

  it('tells different chunk hashes, sizes and chunk sizes apart', () => {
    const base = referenceDigest(65537, 65536, [1n, 2n]);
    const of = (size: number, cs: number, hashes: bigint[]) => {
      const digest = new FileDigest(size, cs);
      hashes.forEach((hash, i) => digest.add(i, hash));
      return digest.digest();
    };
    expect(of(65537, 65536, [1n, 2n])).toEqual(base);
    expect(of(65537, 65536, [2n, 1n])).not.toEqual(base);
    expect(of(65538, 65536, [1n, 2n])).not.toEqual(base);
    expect(of(65537, 65535, [1n, 2n])).not.toEqual(base);
  });

  it('refuses a duplicate chunk, in order or early, with FCP_ERR_PROTOCOL', () => {
    fc.assert(
      fc.property(file.filter((f) => f.hashes.length > 0), fc.nat(), fc.boolean(), (f, pick, completeFirst) => {
        const digest = new FileDigest(f.size, f.chunkSize);
        const index = pick % f.hashes.length;
        if (completeFirst) f.hashes.forEach((hash, i) => digest.add(i, hash));
        else digest.add(index, f.hashes[index]!);
        expectFcpError(() => digest.add(index, 0n), 'FCP_ERR_PROTOCOL');
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('refuses an index outside the file with FCP_ERR_PROTOCOL', () => {
    fc.assert(
      fc.property(file, fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 0, max: 1000 }), fc.double({ noInteger: true })), (f, offset) => {
        const index = Number.isInteger(offset) && offset >= 0 ? f.hashes.length + offset : offset;
        expectFcpError(() => new FileDigest(f.size, f.chunkSize).add(index, 0n), 'FCP_ERR_PROTOCOL');
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('refuses to give a digest before every chunk hash is in', () => {
    const digest = new FileDigest(3 * 65536, 65536);
    digest.add(0, 1n);
    digest.add(2, 3n);
    expect(digest.complete).toBe(false);
    expectFcpError(() => digest.digest(), 'FCP_ERR_INTERNAL');
    digest.add(1, 2n);
    expect(digest.digest()).toEqual(referenceDigest(3 * 65536, 65536, [1n, 2n, 3n]));
  });
});

describe('singleChunkDigest', () => {
  it('is the §8 digest of a file of no chunk or one chunk', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * MIN_CHUNK_SIZE }), u64, (size, hash) => {
        const chunkSize = 4 * MIN_CHUNK_SIZE;
        expect(singleChunkDigest(size, chunkSize, hash)).toEqual(referenceDigest(size, chunkSize, size === 0 ? [] : [hash]));
      }),
      { numRuns: numRuns(200) },
    );
  });

  it('refuses a file of more than one chunk', () => {
    expect(() => singleChunkDigest(MIN_CHUNK_SIZE + 1, MIN_CHUNK_SIZE, 1n)).toThrow(FcpError);
  });
});
