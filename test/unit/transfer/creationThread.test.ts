/**
 * Small files made on the creation thread (src/transfer/creationThread.ts): each file handed over
 * is made with its bytes, mode and mtime and reported once, in order, across batches split by
 * count and by bytes; what cannot be made is reported with the step and the error (something at
 * the name already: EEXIST, the file left as it was); finish() waits for what is in flight; a
 * worker that does not answer within the timeout is a stall.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HANG_DISK_ENV } from '../../../src/diskWatch';
import type { FcpError } from '../../../src/errors';
import { INLINE_MAX } from '../../../src/protocol/constants';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { CREATION_THREAD_AFTER, CreationFailure, CreationThread, HANG_OPERATION } from '../../../src/transfer/creationThread';
import { FileWriter } from '../../../src/transfer/fileWriter';
import { pushInProcess } from './pushInProcess';

let dir: string;
let thread: CreationThread | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-creation-'));
});
afterEach(async () => {
  jest.restoreAllMocks();
  await thread?.finish(1000);
  thread = undefined;
  delete process.env[HANG_DISK_ENV];
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Reported {
  token: number;
  failure?: { operation: string; code?: string };
  final: string;
  bytes: number;
}

/** A thread whose reports are collected; resolves `all` once `expected` files are reported. */
function start(expected: number, timeoutMs = 60_000): { reported: Reported[]; all: Promise<void>; stalls: FcpError[] } {
  const reported: Reported[] = [];
  const stalls: FcpError[] = [];
  let done: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  thread = new CreationThread(
    (token, failure: CreationFailure | undefined, final, data) => {
      reported.push({ token, failure: failure && { operation: failure.operation, code: failure.error.code }, final: final.toString(), bytes: data.length });
      if (reported.length === expected) done();
    },
    (error) => stalls.push(error),
    timeoutMs,
  );
  return { reported, all, stalls };
}

const MTIME = 1_600_000_000.123456;

test('makes each file with its bytes, mode and mtime, and reports each once, in order, across batches', async () => {
  // 600 files of up to INLINE_MAX bytes: more than a batch's count and, at that size, its bytes.
  const count = 600;
  const { reported, all } = start(count);
  const sizes = Array.from({ length: count }, (_, i) => (i * 977) % (INLINE_MAX + 1));
  for (let i = 0; i < count; i++) {
    const mode = i % 2 ? 0o600 : 0o644;
    // The caller's buffers may be read again at once: the thread copies them.
    const data = Buffer.alloc(sizes[i]!, i % 251);
    const final = Buffer.from(path.join(dir, `f${i}`));
    thread!.create(final, data, mode, i % 3 ? mode : 0o640, MTIME + i, i);
    data.fill(0);
    final.fill(0);
  }
  expect(thread!.pending).toBe(count);
  await all;
  expect(reported.map((r) => r.token)).toEqual(Array.from({ length: count }, (_, i) => i));
  expect(reported.every((r) => r.failure === undefined)).toBe(true);
  expect(thread!.pending).toBe(0);
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `f${i}`);
    const stat = fs.statSync(file, { bigint: true });
    expect({ i, mode: Number(stat.mode & 0o777n), size: Number(stat.size), mtimeUs: stat.mtimeNs / 1000n }).toEqual({
      i,
      mode: i % 3 ? (i % 2 ? 0o600 : 0o644) : 0o640,
      size: sizes[i],
      mtimeUs: BigInt(Math.round((MTIME + i) * 1e6)),
    });
    expect(fs.readFileSync(file).equals(Buffer.alloc(sizes[i]!, i % 251))).toBe(true);
  }
});

test('what cannot be made is reported with its step and error, and what was there is left', async () => {
  fs.writeFileSync(path.join(dir, 'there'), 'already\n');
  const { reported, all } = start(3);
  thread!.create(Buffer.from(path.join(dir, 'there')), Buffer.from('new\n'), 0o644, 0o644, MTIME, 1);
  thread!.create(Buffer.from(path.join(dir, 'missing', 'f')), Buffer.from('x'), 0o644, 0o644, MTIME, 2);
  thread!.create(Buffer.from(path.join(dir, 'fine')), Buffer.from('fine\n'), 0o644, 0o644, MTIME, 3);
  await all;
  expect(reported.map(({ token, failure, bytes }) => ({ token, failure, bytes }))).toEqual([
    { token: 1, failure: { operation: 'create', code: 'EEXIST' }, bytes: 4 },
    { token: 2, failure: { operation: 'create', code: 'ENOENT' }, bytes: 1 },
    { token: 3, failure: undefined, bytes: 5 },
  ]);
  expect(fs.readFileSync(path.join(dir, 'there'), 'utf8')).toBe('already\n');
  expect(fs.readFileSync(path.join(dir, 'fine'), 'utf8')).toBe('fine\n');
});

test('finish waits for the files in flight, and the thread takes no more', async () => {
  const { reported } = start(100);
  for (let i = 0; i < 100; i++) thread!.create(Buffer.from(path.join(dir, `f${i}`)), Buffer.alloc(100, 1), 0o644, 0o644, MTIME, i);
  // The batch goes at the end of this turn: let it.
  await new Promise((resolve) => setImmediate(resolve));
  await thread!.finish(10_000);
  expect(reported).toHaveLength(100);
  expect(() => thread!.create(Buffer.from(path.join(dir, 'late')), Buffer.alloc(1), 0o644, 0o644, MTIME, 100)).toThrow(/closed creation thread/);
});

