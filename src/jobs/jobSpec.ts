/**
 * A background job's copy as data: copy()'s options without what cannot be stored (callbacks, a
 * launcher), names as base64 of their bytes (a name need not be UTF-8), and the directory
 * relative local paths are taken from.
 */
import * as path from 'node:path';
import type { CopyOptions } from '../client/copy';
import { parseLocation, showLocation } from '../client/location';

/** copy()'s options that a job can carry: everything but callbacks and a launcher. */
export type JobOptions = Omit<CopyOptions, 'launcher' | 'log' | 'notice' | 'onEvent' | 'fileEvents' | 'progressIntervalMs'>;

type StoredOptions = Omit<JobOptions, 'sources' | 'destination' | 'backupSuffix'>;

export interface JobSpec {
  /** Base64 of each source's bytes, of the destination's and of the backup suffix's. */
  sources: string[];
  destination: string;
  backupSuffix: string | null;
  options: StoredOptions;
  /** The working directory of whoever started the job: relative local paths are taken from it. */
  cwd: string;
  /** The starter's SSH agent, so the job logs in as the starter's copy would. */
  sshAuthSock: string | null;
}

const bytes = (name: string | Buffer): Buffer => (typeof name === 'string' ? Buffer.from(name) : name);

export function toSpec(job: JobOptions, cwd: string, env: NodeJS.ProcessEnv): JobSpec {
  const { sources, destination, backupSuffix, ...options } = job;
  return {
    sources: sources.map((s) => bytes(s).toString('base64')),
    destination: bytes(destination).toString('base64'),
    backupSuffix: backupSuffix === undefined ? null : bytes(backupSuffix).toString('base64'),
    // Through JSON now: what the runner gets is what the record holds (undefined keys dropped).
    options: JSON.parse(JSON.stringify(options)) as StoredOptions,
    cwd,
    sshAuthSock: env.SSH_AUTH_SOCK || null,
  };
}

export function specSources(spec: JobSpec): Buffer[] {
  return spec.sources.map((s) => Buffer.from(s, 'base64'));
}

export function specDestination(spec: JobSpec): Buffer {
  return Buffer.from(spec.destination, 'base64');
}

/** The sources and destination as a person reads them (escaped as names are shown). */
export function describeSpec(spec: JobSpec): { source: string; destination: string } {
  return {
    source: specSources(spec).map((s) => showLocation(parseLocation(s))).join(' '),
    destination: showLocation(parseLocation(specDestination(spec))),
  };
}

/** The receiving host, as Scow-Sync's recvAddress: [user@]host, or localhost for a local destination. */
export function receivingHost(spec: JobSpec): string {
  const location = parseLocation(specDestination(spec));
  return location.kind === 'local' ? 'localhost' : `${location.user ? `${location.user}@` : ''}${location.host}`;
}

/**
 * Where the job writes, as one comparable string: host and path, local paths absolute and
 * without a trailing slash. A remote path relative to the home stays relative: the same text.
 */
function destinationKey(spec: JobSpec): string {
  const location = parseLocation(specDestination(spec));
  const where = location.path.toString('latin1');
  const full = location.kind === 'local' ? path.resolve(spec.cwd, where) : where.replace(/\/+$/, '') || '/';
  return location.kind === 'local' ? `:${full}` : `${location.user ?? ''}@${location.host}:${full}`;
}

/**
 * Whether two jobs may write the same file: the same destination, or one inside the other's
 * (a job into dir/ and a job into dir/sub). Such jobs never run at the same time.
 */
export function destinationsOverlap(a: JobSpec, b: JobSpec): boolean {
  const [x, y] = [destinationKey(a), destinationKey(b)];
  const inside = (inner: string, outer: string): boolean => inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
  return x === y || inside(x, y) || inside(y, x);
}

/** copy()'s options for the job, in the worker whose working directory is spec.cwd. */
export function toCopyOptions(spec: JobSpec): CopyOptions {
  const backupSuffix = spec.backupSuffix === null ? undefined : Buffer.from(spec.backupSuffix, 'base64');
  return { ...spec.options, sources: specSources(spec), destination: specDestination(spec), backupSuffix };
}
