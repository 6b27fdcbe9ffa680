import { SignedBlock } from '../../../src/delta/blocks';
import { SignatureIndex } from '../../../src/delta/signatureIndex';

describe('SignatureIndex', () => {
  it('finds the first block of each length and hash, with offsets, as the signature grows', () => {
    const signature: SignedBlock[] = [
      { length: 10, hash: 1n },
      { length: 20, hash: 2n },
    ];
    const index = new SignatureIndex(signature);
    signature.push({ length: 10, hash: 1n }, { length: 30, hash: 1n });
    expect(index.find(30, 1n)).toBe(-1);
    index.catchUp(signature);
    expect(index.find(10, 1n)).toBe(0);
    expect(index.find(20, 2n)).toBe(1);
    expect(index.find(30, 1n)).toBe(3);
    expect(index.find(20, 1n)).toBe(-1);
    expect(index.blocks.map((block) => block.offset)).toEqual([0, 10, 30, 40]);
  });

  it('finds each length of one hash sent at many lengths', () => {
    // A hostile peer's signature: every block the same xxh64, each of its own length (looked up by length, not scanned).
    const signature = Array.from({ length: 200_000 }, (_, i) => ({ length: i + 1, hash: 7n }));
    const index = new SignatureIndex(signature);
    expect(index.find(200_000, 7n)).toBe(199_999);
    expect(index.find(1, 7n)).toBe(0);
  });
});
