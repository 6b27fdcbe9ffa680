/**
 * The name a conflicting version is kept under (fcp --watch --two-way): `NAME.conflict-HOST-TIME`
 * beside the path, TIME the UTC time of the round (20261204T231800Z), HOST the host whose version
 * it is; `-2`, `-3`, ... after it when that name is taken. Pure: the time is given, never read.
 */

/** A host name as a file name part: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
function hostPart(host: string): string {
  return host.replace(/[^A-Za-z0-9._-]/g, '_') || 'host';
}

function utcStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export function conflictName(path: string, host: string, at: Date, taken: (name: string) => boolean): string {
  const name = `${path}.conflict-${hostPart(host)}-${utcStamp(at)}`;
  if (!taken(name)) return name;
  for (let n = 2; ; n++) if (!taken(`${name}-${n}`)) return `${name}-${n}`;
}
