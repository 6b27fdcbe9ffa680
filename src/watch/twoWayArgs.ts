/**
 * fcp --watch --two-way A B's arguments: the options it refuses (each with why), and its two
 * sides: one on this machine ("here"), the other here too or on a host ("there").
 */
import { CopyOptions } from '../client/copy';
import { Location, parseLocation } from '../client/location';
import { FcpError } from '../errors';
import { withoutTrailingSlashes } from '../transfer/walk';

/** Options a two-way sync has no use for, with why: each is a usage error. */
const REFUSED: readonly [keyof CopyOptions, string, string][] = [
  ['delete', '--delete', 'deletions go both ways by themselves with --two-way'],
  ['deleteExcluded', '--delete-excluded', 'excluded files are left alone on both sides with --two-way'],
  ['maxDelete', '--max-delete', 'deletions go both ways by themselves with --two-way'],
  ['removeSourceFiles', '--remove-source-files', 'both sides are sources with --two-way'],
  ['filesFrom', '--files-from', '--two-way syncs whole directories'],
  ['update', '--update', 'a conflict keeps both versions with --two-way'],
  ['ignoreExisting', '--ignore-existing', 'a conflict keeps both versions with --two-way'],
  ['existing', '--existing', 'what one side lacks is what --two-way gives it'],
  ['minSize', '--min-size', '--two-way syncs every file of both sides'],
  ['maxSize', '--max-size', '--two-way syncs every file of both sides'],
  ['sizeOnly', '--size-only', '--two-way compares files by their digests'],
  ['checksum', '--checksum', '--two-way compares files by their digests'],
  ['ignoreTimes', '--ignore-times', '--two-way sends changed files whatever their times'],
  ['dryRun', '--dry-run', '--two-way records every sync in its database'],
  ['backup', '--backup', 'a conflict keeps both versions with --two-way'],
  ['follow', '--follow', '--watch and --follow are two ways of keeping up'],
  ['sftp', '--sftp', '--two-way runs over fcpd'],
  ['oneFileSystem', '--one-file-system', '--two-way syncs what each side holds below its directory'],
  ['mkpath', '--mkpath', 'both sides of --two-way are directories that exist'],
];

function usage(message: string, hint: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', message, { hint });
}

/** The spec of a location without trailing slashes (a remote's as given, its path's slashes stripped). */
function specOf(spec: string | Buffer, location: Location): Buffer {
  const raw = typeof spec === 'string' ? Buffer.from(spec) : spec;
  return raw.subarray(0, raw.length - (location.path.length - withoutTrailingSlashes(location.path).length));
}

/** The checks of fcp --watch --two-way's arguments; the two sides (here on this machine). */
export function twoWaySides(options: CopyOptions): { here: Buffer; there: Location; thereSpec: Buffer } {
  for (const [key, flag, why] of REFUSED) {
    if (options[key] !== undefined && options[key] !== false) throw usage(`${flag} and --two-way were both given`, why);
  }
  if (options.sources.length !== 1) throw usage('--two-way takes two directories: A B', 'fcp --watch --two-way A B');
  const a = parseLocation(options.sources[0]!);
  const b = parseLocation(options.destination);
  if (a.kind === 'remote' && b.kind === 'remote') throw usage('--two-way syncs this machine with one host', 'run it on one of the two hosts instead');
  // A keeps the name in a conflict when it is here; with A on a host, B (here) does.
  const [here, there, thereGiven] = a.kind === 'local' ? [a, b, options.destination] : [b, a, options.sources[0]!];
  return { here: withoutTrailingSlashes(here.path), there, thereSpec: specOf(thereGiven, there) };
}
