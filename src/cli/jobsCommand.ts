/**
 * fcp's background job options: --background hands the copy to the job runner; --jobs, --job ID,
 * --attach ID, --cancel ID [--discard] and --retry ID act on jobs; --check-login [user@]host
 * tells whether a job could log in there. Options, not subcommands: a file named `jobs` is a file.
 */
import { checkLogin } from '../client/checkLogin';
import type { SshOptions } from '../client/remoteLauncher';
import { asFcpError, ExitCode, exitCodeFor, FcpError, FcpErrorCode } from '../errors';
import { cancelJob, getJob, JobContext, listJobs, retryJob, startJob } from '../jobs/api';
import type { JobOptions } from '../jobs/jobSpec';
import { isFinished } from '../jobs/jobStore';
import type { JobInfo } from '../jobs/jobView';
import { isRunning } from '../state/running';
import { showJson, showText } from '../showName';
import { formatBytes, formatDuration } from './format';
import type { JobCommand, JobFlags } from './jobFlags';
import { Reporter } from './reporter';

/** How often --attach and --cancel look at the job's record. */
const POLL_MS = 250;
/** --cancel waits this long for the job's process to stop. */
const CANCEL_WAIT_MS = 15_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The exit code a finished job stands for: 0 done, else its error's. */
function exitOf(job: JobInfo): number {
  if (job.state === 'done') return ExitCode.OK;
  if (job.state === 'cancelled') return exitCodeFor('FCP_ERR_CANCELLED');
  const code = job.error?.code;
  return code !== undefined && code.startsWith('FCP_ERR_') ? exitCodeFor(code as FcpErrorCode) : ExitCode.INTERNAL;
}

function figures(job: JobInfo): string {
  const eta = job.leftTime === null ? '--:--' : formatDuration(job.leftTime);
  return `${formatBytes(job.bytesDone)} / ${formatBytes(job.transferSize)} ${Math.floor(job.progress)}% ${formatBytes(job.speed)}/s ETA ${eta}`;
}

/** One line per job for fcp --jobs. */
function jobLine(job: JobInfo): string {
  if (job.error?.code === 'FCP_ERR_JOB_RECORD') return `${job.id}  ${job.state.padEnd(9)}  ${job.error.message}`;
  const when = job.finished ? `finished ${job.finished}` : job.started ? `started ${job.started}` : `queued ${job.created}`;
  return `${job.id}  ${job.state.padEnd(9)}  ${figures(job)}  ${when}  ${job.source} -> ${job.destination}`;
}

/** What fcp --job ID shows: the job, its progress, and its summary and errors once finished. */
function jobText(job: JobInfo): string {
  const lines = [
    `job ${job.id}: ${job.state}`,
    `  source:      ${job.source}`,
    `  destination: ${job.destination}`,
    `  progress:    ${figures(job)}, files ${job.filesDone}/${job.filesTotal}${job.filePath ? `, ${job.filePath}` : ''}`,
    `  created:     ${job.created}`,
    ...(job.started ? [`  started:     ${job.started} (run ${job.runs})`] : []),
    ...(job.finished ? [`  finished:    ${job.finished}`] : []),
  ];
  const s = job.summary;
  if (s) lines.push(`  summary:     ${s.files} files, ${formatBytes(s.bytes)} (${formatBytes(s.bytesResumed)} already there) in ${s.seconds.toFixed(2)} s`);
  if (s) for (const error of s.errors) lines.push(`  failed:      ${error.message} (${error.code})`);
  if (job.error) lines.push(`  error:       ${job.error.message} (${job.error.code})`);
  return `${showText(lines.join('\n'))}\n`;
}

export interface JobRun {
  flags: JobFlags;
  context: JobContext;
  reporter: Reporter;
  stdout: NodeJS.WritableStream;
  /** --background: the copy to hand over. */
  copy?: JobOptions;
  /** --check-login: how to log in (-P, -i, -F, -J, -o). */
  ssh: SshOptions;
}

