/** File system failures as FcpErrors that name the operation, the path and what to do. */
import { closeSync } from 'node:fs';
import { FcpError, FcpErrorCode } from '../errors';
import { showName } from '../showName';

const BY_ERRNO: Record<string, [FcpErrorCode, string | undefined]> = {
  ENOENT: ['FCP_ERR_NOT_FOUND', 'check the path'],
  EACCES: ['FCP_ERR_PERMISSION', 'check the permissions of the file and the directories above it'],
  EPERM: ['FCP_ERR_PERMISSION', 'check the permissions of the file and the directories above it'],
  EROFS: ['FCP_ERR_PERMISSION', 'the file system is mounted read-only'],
  ENOSPC: ['FCP_ERR_NO_SPACE', 'free some space on the destination, then copy again'],
  EDQUOT: ['FCP_ERR_NO_SPACE', 'the disk quota is exhausted; free some space, then copy again'],
  EFBIG: ['FCP_ERR_FILE_TOO_LARGE', 'the file is larger than the destination allows (its file system, or a file-size limit such as ulimit -f)'],
  EIO: ['FCP_ERR_IO', 'the device reported an I/O error: check the disk (dmesg), then copy again'],
  EISDIR: ['FCP_ERR_IS_DIRECTORY', undefined],
  ENOTDIR: ['FCP_ERR_NOT_DIRECTORY', undefined],
  EEXIST: ['FCP_ERR_IO', 'remove what is in the way, then copy again'],
  ELOOP: ['FCP_ERR_BAD_PATH', 'too many levels of symbolic links'],
  ENAMETOOLONG: ['FCP_ERR_BAD_PATH', undefined],
  EMFILE: ['FCP_ERR_IO', 'too many open files: raise the open-file limit (ulimit -n)'],
  ENFILE: ['FCP_ERR_IO', "the system's open-file table is full; close some programs or raise fs.file-max"],
};

/** Closes a descriptor whose failure, if any, is already being reported (or that is already closed). */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Nothing more to say about it.
  }
}

export function fsError(err: unknown, operation: string, path: Buffer | string): FcpError {
  if (err instanceof FcpError) return err;
  const errno = (err as NodeJS.ErrnoException)?.code ?? '';
  const [code, hint] = BY_ERRNO[errno] ?? ['FCP_ERR_IO', undefined];
  const reason = (err as Error)?.message?.split(',')[0] ?? String(err);
  return new FcpError(code, `cannot ${operation} ${showName(path)}: ${reason}`, { cause: err, hint });
}
