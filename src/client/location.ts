/**
 * scp-style locations: `[user@]host:path` and `[user@][ipv6]:path` are remote, as is `host:`
 * (the remote home); everything else is local, including a path with a ':' after a '/'
 * (./a:b) or a leading ':', as scp decides. Paths stay bytes: a name need not be UTF-8.
 */
import { showName } from '../showName';

export type Location =
  | { kind: 'local'; path: Buffer }
  | { kind: 'remote'; user?: string; host: string; path: Buffer };

const REMOTE = /^(?:([^@/]+)@)?(\[[^\]/]+\]|[^:/[\]]+):(.*)$/s;

/** A spec's bytes as a string of one character per byte (latin1), and back: no byte is lost. */
const asBytes = (text: string): Buffer => Buffer.from(text, 'latin1');

export function parseLocation(spec: string | Buffer): Location {
  const raw = typeof spec === 'string' ? Buffer.from(spec) : spec;
  const match = REMOTE.exec(raw.toString('latin1'));
  if (!match) return { kind: 'local', path: raw };
  const [, user, rawHost, path] = match;
  const host = asBytes(rawHost!.startsWith('[') ? rawHost!.slice(1, -1) : rawHost!).toString('utf8');
  const remote = { kind: 'remote' as const, host, path: asBytes(path!) };
  return user === undefined ? remote : { ...remote, user: asBytes(user).toString('utf8') };
}

/** A location as the user typed it, escaped as names are (showName). */
export function showLocation(location: Location): string {
  if (location.kind === 'local') return showName(location.path);
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  return showName(Buffer.concat([Buffer.from(`${location.user ? `${location.user}@` : ''}${host}:`), location.path]));
}

/** An empty remote path (`host:`) is the remote home: fcpd's working directory. */
export const orHome = (remotePath: Buffer): Buffer => (remotePath.length > 0 ? remotePath : Buffer.from('.'));
