/**
 * The whole-file digest of PROTOCOL.md §8, computed independently of src/session/digest.ts so
 * that the digests fcp reports (--json) are checked against the specification:
 *   SHA-256("fcp1 digest" ‖ size u64 ‖ chunk_size u32 ‖ xxh64(chunk_0) ‖ ... ‖ xxh64(chunk_k))[0..16]
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { PathLike } from './tree';

interface Hasher64 {
  update(data: Uint8Array): Hasher64;
  digest(): bigint;
}
interface XXHash {
  create64(seed?: bigint): Hasher64;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const loadXxhash = require('xxhash-wasm') as () => Promise<XXHash>;
let xxh: Promise<XXHash> | undefined;

export async function specDigest(file: PathLike, chunkSize = 1024 * 1024): Promise<string> {
  const api = await (xxh ??= loadXxhash());
  const size = fs.statSync(file).size;
  const head = Buffer.alloc(12);
  head.writeBigUInt64BE(BigInt(size), 0);
  head.writeUInt32BE(chunkSize, 8);
  const sha = createHash('sha256').update('fcp1 digest').update(head);
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (let offset = 0; offset < size; offset += chunkSize) {
      const length = Math.min(chunkSize, size - offset);
      let got = 0;
      while (got < length) got += fs.readSync(fd, buf, got, length - got, offset + got);
      const hash = Buffer.alloc(8);
      hash.writeBigUInt64BE(api.create64(0n).update(buf.subarray(0, length)).digest());
      sha.update(hash);
    }
  } finally {
    fs.closeSync(fd);
  }
  return sha.digest().subarray(0, 16).toString('hex');
}
