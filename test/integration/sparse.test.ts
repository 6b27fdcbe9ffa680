/**
 * Sparse files (feature SPARSE, PROTOCOL.md §7.3) in local copies, both in one process and through
 * a local fcpd: a source with holes arrives identical and still sparse (its holes travel as HOLE
 * and are not written), a dense file full of zeros stays dense (only sources with holes are
 * scanned, as cp --sparse=auto), and a part file an interrupted run left is resumed into the
 * right bytes even where it holds bytes over what is a hole in the source.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadXxhash, XXHashAPI } from '../../src/protocol/xxhash';
import { encodeHeader, encodeRecord, headerCheck } from '../../src/state/chunkJournal';
import { sha256File } from './helpers/compare';
import { testBothLocalPaths } from './helpers/localPaths';
import { killAll } from './helpers/run';
import { allocated, Extent, makeSparse, sparseCopyLimit } from './helpers/sparseFiles';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(90_000);
const temp = useTempDirs();
afterAll(killAll);

const MiB = 1024 * 1024;
const CHUNK = 256 * 1024;
const SHAPE = ['--chunk-size', '256K', '-n', '2'];

let xxh: XXHashAPI;
beforeAll(async () => {
  xxh = await loadXxhash();
});

interface Summary { bytes: number; bytesSent: number; bytesResumed: number; files: number; filesFailed: number }

function summaryOf(stdout: string): Summary {
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string });
  return lines.find((line) => line.event === 'summary') as unknown as Summary;
}

/** Extents of a file mixing data and holes: at its start, mid-chunk, across a chunk boundary, a lone byte, at its very end. */
function mixedExtents(size: number): Extent[] {
  return [
    [0, randomBytes(100_000)],
    [3 * MiB + 12_345, randomBytes(4)],
    [5 * CHUNK - 20_000, randomBytes(40_000)],
    [20 * MiB + 1, Buffer.from([7])],
    [size - 3000, randomBytes(3000)],
  ];
}

testBothLocalPaths('a file with holes arrives identical and as sparse as its source', async (run) => {
  const work = temp.make('fcp-sparse');
  const source = path.join(work, 'holes.img');
  const size = 64 * MiB + 777;
  const extents = mixedExtents(size);
  makeSparse(source, size, extents);
  const lone = path.join(work, 'lone.img');
  makeSparse(lone, 256 * MiB, [[100_000_000, Buffer.from('abcd')]]);
  const dest = path.join(work, 'dest');
  fs.mkdirSync(dest);

  const result = await run(['--json', ...SHAPE, source, lone, dest]);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(summaryOf(result.stdout)).toMatchObject({ files: 2, filesFailed: 0, bytes: size + 256 * MiB });
  for (const [file, count] of [[source, extents.length], [lone, 1]] as const) {
    const copy = path.join(dest, path.basename(file));
    expect(fs.statSync(copy).size).toBe(fs.statSync(file).size);
    expect(sha256File(copy)).toBe(sha256File(file));
    expect(allocated(copy)).toBeLessThanOrEqual(sparseCopyLimit(file, count));
  }
});

testBothLocalPaths('a dense file of zeros stays dense: only files with holes are scanned', async (run) => {
  const work = temp.make('fcp-dense');
  const source = path.join(work, 'zeros.bin');
  fs.writeFileSync(source, Buffer.concat([Buffer.alloc(3 * MiB), randomBytes(1000), Buffer.alloc(MiB)]));
  const copy = path.join(work, 'copy.bin');
  const result = await run([...SHAPE, source, copy]);
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(sha256File(copy)).toBe(sha256File(source));
  expect(allocated(copy)).toBeGreaterThanOrEqual(fs.statSync(source).size);
});

testBothLocalPaths('a sparse file resumes into the right bytes, bytes over its holes in the part file included', async (run) => {
  const work = temp.make('fcp-sparse-resume');
  const src = path.join(work, 'src');
  const dest = path.join(work, 'dst', 'src');
  fs.mkdirSync(src);
  fs.mkdirSync(dest, { recursive: true });
  const size = 24 * CHUNK + 1234;
  const source = path.join(src, 'big');
  const extents: Extent[] = [[CHUNK + 5, randomBytes(9000)], [10 * CHUNK, randomBytes(CHUNK)], [20 * CHUNK + 100, randomBytes(50)]];
  makeSparse(source, size, extents);
  const data = fs.readFileSync(source);

  // The state a run interrupted halfway leaves: chunks 0..11 written and recorded, and chunk 15
  // (a hole in the source) written but never recorded, so the part file holds other bytes there.
  const held = [...Array(12).keys()];
  const part = path.join(dest, '.big.fcp-part');
  makeSparse(part, size, [...extents.filter(([offset]) => offset < 12 * CHUNK), [15 * CHUNK + 4096, randomBytes(20_000)]]);
  const header = encodeHeader(xxh, { size, mtimeNs: fs.statSync(source, { bigint: true }).mtimeNs, chunkSize: CHUNK });
  const records = held.map((index) => encodeRecord(xxh, headerCheck(header), index, xxh.h64Raw(data.subarray(index * CHUNK, (index + 1) * CHUNK), 0n)));
  fs.writeFileSync(`${part}.journal`, Buffer.concat([header, ...records]));

  const result = await run(['--json', '-r', ...SHAPE, 'src', 'dst'], { cwd: work });
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(summaryOf(result.stdout)).toMatchObject({ files: 1, filesFailed: 0, bytesResumed: 12 * CHUNK });
  const copy = path.join(dest, 'big');
  expect(sha256File(copy)).toBe(sha256File(source));
  expect(fs.readdirSync(dest)).toEqual(['big']);
  // Zeros were written over the HOLE that held stale bytes (chunk 15, one HOLE) only: the rest of the copy is still holes.
  expect(allocated(copy)).toBeLessThanOrEqual(sparseCopyLimit(source, extents.length) + CHUNK);
});
