/**
 * Reading a small file whole (FILE_INLINE), as the walk finds it or when it is announced, and
 * reading small files ahead while a push's login waits on the network. A small file costs its
 * sender five system calls: open, fstat (the walk's stat of it), read, fstat (the check that no
 * write came since), close; read when announced, the walk's lstat, open, read, fstat, close, two
 * lookups of its path. The login (SSH handshakes, fcpd starting) leaves this process idle for
 * most of a second, in which the first files' calls are made instead of later, between
 * announcements. What was read ahead is checked as a file read later is: against the walk's stat.
 */
import { constants } from 'node:fs';
import { FcpError } from '../errors';
import { openBound, readAt } from './boundFs';
import { closeQuietly, fsError } from './fsError';
import { SliceArena } from './sliceArena';
import { checkSource, sourceChanged, sourceState, unchangedSinceWalk } from './sourceCheck';
import type { Entry, OpenFileReader, WalkStream } from './walk';

type FileEntry = Extract<Entry, { kind: 'file' }>;

/** A small file's first entry.size bytes, and whether it was longer by the end of the read (they are sent with a warning). */
export interface SmallFileRead {
  data: Buffer;
  grew: boolean;
}

/**
 * Entries walked and bytes of small files read ahead during a push's login, at most: held until
 * they are announced, on top of the memory a million-file push peaks at (under 200 MB).
 */
export const READ_AHEAD_FILES = 16 * 1024;
export const READ_AHEAD_BYTES = 8 * 1024 * 1024;
/**
 * Entries walked (and their small files read) between two turns of the event loop: about a
 * millisecond, so that the login this process runs meanwhile (ssh2's handshake) is not held up;
 * 256 a turn delayed it by a tenth of a second and more on a loaded 2-core machine.
 */
const READ_AHEAD_STEP = 32;

/**
 * Fills `data` from the start of the open file; throws FCP_ERR_SOURCE_CHANGED when the file ends
 * first. The entry, not its path: a file walked in a directory joins its path when asked
 * (walk.ts FileInDirectory): a Buffer a file, made only for the error (87 B a file sampled).
 */
function readStart(fd: number, data: Buffer, entry: FileEntry): void {
  for (let filled = 0; filled < data.length; ) {
    const bytesRead = readAt(fd, data, filled, data.length - filled, filled);
    if (bytesRead === 0) throw sourceChanged(entry.source, 'shrank');
    filled += bytesRead;
  }
}

/**
 * The first entry.size bytes of the file into `data`, or why they cannot be read (one that got
 * shorter since the walk, or changed as it was read).
 */
export function readSmallFile(entry: FileEntry, data: Buffer): SmallFileRead | FcpError {
  let fd: number | undefined;
  try {
    fd = openBound(entry.source, constants.O_RDONLY);
    return readOpenFile(fd, entry, data);
  } catch (err) {
    return fsError(err, 'read', entry.source);
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

/**
 * readSmallFile's read of the file open at `fd`. A file as the walk saw it is read and fstat'ed
 * once; one that changed since is read again between two fstats, as larger files are
 * (sourceCheck.ts).
 */
function readOpenFile(fd: number, entry: FileEntry, data: Buffer): SmallFileRead | FcpError {
  try {
    if (entry.walked) {
      readStart(fd, data, entry);
      if (unchangedSinceWalk(fd, entry.size, entry.mtimeNs, entry.walked)) return { data, grew: false };
    }
    const opened = sourceState(fd);
    readStart(fd, data, entry);
    return { data, grew: checkSource(fd, opened, entry.source, entry.size).grew };
  } catch (err) {
    return fsError(err, 'read', entry.source);
  }
}

/**
 * How the walk reads a small file it found and has open (WalkStream.readWhileWalking), into a
 * slice `take` gives; a file that cannot be read is left to be read (and reported) when it is
 * announced.
 */
export function openFileReader(take: (size: number) => Buffer): OpenFileReader {
  return (fd, entry) => {
    const read = readOpenFile(fd, entry, take(entry.size));
    return read instanceof FcpError ? undefined : read;
  };
}

/**
 * Walks ahead and reads the small files found into their entries (readWhileWalking), a step at a
 * time, until `stopped()` says the login is over or the bounds are reached. The sender reads on
 * as it walks with its own buffers once it runs (sender.ts).
 */
export async function readAhead(walk: WalkStream, stopped: () => boolean): Promise<void> {
  const buffers = new SliceArena(READ_AHEAD_BYTES / 4);
  walk.readWhileWalking(openFileReader((size) => buffers.take(size)), READ_AHEAD_BYTES);
  for (;;) {
    await new Promise((resolve) => setImmediate(resolve));
    if (stopped()) return;
    walk.fill(Math.min(READ_AHEAD_FILES, walk.buffered + READ_AHEAD_STEP));
    if (walk.buffered >= READ_AHEAD_FILES || walk.heldBytes >= READ_AHEAD_BYTES || walk.complete) return;
  }
}