test('a worker that does not answer within the timeout is a stall (FCP_ERR_TIMEOUT)', async () => {
  process.env[HANG_DISK_ENV] = HANG_OPERATION;
  const { reported, stalls } = start(1, 200);
  thread!.create(Buffer.from(path.join(dir, 'f')), Buffer.from('x'), 0o644, 0o644, MTIME, 1);
  const deadline = Date.now() + 10_000;
  while (stalls.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  expect(stalls.map((error) => error.code)).toEqual(['FCP_ERR_TIMEOUT']);
  expect(reported).toEqual([]);
});

describe('FileWriter.writeFileAway', () => {
  // The writer hands files to the thread only past CREATION_THREAD_AFTER offers, only in a
  // directory it made; something found at the name by the thread goes the temporary's way.
  test('after CREATION_THREAD_AFTER offers, files in a directory it made go to the thread; one in the way is replaced as writeFile replaces it', async () => {
    const written: [number, string | undefined][] = [];
    let done: () => void;
    const all = new Promise<void>((resolve) => (done = resolve));
    const writer = new FileWriter(await loadXxhash(), () => undefined, {
      writtenAway: (token, error) => {
        written.push([token, error?.code]);
        if (written.length === 2) done();
      },
    });
    const made = path.join(dir, 'made');
    writer.createDirectory(Buffer.from(made), 0o755, 1_600_000_000_000_000_000n, Buffer.from('made'));
    const mtimeNs = 1_600_000_000_123_456_000n;
    for (let i = 0; i < CREATION_THREAD_AFTER; i++) expect(writer.writeFileAway(Buffer.from(path.join(made, `f${i}`)), Buffer.from('x'), 0o644, mtimeNs, undefined, i)).toBe(false);
    // Not in a directory it made: never; in it, now: to the thread.
    fs.mkdirSync(path.join(dir, 'found'));
    expect(writer.writeFileAway(Buffer.from(path.join(dir, 'found', 'g')), Buffer.from('x'), 0o644, mtimeNs, undefined, -1)).toBe(false);
    fs.writeFileSync(path.join(made, 'in-the-way'), 'old\n');
    expect(writer.writeFileAway(Buffer.from(path.join(made, 'in-the-way')), Buffer.from('new\n'), 0o640, mtimeNs, undefined, 1)).toBe(true);
    expect(writer.writeFileAway(Buffer.from(path.join(made, 'away')), Buffer.from('away\n'), 0o600, mtimeNs, undefined, 2)).toBe(true);
    expect(writer.filesAway).toBe(2);
    await all;
    await writer.stopCreating();
    expect(written).toEqual([
      [1, undefined],
      [2, undefined],
    ]);
    for (const [name, content, mode] of [['in-the-way', 'new\n', 0o640], ['away', 'away\n', 0o600]] as const) {
      const file = path.join(made, name);
      expect({ name, content: fs.readFileSync(file, 'utf8'), mode: fs.statSync(file).mode & 0o777, mtimeNs: fs.statSync(file, { bigint: true }).mtimeNs }).toEqual({ name, content, mode, mtimeNs });
    }
  });
});

// The receiving engine, in one process: a tree past the threshold arrives whole, the thread made
// what came after it, and every file's event is reported once.
test(`a tree of ${CREATION_THREAD_AFTER} + 3,000 small files arrives whole, the last ones made on the thread`, async () => {
  const files = CREATION_THREAD_AFTER + 3000;
  const src = path.join(dir, 'src');
  for (let i = 0; i < files; i++) {
    const sub = path.join(src, `d${i % 20}`);
    if (i < 20) fs.mkdirSync(sub, { recursive: true });
    const file = path.join(sub, `f${i}`);
    fs.writeFileSync(file, Buffer.alloc(i % 3000, i % 253));
    fs.chmodSync(file, i % 5 ? 0o644 : 0o600);
    fs.utimesSync(file, 1_600_000_000 + i, 1_600_000_000 + i / 8);
  }
  fs.mkdirSync(path.join(dir, 'dst'));
  const handed = jest.spyOn(CreationThread.prototype, 'create');
  const events: string[] = [];
  const { summary } = await pushInProcess(dir, { events: { file: (event) => events.push(event.path.toString()) } });
  expect(summary).toMatchObject({ filesOk: files, filesFailed: 0 });
  expect(handed.mock.calls.length).toBeGreaterThan(2000);
  expect(new Set(events).size).toBe(files);
  expect(events).toHaveLength(files);
  for (let i = 0; i < files; i++) {
    const original = path.join(src, `d${i % 20}`, `f${i}`);
    const copy = path.join(dir, 'dst', 'src', `d${i % 20}`, `f${i}`);
    const [a, b] = [fs.statSync(original, { bigint: true }), fs.statSync(copy, { bigint: true })];
    if (a.size !== b.size || a.mode !== b.mode || a.mtimeNs / 1000n !== b.mtimeNs / 1000n || !fs.readFileSync(copy).equals(fs.readFileSync(original))) {
      throw new Error(`${copy} differs: size ${b.size}/${a.size}, mode ${b.mode}/${a.mode}, mtime ${b.mtimeNs}/${a.mtimeNs}`);
    }
  }
});

