/**
 * More feature DIR_STATE (PROTOCOL.md §7.4) at its edges, as users of scp and rsync meet them: the
 * same top-level name from two sources (--backup), a landing that is a symlink to a directory or a
 * file at the destination, a top-level directory that cannot be made, a source that is a file
 * beside a directory, syncs (--delete, --dry-run, -u, --ignore-existing, --checksum), filters and
 * --files-from into a destination that holds something. Small files go inline only below a
 * top-level directory the receiver made now, and whatever went which way the tree ends the same:
 * contents, modes, mtimes, no temporaries left. Run in this process (copy() makes a local copy
 * there), every message the engines exchange recorded.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copy } from '../../../src';
import type { CopyOptions, CopySummary } from '../../../src/client/copy';
import { PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { PathFilter } from '../../../src/sync/filter';
import { FileWriter } from '../../../src/transfer/fileWriter';
import { MemoryConnection } from '../../../src/transfer/memoryLink';

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-dir-state-edges-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(work, { recursive: true, force: true });
});

const at = (...names: string[]): string => path.join(work, ...names);
const OLD = new Date('2015-06-07T08:09:10Z');

/** A file of `text` at work/NAME with mode and an mtime of its own. */
function put(name: string, text: string, mode = 0o644, mtime = OLD): void {
  fs.mkdirSync(path.dirname(at(name)), { recursive: true });
  fs.writeFileSync(at(name), text);
  fs.chmodSync(at(name), mode);
  fs.utimesSync(at(name), mtime, mtime);
}

/** work/dst holding an unrelated file, so that its DEST_STATE says 1. */
function holdingDestination(): void {
  put('dst/unrelated', 'keep me');
}

interface Run {
  summary: CopySummary;
  sent: Message[];
  items: string[];
}

/** copy() in this process from work/SOURCES into work/dst; the summary, the messages sent and the itemized lines. */
async function run(sources: string[], options: Partial<CopyOptions> = {}): Promise<Run> {
  const sent: Message[] = [];
  const send = MemoryConnection.prototype.send;
  jest.spyOn(MemoryConnection.prototype, 'send').mockImplementation(function (this: MemoryConnection, message: Message) {
    sent.push(message);
    return send.call(this, message);
  });
  const items: string[] = [];
  const summary = await copy({
    sources: sources.map((source) => at(source)),
    destination: at('dst'),
    recursive: true,
    onEvent: (event) => void (event.type === 'item' && items.push(`${event.item} ${event.name}`)),
    ...options,
  });
  jest.restoreAllMocks();
  return { summary, sent, items };
}

const dirStates = (messages: readonly Message[]): [number, string][] =>
  messages.flatMap((m) => (m.type === PacketType.DIR_STATE ? [[m.holds, m.path.toString()] as [number, string]] : []));
const pathsOf = (messages: readonly Message[], type: number): string[] =>
  messages.flatMap((m) => ((m.type === PacketType.FILE_INLINE || m.type === PacketType.FILE_INFO) && m.type === type ? [m.path.toString()] : []));

/** `copied` holds what `original` holds: bytes (as text: jest compares a Buffer index by index), mode and mtime. */
function expectSameFile(original: string, copied: string): void {
  expect(fs.readFileSync(at(copied)).toString('hex')).toBe(fs.readFileSync(at(original)).toString('hex'));
  const [a, b] = [fs.statSync(at(original)), fs.statSync(at(copied))];
  expect((b.mode & 0o7777).toString(8)).toBe((a.mode & 0o7777).toString(8));
  expect(Math.floor(b.mtimeMs)).toBe(Math.floor(a.mtimeMs));
}

/** Names under work/dst that a run leaves only while it writes (temporaries, part files). */
function leftovers(): string[] {
  return (fs.readdirSync(at('dst'), { recursive: true }) as string[]).filter((name) => /(^|\/)\.[^/]*\.fcp-/.test(name));
}

