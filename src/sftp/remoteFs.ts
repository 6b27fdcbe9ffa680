/**
 * One SFTP channel's requests as promises, with failures as FcpErrors that name the operation,
 * the path and the host, and a deadline on every request (a server that stops answering is a
 * timeout, never a hang).
 */
import type { Attributes, SFTPWrapper, Stats } from 'ssh2';
import { FcpError, FcpErrorCode } from '../errors';
import { showName } from '../showName';
import { IDLE_TIMEOUT_MS } from '../timeouts';

/** SFTP status codes (draft-ietf-secsh-filexfer-02 §7) as fcp's error codes. */
const BY_STATUS: Record<number, [FcpErrorCode, string | undefined]> = {
  2: ['FCP_ERR_NOT_FOUND', 'check the path'],
  3: ['FCP_ERR_PERMISSION', 'check the permissions of the file and the directories above it'],
  6: ['FCP_ERR_CONNECTION_LOST', undefined],
  7: ['FCP_ERR_CONNECTION_LOST', undefined],
};

/** SSH_FX_FAILURE: OpenSSH's sftp-server says only "Failure" for a full disk, among others. */
export const SFTP_FAILURE = 4;

/**
 * Bytes per SFTP read or write request when the channel does not say what the server takes (ssh2
 * keeps that, the server's limits@openssh.com answer or its own safe guess, in private fields).
 */
const FALLBACK_REQUEST_BYTES = 64 * 1024;
/** Requests are cut at page boundaries, so that the server reads and writes whole pages. */
const PAGE_BYTES = 4096;

/**
 * The size of each request a `total`-byte read or write is cut into, all but the last the same,
 * when a request may carry at most `limit` bytes: as few requests as the limit allows, since each
 * one costs a packet, a system call and an answer on both sides (OpenSSH's sftp-server takes
 * 255 KiB, and 64 KiB requests made a pull three times slower than scp), and page-aligned.
 */
export function requestBytes(total: number, limit: number): number {
  const aligned = limit >= PAGE_BYTES ? limit - (limit % PAGE_BYTES) : limit;
  const requests = Math.max(1, Math.ceil(total / aligned));
  const even = Math.ceil(total / requests);
  return Math.min(aligned, Math.max(PAGE_BYTES, Math.ceil(even / PAGE_BYTES) * PAGE_BYTES));
}

/** The length of request `piece` of `total` bytes cut into `size`-byte requests. */
const pieceLength = (total: number, size: number, piece: number): number => Math.min(size, total - piece * size);

/** What ssh2 says a request may carry, on its SFTP channel object. */
interface RequestLimits {
  _maxReadLen?: number;
  _maxWriteLen?: number;
}

export class RemoteFs {
  /** The most a read or a write request may carry: larger ones ssh2 would split into requests sent one after another. */
  private readonly readLimit: number;
  private readonly writeLimit: number;

  constructor(
    private readonly sftp: SFTPWrapper,
    /** user@host, for messages. */
    readonly host: string,
    private readonly timeoutMs = IDLE_TIMEOUT_MS,
  ) {
    const limits = sftp as unknown as RequestLimits;
    this.readLimit = limits._maxReadLen || FALLBACK_REQUEST_BYTES;
    this.writeLimit = limits._maxWriteLen || FALLBACK_REQUEST_BYTES;
  }

  /** An SFTP failure of `operation` on `path` as an FcpError (also for a read or write). */
  error(err: unknown, operation: string, path: string): FcpError {
    if (err instanceof FcpError) return err;
    const status = (err as { code?: unknown }).code;
    const [code, hint] = (typeof status === 'number' && BY_STATUS[status]) || ['FCP_ERR_IO', undefined];
    return new FcpError(code, `cannot ${operation} ${showName(path)} on ${this.host}: ${(err as Error).message}`, { cause: err, hint });
  }

