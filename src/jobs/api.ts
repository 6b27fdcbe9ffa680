/**
 * Background jobs in the Node API: startJob hands a copy to the user's job runner (started on
 * demand) and returns at once; listJobs, getJob, cancelJob and retryJob act on the jobs it keeps.
 */
import { readAllJobs, jobOrError } from './jobStore';
import { JobOptions, toSpec } from './jobSpec';
import { infoOf, JobInfo, jobInfo } from './jobView';
import { askRunner, DEFAULT_KEEP_JOBS_DAYS, DEFAULT_MAX_JOBS, ensureRunner, runnerPaths, RunnerSettings } from './runnerControl';

export interface JobContext {
  /** Where state lives ($XDG_STATE_HOME) and the starter's SSH agent; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The runner runs at most this many jobs at once, the rest queued (default 2). */
  maxJobs?: number;
  /** Finished jobs are kept this many days (default 7). */
  keepDays?: number;
}

const settingsOf = (context: JobContext): RunnerSettings => ({ maxJobs: context.maxJobs ?? DEFAULT_MAX_JOBS, keepDays: context.keepDays ?? DEFAULT_KEEP_JOBS_DAYS });

/** Queues a copy (copy()'s options, callbacks left out); resolves with the job's id and the runner's pid. */
export async function startJob(options: JobOptions, context: JobContext = {}): Promise<{ id: string; pid: number }> {
  const env = context.env ?? process.env;
  const reply = await askRunner(runnerPaths(env), { op: 'start', spec: toSpec(options, process.cwd(), env), settings: settingsOf(context) });
  return { id: reply.id!, pid: reply.pid };
}

/**
 * Every job, oldest first. The runner is started when it is not running, so that jobs it left
 * unfinished (a reboot, kill -9) resume. A job file that cannot be read is listed as failed, with why.
 */
export async function listJobs(context: JobContext = {}): Promise<JobInfo[]> {
  const paths = runnerPaths(context.env);
  const jobs = readAllJobs(paths.jobs);
  if (jobs.some((job) => 'state' in job && (job.state === 'queued' || job.state === 'running'))) await ensureRunner(paths, settingsOf(context));
  return readAllJobs(paths.jobs).map(infoOf);
}

/** One job; FCP_ERR_NO_SUCH_JOB (exit 2) when there is none. */
export function getJob(id: string, context: JobContext = {}): JobInfo {
  return jobInfo(jobOrError(runnerPaths(context.env).jobs, id));
}

/** Stops a queued or running job, keeping its partial files for a retry (discard: removing them). */
export async function cancelJob(id: string, options: { discard?: boolean } = {}, context: JobContext = {}): Promise<void> {
  const paths = runnerPaths(context.env);
  jobOrError(paths.jobs, id);
  await askRunner(paths, { op: 'cancel', id, discard: options.discard ?? false, settings: settingsOf(context) });
}

/** Queues a failed or cancelled job again: it resumes from the chunks already in place. */
export async function retryJob(id: string, context: JobContext = {}): Promise<void> {
  const paths = runnerPaths(context.env);
  jobOrError(paths.jobs, id);
  await askRunner(paths, { op: 'retry', id, settings: settingsOf(context) });
}
