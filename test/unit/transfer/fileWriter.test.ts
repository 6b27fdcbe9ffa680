/** FileWriter: a file discarded while its writes are in flight is gone once discarded() resolves (kept, with its journal, when asked). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chunkHash, loadXxhash } from '../../../src/protocol/xxhash';
import * as boundFs from '../../../src/transfer/boundFs';
import { FileWriter, ResumeRequest, SYNC_WRITE_MAX } from '../../../src/transfer/fileWriter';
import { removeOpenTemporaries } from '../../../src/state/openTemporaries';
import { journaledBytes } from '../../integration/helpers/interrupt';

// Renames and fchowns counted (and done): a small file in a directory the writer made is created
// in place, and given an owner only when it did not get that one by being created. Its write and
// futimes (boundFs.ts) may be made to fail once.
jest.mock('node:fs', () => {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs');
  return {
    ...actual,
    renameSync: jest.fn(actual.renameSync),
    fchownSync: jest.fn(actual.fchownSync),
  };
});
jest.mock('../../../src/transfer/boundFs', () => {
  const actual = jest.requireActual<typeof import('../../../src/transfer/boundFs')>('../../../src/transfer/boundFs');
  return { ...actual, writeAt: jest.fn(actual.writeAt), futimesBound: jest.fn(actual.futimesBound) };
});

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
  writer.createFile(0, Buffer.from(path.join(dir, 'big')), size, 0o644, fresh(size, 4 * SYNC_WRITE_MAX));
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
  writer.createFile(0, Buffer.from(path.join(dir, 'f')), 10, 0o644, fresh(10, 65536));
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
  writer.createFile(0, Buffer.from(path.join(dir, 'big')), size, 0o644, fresh(size, chunkSize));
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
  writer.createFile(0, Buffer.from(path.join(dir, 'big')), 2 * chunkSize, 0o644, fresh(2 * chunkSize, chunkSize));
  const chunk = Buffer.alloc(chunkSize, 5);
  let outcome: string | undefined;
  writer.writeChunk(0, 0, 0, [chunk], chunkHash(xxh, [chunk]), (error) => (outcome = error?.code ?? 'ok'));
  writer.discardFile(0, true);
  answer!();
  await writer.discarded();
  expect(outcome).toBe('FCP_ERR_IO');
  expect(journaledBytes(xxh, path.join(dir, '.big.fcp-part.journal'), 2 * chunkSize, chunkSize)).toBe(0);
});

describe('small files in a directory the writer made', () => {
  const mtimeNs = 1_600_000_000_123_456_000n;
  const write = (writer: FileWriter, name: string, body: string): void =>
    writer.writeFile(Buffer.from(path.join(dir, name)), Buffer.from(body), 0o640, mtimeNs);
  const renames = (): jest.Mock => (fs.renameSync as unknown as jest.Mock).mockClear();

  test('are created under their final name, with their mode and mtime, and nothing is renamed', async () => {
    const writer = new FileWriter(await loadXxhash(), () => undefined);
    writer.createDirectory(Buffer.from(path.join(dir, 'new')), 0o755, mtimeNs, Buffer.from('new'));
    expect(writer.inNewDirectory(Buffer.from(path.join(dir, 'new', 'f')))).toBe(true);
    const rename = renames();
    write(writer, 'new/f', 'hello');
    expect(rename).not.toHaveBeenCalled();
    expect(fs.readdirSync(path.join(dir, 'new'))).toEqual(['f']);
    const stat = fs.statSync(path.join(dir, 'new', 'f'), { bigint: true });
    expect(fs.readFileSync(path.join(dir, 'new', 'f'), 'utf8')).toBe('hello');
    expect(Number(stat.mode & 0o777n)).toBe(0o640);
    expect(stat.mtimeNs / 1000n).toBe(mtimeNs / 1000n);
  });

  test('go through a temporary in a directory that was there, or was announced twice', async () => {
    const writer = new FileWriter(await loadXxhash(), () => undefined);
    fs.mkdirSync(path.join(dir, 'old'));
    fs.writeFileSync(path.join(dir, 'old', 'f'), 'before');
    writer.createDirectory(Buffer.from(path.join(dir, 'old')), 0o755, mtimeNs, Buffer.from('old'));
    writer.createDirectory(Buffer.from(path.join(dir, 'twice')), 0o755, mtimeNs, Buffer.from('twice'));
    writer.createDirectory(Buffer.from(path.join(dir, 'twice')), 0o755, mtimeNs, Buffer.from('twice'));
    expect(writer.inNewDirectory(Buffer.from(path.join(dir, 'old', 'f')))).toBe(false);
    expect(writer.inNewDirectory(Buffer.from(path.join(dir, 'twice', 'f')))).toBe(false);
    const rename = renames();
    write(writer, 'old/f', 'after');
    write(writer, 'twice/f', 'second');
    expect(rename).toHaveBeenCalledTimes(2);
    expect(fs.readFileSync(path.join(dir, 'old', 'f'), 'utf8')).toBe('after');
    expect(fs.readdirSync(path.join(dir, 'old'))).toEqual(['f']);
  });

  test('in an empty directory that was there are created under their final name too; one whose name is taken meanwhile replaces it through a temporary', async () => {
    const writer = new FileWriter(await loadXxhash(), () => undefined);
    fs.mkdirSync(path.join(dir, 'empty'), { mode: 0o500 });
    writer.createDirectory(Buffer.from(path.join(dir, 'empty')), 0o755, mtimeNs, Buffer.from('empty'));
    expect(writer.madeDirectory(Buffer.from(path.join(dir, 'empty')))).toBe(true);
    expect(writer.inNewDirectory(Buffer.from(path.join(dir, 'empty', 'f')))).toBe(true);
    // Made writable for the copy, as any directory that was there.
    expect(fs.statSync(path.join(dir, 'empty')).mode & 0o700).toBe(0o700);
    fs.writeFileSync(path.join(dir, 'empty', 'taken'), 'someone else');
    const rename = renames();
    write(writer, 'empty/f', 'new');
    expect(rename).not.toHaveBeenCalled();
    write(writer, 'empty/taken', 'ours');
    expect(rename).toHaveBeenCalledTimes(1);
    expect(fs.readdirSync(path.join(dir, 'empty')).sort()).toEqual(['f', 'taken']);
    expect(fs.readFileSync(path.join(dir, 'empty', 'taken'), 'utf8')).toBe('ours');
  });

  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot("as root, get no fchown when they belong to this process's user and the group the directory gives them", async () => {
    const writer = new FileWriter(await loadXxhash(), () => undefined);
    const own = { uid: process.geteuid!(), gid: process.getegid!() };
    const other = own.gid === 1234 ? 2345 : 1234;
    const ownerOf = (name: string): string => {
      const stat = fs.statSync(path.join(dir, name));
      return `${stat.uid}:${stat.gid}`;
    };
    const writeOwned = (name: string, gid: number): void =>
      writer.writeFile(Buffer.from(path.join(dir, name)), Buffer.from(name), 0o640, mtimeNs, { uid: own.uid, gid });
    writer.createDirectory(Buffer.from(path.join(dir, 'plain')), 0o755, mtimeNs, Buffer.from('plain'), own);
    // A set-group-ID parent: a directory made in it inherits the bit, and its files its group whatever the process's.
    fs.chownSync(dir, own.uid, other);
    fs.chmodSync(dir, 0o2755);
    writer.createDirectory(Buffer.from(path.join(dir, 'sgid')), 0o755, mtimeNs, Buffer.from('sgid'), { uid: own.uid, gid: other });
    const fchown = (fs.fchownSync as unknown as jest.Mock).mockClear();
    writeOwned('plain/own', own.gid);
    writeOwned('sgid/directory-group', other);
    expect(fchown).not.toHaveBeenCalled();
    writeOwned('plain/other-group', other);
    writeOwned('sgid/own-group', own.gid);
    expect(fchown).toHaveBeenCalledTimes(2);
    expect(ownerOf('plain/own')).toBe(`${own.uid}:${own.gid}`);
    expect(ownerOf('sgid/directory-group')).toBe(`${own.uid}:${other}`);
    expect(ownerOf('plain/other-group')).toBe(`${own.uid}:${other}`);
    expect(ownerOf('sgid/own-group')).toBe(`${own.uid}:${own.gid}`);
  });

  test.each([
    ['write', boundFs.writeAt, 'ENOSPC', 'FCP_ERR_NO_SPACE'],
    ['finish', boundFs.futimesBound, 'EIO', 'FCP_ERR_IO'],
  ] as const)('that fail to %s leave nothing under their name, and say which step failed', async (step, call, errno, code) => {
    const writer = new FileWriter(await loadXxhash(), () => undefined);
    writer.createDirectory(Buffer.from(path.join(dir, 'new')), 0o755, mtimeNs, Buffer.from('new'));
    (call as unknown as jest.Mock).mockImplementationOnce(() => {
      throw Object.assign(new Error(`${errno}: it failed`), { code: errno });
    });
    expect(() => write(writer, 'new/f', 'lost')).toThrow(expect.objectContaining({ code, message: expect.stringContaining(`cannot ${step} `) }));
    expect(fs.readdirSync(path.join(dir, 'new'))).toEqual([]);
    write(writer, 'new/g', 'kept');
    expect(fs.readFileSync(path.join(dir, 'new', 'g'), 'utf8')).toBe('kept');
  });

  test('replace a name taken after all (another writer) through a temporary, as anywhere else', async () => {
    const writer = new FileWriter(await loadXxhash(), () => undefined);
    writer.createDirectory(Buffer.from(path.join(dir, 'new')), 0o755, mtimeNs, Buffer.from('new'));
    fs.writeFileSync(path.join(dir, 'new', 'f'), 'someone else');
    const rename = renames();
    write(writer, 'new/f', 'ours');
    expect(rename).toHaveBeenCalledTimes(1);
    expect(fs.readFileSync(path.join(dir, 'new', 'f'), 'utf8')).toBe('ours');
    expect(fs.readdirSync(path.join(dir, 'new'))).toEqual(['f']);
  });
});

describe('a file of one chunk (announced with FILE_INFO)', () => {
  const mtimeNs = 1_600_000_000_123_456_000n;
  // Up to SYNC_WRITE_MAX: the chunk is written before writeChunk returns.
  const chunkSize = SYNC_WRITE_MAX;
  const body = Buffer.alloc(chunkSize - 3, 4);
  /** Creates dir/name as a file of one chunk and writes its chunk; the writer. */
  const written = async (name: string, owner?: { uid: number; gid: number }): Promise<FileWriter> => {
    const xxh = await loadXxhash();
    const writer = new FileWriter(xxh, () => undefined);
    expect(writer.createFile(0, Buffer.from(path.join(dir, name)), body.length, 0o640, fresh(body.length, chunkSize), owner)).toEqual({ held: new Map(), stale: undefined });
    writer.writeChunk(0, 0, 0, [body], chunkHash(xxh, [body]), () => undefined);
    return writer;
  };
  const privateTemp = /^\.f\.fcp-[0-9a-z]+-[0-9a-z]+$/;

  test('is written to a private temporary, with no part file, journal or lock, and appears under its name only at commit', async () => {
    const writer = await written('f');
    const names = fs.readdirSync(dir);
    expect(names).toEqual([expect.stringMatching(privateTemp)]);
    writer.commitFile(0, 0o640, mtimeNs);
    expect(fs.readdirSync(dir)).toEqual(['f']);
    const stat = fs.statSync(path.join(dir, 'f'), { bigint: true });
    expect(fs.readFileSync(path.join(dir, 'f')).equals(body)).toBe(true);
    expect(Number(stat.mode & 0o777n)).toBe(0o640);
    expect(stat.mtimeNs / 1000n).toBe(mtimeNs / 1000n);
  });

  test('an interrupted session (keepAll) leaves nothing of it: no journal to resume, nothing under its name', async () => {
    const writer = await written('f');
    writer.keepAll();
    await writer.discarded();
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  test('what an earlier run left for it (a part file and a journal) is not used, and goes once it is in place', async () => {
    for (const left of ['.f.fcp-part', '.f.fcp-part.journal']) fs.writeFileSync(path.join(dir, left), 'x');
    // Fresh: the journal is written now, so the sweep keeps it as resume state.
    const writer = await written('f');
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.f.fcp-part')).sort()).toEqual(['.f.fcp-part', '.f.fcp-part.journal']);
    writer.commitFile(0, 0o640, mtimeNs);
    expect(fs.readdirSync(dir)).toEqual(['f']);
  });

  test('an interrupted process (Ctrl-C: removeOpenTemporaries) removes the temporaries of those being written, and nothing committed', async () => {
    const done = await written('done');
    done.commitFile(0, 0o640, mtimeNs);
    const writers = [await written('f'), await written('g')];
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.'))).toHaveLength(2);
    removeOpenTemporaries();
    expect(fs.readdirSync(dir)).toEqual(['done']);
    // A session that ends after all finds nothing left to remove.
    for (const writer of writers) writer.keepAll();
    await Promise.all(writers.map((writer) => writer.discarded()));
    expect(fs.readdirSync(dir)).toEqual(['done']);
  });

  const asRoot = process.getuid?.() === 0 ? test : test.skip;
  asRoot("as root, gets no fchown in an existing directory when it is to belong to this process's user and group", async () => {
    const own = { uid: process.geteuid!(), gid: process.getegid!() };
    const fchown = (fs.fchownSync as unknown as jest.Mock).mockClear();
    (await written('f', own)).commitFile(0, 0o640, mtimeNs);
    expect(fchown).not.toHaveBeenCalled();
    const other = own.gid === 1234 ? 2345 : 1234;
    fs.rmSync(path.join(dir, 'f'));
    (await written('f', { uid: own.uid, gid: other })).commitFile(0, 0o640, mtimeNs);
    expect(fchown).toHaveBeenCalledTimes(1);
    expect(fs.statSync(path.join(dir, 'f')).gid).toBe(other);
  });
});

test('a file of more than one chunk still has its part file, journal and lock', async () => {
  const writer = new FileWriter(await loadXxhash(), () => undefined);
  const chunkSize = 4 * SYNC_WRITE_MAX;
  writer.createFile(0, Buffer.from(path.join(dir, 'f')), chunkSize + 1, 0o644, fresh(chunkSize + 1, chunkSize));
  expect(fs.readdirSync(dir).sort()).toEqual(['.f.fcp-part', '.f.fcp-part.journal', '.f.fcp-part.lock']);
  writer.discardFile(0);
  await writer.discarded();
});
