/**
 * Background jobs on disk: one JSON file per job under $XDG_STATE_HOME/fcp/jobs (0700), written
 * whole to a temporary name and renamed, so a reader sees the old record or the new one. A file
 * that cannot be read back (torn by a crash, edited, from a newer fcp) is reported, never fatal.
 * Only the job runner writes records; fcp reads them directly to list and show jobs.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { ensurePrivateDir, fcpStateDir } from '../state/controlSocket';
import type { CopySummary } from '../client/copy';
import { describeSpec, JobSpec } from './jobSpec';

/** The record format; a record of another version is reported as unreadable. */
export const JOB_FORMAT_VERSION = 1;
export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
/** States a job does not leave by itself: kept for --keep-jobs days, then pruned. */
export const FINISHED_STATES: readonly JobState[] = ['done', 'failed', 'cancelled'];
export const isFinished = (state: JobState): boolean => FINISHED_STATES.includes(state);

/** A job id: 12 lowercase hex digits. */
const JOB_ID = /^[0-9a-f]{12}$/;
const SUFFIX = '.json';

export interface JobProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
  /** Bytes per second over the last seconds. */
  rate: number;
  etaSeconds: number | null;
  currentFile: string | null;
}

/** What a finished run did: copy()'s summary, its errors as code and message. */
export type JobSummary = Pick<CopySummary, 'bytes' | 'bytesSent' | 'bytesResumed' | 'files' | 'filesFailed' | 'entriesFailed' | 'seconds' | 'rate'> & {
  errors: { code: string; message: string }[];
};

export interface JobRecord {
  version: typeof JOB_FORMAT_VERSION;
  id: string;
  state: JobState;
  /** The sources and the destination as typed, for people. */
  source: string;
  destination: string;
  /** The copy to run. */
  spec: JobSpec;
  /** ISO times. */
  created: string;
  started: string | null;
  finished: string | null;
  /** Runs so far (a retry or a resume after a runner restart adds one). */
  runs: number;
  progress: JobProgress;
  summary: JobSummary | null;
  error: { code: string; message: string } | null;
  /** The pid of the process running the copy, while running. */
  workerPid: number | null;
}

/** A job file that could not be read as a record. */
export interface UnreadableJob {
  id: string;
  file: string;
  problem: string;
}

export const jobsDir = (env: NodeJS.ProcessEnv = process.env): string => path.join(fcpStateDir(env), 'jobs');
export const newJobId = (): string => randomBytes(6).toString('hex');
export const isJobId = (text: string): boolean => JOB_ID.test(text);
const jobFile = (dir: string, id: string): string => path.join(dir, `${id}${SUFFIX}`);

export const NO_PROGRESS: JobProgress = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0, rate: 0, etaSeconds: null, currentFile: null };

/** A new job's record: queued, not run yet. */
export function newJobRecord(spec: JobSpec, created = new Date()): JobRecord {
  return {
    version: JOB_FORMAT_VERSION,
    id: newJobId(),
    state: 'queued',
    ...describeSpec(spec),
    spec,
    created: created.toISOString(),
    started: null,
    finished: null,
    runs: 0,
    progress: NO_PROGRESS,
    summary: null,
    error: null,
    workerPid: null,
  };
}

/** Writes a record atomically: a temporary file (0600) renamed over the old one. */
export function writeJob(dir: string, record: JobRecord): void {
  ensurePrivateDir(dir);
  const file = jobFile(dir, record.id);
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  fs.renameSync(temp, file);
}

/** Why a parsed value is not a record of this format, or undefined when it is. */
function recordProblem(value: unknown, id: string): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const record = value as Partial<JobRecord>;
  if (record.version !== JOB_FORMAT_VERSION) return `format version ${JSON.stringify(record.version)}, this fcp reads ${JOB_FORMAT_VERSION}`;
  if (record.id !== id) return `it names job ${JSON.stringify(record.id)}`;
  if (!JOB_STATES.includes(record.state as JobState)) return `unknown state ${JSON.stringify(record.state)}`;
  if (typeof record.spec !== 'object' || record.spec === null || typeof record.progress !== 'object' || record.progress === null) return 'fields are missing';
  return undefined;
}

/** One job's record, or what is wrong with its file; undefined when there is no such job. */
export function readJob(dir: string, id: string): JobRecord | UnreadableJob | undefined {
  const file = jobFile(dir, id);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { id, file, problem: (err as Error).message };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { id, file, problem: `not JSON (${text.length} bytes: torn or edited)` };
  }
  const problem = recordProblem(value, id);
  return problem ? { id, file, problem } : (value as JobRecord);
}

export const isUnreadable = (job: JobRecord | UnreadableJob): job is UnreadableJob => 'problem' in job;

/** Every job file in `dir`, oldest first; temporary files of a write in progress are not jobs. */
export function readAllJobs(dir: string): (JobRecord | UnreadableJob)[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const jobs = names
    .filter((name) => name.endsWith(SUFFIX) && isJobId(name.slice(0, -SUFFIX.length)))
    .map((name) => readJob(dir, name.slice(0, -SUFFIX.length)))
    .filter((job): job is JobRecord | UnreadableJob => job !== undefined);
  const created = (job: JobRecord | UnreadableJob): string => (isUnreadable(job) ? '' : job.created);
  return jobs.sort((a, b) => created(a).localeCompare(created(b)) || a.id.localeCompare(b.id));
}

/** A readable record, or FCP_ERR_NO_SUCH_JOB / FCP_ERR_JOB_RECORD for the user. */
export function jobOrError(dir: string, id: string): JobRecord {
  if (!isJobId(id)) {
    throw new FcpError('FCP_ERR_NO_SUCH_JOB', `${JSON.stringify(id)} is not a job id`, { hint: 'a job id is 12 hex digits: fcp --jobs lists them' });
  }
  const job = readJob(dir, id);
  if (job === undefined) throw new FcpError('FCP_ERR_NO_SUCH_JOB', `no job ${id}`, { hint: 'fcp --jobs lists the jobs (finished ones are kept for --keep-jobs days)' });
  if (isUnreadable(job)) throw new FcpError('FCP_ERR_JOB_RECORD', `job ${id}: cannot read ${job.file}: ${job.problem}`, { hint: 'remove the file to forget the job' });
  return job;
}

/**
 * Removes finished jobs older than keepDays, unreadable files older than that too, and temporary
 * files a crash left; returns the ids removed.
 */
export function pruneJobs(dir: string, keepDays: number, now = Date.now()): string[] {
  const cutoff = now - keepDays * 86_400_000;
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    const id = name.slice(0, name.indexOf('.'));
    const job = name.endsWith(SUFFIX) && isJobId(id) ? readJob(dir, id) : undefined;
    const old = (): boolean => {
      try {
        return fs.statSync(file).mtimeMs < cutoff;
      } catch {
        return false;
      }
    };
    const expired = job === undefined ? name.endsWith('.tmp') && old() : isUnreadable(job) ? old() : isFinished(job.state) && Date.parse(job.finished ?? job.created) < cutoff;
    if (!expired) continue;
    fs.rmSync(file, { force: true });
    if (job !== undefined) removed.push(id);
  }
  return removed;
}
