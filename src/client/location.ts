/**
 * scp-style locations: `[user@]host:path` and `[user@][ipv6]:path` are remote, as is `host:`
 * (the remote home); everything else is local, including a path with a ':' after a '/'
 * (./a:b) or a leading ':', as scp decides.
 */
import { showName } from '../showName';

export type Location =
  | { kind: 'local'; path: string }
  | { kind: 'remote'; user?: string; host: string; path: string };

const REMOTE = /^(?:([^@/]+)@)?(\[[^\]/]+\]|[^:/[\]]+):(.*)$/s;

export function parseLocation(spec: string): Location {
  const match = REMOTE.exec(spec);
  if (!match) return { kind: 'local', path: spec };
  const [, user, rawHost, path] = match;
  const host = rawHost!.startsWith('[') ? rawHost!.slice(1, -1) : rawHost!;
  return user === undefined ? { kind: 'remote', host, path: path! } : { kind: 'remote', user, host, path: path! };
}

/** A location as the user typed it, escaped as names are (showName). */
export function showLocation(location: Location): string {
  if (location.kind === 'local') return showName(location.path);
  const host = location.host.includes(':') ? `[${location.host}]` : location.host;
  return showName(`${location.user ? `${location.user}@` : ''}${host}:${location.path}`);
}
