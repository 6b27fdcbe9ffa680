/**
 * FileWriter's write deadline: a chunk write that never completes (a hung disk or mount) fails
 * with FCP_ERR_TIMEOUT instead of waiting for ever; a slow one that completes in time is fine.
 * The thread-pool write is the injected seam: no file system can be told to hang.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FcpError } from '../../../src/errors';
import { chunkHash, loadXxhash } from '../../../src/protocol/xxhash';
import { FileWriter, SYNC_WRITE_MAX, WriteStep } from '../../../src/transfer/fileWriter';

const WRITE_TIMEOUT_MS = 200;
const chunk = [Buffer.alloc(SYNC_WRITE_MAX + 1, 0x61)];

async function writeOneChunk(poolWrite: WriteStep): Promise<{ error: FcpError | undefined; ok: boolean; dir: string }> {
  const xxh = await loadXxhash();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-writer-'));
  const writer = new FileWriter(xxh, () => undefined, { writeTimeoutMs: WRITE_TIMEOUT_MS, poolWrite });
  const size = chunk[0]!.length;
  writer.createFile(1, Buffer.from(path.join(dir, 'f')), size, 0o644, { header: { size, mtimeNs: 0n, chunkSize: 1 << 20 }, reuse: false });
  return new Promise((resolve) =>
    writer.writeChunk(1, 0, 0, chunk, chunkHash(xxh, chunk), (error, result) => {
      writer.discardFile(1);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ error, ok: result.ok, dir });
    }),
  );
}

test('a write that never completes: FCP_ERR_TIMEOUT naming the file', async () => {
  const { error, dir } = await writeOneChunk(() => undefined);
  expect(error?.code).toBe('FCP_ERR_TIMEOUT');
  expect(error?.message).toBe(`a write to ${path.join(dir, 'f')} did not complete within 0.2 s`);
});

test('a slow write that completes within the deadline succeeds', async () => {
  const slow: WriteStep = (fd, buffers, position, then) => setTimeout(() => fs.writev(fd, buffers, position, then), WRITE_TIMEOUT_MS / 4);
  const { error, ok } = await writeOneChunk(slow);
  expect({ error, ok }).toEqual({ error: undefined, ok: true });
});
