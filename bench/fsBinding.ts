/**
 * Node 20's fs binding, as lib/fs.js calls it for the synchronous functions: the floors' least
 * JavaScript around a system call (bench only: an internal interface, not fcp's).
 */
export interface FsBinding {
  lstat(path: string, bigint: true, request: undefined, throwIfNoEntry: boolean): BigInt64Array;
  lstat(path: string, bigint: false, request: undefined, throwIfNoEntry: boolean): Float64Array;
  fstat(fd: number, bigint: true, request: undefined, throwIfNoEntry: boolean): BigInt64Array;
  fstat(fd: number, bigint: false, request: undefined, throwIfNoEntry: boolean): Float64Array;
  open(path: string, flags: number, mode: number): number;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  writeBuffer(fd: number, buffer: Buffer, offset: number, length: number, position: number, request: undefined, context: { errno?: number }): number;
  futimes(fd: number, atime: number, mtime: number): void;
  close(fd: number): void;
}

export const binding = (process as unknown as { binding(name: string): FsBinding }).binding('fs');

/**
 * Where a field is in the binding's stat array (node's src/node_file.h FsStatsOffset); each time
 * a *_SEC, its nanoseconds next. One array is shared by every call: read it before the next.
 */
export const STAT = { MODE: 1, INO: 7, SIZE: 8, ATIME_SEC: 10, MTIME_SEC: 12, CTIME_SEC: 14 } as const;