/** Runs a job option; resolves with the exit code. */
export async function runJobCommand(command: JobCommand, run: JobRun): Promise<number> {
  const { flags, context, stdout } = run;
  const print = (value: unknown, text: string): void => void stdout.write(flags.json ? `${showJson(value)}\n` : text);
  try {
    switch (command) {
      case 'background': {
        const { id, pid } = await startJob(run.copy!, context);
        print({ event: 'job', id, pid }, `job ${id} started by the job runner (pid ${pid}): fcp --attach ${id} follows it\n`);
        return ExitCode.OK;
      }
      case 'jobs': {
        const jobs = await listJobs(context);
        print(jobs, jobs.length === 0 ? 'no jobs\n' : `${showText(jobs.map(jobLine).join('\n'))}\n`);
        return ExitCode.OK;
      }
      case 'job': {
        const job = getJob(flags.job!, context);
        print(job, jobText(job));
        return ExitCode.OK;
      }
      case 'attach':
        return await attach(flags.attach!, run);
      case 'cancel': {
        await cancelJob(flags.cancel!, { discard: flags.discard }, context);
        const job = await finished(flags.cancel!, context, CANCEL_WAIT_MS);
        print(job, `job ${job.id}: ${job.state}${flags.discard ? ', partial files removed' : ', partial files kept: fcp --retry resumes it'}\n`);
        return ExitCode.OK;
      }
      case 'retry': {
        await retryJob(flags.retry!, context);
        print({ event: 'job', id: flags.retry, state: 'queued' }, `job ${flags.retry} queued again: it resumes from what is already there\n`);
        return ExitCode.OK;
      }
      case 'checkLogin':
        return await checkLoginCommand(flags.checkLogin!, run);
    }
  } catch (err) {
    const error = asFcpError(err);
    run.reporter.error(error);
    return error.exitCode;
  }
}

/** Waits (bounded) until the job is finished; FCP_ERR_TIMEOUT when it is not. */
async function finished(id: string, context: JobContext, ms: number): Promise<JobInfo> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(POLL_MS)) {
    const job = getJob(id, context);
    if (isFinished(job.state)) return job;
  }
  throw new FcpError('FCP_ERR_TIMEOUT', `job ${id} did not stop within ${ms / 1000} s`, { hint: 'fcp --job ID shows where it is' });
}

/**
 * The live progress line of a job until it ends (Ctrl-C detaches: the job goes on); exits with the
 * job's outcome. A running job whose process is gone (the runner died) has the runner started
 * again, which resumes it.
 */
async function attach(id: string, run: JobRun): Promise<number> {
  getJob(id, run.context);
  // A queued job needs a runner: listing starts one when jobs are unfinished.
  await listJobs(run.context);
  let detached = false;
  process.once('SIGINT', () => (detached = true));
  for (;;) {
    const job = getJob(id, run.context);
    if (isFinished(job.state)) {
      run.reporter.event({ type: 'progress', bytesDone: job.bytesDone, bytesTotal: job.transferSize, filesDone: job.filesDone, filesTotal: job.filesTotal, rate: 0, etaSeconds: 0, currentFile: undefined, elapsedSeconds: 0 });
      if (run.flags.json) run.stdout.write(`${showJson({ event: 'job', ...job })}\n`);
      else run.reporter.notice(`job ${id}: ${job.state}${job.error ? `: ${job.error.message} (${job.error.code})` : ''}`);
      return exitOf(job);
    }
    if (detached) {
      run.reporter.notice(`detached from job ${id}; it goes on (fcp --attach ${id} follows it again)`);
      return ExitCode.OK;
    }
    if (job.state === 'running') {
      run.reporter.event({ type: 'progress', bytesDone: job.bytesDone, bytesTotal: job.transferSize, filesDone: job.filesDone, filesTotal: job.filesTotal, rate: job.speed, etaSeconds: job.leftTime ?? undefined, currentFile: job.filePath ?? undefined, elapsedSeconds: 0 });
    }
    // A job left running by a runner that is gone: listing starts the runner, which resumes it.
    if (job.state === 'running' && job.pid !== null && !isRunning(job.pid)) await listJobs(run.context);
    await sleep(POLL_MS);
  }
}

async function checkLoginCommand(target: string, run: JobRun): Promise<number> {
  try {
    await checkLogin(target, run.ssh, (line) => run.reporter.log(line));
    run.stdout.write('true\n');
    return ExitCode.OK;
  } catch (err) {
    const error = asFcpError(err);
    run.stdout.write('false\n');
    run.reporter.error(error);
    return ExitCode.AUTH;
  }
}
