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

export class RemoteFs {
  constructor(
    private readonly sftp: SFTPWrapper,
    /** user@host, for messages. */
    readonly host: string,
    private readonly timeoutMs = IDLE_TIMEOUT_MS,
  ) {}

  /** An SFTP failure of `operation` on `path` as an FcpError (also for a read or write). */
  error(err: unknown, operation: string, path: string): FcpError {
    if (err instanceof FcpError) return err;
    const status = (err as { code?: unknown }).code;
    const [code, hint] = (typeof status === 'number' && BY_STATUS[status]) || ['FCP_ERR_IO', undefined];
    return new FcpError(code, `cannot ${operation} ${showName(path)} on ${this.host}: ${(err as Error).message}`, { cause: err, hint });
  }

  private call<T>(operation: string, path: string, start: (done: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new FcpError('FCP_ERR_TIMEOUT', `${this.host} did not answer an SFTP request (${operation} ${showName(path)}) within ${this.timeoutMs / 1000} s`)),
        this.timeoutMs,
      );
      try {
        start((err, value) => {
          clearTimeout(timer);
          if (err) reject(this.error(err, operation, path));
          else resolve(value as T);
        });
      } catch (err) {
        // ssh2 throws synchronously when the channel is gone.
        clearTimeout(timer);
        reject(new FcpError('FCP_ERR_CONNECTION_LOST', `the SFTP session with ${this.host} ended (${operation} ${showName(path)}): ${(err as Error).message}`, { cause: err }));
      }
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

  read(handle: Buffer, buffer: Buffer, offset: number, length: number, position: number, path: string): Promise<number> {
    return this.call('read', path, (done) => this.sftp.read(handle, buffer, offset, length, position, (err, bytesRead) => done(err, bytesRead)));
  }

  write(handle: Buffer, buffer: Buffer, offset: number, length: number, position: number, path: string): Promise<void> {
    return this.call('write', path, (done) => this.sftp.write(handle, buffer, offset, length, position, done));
  }

  /** Bytes free for an unprivileged user on the file system holding `path` (statvfs@openssh.com). */
  freeBytes(path: string): Promise<number> {
    return this.call<{ bavail: number; frsize: number }>('inspect the file system of', path, (done) => this.sftp.ext_openssh_statvfs(path, done)).then(
      (fsInfo) => fsInfo.bavail * fsInfo.frsize,
    );
  }
}
