/** leanStat: the fields read out of Node's fs binding are those of lstatSync, statSync and fstatSync, and so are its errors. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { leanFstat, leanOf, leanStat, readsAsNodeDoes, usesBinding, type LeanStat, type StatBinding } from '../../../src/transfer/leanStat';

let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-lean-stat-'));
  fs.writeFileSync(path.join(dir, 'file'), Buffer.alloc(12_345, 1), { mode: 0o640 });
  // A time with nanoseconds that a double of milliseconds would not keep.
  fs.utimesSync(path.join(dir, 'file'), 1_700_000_000.123456, 1_700_000_000.987654);
  fs.mkdirSync(path.join(dir, 'dir'), { mode: 0o750 });
  fs.symlinkSync('file', path.join(dir, 'link'));
  fs.linkSync(path.join(dir, 'file'), path.join(dir, 'second'));
  execFileSync('mkfifo', [path.join(dir, 'fifo')]);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const at = (name: string): Buffer => Buffer.from(path.join(dir, name));

/** Every field and type test of a LeanStat, to compare two of them. */
const fields = (stat: LeanStat) => ({
  ...stat,
  types: [stat.isFile(), stat.isDirectory(), stat.isSymbolicLink(), stat.isFIFO(), stat.isSocket(), stat.isCharacterDevice(), stat.isBlockDevice()],
});

test('the binding is in use on this Node (else the walk pays a BigIntStats a file again)', () => {
  expect(usesBinding).toBe(true);
});

test('a binding whose array holds the fields elsewhere is not used (a wrong mtime for every file otherwise)', () => {
  const real = (process as unknown as { binding(name: string): StatBinding }).binding('fs');
  const shifted = (values: BigInt64Array | undefined): BigInt64Array => BigInt64Array.from([...values!.slice(1), values![0]!]);
  const moved: StatBinding = { ...real, lstat: (path, bigint, request, throwIfNoEntry) => shifted(real.lstat(path, bigint, request, throwIfNoEntry)) };
  expect(readsAsNodeDoes(real)).toBe(true);
  expect(readsAsNodeDoes(moved)).toBe(false);
});

test.each(['file', 'dir', 'link', 'second', '.'])('lstat and stat of %s: every field as lstatSync and statSync give it', (name) => {
  expect(fields(leanStat(at(name), false))).toEqual(fields(leanOf(fs.lstatSync(at(name), { bigint: true }))));
  expect(fields(leanStat(at(name), true))).toEqual(fields(leanOf(fs.statSync(at(name), { bigint: true }))));
});

test('fields above 32 bits (a sparse file of 5 GiB, an owner above 2^31 where this user may chown): as lstatSync and fstatSync give them', () => {
  const file = path.join(dir, 'large');
  fs.writeFileSync(file, '');
  fs.truncateSync(file, 5 * 2 ** 30 + 3);
  const owner = 3_000_000_123;
  let chowned = false;
  try {
    fs.chownSync(file, owner, owner);
    chowned = true;
  } catch {
    // Not root: the size alone has an upper half.
  }
  const stat = leanStat(Buffer.from(file), false);
  expect(fields(stat)).toEqual(fields(leanOf(fs.lstatSync(file, { bigint: true }))));
  expect(stat.size).toBe(5 * 2 ** 30 + 3);
  if (chowned) expect([stat.uid, stat.gid]).toEqual([owner, owner]);
  const fd = fs.openSync(file, 'r');
  try {
    expect(fields(leanFstat(fd))).toEqual(fields(leanOf(fs.fstatSync(fd, { bigint: true }))));
  } finally {
    fs.closeSync(fd);
  }
});

test('a file: its type, mode, size, links and nanosecond mtime', () => {
  const stat = leanStat(at('file'), false);
  const big = fs.lstatSync(at('file'), { bigint: true });
  expect(stat.isFile() && !stat.isDirectory() && !stat.isSymbolicLink()).toBe(true);
  expect(stat.mode & 0o7777).toBe(0o640);
  expect(stat.size).toBe(12_345);
  expect(stat.nlink).toBe(2);
  expect(stat.mtimeNs).toBe(big.mtimeNs);
  expect(stat.mtimeNs % 1000n).toBe(big.mtimeNs % 1000n);
  expect(stat.ino).toBe(big.ino);
  expect(leanStat(at('link'), false).isSymbolicLink()).toBe(true);
  expect(leanStat(at('dir'), false).isDirectory()).toBe(true);
});

test('a FIFO is one', () => {
  expect(leanStat(at('fifo'), false).isFIFO()).toBe(true);
});

test('fstat of an open file: the fields of fstatSync', () => {
  const fd = fs.openSync(at('file'), 'r');
  try {
    expect(fields(leanFstat(fd))).toEqual(fields(leanOf(fs.fstatSync(fd, { bigint: true }))));
  } finally {
    fs.closeSync(fd);
  }
});

test('errors are those of the fs calls: code, syscall and path', () => {
  const missing = at('missing');
  const caught = (call: () => unknown): NodeJS.ErrnoException => {
    try {
      call();
    } catch (err) {
      return err as NodeJS.ErrnoException;
    }
    throw new Error('no error');
  };
  for (const [follow, syscall] of [[false, 'lstat'], [true, 'stat']] as const) {
    const err = caught(() => leanStat(missing, follow));
    expect({ code: err.code, syscall: err.syscall, path: err.path }).toEqual({ code: 'ENOENT', syscall, path: missing.toString() });
  }
  expect(caught(() => leanStat(at('file/below'), false)).code).toBe('ENOTDIR');
  expect(caught(() => leanFstat(-1)).code).toMatch(/EBADF|ERR_OUT_OF_RANGE/);
});

test('a path with a NUL byte is refused as lstatSync refuses it, never cut at the NUL', () => {
  const withNul = Buffer.concat([at('file'), Buffer.from([0]), Buffer.from('x')]);
  expect(() => leanStat(withNul, false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
});