test('the same top-level name from two sources: the first is new (inline), the second lands on it (announced); the second wins, --backup keeps the first', async () => {
  holdingDestination();
  put('a/x/f', 'from a', 0o600);
  put('a/x/only-a', 'only a');
  put('b/x/f', 'from b, longer', 0o640, new Date('2018-01-01T00:00:00Z'));
  put('b/x/only-b', 'only b');
  const { summary, sent } = await run(['a/x', 'b/x'], { backup: true, backupSuffix: '.old' });
  expect(summary).toMatchObject({ files: 4, filesFailed: 0 });
  expect(dirStates(sent)).toEqual([[0, 'x'], [1, 'x']]);
  expect(pathsOf(sent, PacketType.FILE_INLINE).sort()).toEqual(['x/f', 'x/only-a']);
  expect(pathsOf(sent, PacketType.FILE_INFO).sort()).toEqual(['x/f', 'x/only-b']);
  expectSameFile('b/x/f', 'dst/x/f');
  expectSameFile('a/x/f', 'dst/x/f.old');
  expectSameFile('a/x/only-a', 'dst/x/only-a');
  expectSameFile('b/x/only-b', 'dst/x/only-b');
  expect(fs.readdirSync(at('dst')).sort()).toEqual(['unrelated', 'x']);
  expect(leftovers()).toEqual([]);
});

test('a source file beside a directory into a destination holding that file: the file is announced and left (FILE_SAME), the new directory gets its files inline', async () => {
  put('top.txt', 'top');
  put('dir/sub/f', 'in dir', 0o755);
  put('dst/top.txt', 'top');
  const { summary, sent } = await run(['top.txt', 'dir']);
  expect(summary).toMatchObject({ files: 2, filesFailed: 0, filesSkipped: 1 });
  expect(dirStates(sent)).toEqual([[0, 'dir']]);
  expect(pathsOf(sent, PacketType.FILE_INFO)).toEqual(['top.txt']);
  expect(pathsOf(sent, PacketType.FILE_INLINE)).toEqual(['dir/sub/f']);
  expectSameFile('top.txt', 'dst/top.txt');
  expectSameFile('dir/sub/f', 'dst/dir/sub/f');
  expect(leftovers()).toEqual([]);
});

test('a landing that is a symlink to a directory at the destination is not copied through: it and its file fail with FCP_ERR_NOT_DIRECTORY, nothing written where it points', async () => {
  put('src/f', 'new');
  put('elsewhere/f', 'old');
  fs.mkdirSync(at('dst'));
  fs.symlinkSync('../elsewhere', at('dst', 'src'));
  const { summary } = await run(['src']);
  expect(summary).toMatchObject({ files: 0, filesFailed: 1, entriesFailed: 1 });
  expect(summary.errors.map((error) => error.code)).toEqual(['FCP_ERR_NOT_DIRECTORY', 'FCP_ERR_NOT_DIRECTORY']);
  expect(summary.errors[0]!.message).toMatch(/it exists and is not a directory; nothing below it is copied$/);
  expect(fs.readlinkSync(at('dst', 'src'))).toBe('../elsewhere');
  expect(fs.readdirSync(at('elsewhere'))).toEqual(['f']);
  expect(fs.readFileSync(at('elsewhere', 'f'), 'utf8')).toBe('old');
  expect(leftovers()).toEqual([]);
});

test('a landing that is a file at the destination (--backup): FCP_ERR_NOT_DIRECTORY for it and what is below, the file left as it was, the other source copied', async () => {
  put('src/f', 'new');
  put('other/g', 'g');
  put('dst/src', 'a file', 0o600);
  const { summary } = await run(['src', 'other'], { backup: true });
  expect(summary).toMatchObject({ files: 1, filesFailed: 1, entriesFailed: 1 });
  expect(summary.errors.map((error) => error.code)).toEqual(['FCP_ERR_NOT_DIRECTORY', 'FCP_ERR_NOT_DIRECTORY']);
  expect(fs.readdirSync(at('dst')).sort()).toEqual(['other', 'src']);
  expect(fs.readFileSync(at('dst', 'src'), 'utf8')).toBe('a file');
  expect(Math.floor(fs.statSync(at('dst', 'src')).mtimeMs)).toBe(OLD.getTime());
  expectSameFile('other/g', 'dst/other/g');
  expect(leftovers()).toEqual([]);
});

