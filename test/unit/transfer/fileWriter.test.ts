/** FileWriter: a file discarded while its writes are in flight is gone once discarded() resolves (kept, with its journal, when asked). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chunkHash, loadXxhash } from '../../../src/protocol/xxhash';
import { FileWriter, ResumeRequest, SYNC_WRITE_MAX } from '../../../src/transfer/fileWriter';
import { journaledBytes } from '../../integration/helpers/interrupt';

/** A file that starts over (no partial state of an earlier run is used). */
const fresh = (size: number, chunkSize: number): ResumeRequest => ({ header: { size, mtimeNs: 0n, chunkSize }, reuse: false });

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-writer-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('discarded() waits for the writes in flight of a discarded file, then its temporary is removed', async () => {
  const xxh = await loadXxhash();
  let closed = 0;
  const writer = new FileWriter(xxh, () => closed++);
  const chunks = 8;
  const size = chunks * 4 * SYNC_WRITE_MAX;
  writer.createFile(0, Buffer.from(path.join(dir, 'big')), size, 0o644, true, fresh(size, 4 * SYNC_WRITE_MAX));
  const chunk = Buffer.alloc(4 * SYNC_WRITE_MAX, 7);
  const hash = chunkHash(xxh, [chunk]);
  const written: boolean[] = [];
  for (let i = 0; i < chunks; i++) writer.writeChunk(0, i, i * chunk.length, [chunk], hash, (error, result) => written.push(!error && result.ok));
  // Larger than SYNC_WRITE_MAX: the writes are in libuv's thread pool now. Beside it: its journal and lock.
  expect(fs.readdirSync(dir).sort()).toEqual(['.big.fcp-part', '.big.fcp-part.journal', '.big.fcp-part.lock']);
  writer.discardFile(0);
  await writer.discarded();
  expect(written).toEqual(new Array(chunks).fill(true));
  expect(fs.readdirSync(dir)).toEqual([]);
  expect(closed).toBe(1);
});

test('discarded() resolves at once when nothing is in flight', async () => {
  const writer = new FileWriter(await loadXxhash(), () => undefined);
  writer.createFile(0, Buffer.from(path.join(dir, 'f')), 10, 0o644, false, fresh(10, 65536));
  writer.discardFile(0);
  await writer.discarded();
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a file discarded with keep (no space) keeps its part file and a journal of every chunk that landed, even those in flight at the discard', async () => {
  const xxh = await loadXxhash();
  const writer = new FileWriter(xxh, () => undefined);
  const chunks = 4;
  const chunkSize = 4 * SYNC_WRITE_MAX;
  const size = chunks * chunkSize;
  writer.createFile(0, Buffer.from(path.join(dir, 'big')), size, 0o644, true, fresh(size, chunkSize));
  const chunk = Buffer.alloc(chunkSize, 9);
  const hash = chunkHash(xxh, [chunk]);
  for (let i = 0; i < chunks; i++) writer.writeChunk(0, i, i * chunkSize, [chunk], hash, () => undefined);
  writer.discardFile(0, true);
  await writer.discarded();
  expect(fs.readdirSync(dir).sort()).toEqual(['.big.fcp-part', '.big.fcp-part.journal']);
  expect(journaledBytes(xxh, path.join(dir, '.big.fcp-part.journal'), size, chunkSize)).toBe(size);
});

test('a chunk cut short by a partial write when its file fails (a full disk) is not journaled: its tail never landed', async () => {
  const xxh = await loadXxhash();
  // The disk takes half of the first write, and answers only once the file has failed.
  let answer: (() => void) | undefined;
  const halfWrite = (fd: number, buffers: Buffer[], position: number, then: (err: Error | null, written: number) => void): void => {
    const half = Buffer.concat(buffers).subarray(0, buffers.reduce((sum, b) => sum + b.length, 0) / 2);
    answer = () => then(null, fs.writeSync(fd, half, 0, half.length, position));
  };
  const writer = new FileWriter(xxh, () => undefined, { poolWrite: halfWrite });
  const chunkSize = 4 * SYNC_WRITE_MAX;
  writer.createFile(0, Buffer.from(path.join(dir, 'big')), 2 * chunkSize, 0o644, true, fresh(2 * chunkSize, chunkSize));
  const chunk = Buffer.alloc(chunkSize, 5);
  let outcome: string | undefined;
  writer.writeChunk(0, 0, 0, [chunk], chunkHash(xxh, [chunk]), (error) => (outcome = error?.code ?? 'ok'));
  writer.discardFile(0, true);
  answer!();
  await writer.discarded();
  expect(outcome).toBe('FCP_ERR_IO');
  expect(journaledBytes(xxh, path.join(dir, '.big.fcp-part.journal'), 2 * chunkSize, chunkSize)).toBe(0);
});
