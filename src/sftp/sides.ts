/**
 * The two ends of an SFTP copy behind one interface, so that one mover serves both directions:
 * this machine's file system, and the remote one through the SFTP sessions. Paths are entry
 * bytes; the remote side speaks UTF-8 (SFTP v3 paths are strings in ssh2), which the engine
 * checks before a name gets here.
 */
import * as fs from 'node:fs';
import { FcpError } from '../errors';
import { showName } from '../showName';
import { fsError } from '../transfer/fsError';
import { localHash } from './cksum';
import { SFTP_FAILURE } from './remoteFs';
import { RemoteHasher } from './remoteHasher';
import type { ShellPool } from './remoteShell';
import { StreamedDigest } from './streamedDigest';
import type { SftpSession } from './sessions';
import type { RemoteHashTool } from './verification';

const HASH_READ_BYTES = 1024 * 1024;


export interface FileHandle {
  /** Fills `buffer` from `position`; resolves with the bytes read (fewer only at the end of the file). */
  read(buffer: Buffer, position: number): Promise<number>;
  write(buffer: Buffer, position: number): Promise<void>;
  close(): Promise<void>;
}

export interface Side {
  /** Handles belong to one session (SFTP) or serve them all (local). */
  readonly perSession: boolean;
  /** This machine: its file's hash is that of the bytes the mover moved, not read again. */
  readonly local: boolean;
  openRead(path: Buffer, session: number): Promise<FileHandle>;
  /** `fresh`: create or truncate; otherwise the file exists and is written in place. */
  openWrite(path: Buffer, session: number, fresh: boolean, perm: number): Promise<FileHandle>;
  /** The size of a regular file at `path`, or undefined when there is none. */
  fileSize(path: Buffer): Promise<number | undefined>;
  /** Creates a directory, or accepts an existing one (never a symlink to one). */
  makeDirectory(path: Buffer, perm: number): Promise<void>;
  symlink(target: Buffer, path: Buffer): Promise<void>;
  setAttributes(path: Buffer, perm: number, mtimeSeconds: number): Promise<void>;
  /** Moves `from` over `to`, replacing a file there. */
  rename(from: Buffer, to: Buffer): Promise<void>;
  remove(path: Buffer): Promise<void>;
  /** The hex digest of the file at `path`, which holds `size` bytes. */
  hash(path: Buffer, hashTool: RemoteHashTool, size: number): Promise<string>;
  /** A remote file's digest taken as it is written (streamedDigest.ts); this machine's needs none. */
  streamDigest?(path: Buffer, hashTool: RemoteHashTool): StreamedDigest;
}

async function readFully(read: (buffer: Buffer, offset: number, length: number, position: number) => Promise<number>, buffer: Buffer, position: number): Promise<number> {
  let done = 0;
  while (done < buffer.length) {
    const got = await read(buffer, done, buffer.length - done, position + done);
    if (got === 0) break;
    done += got;
  }
  return done;
}

// --- this machine ------------------------------------------------------------------------------

export function localSide(): Side {
  const attempt = async <T>(operation: string, path: Buffer, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw fsError(err, operation, path);
    }
  };
  const handle = (file: fs.promises.FileHandle, path: Buffer): FileHandle => ({
    read: (buffer, position) => attempt('read', path, () => readFully((b, o, l, p) => file.read(b, o, l, p).then((r) => r.bytesRead), buffer, position)),
    write: (buffer, position) => attempt('write', path, () => file.write(buffer, 0, buffer.length, position).then(() => undefined)),
    close: () => attempt('close', path, () => file.close()),
  });
  return {
    perSession: false,
    local: true,
    openRead: async (path) => handle(await attempt('open', path, () => fs.promises.open(path, 'r')), path),
    openWrite: async (path, _session, fresh, perm) => handle(await attempt('create', path, () => fs.promises.open(path, fresh ? 'w' : 'r+', (perm & 0o777) | 0o600)), path),
    async fileSize(path) {
      const stat = await fs.promises.lstat(path).catch(() => undefined);
      return stat?.isFile() ? stat.size : undefined;
    },
    async makeDirectory(path, perm) {
      try {
        await fs.promises.mkdir(path, perm);
      } catch (err) {
        const existing = await fs.promises.lstat(path).catch(() => undefined);
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !existing?.isDirectory()) throw fsError(err, 'create directory', path);
        await attempt('make writable', path, () => fs.promises.chmod(path, (existing.mode & 0o7777) | 0o700));
      }
    },
    symlink: (target, path) => attempt('create symlink', path, () => fs.promises.symlink(target, path)),
    setAttributes: (path, perm, mtime) =>
      attempt('set the mode and time of', path, async () => {
        await fs.promises.chmod(path, perm);
        await fs.promises.utimes(path, mtime, mtime);
      }),
    rename: (from, to) => attempt('rename into place', to, () => fs.promises.rename(from, to)),
    remove: (path) => attempt('remove', path, () => fs.promises.unlink(path)),
    hash: (path, hashTool) =>
      attempt('read', path, async () => {
        const hash = localHash(hashTool.tool.node);
        const file = await fs.promises.open(path, 'r');
        try {
          for await (const chunk of file.createReadStream({ highWaterMark: HASH_READ_BYTES, autoClose: false })) hash.update(chunk as Buffer);
        } finally {
          await file.close();
        }
        return hash.digest('hex');
      }),
  };
}

