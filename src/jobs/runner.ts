/**
 * The per-user job runner (dist/src/jobs/runnerMain.js, started on demand, detached): keeps the
 * job records, runs at most maxJobs copies at once, each in a worker process, never two whose
 * destinations overlap, and queues the rest. Unfinished jobs of a runner that died (kill -9, a
 * reboot) are queued again when it starts: their copies resume through the partial files. With
 * nothing queued or running for a while it exits; the next fcp --background starts it again.
 */
import { ChildProcess, fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { asFcpError } from '../errors';
import { showText } from '../showName';
import { ensurePrivateDir, serveControl } from '../state/controlSocket';
import { discardPartials } from './discard';
import { destinationsOverlap, JobSpec } from './jobSpec';
import { isFinished, isJobId, isUnreadable, JobRecord, newJobRecord, NO_PROGRESS, pruneJobs, readAllJobs, readJob, writeJob } from './jobStore';
import { KEEP_JOBS_DAYS_LIMIT, MAX_JOBS_LIMIT, MAX_RUNNER_REQUEST_BYTES, RunnerPaths, RunnerReply, RunnerRequest, RunnerSettings } from './runnerControl';
import type { WorkerMessage } from './worker';

/** With no job queued or running for this long, the runner exits. */
const IDLE_EXIT_MS = 60_000;
/** A worker asked to stop (cancel, runner stopping) that is still there after this is killed. */
const STOP_GRACE_MS = 5000;

interface Worker {
  child: ChildProcess;
  /** Set when the job is being cancelled. */
  cancel?: { discard: boolean };
  /** Whether the worker reported an outcome before it exited. */
  reported: boolean;
}

const isCount = (value: unknown, max: number): value is number => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= max;
const isStrings = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Whether a start request's spec has the shape toSpec gives (the options are copy()'s to check). */
function isSpec(value: unknown): value is JobSpec {
  const spec = value as JobSpec;
  return (
    typeof spec === 'object' && spec !== null && isStrings(spec.sources) && spec.sources.length > 0 && typeof spec.destination === 'string' &&
    typeof spec.cwd === 'string' && typeof spec.options === 'object' && spec.options !== null
  );
}

const refusal = (code: Extract<RunnerReply, { ok: false }>['code'], error: string): RunnerReply => ({ ok: false, code, error });

