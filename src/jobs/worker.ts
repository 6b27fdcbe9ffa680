/**
 * One background job's copy, in a process of its own that the runner forks (so that cancelling
 * is a signal, and a crash costs one job): takes the job's spec over IPC, runs copy() and sends
 * its progress and outcome back. SIGTERM (cancel) and the runner going away both keep the
 * partial files for the next run, as an interrupted fcp does.
 */
import { copy, CopySummary } from '../client/copy';
import { asFcpError } from '../errors';
import { leaveForNextRun } from '../state/interrupted';
import type { JobProgress, JobSummary } from './jobStore';
import { JobSpec, toCopyOptions } from './jobSpec';

/** How often the runner hears of progress, in ms. */
const PROGRESS_INTERVAL_MS = 500;

export type WorkerMessage = { type: 'progress'; progress: JobProgress } | { type: 'done'; summary: JobSummary } | { type: 'failed'; error: { code: string; message: string } };

const send = (message: WorkerMessage): Promise<void> => new Promise((resolve) => (process.send ? process.send(message, undefined, {}, () => resolve()) : resolve()));

function stopKeepingPartials(code: number): void {
  leaveForNextRun();
  process.exit(code);
}

export function jobSummary(summary: CopySummary): JobSummary {
  const { bytes, bytesSent, bytesResumed, files, filesFailed, entriesFailed, seconds, rate } = summary;
  return { bytes, bytesSent, bytesResumed, files, filesFailed, entriesFailed, seconds, rate, errors: summary.errors.map((e) => ({ code: e.code, message: e.message })) };
}

async function run(spec: JobSpec): Promise<void> {
  try {
    const summary = await copy({
      ...toCopyOptions(spec),
      progressIntervalMs: PROGRESS_INTERVAL_MS,
      onEvent: (event) => {
        if (event.type !== 'progress') return;
        const { bytesDone, bytesTotal, filesDone, filesTotal, rate, etaSeconds, currentFile } = event;
        void send({ type: 'progress', progress: { bytesDone, bytesTotal, filesDone, filesTotal, rate, etaSeconds: etaSeconds ?? null, currentFile: currentFile ?? null } });
      },
      log: (line) => process.stdout.write(`${line}\n`),
    });
    await send({ type: 'done', summary: jobSummary(summary) });
  } catch (err) {
    const error = asFcpError(err);
    await send({ type: 'failed', error: { code: error.code, message: error.hint ? `${error.message} (${error.hint})` : error.message } });
  }
  process.exit(0);
}

process.once('SIGTERM', () => stopKeepingPartials(143));
process.once('disconnect', () => stopKeepingPartials(1));
process.once('message', (spec: JobSpec) => void run(spec));
