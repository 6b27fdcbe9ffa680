/**
 * A file whose open found no descriptor free (EMFILE: the process's budget was not
 * enough) waits for one and is written then (openFileBudget.ts): the copy ends whole, the
 * receiver's summary (the user's in a pull) counts each file's bytes once, and a sync reports
 * each file's change once, however many times its write was tried.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NO_SYNC } from '../../../src/sync/options';
import { FileWriter } from '../../../src/transfer/fileWriter';
import type { TransferSummary } from '../../../src/transfer/link';
import { ReceiveEngine } from '../../../src/transfer/receiver';
import { pushInProcess } from './pushInProcess';

const FILES = 12;
/** Writes that fail for want of descriptors before the rest go through. */
const FAILED_WRITES = 5;

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-descriptor-retry-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(work, { recursive: true, force: true });
});

/** work/src with FILES small files in three directories, work/dst empty; their bytes in all. */
function makeTree(): number {
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(work, 'src', `d${i % 3}`);
    fs.mkdirSync(dir, { recursive: true });
    const data = Buffer.alloc(10 + i * 7, i + 1);
    fs.writeFileSync(path.join(dir, `f${i}`), data);
    bytes += data.length;
  }
  fs.mkdirSync(path.join(work, 'dst'));
  return bytes;
}

test.each([
  ['a copy', false],
  ['a sync (--delete)', true],
])('files opened again after EMFILE, %s: whole, their bytes counted once, each change reported once', async (_, sync) => {
  const bytes = makeTree();
  // The first opens of a small file (written whole, inline or asked for with FILE_WANT) find no descriptor.
  let failures = 0;
  const outOfDescriptors = (): boolean => {
    if (failures === FAILED_WRITES) return false;
    failures++;
    return true;
  };
  const emfile = (): Error => Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE' });
  const { writeFile, createFile } = FileWriter.prototype;
  jest.spyOn(FileWriter.prototype, 'writeFile').mockImplementation(function (this: FileWriter, ...args: Parameters<FileWriter['writeFile']>) {
    if (outOfDescriptors()) throw emfile();
    return writeFile.apply(this, args);
  });
  jest.spyOn(FileWriter.prototype, 'createFile').mockImplementation(function (this: FileWriter, ...args: Parameters<FileWriter['createFile']>) {
    if (outOfDescriptors()) throw emfile();
    return createFile.apply(this, args);
  });
  const run = ReceiveEngine.prototype.run;
  let received: Promise<TransferSummary> | undefined;
  jest.spyOn(ReceiveEngine.prototype, 'run').mockImplementation(function (this: ReceiveEngine) {
    received = run.call(this);
    return received;
  });
  const items: string[] = [];

  const { summary } = await pushInProcess(work, {
    sync: sync ? { ...NO_SYNC, delete: true } : undefined,
    events: { item: (item) => items.push(`${item.item} ${item.path.toString()}`) },
  });

  expect(failures).toBe(FAILED_WRITES);
  expect(summary).toMatchObject({ filesOk: FILES, filesFailed: 0, bytesSent: bytes });
  expect(await received).toMatchObject({ filesOk: FILES, filesFailed: 0, bytesSent: bytes });
  for (let i = 0; i < FILES; i++) {
    const name = path.join('src', `d${i % 3}`, `f${i}`);
    expect(fs.readFileSync(path.join(work, 'dst', name)).toString('hex')).toBe(fs.readFileSync(path.join(work, name)).toString('hex'));
  }
  const fileItems = items.filter((item) => /\/f\d+$/.test(item));
  expect(fileItems).toHaveLength(sync ? FILES : 0);
  expect(new Set(fileItems).size).toBe(fileItems.length);
});