export class JobRunner {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly workers = new Map<string, Worker>();
  /** Jobs whose partial files are being removed (--discard) before they are recorded cancelled. */
  private readonly discarding = new Set<string>();
  private idleTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly paths: RunnerPaths,
    private settings: RunnerSettings,
    private readonly log: (line: string) => void,
    private readonly exit: () => void,
  ) {}

  /** Loads the records: jobs a dead runner left running are queued again, to resume. */
  load(): void {
    ensurePrivateDir(this.paths.jobs);
    this.prune();
    for (const job of readAllJobs(this.paths.jobs)) {
      if (isUnreadable(job)) {
        this.log(`job ${job.id}: cannot read ${job.file}: ${job.problem}`);
        continue;
      }
      if (job.state === 'running') {
        this.log(`job ${job.id}: was running when the runner stopped; queued to resume`);
        this.save({ ...job, state: 'queued', workerPid: null });
      } else {
        this.jobs.set(job.id, job);
      }
    }
    this.schedule();
  }

  /** The reply to one request line; a request that is not well formed is refused, never thrown. */
  answer(line: string): RunnerReply {
    try {
      return this.handle(line);
    } catch (err) {
      return refusal('FCP_ERR_USAGE', `bad request: ${(err as Error).message}`);
    }
  }

  private handle(line: string): RunnerReply {
    let request: RunnerRequest;
    try {
      request = JSON.parse(line) as RunnerRequest;
    } catch {
      return refusal('FCP_ERR_USAGE', 'bad request: not JSON');
    }
    if (typeof request !== 'object' || request === null) return refusal('FCP_ERR_USAGE', 'bad request: not a JSON object');
    if (request.settings !== undefined) {
      const { maxJobs, keepDays } = request.settings;
      if (!isCount(maxJobs, MAX_JOBS_LIMIT) || !isCount(keepDays, KEEP_JOBS_DAYS_LIMIT)) return refusal('FCP_ERR_USAGE', 'bad request: settings out of range');
      this.settings = { maxJobs, keepDays };
    }
    switch (request.op) {
      case 'status':
        return { ok: true, pid: process.pid };
      case 'start':
        return isSpec(request.spec) ? this.start(request.spec) : refusal('FCP_ERR_USAGE', 'bad start request: not a job spec');
      case 'cancel':
        return this.cancel(String(request.id), request.discard === true);
      case 'retry':
        return this.retry(String(request.id));
      case 'stop':
        setImmediate(() => this.stop());
        return { ok: true, pid: process.pid };
      default:
        return refusal('FCP_ERR_USAGE', `unknown request: op ${JSON.stringify((request as { op?: unknown }).op) ?? 'missing'}`);
    }
  }

  /** Stops every worker (their partial files are kept) and leaves their jobs to resume on the next start. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log('stopping; running jobs resume when the runner starts again');
    clearTimeout(this.idleTimer);
    for (const worker of this.workers.values()) this.terminate(worker);
    const gone = (): void => (this.workers.size === 0 && this.discarding.size === 0 ? this.exit() : void setTimeout(gone, 50));
    gone();
  }

  private start(spec: JobSpec): RunnerReply {
    const job = newJobRecord(spec);
    this.save(job);
    this.log(`job ${job.id}: queued: ${job.source} -> ${job.destination}`);
    this.schedule();
    return { ok: true, pid: process.pid, id: job.id };
  }

  private find(id: string): JobRecord | RunnerReply {
    if (!isJobId(id)) return refusal('FCP_ERR_NO_SUCH_JOB', `${JSON.stringify(id)} is not a job id`);
    const job = this.jobs.get(id) ?? readJob(this.paths.jobs, id);
    if (job === undefined) return refusal('FCP_ERR_NO_SUCH_JOB', `no job ${id}`);
    if (isUnreadable(job)) return refusal('FCP_ERR_JOB_RECORD', `job ${id}: cannot read ${job.file}: ${job.problem}`);
    return job;
  }

  private cancel(id: string, discard: boolean): RunnerReply {
    const job = this.find(id);
    if ('ok' in job) return job;
    if (isFinished(job.state)) return refusal('FCP_ERR_JOB_STATE', `job ${id} is ${job.state}: there is nothing to cancel`);
    const worker = this.workers.get(id);
    if (worker) {
      worker.cancel = { discard };
      this.terminate(worker);
    } else {
      this.finish(job, 'cancelled', { discard });
    }
    return { ok: true, pid: process.pid, id };
  }

  private retry(id: string): RunnerReply {
    const job = this.find(id);
    if ('ok' in job) return job;
    if (job.state !== 'failed' && job.state !== 'cancelled') {
      return refusal('FCP_ERR_JOB_STATE', `job ${id} is ${job.state}: only a failed or cancelled job can be retried`);
    }
    this.save({ ...job, state: 'queued', finished: null, error: null, summary: null });
    this.log(`job ${id}: queued again (retry)`);
    this.schedule();
    return { ok: true, pid: process.pid, id };
  }

  private save(job: JobRecord): void {
    this.jobs.set(job.id, job);
    writeJob(this.paths.jobs, job);
  }

  /** Starts queued jobs, oldest first, while there is room and their destinations are free. */
  private schedule(): void {
    if (this.stopping) return;
    const running = [...this.workers.keys()].map((id) => this.jobs.get(id)!.spec);
    const queued = [...this.jobs.values()].filter((job) => job.state === 'queued' && !this.discarding.has(job.id)).sort((a, b) => a.created.localeCompare(b.created));
    for (const job of queued) {
      if (this.workers.size >= this.settings.maxJobs) break;
      // A job writing where a running one writes waits for it (it stays queued).
      if (running.some((spec) => destinationsOverlap(spec, job.spec))) continue;
      running.push(job.spec);
      this.launch(job);
    }
    clearTimeout(this.idleTimer);
    if (this.workers.size === 0 && queued.length === 0) this.idleTimer = setTimeout(() => this.stop(), IDLE_EXIT_MS);
  }

  private launch(job: JobRecord): void {
    const env = { ...process.env, ...(job.spec.sshAuthSock ? { SSH_AUTH_SOCK: job.spec.sshAuthSock } : {}) };
    let child: ChildProcess;
    try {
      child = fork(path.join(__dirname, 'worker.js'), [], { cwd: job.spec.cwd, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    } catch (err) {
      this.finish(job, 'failed', { error: { code: 'FCP_ERR_IO', message: `cannot start the job's process: ${(err as Error).message}` } });
      return;
    }
    const worker: Worker = { child, reported: false };
    this.workers.set(job.id, worker);
    this.save({ ...job, state: 'running', started: new Date().toISOString(), runs: job.runs + 1, workerPid: child.pid ?? null, progress: NO_PROGRESS });
    this.log(`job ${job.id}: running (pid ${child.pid}, run ${job.runs + 1})`);
    child.on('message', (message: WorkerMessage) => this.heard(job.id, worker, message));
    // A cwd that is gone fails the spawn: an 'error' then 'exit' (or only 'error').
    child.on('error', (err) => this.ended(job.id, worker, `cannot start the job's process: ${err.message}`));
    child.on('exit', (code, signal) => this.ended(job.id, worker, `the job's process ended (${signal ?? `exit ${code}`}) before the copy did`));
    child.send(job.spec);
  }

  private heard(id: string, worker: Worker, message: WorkerMessage): void {
    const job = this.jobs.get(id);
    if (!job || worker.reported) return;
    if (message.type === 'progress') return this.save({ ...job, progress: message.progress });
    // A copy that ended before a cancel reached it ended as it did: reported, not cancelled.
    worker.reported = true;
    if (message.type === 'failed') return this.finish(job, 'failed', { error: message.error });
    const { summary } = message;
    const progress = { ...job.progress, bytesDone: summary.bytes, bytesTotal: summary.bytes, filesDone: summary.files, etaSeconds: 0, currentFile: null };
    const first = summary.errors[0];
    this.finish({ ...job, progress, summary }, first ? 'failed' : 'done', { error: first && { code: first.code, message: `${summary.errors.length} failed; the first: ${first.message}` } });
  }

  private ended(id: string, worker: Worker, why: string): void {
    if (this.workers.get(id) !== worker) return;
    this.workers.delete(id);
    const job = this.jobs.get(id)!;
    if (worker.reported) return this.schedule();
    if (worker.cancel) this.finish(job, 'cancelled', worker.cancel);
    else if (!this.stopping) this.finish(job, 'failed', { error: { code: 'FCP_ERR_INTERNAL', message: why } });
    this.schedule();
  }

  private finish(job: JobRecord, state: 'done' | 'failed' | 'cancelled', how: { error?: JobRecord['error']; discard?: boolean }): void {
    // The job is recorded as finished once its partial files are gone: fcp --cancel --discard waits for that.
    if (how.discard) {
      // Not scheduled meanwhile (a queued job cancelled is still queued until then).
      this.discarding.add(job.id);
      void discardPartials(job.spec, (line) => this.log(`job ${job.id}: ${line}`))
        .catch((err: unknown) => `--discard: ${asFcpError(err).describe()}`)
        .then((note) => {
          this.discarding.delete(job.id);
          this.finished(job, state, how, [note]);
        });
    } else {
      this.finished(job, state, how, []);
    }
  }

  private finished(job: JobRecord, state: 'done' | 'failed' | 'cancelled', how: { error?: JobRecord['error'] }, notes: string[]): void {
    this.save({ ...job, state, finished: new Date().toISOString(), workerPid: null, error: how.error ?? null });
    this.log(`job ${job.id}: ${state}${how.error ? `: ${how.error.code}: ${how.error.message}` : ''}${notes.map((n) => `; ${n}`).join('')}`);
    this.prune();
  }

  /** Forgets jobs finished over keepDays ago (at the start, and as jobs finish). */
  private prune(): void {
    for (const id of pruneJobs(this.paths.jobs, this.settings.keepDays)) {
      this.jobs.delete(id);
      this.log(`job ${id}: pruned (finished over ${this.settings.keepDays} days ago)`);
    }
  }

  /** SIGTERM (the worker keeps its partial files), then SIGKILL if it lingers. */
  private terminate(worker: Worker): void {
    worker.child.kill('SIGTERM');
    setTimeout(() => worker.child.exitCode === null && worker.child.signalCode === null && worker.child.kill('SIGKILL'), STOP_GRACE_MS).unref();
  }
}

/** The runner process: serves its control socket until stopped (or idle). */
export async function runRunner(paths: RunnerPaths, settings: RunnerSettings): Promise<void> {
  const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} ${showText(line)}\n`);
  ensurePrivateDir(paths.dir);
  let control: { close(): void } | undefined;
  const runner = new JobRunner(paths, settings, log, () => {
    control?.close();
    fs.rmSync(paths.pid, { force: true });
    fs.rmSync(paths.socket, { force: true });
    process.exit(0);
  });
  control = await serveControl(paths, MAX_RUNNER_REQUEST_BYTES, (line) => runner.answer(line), log);
  fs.writeFileSync(paths.pid, `${process.pid}\n`, { mode: 0o600 });
  process.once('SIGTERM', () => runner.stop());
  process.once('SIGINT', () => runner.stop());
  log(`fcp job runner: pid ${process.pid}, max ${settings.maxJobs} jobs at once, control ${paths.socket}`);
  runner.load();
}
