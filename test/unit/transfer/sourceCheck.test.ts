/** sourceCheck: what counts as a source that changed while it was read, and errno → code for read and write errors. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fsError } from '../../../src/transfer/fsError';
import { fstatStillMatches, leanFstat, usesBinding, type LeanStat } from '../../../src/transfer/leanStat';
import { checkSource, sourceState, unchangedSinceWalk } from '../../../src/transfer/sourceCheck';

const SIZE = 100_000;
let dir: string;
let file: string;
let fd: number;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-source-check-'));
  file = path.join(dir, 'source.bin');
  fs.writeFileSync(file, Buffer.alloc(SIZE, 0x61));
  // An mtime well in the past: a write now gets another one even on a coarse file-system clock.
  fs.utimesSync(file, 1_000_000, 1_000_000);
  fd = fs.openSync(file, 'r+');
});
afterEach(() => {
  fs.closeSync(fd);
  fs.rmSync(dir, { recursive: true, force: true });
});

const source = (): Buffer => Buffer.from(file);

test('an untouched file passes, and did not grow', () => {
  const opened = sourceState(fd);
  expect(checkSource(fd, opened, source(), SIZE)).toEqual({ grew: false });
});

test('written in place (same size, dd conv=notrunc): FCP_ERR_SOURCE_CHANGED naming the file', () => {
  const opened = sourceState(fd);
  fs.writeSync(fd, Buffer.alloc(10, 0x62), 0, 10, SIZE - 10);
  expect(() => checkSource(fd, opened, source(), SIZE)).toThrow(expect.objectContaining({ code: 'FCP_ERR_SOURCE_CHANGED', message: expect.stringContaining('source.bin was modified while it was being read') }));
});

test('only its times changed (touch): FCP_ERR_SOURCE_CHANGED, since content may have been rewritten with the same size', () => {
  const opened = sourceState(fd);
  fs.utimesSync(file, 2_000_000, 2_000_000);
  expect(() => checkSource(fd, opened, source(), SIZE)).toThrow(expect.objectContaining({ code: 'FCP_ERR_SOURCE_CHANGED' }));
});

test('shorter than announced: FCP_ERR_SOURCE_CHANGED (shrank)', () => {
  const opened = sourceState(fd);
  fs.ftruncateSync(fd, SIZE - 1);
  expect(() => checkSource(fd, opened, source(), SIZE)).toThrow(expect.objectContaining({ code: 'FCP_ERR_SOURCE_CHANGED', message: expect.stringContaining('shrank') }));
});

test('appended to: it grew, no error (its announced start is sent)', () => {
  const opened = sourceState(fd);
  fs.writeSync(fd, Buffer.alloc(10, 0x62), 0, 10, SIZE);
  expect(checkSource(fd, opened, source(), SIZE)).toEqual({ grew: true });
});

test('longer at open than at the walk, then left alone: it grew', () => {
  fs.writeSync(fd, Buffer.alloc(10, 0x62), 0, 10, SIZE);
  const opened = sourceState(fd);
  expect(checkSource(fd, opened, source(), SIZE)).toEqual({ grew: true });
});

/** The ways the open file can change after a stat: its bytes (written as `byte`), its size, its mtime (set to `time`). */
const changes = (byte: number, time: number): [string, () => void][] => [
  ['written in place (same size)', () => fs.writeSync(fd, Buffer.alloc(10, byte), 0, 10, 0)],
  ['appended to', () => fs.writeSync(fd, Buffer.alloc(10, byte), 0, 10, SIZE)],
  ['truncated', () => fs.ftruncateSync(fd, SIZE - 1)],
  ['touched (mtime)', () => fs.utimesSync(file, time, time)],
];

describe('unchangedSinceWalk: a small file checked against the walk\'s lstat with one fstat', () => {
  const walked = (): { size: number; mtimeNs: bigint; walked: { ctimeNs: bigint; ino: bigint } } => {
    const stat = fs.lstatSync(file, { bigint: true });
    return { size: Number(stat.size), mtimeNs: stat.mtimeNs, walked: { ctimeNs: stat.ctimeNs, ino: stat.ino } };
  };
  const unchanged = (at: ReturnType<typeof walked>): boolean => unchangedSinceWalk(fd, at.size, at.mtimeNs, at.walked);

  test('left alone since the walk: unchanged', () => {
    expect(unchanged(walked())).toBe(true);
  });

  test.each(changes(0x62, 2_000_000))('%s since the walk: changed (the sender reads it again between two fstats)', (_name, change) => {
    const at = walked();
    change();
    expect(unchanged(at)).toBe(false);
  });

  test('another file under the walked name (same size and times, another inode): changed', () => {
    const at = walked();
    expect(unchangedSinceWalk(fd, at.size, at.mtimeNs, { ...at.walked, ino: at.walked.ino + 1n })).toBe(false);
  });
});

describe('unchangedSinceWalk against the walk\'s own fstat, the last one taken (compared word by word)', () => {
  const walkedNow = (): LeanStat => leanFstat(fd);
  const unchanged = (stat: LeanStat): boolean => unchangedSinceWalk(fd, stat.size, stat.mtimeNs, stat);

  test('left alone since: unchanged, and compared without a LeanStat', () => {
    const stat = walkedNow();
    expect(fstatStillMatches(fd, stat)).toBe(usesBinding ? true : undefined);
    expect(unchanged(stat)).toBe(true);
  });

  test.each(changes(0x63, 3_000_000))('%s since: changed', (_name, change) => {
    const stat = walkedNow();
    change();
    expect(unchanged(stat)).toBe(false);
  });

  test('a stat that is not the last fstat taken is compared by its fields, as before', () => {
    const stat = walkedNow();
    leanFstat(fd);
    expect(fstatStillMatches(fd, stat)).toBeUndefined();
    expect(unchanged(stat)).toBe(true);
    fs.writeSync(fd, Buffer.alloc(10, 0x64), 0, 10, 0);
    expect(unchanged(stat)).toBe(false);
  });
});

test.each([
  ['ENOSPC', 'FCP_ERR_NO_SPACE'],
  ['EDQUOT', 'FCP_ERR_NO_SPACE'],
  ['EFBIG', 'FCP_ERR_FILE_TOO_LARGE'],
  ['EACCES', 'FCP_ERR_PERMISSION'],
  ['EIO', 'FCP_ERR_IO'],
])('%s maps to %s (exit 4), naming the file, with a hint', (errno, code) => {
  const mapped = fsError(Object.assign(new Error(`${errno}: it failed, write`), { code: errno }), 'write', Buffer.from('/some/dir/big5'));
  expect({ code: mapped.code, exit: mapped.exitCode, names: mapped.message.includes('big5'), hint: typeof mapped.hint }).toEqual({ code, exit: 4, names: true, hint: 'string' });
});