// --- the remote host, over SFTP ------------------------------------------------------------------

/** The remote host through `sessions`, hashing its files in `shells`. */
export function remoteSide(sessions: SftpSession[], shells: ShellPool): Side {
  const fsOf = (session: number) => sessions[session]!.fs;
  const text = (path: Buffer) => path.toString('utf8');
  // Requests that need no handle go round the sessions: one sftp-server answers them in turn.
  let turn = 0;
  const anyFs = () => fsOf(turn++ % sessions.length);
  let hasher: RemoteHasher | undefined;
  const handle = (session: number, remote: Buffer, path: string): FileHandle => {
    const rfs = fsOf(session);
    return {
      read: (buffer, position) => rfs.readAt(remote, buffer, position, path),
      async write(buffer, position) {
        try {
          await rfs.writeAt(remote, buffer, position, path);
        } catch (err) {
          throw await explainWriteFailure(rfs, err, path, buffer.length);
        }
      },
      close: () => rfs.close(remote, path),
    };
  };
  return {
    perSession: true,
    local: false,
    openRead: async (path, session) => handle(session, await fsOf(session).open(text(path), 'r'), text(path)),
    openWrite: async (path, session, fresh, perm) => handle(session, await fsOf(session).open(text(path), fresh ? 'w' : 'r+', (perm & 0o777) | 0o600), text(path)),
    async fileSize(path) {
      const stat = await anyFs().lstatIfAny(text(path));
      return stat?.isFile() ? stat.size : undefined;
    },
    async makeDirectory(path, perm) {
      const rfs = anyFs();
      try {
        await rfs.mkdir(text(path), perm);
      } catch (err) {
        const existing = await rfs.lstatIfAny(text(path));
        if (!existing?.isDirectory()) throw err;
        await rfs.setstat(text(path), { mode: (existing.mode & 0o7777) | 0o700 });
      }
    },
    symlink: (target, path) => anyFs().symlink(text(target), text(path)),
    setAttributes: (path, perm, mtime) => anyFs().setstat(text(path), { mode: perm, atime: mtime, mtime }),
    rename: (from, to) => anyFs().rename(text(from), text(to)),
    remove: (path) => anyFs().unlink(text(path)),
    hash(path, hashTool, size) {
      hasher ??= new RemoteHasher(shells, hashTool);
      return hasher.hash(text(path), size);
    },
    streamDigest: (path, hashTool) => new StreamedDigest(shells, hashTool, text(path)),
  };
}

/**
 * OpenSSH's sftp-server answers a full disk with a bare "Failure": when the file system has no
 * room for the write, say so.
 */
async function explainWriteFailure(rfs: SftpSession['fs'], err: unknown, path: string, wanted: number): Promise<unknown> {
  if ((err as FcpError).cause === undefined || ((err as FcpError).cause as { code?: unknown }).code !== SFTP_FAILURE) return err;
  const free = await rfs.freeBytes(path).catch(() => undefined);
  if (free === undefined || free >= wanted) return err;
  return new FcpError('FCP_ERR_NO_SPACE', `cannot write ${showName(path)} on ${rfs.host}: no space left on the device`, {
    cause: err,
    hint: 'free some space on the destination, then copy again',
  });
}
