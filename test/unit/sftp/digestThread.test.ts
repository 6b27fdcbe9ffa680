/**
 * The digest thread hashes what it is lent, in order, per file: its digests are Node's (or, for
 * CKSUM, cksum.ts's) of the same bytes, however the files' chunks interleave, and a small file's
 * hash taken on the calling thread is the same; it takes only chunks that start an ArrayBuffer of
 * their own, and gives each one's memory back as it was.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CKSUM, localHash } from '../../../src/sftp/cksum';
import { DigestThread, ON_THREAD_MAX_BYTES } from '../../../src/sftp/digestThread';

/** A file size hashed on the thread, and one hashed on the calling thread. */
const LARGE = ON_THREAD_MAX_BYTES + 1;
const SMALL = ON_THREAD_MAX_BYTES;

/** `bytes` in a chunk of memory of its own, as the mover's are, with room to spare. */
function lent(bytes: Uint8Array): Buffer {
  const chunk = Buffer.from(new ArrayBuffer(bytes.length + 16), 0, bytes.length);
  chunk.set(bytes);
  return chunk;
}

/** cksum's CRC of `text`, taken by cksum.ts directly. */
function hashOf(text: string): string {
  const hash = localHash(CKSUM);
  hash.update(Buffer.from(text));
  return hash.digest('hex');
}

let thread: DigestThread;
beforeEach(() => (thread = new DigestThread()));
afterEach(() => thread.close());

describe('DigestThread', () => {
  it("gives Node's digest of each file's chunks, fed interleaved, on the thread or here", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 5 }), { minLength: 1, maxLength: 4 }), fc.constantFrom(CKSUM, 'blake2b512', 'sha256', 'md5'), fc.array(fc.constantFrom(SMALL, LARGE), { minLength: 4, maxLength: 4 }), async (files, algorithm, sizes) => {
        const hashes = files.map((_, file) => thread.open(algorithm, sizes[file]!));
        const fed: Promise<unknown>[] = [];
        for (let round = 0; round < 5; round++) files.forEach((chunks, file) => chunks[round] && fed.push(hashes[file]!.update(lent(chunks[round]!))));
        await Promise.all(fed);
        const digests = await Promise.all(hashes.map((hash) => hash.digest()));
        expect(digests).toEqual(
          files.map((chunks) => {
            const hash = localHash(algorithm);
            for (const chunk of chunks) hash.update(chunk);
            return hash.digest('hex');
          }),
        );
      }),
      { numRuns: 20 },
    );
  });

  it('moves a chunk to the thread and gives its memory back unchanged', async () => {
    const hash = thread.open('sha256', LARGE);
    const chunk = lent(Buffer.from('moved, not copied'));
    const memory = await hash.update(chunk);
    expect(chunk.length).toBe(0);
    expect(memory.byteLength).toBe(17 + 16);
    expect(Buffer.from(memory, 0, 17).toString()).toBe('moved, not copied');
    await expect(hash.digest()).resolves.toBe(createHash('sha256').update('moved, not copied').digest('hex'));
  });

  it("hashes a small file's chunk here and gives its memory back unchanged, without the thread", async () => {
    thread.close();
    const hash = thread.open(CKSUM, SMALL);
    const chunk = lent(Buffer.from('hashed here'));
    const memory = await hash.update(chunk);
    expect(memory).toBe(chunk.buffer);
    expect(Buffer.from(memory, 0, 11).toString()).toBe('hashed here');
    await expect(hash.digest()).resolves.toBe(hashOf('hashed here'));
  });

  it('takes only chunks that start memory of their own', () => {
    const hash = thread.open('sha256', LARGE);
    expect(() => hash.update(lent(Buffer.from('a slice')).subarray(1))).toThrow(TypeError);
    const shared = Buffer.from(new SharedArrayBuffer(8));
    expect(() => hash.update(shared)).toThrow(TypeError);
  });

  it('fails what waits once it is closed, and what is asked after', async () => {
    const hash = thread.open('sha256', LARGE);
    const digest = hash.digest();
    thread.close();
    await expect(digest).rejects.toMatchObject({ code: 'FCP_ERR_INTERNAL' });
    await expect(thread.open('sha256', LARGE).digest()).rejects.toMatchObject({ code: 'FCP_ERR_INTERNAL' });
  });
});
