/**
 * The receiver's side of the file system: each file is written under a hidden temporary name in
 * its destination directory, sized at once, filled by positional writes in any order, and
 * renamed into place only after it was verified. Directories get their final mode and mtime
 * after their contents, deepest first.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { FcpError } from '../errors';
import type { XXHashAPI } from '../protocol/xxhash';
import { fsError, showPath } from './fsError';

const open = promisify(fs.open);
const close = promisify(fs.close);
const ftruncate = promisify(fs.ftruncate);
const writev = promisify(fs.writev);
const fchmod = promisify(fs.fchmod);
const futimes = promisify(fs.futimes);
const rename = promisify(fs.rename);
const unlink = promisify(fs.unlink);
const mkdir = promisify(fs.mkdir);
const lstat = promisify(fs.lstat);
const chmod = promisify(fs.chmod);
const utimes = promisify(fs.utimes);
const symlink = promisify(fs.symlink);
const lutimes = promisify(fs.lutimes);

/** Longest name component of a temporary file: room for the ".fcp-xxxxxxxx" suffix under NAME_MAX. */
const MAX_TEMP_STEM = 200;
const SLASH = 0x2f;

interface OpenFile {
  fd: number;
  temp: Buffer;
  final: Buffer;
}

interface DirectoryMeta {
  path: Buffer;
  perm: number;
  mtimeNs: bigint;
}

const seconds = (ns: bigint): number => Number(ns) / 1e9;

/** `.<name>.fcp-<random>` beside `final`. */
function tempPathFor(final: Buffer): Buffer {
  const slash = final.lastIndexOf(SLASH);
  const dir = final.subarray(0, slash + 1);
  const name = final.subarray(slash + 1, slash + 1 + MAX_TEMP_STEM);
  return Buffer.concat([dir, Buffer.from('.'), name, Buffer.from(`.fcp-${randomBytes(4).toString('hex')}`)]);
}

export class FileWriter {
  private readonly files = new Map<number, OpenFile>();
  private readonly directories: DirectoryMeta[] = [];

  constructor(private readonly xxh: XXHashAPI) {}

  async createDirectory(path: Buffer, perm: number, mtimeNs: bigint): Promise<void> {
    try {
      // Owner rwx until the end, so the contents can be written whatever the final mode.
      await mkdir(path, { mode: perm | 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fsError(err, 'create directory', path);
      const existing = await lstat(path).catch((e: unknown) => {
        throw fsError(e, 'inspect', path);
      });
      if (!existing.isDirectory()) {
        throw new FcpError('FCP_ERR_NOT_DIRECTORY', `cannot copy a directory onto ${showPath(path)}: it exists and is not a directory`, {
          hint: 'remove it or choose another destination',
        });
      }
      await chmod(path, (existing.mode & 0o7777) | 0o700).catch((e: unknown) => {
        throw fsError(e, 'make writable', path);
      });
    }
    this.directories.push({ path, perm, mtimeNs });
  }

  async createSymlink(path: Buffer, target: Buffer, mtimeNs: bigint): Promise<void> {
    const temp = tempPathFor(path);
    try {
      await symlink(target, temp);
      await lutimes(temp, Date.now() / 1000, seconds(mtimeNs));
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw fsError(err, 'create symlink', path);
    }
  }

  /** Creates the temporary file and sizes it; `size` beyond one chunk is reserved at once. */
  async createFile(fileId: number, final: Buffer, size: number, preallocate: boolean): Promise<void> {
    const temp = tempPathFor(final);
    let fd: number | undefined;
    try {
      fd = await open(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      if (preallocate && size > 0) await ftruncate(fd, size);
    } catch (err) {
      if (fd !== undefined) await close(fd).catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw fsError(err, 'create', final);
    }
    this.files.set(fileId, { fd, temp, final });
  }

  /** Checks the chunk's xxh64 and, when it matches, writes it at offset. Returns the hash it computed. */
  async writeChunk(fileId: number, offset: number, data: Buffer[], expected: bigint): Promise<{ ok: boolean; hash: bigint }> {
    const file = this.fileOf(fileId);
    const hasher = this.xxh.create64(0n);
    for (const part of data) hasher.update(part);
    const hash = hasher.digest();
    if (hash !== expected) return { ok: false, hash };
    try {
      let buffers = data;
      let position = offset;
      for (;;) {
        const { bytesWritten: written } = await writev(file.fd, buffers, position);
        const total = buffers.reduce((sum, b) => sum + b.length, 0);
        if (written === total) break;
        if (written === 0) throw new FcpError('FCP_ERR_IO', `write of ${showPath(file.final)} made no progress`);
        buffers = skipBytes(buffers, written);
        position += written;
      }
    } catch (err) {
      throw fsError(err, 'write', file.final);
    }
    return { ok: true, hash };
  }

  /** Applies mode and mtime, closes and renames the verified file into place. */
  async commitFile(fileId: number, perm: number, mtimeNs: bigint): Promise<void> {
    const file = this.fileOf(fileId);
    this.files.delete(fileId);
    try {
      await fchmod(file.fd, perm);
      await futimes(file.fd, Date.now() / 1000, seconds(mtimeNs));
      await close(file.fd);
      await rename(file.temp, file.final);
    } catch (err) {
      await close(file.fd).catch(() => undefined);
      await unlink(file.temp).catch(() => undefined);
      throw fsError(err, 'finish', file.final);
    }
  }

  /** Removes a file that failed: nothing is left under its final name, nor its temporary. */
  async discardFile(fileId: number): Promise<void> {
    const file = this.files.get(fileId);
    if (!file) return;
    this.files.delete(fileId);
    await close(file.fd).catch(() => undefined);
    await unlink(file.temp).catch(() => undefined);
  }

  async discardAll(): Promise<void> {
    await Promise.all([...this.files.keys()].map((fileId) => this.discardFile(fileId)));
  }

  /** Directory modes and mtimes, deepest first, once their contents are written. */
  async finishDirectories(): Promise<void> {
    const deepestFirst = [...this.directories].sort((a, b) => b.path.length - a.path.length);
    for (const dir of deepestFirst) {
      try {
        await chmod(dir.path, dir.perm);
        await utimes(dir.path, Date.now() / 1000, seconds(dir.mtimeNs));
      } catch (err) {
        throw fsError(err, 'set mode and time of', dir.path);
      }
    }
  }

  private fileOf(fileId: number): OpenFile {
    const file = this.files.get(fileId);
    if (!file) throw new FcpError('FCP_ERR_INTERNAL', `file ${fileId} is not open for writing`);
    return file;
  }
}

/** The buffers after their first `count` bytes. */
function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (count >= buffer.length) {
      count -= buffer.length;
    } else {
      rest.push(count > 0 ? buffer.subarray(count) : buffer);
      count = 0;
    }
  }
  return rest;
}
