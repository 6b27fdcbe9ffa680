/**
 * What the server makes of the user paths of a request (PROTOCOL.md §4, PUSH / PULL), as scp's
 * remote side does but without a shell, so that no name can run a command: `~` and `~user` at the
 * start mean those home directories, and a PULL source's components with `*`, `?` or `[...]` are
 * patterns expanded against the file system (src/protocol/glob.ts), several matches making several
 * sources. Relative paths stay relative to fcpd's working directory (the home directory over SSH).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { FcpError } from '../errors';
import { components, isGlob, matchGlob } from '../protocol/glob';
import { showName } from '../showName';
import { fsError } from '../transfer/fsError';

const SLASH = 0x2f;
const TILDE = 0x7e;
/** getent answers from the local files or a directory service; it must not hold up the request. */
const GETENT_TIMEOUT_MS = 5_000;

/**
 * The home directory of `user`, from the system's user database (getent, so that directory
 * services count too; Node has no getpwnam).
 */
function homeOf(user: string): string {
  let line: string;
  try {
    // Required here: node:child_process is 2-4 ms of every fcpd start, and most never look a user up.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
    line = execFileSync('getent', ['passwd', '--', user], { encoding: 'utf8', timeout: GETENT_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    line = '';
  }
  // getent also answers a number with that uid's entry: `~0` is not root's home.
  const fields = line.split('\n')[0]!.split(':');
  if (fields.length < 7 || fields[0] !== user) throw new FcpError('FCP_ERR_NOT_FOUND', `~${showName(user)}: no such user`);
  return fields[5]!;
}

/** `path` with a leading `~` or `~user` (up to the first `/`) replaced by that home directory. */
export function expandHome(path: Buffer): Buffer {
  if (path[0] !== TILDE) return path;
  const slash = path.indexOf(SLASH);
  const end = slash < 0 ? path.length : slash;
  const user = path.subarray(1, end).toString('utf8');
  const home = end === 1 ? os.homedir() : homeOf(user);
  return Buffer.concat([Buffer.from(home), path.subarray(end)]);
}

/** The paths `path`'s patterns match, sorted; `path` itself when it has none. */
function expandGlob(path: Buffer): Buffer[] {
  const parts = components(path);
  if (!parts.some(isGlob)) return [path];
  // Each prefix keeps its trailing separator: "" (relative), "/" or "dir/".
  let prefixes: Buffer[] = [Buffer.alloc(0)];
  parts.forEach((component, index) => {
    const last = index === parts.length - 1;
    const separator = last ? Buffer.alloc(0) : Buffer.from('/');
    if (!isGlob(component)) {
      prefixes = prefixes.map((prefix) => Buffer.concat([prefix, component, separator]));
      return;
    }
    prefixes = prefixes.flatMap((prefix) =>
      namesIn(prefix)
        .filter((name) => matchGlob(component, name))
        .map((name) => Buffer.concat([prefix, name, separator])),
    );
  });
  // A pattern in the middle matches files too ("a*/x" with a file "ab"): those paths do not exist.
  const found = prefixes.filter(exists);
  if (found.length === 0) throw new FcpError('FCP_ERR_NOT_FOUND', `${showName(path)}: no match`, { hint: 'the pattern matched no name on the server' });
  return found;
}

function exists(candidate: Buffer): boolean {
  try {
    fs.lstatSync(candidate);
    return true;
  } catch {
    return false;
  }
}

/** The names in a directory, sorted; none when it is no directory or cannot be read. */
function namesIn(prefix: Buffer): Buffer[] {
  try {
    return fs.readdirSync(prefix.length > 0 ? prefix : '.', { encoding: 'buffer' }).sort(Buffer.compare);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw fsError(err, 'read directory', prefix);
  }
}

/** A PULL's sources as the walk reads them: homes and patterns expanded. */
export function expandSources(sources: readonly Buffer[]): Buffer[] {
  return sources.flatMap((source) => expandGlob(expandHome(source)));
}