describe('syncs into a destination that holds something', () => {
  /** work/src/{new,old}/… and work/dst/src/old with an extra file and a stale one. */
  function tree(): void {
    holdingDestination();
    put('src/new/n1', 'n1');
    put('src/new/deeper/n2', 'n2', 0o600);
    put('src/old/same', 'same');
    put('src/old/changed', 'changed at the source', 0o640, new Date('2020-01-01T00:00:00Z'));
    put('dst/src/old/same', 'same');
    put('dst/src/old/changed', 'stale', 0o644, new Date('2019-01-01T00:00:00Z'));
    put('dst/src/old/extra', 'only at the destination');
  }

  test('--dry-run: every change listed, nothing written (a new top-level directory is not made: DIR_STATE 1), no small file sent', async () => {
    tree();
    put('fresh/f', 'fresh');
    const before = fs.readdirSync(at('dst'), { recursive: true }).sort();
    const { summary, sent, items } = await run(['src', 'fresh'], { dryRun: true, delete: true, itemizeChanges: true });
    expect(dirStates(sent)).toEqual([[1, 'src'], [1, 'fresh']]);
    expect(pathsOf(sent, PacketType.FILE_INLINE)).toEqual([]);
    expect(items.sort()).toEqual([
      '*deleting   src/old/extra',
      '.d..t...... src/',
      '.d..t...... src/old/',
      '>f+++++++++ fresh/f',
      '>f+++++++++ src/new/deeper/n2',
      '>f+++++++++ src/new/n1',
      '>f.stp..... src/old/changed',
      'cd+++++++++ fresh/',
      'cd+++++++++ src/new/',
      'cd+++++++++ src/new/deeper/',
    ]);
    expect(summary).toMatchObject({ filesFailed: 0, bytesSent: 0 });
    expect(fs.readdirSync(at('dst'), { recursive: true }).sort()).toEqual(before);
    expect(fs.readFileSync(at('dst/src/old/changed'), 'utf8')).toBe('stale');
  });

  test('--delete: the new directory is made, the changed file sent, the extra one deleted; the sync announces every file', async () => {
    tree();
    const { summary, sent } = await run(['src'], { delete: true });
    expect(dirStates(sent)).toEqual([[1, 'src']]);
    expect(pathsOf(sent, PacketType.FILE_INLINE)).toEqual([]);
    expect(summary).toMatchObject({ filesFailed: 0, filesDeleted: 1, bytesSent: 'changed at the source'.length + 4 });
    for (const name of ['new/n1', 'new/deeper/n2', 'old/same', 'old/changed']) expectSameFile(`src/${name}`, `dst/src/${name}`);
    expect(fs.existsSync(at('dst/src/old/extra'))).toBe(false);
    expect(fs.readFileSync(at('dst/unrelated'), 'utf8')).toBe('keep me');
    expect(leftovers()).toEqual([]);
  });

  test.each([
    ['-u (the destination newer)', { update: true }, 'stale'],
    ['--ignore-existing', { ignoreExisting: true }, 'stale'],
    ['--checksum', { checksum: true }, 'changed at the source'],
  ])('%s: the new top-level directory is made with its files; what is there is left or sent as the option says', async (_, options, changed) => {
    tree();
    // -u leaves a destination file newer than the source's.
    if ('update' in options) fs.utimesSync(at('dst/src/old/changed'), new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'));
    put('src/top2/t', 'second top level');
    const { summary, sent } = await run(['src', 'src/top2'], options);
    expect(dirStates(sent)).toEqual([[1, 'src'], [0, 'top2']]);
    expect(summary).toMatchObject({ filesFailed: 0 });
    expect(fs.readFileSync(at('dst/src/old/changed'), 'utf8')).toBe(changed);
    for (const name of ['new/n1', 'new/deeper/n2', 'old/same']) expectSameFile(`src/${name}`, `dst/src/${name}`);
    expectSameFile('src/top2/t', 'dst/top2/t');
    expect(leftovers()).toEqual([]);
  });
});

test('--exclude of a whole top-level directory and below a new one: excluded entries are neither announced nor answered', async () => {
  holdingDestination();
  put('a/keep', 'keep');
  put('a/skip.tmp', 'skip');
  put('b/f', 'b');
  const filter = new PathFilter(['*.tmp', '/b/'].map((pattern) => ({ kind: 'exclude' as const, pattern: Buffer.from(pattern) })));
  const { summary, sent } = await run(['a', 'b'], { filter });
  expect(dirStates(sent)).toEqual([[0, 'a']]);
  expect(summary).toMatchObject({ files: 1, filesFailed: 0 });
  expect(pathsOf(sent, PacketType.FILE_INLINE)).toEqual(['a/keep']);
  expectSameFile('a/keep', 'dst/a/keep');
  expect(fs.readdirSync(at('dst')).sort()).toEqual(['a', 'unrelated']);
  expect(fs.readdirSync(at('dst/a'))).toEqual(['keep']);
});

test('--files-from with paths several levels deep: the source directory lands on the destination itself (DIR_STATE 1), so every file is announced', async () => {
  put('src/p/q/r/deep', 'deep', 0o600);
  put('src/p/top', 'p top');
  put('src/s/t/u', 'u');
  put('dst/p/mine', 'mine');
  const { summary, sent } = await run(['src'], { filesFrom: ['p/q/r/deep', 's/t/u', 'p/top'].map((p) => Buffer.from(p)) });
  expect(summary).toMatchObject({ files: 3, filesFailed: 0 });
  expect(dirStates(sent)).toEqual([[1, 'src']]);
  expect(pathsOf(sent, PacketType.FILE_INLINE)).toEqual([]);
  for (const name of ['p/q/r/deep', 'p/top', 's/t/u']) expectSameFile(`src/${name}`, `dst/${name}`);
  expect(fs.readFileSync(at('dst/p/mine'), 'utf8')).toBe('mine');
  expect(leftovers()).toEqual([]);
});

/** The writer refuses to make `refused` (EACCES), as mkdir would a user who may not write there; as root mkdir never refuses. */
function refuseMkdir(refused: string): void {
  const { createDirectory } = FileWriter.prototype;
  jest.spyOn(FileWriter.prototype, 'createDirectory').mockImplementation(function (this: FileWriter, ...args: Parameters<FileWriter['createDirectory']>) {
    if (args[0].toString() === refused) throw Object.assign(new Error(`EACCES: permission denied, mkdir '${refused}'`), { code: 'EACCES', path: refused });
    return createDirectory.apply(this, args);
  });
}

test('a top-level directory the receiver cannot make (EACCES) fails with FCP_ERR_PERMISSION, what is below it with it, and the copy goes on: the sources before and after it are whole', async () => {
  holdingDestination();
  put('a/f', 'a');
  put('b/g', 'b');
  put('b/sub/h', 'h');
  put('c/i', 'c');
  const refused = at('dst', 'b');
  refuseMkdir(refused);
  // A wait for b's DIR_STATE would end in FCP_ERR_TIMEOUT (twice this 2 s limit).
  const { summary, sent } = await run(['a', 'b', 'c'], { timeout: 2 });
  jest.restoreAllMocks();
  expect(summary).toMatchObject({ files: 2, filesFailed: 2, entriesFailed: 2 });
  expect(summary.errors.map((error) => error.code)).toEqual(Array(4).fill('FCP_ERR_PERMISSION'));
  // b and everything below it carry b's one error.
  expect(new Set(summary.errors.map((error) => error.message))).toEqual(new Set([expect.stringContaining(refused)]));
  expect(summary.errors[0]!.message).toMatch(/; nothing below it is copied$/);
  expect(dirStates(sent)).toEqual([[0, 'a'], [1, 'b'], [0, 'c']]);
  expectSameFile('a/f', 'dst/a/f');
  expectSameFile('c/i', 'dst/c/i');
  expect(fs.readdirSync(at('dst')).sort()).toEqual(['a', 'c', 'unrelated']);
  expect(leftovers()).toEqual([]);
});

test('a directory below a new top-level one that cannot be made (EACCES): its small files fail with its error, the rest go inline and land', async () => {
  holdingDestination();
  put('a/ok', 'ok');
  put('a/locked/f1', 'one');
  put('a/locked/deeper/f2', 'two');
  put('a/z/after', 'after');
  const refused = at('dst', 'a', 'locked');
  refuseMkdir(refused);
  const { summary, sent } = await run(['a']);
  expect(summary).toMatchObject({ files: 2, filesFailed: 2, entriesFailed: 2 });
  expect(summary.errors.map((error) => error.code)).toEqual(Array(4).fill('FCP_ERR_PERMISSION'));
  expect(dirStates(sent)).toEqual([[0, 'a']]);
  expect(pathsOf(sent, PacketType.FILE_INLINE)).toEqual(['a/locked/deeper/f2', 'a/locked/f1', 'a/ok', 'a/z/after']);
  expectSameFile('a/ok', 'dst/a/ok');
  expectSameFile('a/z/after', 'dst/a/z/after');
  expect(fs.readdirSync(at('dst', 'a')).sort()).toEqual(['ok', 'z']);
  expect(leftovers()).toEqual([]);
});
