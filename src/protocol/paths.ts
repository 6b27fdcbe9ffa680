/**
 * Checks on paths that arrive from a peer, done at parse time so that no file system call ever
 * sees a path that could leave the destination directory.
 */
import { FcpError } from '../errors';
import { showName } from '../showName';

const SLASH = 0x2f;
const DOT = 0x2e;
const NUL = 0x00;
const TILDE = 0x7e;

/**
 * An entry path is relative to the transfer root: '/'-separated, no empty, '.' or '..'
 * component, no NUL. Any other byte is allowed (names need not be UTF-8).
 */
export function checkEntryPath(path: Buffer): void {
  let componentStart = 0;
  for (let i = 0; i <= path.length; i++) {
    const byte = i < path.length ? path[i] : SLASH;
    if (byte === NUL) throw new FcpError('FCP_ERR_BAD_PATH', `peer sent a path with a NUL byte: ${showName(path)}`);
    if (byte !== SLASH) continue;
    const length = i - componentStart;
    const dots = length <= 2 && path[componentStart] === DOT && (length === 1 || path[componentStart + 1] === DOT);
    if (length === 0 || dots) {
      throw new FcpError(
        'FCP_ERR_BAD_PATH',
        `peer sent an unsafe path ${showName(path)}: entry paths must be relative, without empty, '.' or '..' components`,
      );
    }
    componentStart = i + 1;
  }
}

/** A path the user typed (PUSH destination, PULL source, symlink target): any bytes but NUL. */
export function checkUserPath(path: Buffer, what: string): void {
  if (path.length === 0) throw new FcpError('FCP_ERR_BAD_PATH', `${what} is empty`);
  if (path.includes(NUL)) throw new FcpError('FCP_ERR_BAD_PATH', `${what} contains a NUL byte: ${showName(path)}`);
}

/**
 * Whether a source stands for a directory's contents rather than the directory itself (rsync's
 * rule, PROTOCOL.md §7.2): a trailing slash (`dir/`), or a last component `.` or `..` (`dir/.`,
 * `.`), which has no name of its own to create at the destination (rsync, cp -r and scp all copy
 * what `src/.` holds). A path of one slash is not: it is the root directory itself.
 */
export function namesContents(source: Buffer): boolean {
  if (source.length > 1 && source[source.length - 1] === SLASH) return true;
  const last = source.subarray(source.lastIndexOf(SLASH) + 1);
  return last.length > 0 && last.length <= 2 && last.every((byte) => byte === DOT);
}

/**
 * The name a source path is sent under (PROTOCOL.md §7.2: an entry path's first component is the
 * source's last component), when the path alone tells it; undefined when only the sender's file
 * system does: `.`, `..`, a path of slashes, or `~`/`~user` alone (the server's home directory).
 */
export function requestedName(source: Buffer): Buffer | undefined {
  let end = source.length;
  while (end > 0 && source[end - 1] === SLASH) end--;
  const name = source.subarray(source.lastIndexOf(SLASH, end - 1) + 1, end);
  const dots = name.length <= 2 && name.every((byte) => byte === DOT);
  const home = name[0] === TILDE && name.length === end;
  return name.length === 0 || dots || home ? undefined : name;
}
