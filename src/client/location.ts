/**
 * scp-style locations: `[user@]host:path` and `[user@][ipv6]:path` are remote, as is `host:`
 * (the remote home); everything else is local, including a path with a ':' after a '/'
 * (./a:b) or a leading ':', as scp decides. An empty argument is refused, as cp, scp and rsync
 * refuse it. Paths stay bytes: a name need not be UTF-8.
 * `fcp://[user@]host[:port]/MODULE[/PATH]` is a module of a standing fcpd reached without SSH
 * (daemon access): remote too, its path `MODULE/PATH` as fcpd takes it.
 */
import { FcpError } from '../errors';
import { DEFAULT_DAEMON_PORT } from '../protocol/constants';
import { showName } from '../showName';

export type Location =
  | { kind: 'local'; path: Buffer }
  | { kind: 'remote'; user?: string; host: string; path: Buffer; daemon?: { port: number } };

const REMOTE = /^(?:([^@/]+)@)?(\[[^\]/]+\]|[^:/[\]]+):(.*)$/s;
const DAEMON_SCHEME = 'fcp://';
const DAEMON_URL = /^fcp:\/\/(?:([^@/]+)@)?(\[[^\]/]+\]|[^:/[\]]+)(?::(\d{1,5}))?\/([^/]+)(?:\/+(.*))?$/s;

/** An fcp:// URL; its module's root is `MODULE/.`, a name the server chooses (the module's directory's). */
function parseDaemonUrl(text: string): Location {
  const match = DAEMON_URL.exec(text);
  const port = Number(match?.[3] ?? DEFAULT_DAEMON_PORT);
  if (!match || port < 1 || port > 65535) {
    throw new FcpError('FCP_ERR_USAGE', `${showName(asBytes(text))}: not an fcp:// location`, { hint: 'fcp://[user@]host[:port]/MODULE[/PATH]' });
  }
  const [, user, rawHost, , module, rest] = match;
  const host = asBytes(rawHost!.startsWith('[') ? rawHost!.slice(1, -1) : rawHost!).toString('utf8');
  const path = asBytes(`${module}/${rest || '.'}`);
  return { kind: 'remote', host, path, daemon: { port }, ...(user === undefined ? {} : { user: asBytes(user).toString('utf8') }) };
}

/** A spec's bytes as a string of one character per byte (latin1), and back: no byte is lost. */
const asBytes = (text: string): Buffer => Buffer.from(text, 'latin1');

export function parseLocation(spec: string | Buffer): Location {
  const raw = typeof spec === 'string' ? Buffer.from(spec) : spec;
  // cp, scp and rsync refuse it too; taken as a path it would be the working directory (a copy of a file onto itself).
  if (raw.length === 0) throw new FcpError('FCP_ERR_USAGE', 'an empty argument names no file', { hint: 'write . for the current directory' });
  if (raw.toString('latin1').startsWith(DAEMON_SCHEME)) return parseDaemonUrl(raw.toString('latin1'));
  const match = REMOTE.exec(raw.toString('latin1'));
  if (!match) return { kind: 'local', path: raw };
  const [, user, rawHost, path] = match;
  // `user@:path`, `@host:path`: a part is missing, and the rest would be looked up as a host name ("u@").
  if (rawHost!.includes('@')) {
    throw new FcpError('FCP_ERR_USAGE', `${showName(raw)}: ${rawHost!.endsWith('@') ? 'no host after the @' : 'a host name holds no @'}`, { hint: 'write [user@]host:path' });
  }
  const host = asBytes(rawHost!.startsWith('[') ? rawHost!.slice(1, -1) : rawHost!).toString('utf8');
  const remote = { kind: 'remote' as const, host, path: asBytes(path!) };
  return user === undefined ? remote : { ...remote, user: asBytes(user).toString('utf8') };
}

/** A location as the user typed it, escaped as names are (showName). */
export function showLocation(location: Location): string {
  if (location.kind === 'local') return showName(location.path);
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  if (location.daemon) return showName(Buffer.concat([Buffer.from(`${DAEMON_SCHEME}${location.user ? `${location.user}@` : ''}${host}:${location.daemon.port}/`), location.path]));
  return showName(Buffer.concat([Buffer.from(`${location.user ? `${location.user}@` : ''}${host}:`), location.path]));
}

/** An empty remote path (`host:`) is the remote home: fcpd's working directory. */
export const orHome = (remotePath: Buffer): Buffer => (remotePath.length > 0 ? remotePath : Buffer.from('.'));
