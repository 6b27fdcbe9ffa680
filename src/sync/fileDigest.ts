/**
 * --checksum: the whole-file digest of PROTOCOL.md §8 of a file on this machine, read chunk by
 * chunk off the main thread, a few files at a time: the sender digests what it announces, the
 * receiver what its destination holds, both while the other side does the same.
 */
import { promises as fsp } from 'node:fs';
import { FcpError } from '../errors';
import { chunkHash, XXHashAPI } from '../protocol/xxhash';
import { FileDigest } from '../session/digest';
import { fsError } from '../transfer/fsError';
import { showName } from '../showName';

/** Files digested at once on one side: the thread pool's size, each holding one chunk buffer. */
export const DIGESTS_AT_ONCE = 4;

/** The digest of the first `size` bytes of `path` in chunks of `chunkSize`; a shorter file is FCP_ERR_SOURCE_CHANGED. */
export async function digestOfFile(xxh: XXHashAPI, path: Buffer, size: number, chunkSize: number): Promise<Buffer> {
  const digest = new FileDigest(size, chunkSize);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, 'r');
    const buffer = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(size, 1)));
    for (let index = 0; index < digest.chunks; index++) {
      const offset = index * chunkSize;
      const length = Math.min(chunkSize, size - offset);
      for (let filled = 0; filled < length; ) {
        const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
        if (bytesRead === 0) throw new FcpError('FCP_ERR_SOURCE_CHANGED', `${showName(path)} is shorter than ${size} bytes`);
        filled += bytesRead;
      }
      digest.add(index, chunkHash(xxh, [buffer.subarray(0, length)]));
    }
    return digest.digest();
  } catch (err) {
    throw fsError(err, 'digest', path);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Runs at most `limit` jobs at a time, in the order they were queued. */
export class JobLimiter {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.running++;
        job().then(resolve, reject).finally(() => {
          this.running--;
          this.queue.shift()?.();
        });
      };
      if (this.running < this.limit) start();
      else this.queue.push(start);
    });
  }
}
