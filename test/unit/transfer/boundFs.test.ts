/** boundFs: a small file's calls straight to Node's fs binding give what Node's fs functions give, results and errors alike. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as bound from '../../../src/transfer/boundFs';

type BoundFs = typeof bound;

/** The module as it loads where the binding may not be called straight (--pending-deprecation): Node's fs functions. */
function loadFallback(): BoundFs {
  const saved = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${saved ?? ''} --pending-deprecation`;
  try {
    let loaded: BoundFs | undefined;
    jest.isolateModules(() => {
      loaded = jest.requireActual<BoundFs>('../../../src/transfer/boundFs');
    });
    return loaded!;
  } finally {
    if (saved === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = saved;
  }
}

const fallback = loadFallback();
const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
const CREATE = O_WRONLY | O_CREAT | O_EXCL;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-bound-fs-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const at = (name: string): Buffer => Buffer.from(path.join(dir, name));

/** What a caller can see of an error: everything but the stack. */
function caught(call: () => unknown): Record<string, unknown> {
  try {
    call();
  } catch (err) {
    const { message, code, errno, syscall, path: where } = err as NodeJS.ErrnoException;
    return { message, code, errno, syscall, path: where, keys: Object.keys(err as object).sort() };
  }
  throw new Error('no error');
}

/** The same call through both modules: the same error. */
function sameError(call: (calls: BoundFs) => unknown): Record<string, unknown> {
  const error = caught(() => call(bound));
  expect(caught(() => call(fallback))).toEqual(error);
  return error;
}

test('the binding is in use on this Node, and not where it may not be called straight', () => {
  expect(bound.usesBinding).toBe(true);
  expect(fallback.usesBinding).toBe(false);
});

test.each([
  ['bound', bound],
  ['fallback', fallback],
] as const)('%s: a file created, written, read back and given its times as the fs functions do it', (name, calls) => {
  const file = at(`file-${name}`);
  const data = Buffer.from('seventeen bytes!!');
  const fd = calls.openBound(file, CREATE, 0o640);
  try {
    expect(calls.writeAt(fd, data, 0, 9, 0)).toBe(9);
    expect(calls.writeAt(fd, data, 9, data.length - 9, 9)).toBe(data.length - 9);
    // Whole microseconds and a half, as fileWriter's `seconds` gives them.
    calls.futimesBound(fd, 1_600_000_000.5000005, 1_700_000_000.1234565);
  } finally {
    fs.closeSync(fd);
  }
  const stat = fs.statSync(file, { bigint: true });
  expect(Number(stat.mode & 0o777n)).toBe(0o640 & ~process.umask());
  expect(stat.mtimeNs).toBe(1_700_000_000_123_456_000n);
  expect(stat.atimeNs).toBe(1_600_000_000_500_000_000n);
  const back = Buffer.alloc(data.length);
  const input = calls.openBound(file, O_RDONLY);
  try {
    expect(calls.readAt(input, back, 0, 5, 0)).toBe(5);
    expect(calls.readAt(input, back, 5, back.length - 5, 5)).toBe(back.length - 5);
    expect(calls.readAt(input, back, 0, 0, 0)).toBe(0);
    expect(calls.readAt(input, back, 0, 4, data.length)).toBe(0);
  } finally {
    fs.closeSync(input);
  }
  expect(back).toEqual(data);
});

test('a time before 1970 (a string) and one fs takes as "now" (negative) are set as futimesSync sets them', () => {
  for (const calls of [bound, fallback]) {
    const fd = fs.openSync(at('times'), 'w');
    try {
      calls.futimesBound(fd, 1_600_000_000, '-86400.0000005');
      expect(fs.fstatSync(fd, { bigint: true }).mtimeNs).toBe(-86_400_000_000_000n);
      const before = Date.now();
      calls.futimesBound(fd, 1_600_000_000, -5);
      expect(Number(fs.fstatSync(fd).mtimeMs)).toBeGreaterThanOrEqual(before - 1000);
    } finally {
      fs.closeSync(fd);
    }
  }
});

test('ENOENT and EEXIST from open: the errors of openSync', () => {
  expect(sameError((calls) => calls.openBound(at('missing/file'), O_RDONLY))).toMatchObject({ code: 'ENOENT', syscall: 'open', path: path.join(dir, 'missing/file') });
  fs.writeFileSync(at('exists'), 'x');
  expect(sameError((calls) => calls.openBound(at('exists'), CREATE, 0o600))).toMatchObject({ code: 'EEXIST', syscall: 'open', path: path.join(dir, 'exists') });
});

test('EACCES from open: the error of openSync', () => {
  // Root may open any file of its own: a sysfs file without a write method refuses even root.
  const denied = process.getuid?.() === 0 ? Buffer.from('/sys/kernel/notes') : at('private');
  if (process.getuid?.() !== 0) fs.writeFileSync(denied, 'x', { mode: 0o000 });
  if (!fs.existsSync(denied)) return;
  expect(sameError((calls) => calls.openBound(denied, O_WRONLY))).toMatchObject({ code: 'EACCES', syscall: 'open' });
});

test('EISDIR: a directory opened for writing, and read: the errors of openSync and readSync', () => {
  expect(sameError((calls) => calls.openBound(Buffer.from(dir), O_WRONLY))).toMatchObject({ code: 'EISDIR', syscall: 'open' });
  const fd = fs.openSync(dir, O_RDONLY);
  try {
    expect(sameError((calls) => calls.readAt(fd, Buffer.alloc(8), 0, 8, 0))).toMatchObject({ code: 'EISDIR', syscall: 'read' });
  } finally {
    fs.closeSync(fd);
  }
});

test('a failed write (EBADF: open for reading only), twice: the error of writeSync, with its message, errno and syscall', () => {
  fs.writeFileSync(at('read-only'), 'x');
  const fd = fs.openSync(at('read-only'), O_RDONLY);
  try {
    const write = (calls: BoundFs) => calls.writeAt(fd, Buffer.from('abc'), 0, 3, 0);
    expect(sameError(write)).toEqual({ message: 'EBADF: bad file descriptor, write', code: 'EBADF', errno: -9, syscall: 'write', path: undefined, keys: ['code', 'errno', 'syscall'] });
    // The context the failure was reported in is emptied: a write that works after it returns its count.
    sameError(write);
    const out = bound.openBound(at('after-failure'), CREATE, 0o600);
    try {
      expect(bound.writeAt(out, Buffer.from('abc'), 0, 3, 0)).toBe(3);
    } finally {
      fs.closeSync(out);
    }
  } finally {
    fs.closeSync(fd);
  }
});

test('EBADF from futimes: the error of futimesSync', () => {
  const fd = fs.openSync(at('closed'), 'w');
  fs.closeSync(fd);
  expect(sameError((calls) => calls.futimesBound(fd, 1, 1))).toMatchObject({ code: 'EBADF', syscall: 'futime' });
});

test('a path with a NUL byte is refused as openSync refuses it, never cut at the NUL', () => {
  const withNul = Buffer.concat([at('exists'), Buffer.from([0]), Buffer.from('x')]);
  expect(sameError((calls) => calls.openBound(withNul, O_RDONLY))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
});

test('a listing with types: the names readdirSync gives, regular files told from the rest, names that are not UTF-8 as their bytes', () => {
  const listed = at('listed');
  fs.mkdirSync(listed);
  fs.writeFileSync(path.join(listed.toString(), 'file'), 'x');
  fs.mkdirSync(path.join(listed.toString(), 'dir'));
  fs.symlinkSync('file', path.join(listed.toString(), 'link'));
  const latin1 = Buffer.concat([listed, Buffer.from('/caf\xe9', 'latin1')]);
  fs.writeFileSync(latin1, 'y');
  const expected = new Map([['file', true], ['dir', false], ['link', false], ['caf\xe9', true]]);
  for (const calls of [bound, fallback]) {
    const { names, isFile } = calls.readdirTyped(listed);
    expect(new Map(names.map((name, i) => [name, isFile[i]]))).toEqual(expected);
  }
});

test('ENOENT and ENOTDIR from a listing: the errors of readdirSync', () => {
  expect(sameError((calls) => calls.readdirTyped(at('missing-dir')))).toMatchObject({ code: 'ENOENT', syscall: 'scandir', path: path.join(dir, 'missing-dir') });
  fs.writeFileSync(at('not-a-dir'), 'x');
  expect(sameError((calls) => calls.readdirTyped(at('not-a-dir')))).toMatchObject({ code: 'ENOTDIR', syscall: 'scandir' });
});
