/**
 * PartialFile (PROTOCOL.md §7.5): the lock keeps two runs off one part file, a dead holder's lock
 * is taken over, what is recorded survives keep() and is held next time, a part file with
 * nothing recorded is not kept, and records are flushed while the run goes on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { StaleReason } from '../../../src/protocol/constants';
import { JOURNAL_FLUSH_BYTES, parseJournal } from '../../../src/state/chunkJournal';
import { PartialFile, partialPaths } from '../../../src/state/partialFile';

const header = { size: 3 * 65536, mtimeNs: 5n, chunkSize: 65536 };
let xxh: XXHashAPI;
let dir: string;
let final: Buffer;
beforeAll(async () => {
  xxh = await loadXxhash();
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-partial-'));
  final = Buffer.from(path.join(dir, 'f'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const open = (reuse = true, wanted = header) => PartialFile.open(xxh, final, { header: wanted, mode: 0o600, reuse });

test('a second writer of the same file gets no part file while the first runs', () => {
  const first = open()!;
  expect(open()).toBeUndefined();
  first.remove();
  fs.closeSync(first.fd);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a lock whose pid is not running is taken over', () => {
  const { lock } = partialPaths(final);
  // pid 2^22 + 1 is above Linux's pid_max ceiling: never a running process.
  fs.writeFileSync(lock, `${2 ** 22 + 1}\n`);
  const partial = open();
  expect(partial).toBeDefined();
  expect(fs.readFileSync(lock, 'utf8')).toBe(`${process.pid}\n`);
  partial!.remove();
  fs.closeSync(partial!.fd);
});

test('recorded chunks survive keep() and are held by the next run; another header makes them stale', () => {
  const first = open()!;
  first.record(2, 0xabcn, 65536);
  first.keep();
  fs.closeSync(first.fd);
  const second = open()!;
  expect([...second.held]).toEqual([[2, 0xabcn]]);
  expect(second.stale).toBeUndefined();
  second.keep();
  fs.closeSync(second.fd);
  const changed = open(true, { ...header, mtimeNs: 6n })!;
  expect(changed.held.size).toBe(0);
  expect(changed.stale).toBe(StaleReason.CHANGED);
  changed.remove();
  fs.closeSync(changed.fd);
});

test('a part file with nothing recorded is removed by keep()', () => {
  const partial = open()!;
  partial.keep();
  fs.closeSync(partial.fd);
  expect(fs.readdirSync(dir)).toEqual([]);
});

/** The chunks the journal on disk vouches for, once it does (polling); the last read when it never does. */
async function journaledOnDisk(expected: number, deadlineMs = 10_000): Promise<number[]> {
  let chunks: number[] = [];
  for (const end = Date.now() + deadlineMs; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    chunks = [...(parseJournal(xxh, fs.readFileSync(partialPaths(final).journal))?.chunks.keys() ?? [])];
    if (chunks.length >= expected) break;
  }
  return chunks;
}

test('records reach the journal on disk while the run goes on: at once after JOURNAL_FLUSH_BYTES, else by the timer', async () => {
  const partial = open()!;
  partial.record(0, 0xan, JOURNAL_FLUSH_BYTES);
  expect(await journaledOnDisk(1)).toEqual([0]);
  partial.record(1, 0xbn, 65536);
  expect(await journaledOnDisk(2)).toEqual([0, 1]);
  partial.remove();
  fs.closeSync(partial.fd);
});
