/**
 * A small file's calls (open, a positional read or write, futimes) straight to Node's fs binding,
 * without the argument checks and wrappers of openSync, readSync, writeSync and futimesSync: about
 * 0.1 µs a call (bench/localFloor.ts --lean against --binding), and a small file costs its sender
 * an open and a read and its receiver an open, a write and a futimes (200,000 files: a million
 * calls; docs/BENCHMARKS.md "Per-file cost, eleventh round"). And the walk's listing of a
 * directory with types, as the binding's two arrays (names, types) rather than readdirSync's
 * Dirent a name (docs/BENCHMARKS.md "Per-file cost, twelfth round").
 *
 * The callers' arguments are their own (a descriptor they opened, a range inside their buffer, a
 * time from `seconds`), which the fs functions would only check again. The binding's conventions
 * are those of Node v20.20 (its lib/fs.js): open, read and futimes throw their error from C++;
 * writeBuffer puts errno and syscall into a context object, from which writeSync's error is built
 * as lib/fs.js builds it (uvException). Used on that Node only (another may call the binding
 * otherwise, and the binding aborts the process on arguments it does not expect), where the
 * binding may be called straight (fsBinding.ts); otherwise, and for a path with a NUL byte (which
 * the fs functions refuse), the fs functions. Errors are theirs either way: code, errno, syscall,
 * path and message.
 */
import { constants, futimesSync, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { getSystemErrorMap } from 'node:util';
import { unwatchedFsBinding } from './fsBinding';

/** Where writeBuffer reports a failure (lib/fs.js writeSync's ctx). */
interface WriteContext {
  errno?: number;
  syscall?: string;
}

/** The binding's calls this module makes, as Node v20.20 declares them for the synchronous functions. */
interface CallBinding {
  open(path: Buffer, flags: number, mode: number): number;
  read(fd: number, buffer: Buffer, offset: number, length: number, position: number): number;
  writeBuffer(fd: number, buffer: Buffer, offset: number, length: number, position: number, request: undefined, context: WriteContext): number;
  futimes(fd: number, atime: number, mtime: number): void;
  readdir(path: Buffer, encoding: 'latin1', withFileTypes: true): [string[], number[]];
}

/** The Node whose binding's conventions this module follows (checked in v20.20.2). */
const CHECKED_MAJOR = 20;
const CHECKED_MINOR = 20;

/** The type a listing gives a regular file (libuv's UV_DIRENT_FILE, which Node's fs.constants holds but its types do not declare). */
const DIRENT_FILE = (constants as { UV_DIRENT_FILE?: number }).UV_DIRENT_FILE ?? 1;

/** openSync's mode when none is given. */
const DEFAULT_MODE = 0o666;

function callBinding(): CallBinding | undefined {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major !== CHECKED_MAJOR || minor! < CHECKED_MINOR) return undefined;
  const binding = unwatchedFsBinding<CallBinding>();
  if (binding === undefined) return undefined;
  const { open, read, writeBuffer, futimes, readdir } = binding;
  return [open, read, writeBuffer, futimes, readdir].every((call) => typeof call === 'function') ? (binding as CallBinding) : undefined;
}

const binding = callBinding();

/** Whether the binding is in use (the unit test checks both ways give the same results and errors). */
export const usesBinding = binding !== undefined;

/** writeBuffer's context, reused: it is written to only on a failure, then emptied. */
const writeContext: WriteContext = {};

/** The error writeSync throws for what writeBuffer put into `context` (lib/internal/errors.js uvException). */
function writeError(context: WriteContext): NodeJS.ErrnoException {
  const [code, description] = getSystemErrorMap().get(context.errno!) ?? ['UNKNOWN', 'unknown error'];
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, ${context.syscall}`);
  err.errno = context.errno;
  err.syscall = context.syscall;
  err.code = code;
  return err;
}

/** openSync(path, flags, mode). */
export function openBound(path: Buffer, flags: number, mode = DEFAULT_MODE): number {
  if (binding === undefined || path.includes(0)) return openSync(path, flags, mode);
  return binding.open(path, flags, mode);
}

/** readSync(fd, buffer, offset, length, position): the bytes read. */
export function readAt(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  if (binding === undefined) return readSync(fd, buffer, offset, length, position);
  // readSync makes no call for nothing to read.
  return length === 0 ? 0 : binding.read(fd, buffer, offset, length, position);
}

/** writeSync(fd, buffer, offset, length, position): the bytes written. */
export function writeAt(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
  if (binding === undefined) return writeSync(fd, buffer, offset, length, position);
  const written = binding.writeBuffer(fd, buffer, offset, length, position, undefined, writeContext);
  if (writeContext.errno === undefined) return written;
  const err = writeError(writeContext);
  writeContext.errno = undefined;
  throw err;
}

/** A time futimesSync passes to the binding as it is: a finite number, not negative. */
const isPlainTime = (time: number | string): time is number => typeof time === 'number' && time >= 0 && time < Infinity;

/**
 * futimesSync(fd, atime, mtime), in seconds. futimesSync takes a negative number as "now",
 * parses a string (fileWriter's `seconds` gives a time before 1970 as one) and refuses what is not
 * finite: those go to it.
 */
export function futimesBound(fd: number, atime: number | string, mtime: number | string): void {
  if (binding === undefined || !isPlainTime(atime) || !isPlainTime(mtime)) return futimesSync(fd, atime, mtime);
  binding.futimes(fd, atime, mtime);
}

/** A directory's names (their bytes as latin1 strings) and, by the same index, whether each is a regular file as the listing says (d_type). */
export interface TypedListing {
  names: string[];
  isFile: boolean[];
}

/**
 * readdirSync(path, { encoding: 'latin1', withFileTypes: true }) as names and their types: the
 * binding's two arrays, without a Dirent a name. A type the listing does not know (DT_UNKNOWN,
 * which readdirSync's Dirents lstat) is not a regular file here: the caller stats those.
 */
export function readdirTyped(path: Buffer): TypedListing {
  if (binding === undefined || path.includes(0)) {
    const dirents = readdirSync(path, { encoding: 'latin1', withFileTypes: true });
    return { names: dirents.map((dirent) => dirent.name), isFile: dirents.map((dirent) => dirent.isFile()) };
  }
  const [names, types] = binding.readdir(path, 'latin1', true);
  const isFile = new Array<boolean>(types.length);
  for (let i = 0; i < types.length; i++) isFile[i] = types[i] === DIRENT_FILE;
  return { names, isFile };
}
