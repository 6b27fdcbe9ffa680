/**
 * The orphan sweep (src/state/orphanSweep.ts): what dead runs left in a directory goes the first
 * time a run writes into it; what a live run writes, and resume state a rerun would use, stays.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadXxhash, XXHashAPI } from '../../../src/protocol/xxhash';
import { encodeHeader, encodeRecord, headerCheck } from '../../../src/state/chunkJournal';
import { OrphanSweeper, STALE_PARTIAL_DAYS } from '../../../src/state/orphanSweep';

let xxh: XXHashAPI;
let dir: string;
beforeAll(async () => {
  xxh = await loadXxhash();
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-sweep-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const dead = (): number => spawnSync('true').pid!;
const file = (name: string, content: string | Buffer = 'x'): void => fs.writeFileSync(path.join(dir, name), content);
const left = (): string[] => fs.readdirSync(dir).sort();
const sweep = (discardPartials = false, into = 'new'): void => new OrphanSweeper({ discardPartials, partialDir: undefined }).sweep(Buffer.from(path.join(dir, into)));

/** A journal vouching for `records` chunks (0: a header alone, what a run killed before its first flush leaves). */
function journal(records: number): Buffer {
  const header = encodeHeader(xxh, { size: 4 * 65536, mtimeNs: 1n, chunkSize: 65536 });
  return Buffer.concat([header, ...Array.from({ length: records }, (_, index) => encodeRecord(xxh, headerCheck(header), index, 7n))]);
}

/** `.NAME.fcp-part` with a journal of `records` records (undefined: no journal) and a lock held by `pid`, if given. */
function partFile(name: string, records: number | undefined, pid?: number): void {
  file(`.${name}.fcp-part`, Buffer.alloc(4 * 65536));
  if (records !== undefined) file(`.${name}.fcp-part.journal`, journal(records));
  if (pid !== undefined) file(`.${name}.fcp-part.lock`, `${pid}\n`);
}

test("private temporaries of a dead process go, whatever their name; a live process's stay", () => {
  const gone = dead().toString(36);
  const live = process.pid.toString(36);
  for (const name of [`.a.fcp-${gone}-0`, `.b.fcp-${gone}-1`, `.a.fcp-${live}-0`, 'kept', '.kept.fcp-sftp-12-34']) file(name);
  sweep();
  expect(left()).toEqual([`.a.fcp-${live}-0`, '.kept.fcp-sftp-12-34', 'kept'].sort());
});

test('a part file a running process writes stays, even before its journal is written', () => {
  partFile('busy', undefined, process.pid);
  partFile('writing', 2, process.pid);
  sweep(true);
  expect(left()).toEqual(['.busy.fcp-part', '.busy.fcp-part.lock', '.writing.fcp-part', '.writing.fcp-part.journal', '.writing.fcp-part.lock']);
});

test('resume state stays (a dead holder or none), and goes with --no-resume', () => {
  partFile('resumable', 2);
  partFile('killed', 1, dead());
  sweep();
  const resumeState = ['.killed.fcp-part', '.killed.fcp-part.journal', '.killed.fcp-part.lock', '.resumable.fcp-part', '.resumable.fcp-part.journal'];
  expect(left()).toEqual(resumeState);
  sweep(true);
  expect(left()).toEqual([]);
});

test('what is no resume state goes: no journal, a journal older than the limit, companions alone; one that does not parse is the rerun\'s to tell', () => {
  partFile('nojournal', undefined, dead());
  partFile('stale', 3);
  const old = new Date(Date.now() - (STALE_PARTIAL_DAYS + 1) * 86_400_000);
  fs.utimesSync(path.join(dir, '.stale.fcp-part.journal'), old, old);
  file('.lonely.fcp-part.journal', journal(1));
  file('.lonelier.fcp-part.lock', `${dead()}\n`);
  partFile('fresh', 1);
  partFile('garbled', undefined);
  file('.garbled.fcp-part.journal', Buffer.alloc(100, 0x42));
  sweep();
  expect(left()).toEqual(['.fresh.fcp-part', '.fresh.fcp-part.journal', '.garbled.fcp-part', '.garbled.fcp-part.journal']);
});

test('each directory is swept once: what a later run of this one leaves there is not looked at again', () => {
  const sweeper = new OrphanSweeper({ discardPartials: false, partialDir: undefined });
  sweeper.sweep(Buffer.from(path.join(dir, 'a')));
  const orphan = `.c.fcp-${dead().toString(36)}-0`;
  file(orphan);
  sweeper.sweep(Buffer.from(path.join(dir, 'b')));
  expect(left()).toEqual([orphan]);
});

test('--partial-dir: the partial directory under each destination directory is swept too', () => {
  fs.mkdirSync(path.join(dir, '.partial'));
  fs.writeFileSync(path.join(dir, '.partial', '.f.fcp-part'), 'x');
  new OrphanSweeper({ discardPartials: false, partialDir: Buffer.from('.partial') }).sweep(Buffer.from(path.join(dir, 'f')));
  expect(fs.readdirSync(path.join(dir, '.partial'))).toEqual([]);
});
