/**
 * The whole-file digest of PROTOCOL.md §8, built from chunk hashes as chunks are verified:
 *
 *   SHA-256("fcp1 digest" ‖ size u64 ‖ chunk_size u32 ‖ hash_0 ‖ ... ‖ hash_k)[0..16]
 *
 * Chunks are verified in whatever order the data connections deliver them, so a hash that comes
 * before its turn waits in a map until the hashes before it are in. Memory therefore follows how
 * far out of order chunks arrive, not the size of the file.
 */
import { createHash, Hash, hash } from 'node:crypto';
import { FcpError } from '../errors';
import { DIGEST_SIZE, HASH_SIZE } from '../protocol/constants';

const DIGEST_LABEL = Buffer.from('fcp1 digest', 'latin1');
/**
 * Scratch for what SHA-256 is fed: update() copies its input at once, so one buffer serves every
 * digest (ten thousand small files would otherwise allocate two buffers each).
 */
const scratch = Buffer.allocUnsafe(8 + 4);

/** singleChunkDigest's input for an empty file and for one of one chunk, labelled: each is hashed before it is written again. */
const digestInputs = [0, 1].map((chunks) => {
  const input = Buffer.allocUnsafe(DIGEST_LABEL.length + scratch.length + chunks * HASH_SIZE);
  DIGEST_LABEL.copy(input);
  return input;
});

/** Number of chunks of a file: the last one may be shorter, an empty file has none. */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize);
}

export class FileDigest {
  readonly chunks: number;
  /**
   * Made when the first chunk hash comes: a receiver holds one per announced file, and a file the
   * quick check finds in place (FILE_SAME) never needs it; a SHA-256 context costs microseconds and
   * a native object each.
   */
  private sha: Hash | undefined;
  /** Index of the next chunk hash SHA-256 takes. */
  private next = 0;
  /** Hashes of chunks after `next` that arrived early (made when the first one does). */
  private early: Map<number, bigint> | undefined;
  private result: Buffer | undefined;

  constructor(
    private readonly size: number,
    private readonly chunkSize: number,
  ) {
    this.chunks = chunkCount(size, chunkSize);
  }

  /** Whether the hash of chunk `index` was added. */
  has(index: number): boolean {
    return index < this.next || this.early?.has(index) === true;
  }

  add(index: number, hash: bigint): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.chunks) {
      throw new FcpError('FCP_ERR_PROTOCOL', `chunk ${index} is outside a file of ${this.chunks} chunks`);
    }
    if (this.has(index)) throw new FcpError('FCP_ERR_PROTOCOL', `chunk ${index} was hashed twice`);
    if (this.chunks === 1) {
      // A file of one chunk (announced with FILE_INFO: over 16 KiB, up to the chunk size): one call, no SHA-256 context.
      this.result = singleChunkDigest(this.size, this.chunkSize, hash);
      this.next = 1;
      return;
    }
    if (index !== this.next) {
      (this.early ??= new Map()).set(index, hash);
      return;
    }
    this.feed(hash);
    const early = this.early;
    if (!early) return;
    for (let waiting = early.get(this.next); waiting !== undefined; waiting = early.get(this.next)) {
      early.delete(this.next);
      this.feed(waiting);
    }
  }

  /** Every chunk hash is in. */
  get complete(): boolean {
    return this.next === this.chunks;
  }

  /** The 16-byte digest; only once complete. */
  digest(): Buffer {
    if (!this.complete) {
      throw new FcpError(
        'FCP_ERR_INTERNAL',
        `file digest asked for with ${this.chunks - this.next} of ${this.chunks} chunk hashes missing`,
      );
    }
    this.result ??= this.started().digest().subarray(0, DIGEST_SIZE);
    return this.result;
  }

  private feed(hash: bigint): void {
    const sha = this.started();
    scratch.writeBigUInt64BE(hash);
    sha.update(scratch.subarray(0, HASH_SIZE));
    this.next++;
  }

  /** SHA-256 fed the label, the size and the chunk size. */
  private started(): Hash {
    if (this.sha) return this.sha;
    scratch.writeBigUInt64BE(BigInt(this.size), 0);
    scratch.writeUInt32BE(this.chunkSize, 8);
    this.sha = createHash('sha256').update(DIGEST_LABEL).update(scratch);
    return this.sha;
  }
}

/**
 * The digest of a file of at most one chunk (FILE_INLINE) whose bytes hash to `hash`: what
 * FileDigest works out, its input hashed in one call (a file event of each small file reads it:
 * a SHA-256 context fed three times cost 3-8 µs a file, one call a tenth of that).
 */
export function singleChunkDigest(size: number, chunkSize: number, hash: bigint): Buffer {
  const chunks = chunkCount(size, chunkSize);
  if (chunks > 1) throw new FcpError('FCP_ERR_INTERNAL', `a file of ${size} bytes is more than one chunk of ${chunkSize}`);
  const input = digestInputs[chunks]!;
  let at = input.writeBigUInt64BE(BigInt(size), DIGEST_LABEL.length);
  at = input.writeUInt32BE(chunkSize, at);
  if (chunks === 1) input.writeBigUInt64BE(hash, at);
  return sha256(input).subarray(0, DIGEST_SIZE);
}

/** SHA-256 of `input` in one call: crypto.hash where Node has it (20.12 on), else a context. */
const sha256: (input: Buffer) => Buffer =
  typeof hash === 'function' ? (input) => hash('sha256', input, 'buffer') as unknown as Buffer : (input) => createHash('sha256').update(input).digest();