  /**
   * Requests `start` makes, under one deadline, answered once through `done`. ssh2 throws
   * synchronously when the channel is gone: `start` may be called again from an answer (`retry`),
   * and such a throw is the session's end there too.
   */
  private call<T>(operation: string, path: string, start: (done: (err: Error | null | undefined, value?: T) => void, retry: (send: () => void) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: unknown, value?: T, lost = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (lost) reject(new FcpError('FCP_ERR_CONNECTION_LOST', `the SFTP session with ${this.host} ended (${operation} ${showName(path)}): ${(err as Error).message}`, { cause: err }));
        else if (err) reject(this.error(err, operation, path));
        else resolve(value as T);
      };
      const timer = setTimeout(
        () => settle(new FcpError('FCP_ERR_TIMEOUT', `${this.host} did not answer an SFTP request (${operation} ${showName(path)}) within ${this.timeoutMs / 1000} s`)),
        this.timeoutMs,
      );
      const retry = (send: () => void) => {
        try {
          send();
        } catch (err) {
          settle(err, undefined, true);
        }
      };
      retry(() => start((err, value) => settle(err, value), retry));
    });
  }

  lstat(path: string): Promise<Stats> {
    return this.call('inspect', path, (done) => this.sftp.lstat(path, done));
  }

  stat(path: string): Promise<Stats> {
    return this.call('inspect', path, (done) => this.sftp.stat(path, done));
  }

  /** lstat, with "no such file" as undefined. */
  async lstatIfAny(path: string): Promise<Stats | undefined> {
    try {
      return await this.lstat(path);
    } catch (err) {
      if ((err as FcpError).code === 'FCP_ERR_NOT_FOUND') return undefined;
      throw err;
    }
  }

  readdir(path: string): Promise<string[]> {
    return this.call<{ filename: string }[]>('read directory', path, (done) => this.sftp.readdir(path, done)).then((list) => list.map((e) => e.filename));
  }

  readlink(path: string): Promise<string> {
    return this.call('read symlink', path, (done) => this.sftp.readlink(path, done));
  }

  realpath(path: string): Promise<string> {
    return this.call('resolve', path, (done) => this.sftp.realpath(path, done));
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.call('create directory', path, (done) => this.sftp.mkdir(path, { mode }, done));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.call('create symlink', path, (done) => this.sftp.symlink(target, path, done));
  }

  setstat(path: string, attrs: Partial<Attributes>): Promise<void> {
    return this.call('set the mode and time of', path, (done) => this.sftp.setstat(path, attrs as Attributes, done));
  }

  unlink(path: string): Promise<void> {
    return this.call('remove', path, (done) => this.sftp.unlink(path, done));
  }

  /** Replaces `to` if it exists (POSIX rename, OpenSSH's extension; plain SFTP rename refuses). */
  rename(from: string, to: string): Promise<void> {
    return this.call('rename into place', to, (done) => this.sftp.ext_openssh_rename(from, to, done));
  }

  open(path: string, flags: 'r' | 'w' | 'r+', mode?: number): Promise<Buffer> {
    return this.call('open', path, (done) => this.sftp.open(path, flags, mode === undefined ? {} : { mode }, done));
  }

  close(handle: Buffer, path: string): Promise<void> {
    return this.call('close', path, (done) => this.sftp.close(handle, done));
  }

  /**
   * Fills `buffer` from `position`, its requests (requestBytes each) all in flight at once;
   * resolves with the bytes read, which count only up to the first piece the file ended in.
   */
  readAt(handle: Buffer, buffer: Buffer, position: number, path: string): Promise<number> {
    const size = requestBytes(buffer.length, this.readLimit);
    const filled = new Array<number>(Math.ceil(buffer.length / size)).fill(0);
    return this.call('read', path, (done, retry) => {
      let left = filled.length;
      const total = () => {
        let bytes = 0;
        for (let piece = 0; piece < filled.length; piece++) {
          bytes += filled[piece]!;
          if (filled[piece]! < pieceLength(buffer.length, size, piece)) break;
        }
        return bytes;
      };
      // A short answer is read on from where it stopped; none (0 bytes) is the end of the file.
      const read = (piece: number) => {
        const from = piece * size + filled[piece]!;
        this.sftp.read(handle, buffer, from, pieceLength(buffer.length, size, piece) - filled[piece]!, position + from, (err, got) => {
          if (err) return done(err);
          filled[piece]! += got;
          if (got > 0 && filled[piece]! < pieceLength(buffer.length, size, piece)) return retry(() => read(piece));
          if (--left === 0) done(undefined, total());
        });
      };
      if (left === 0) return done(undefined, 0);
      for (let piece = 0; piece < filled.length; piece++) read(piece);
    });
  }

  /** Writes `buffer` at `position`, its requests (requestBytes each) all in flight at once. */
  writeAt(handle: Buffer, buffer: Buffer, position: number, path: string): Promise<void> {
    const size = requestBytes(buffer.length, this.writeLimit);
    return this.call('write', path, (done) => {
      let left = Math.ceil(buffer.length / size);
      if (left === 0) return done(undefined);
      const answered = (err: Error | null | undefined) => (err || --left === 0 ? done(err) : undefined);
      // ssh2 copies the bytes into its packet: `buffer` is free again once the answers come.
      for (let piece = 0; piece * size < buffer.length; piece++) {
        this.sftp.write(handle, buffer, piece * size, pieceLength(buffer.length, size, piece), position + piece * size, answered);
      }
    });
  }

  /** Bytes free for an unprivileged user on the file system holding `path` (statvfs@openssh.com). */
  freeBytes(path: string): Promise<number> {
    return this.call<{ bavail: number; frsize: number }>('inspect the file system of', path, (done) => this.sftp.ext_openssh_statvfs(path, done)).then(
      (fsInfo) => fsInfo.bavail * fsInfo.frsize,
    );
  }
}
