/**
 * Talking to the per-user job runner: its paths under fcp's state directory, its requests and
 * replies (one JSON line each way on a socket only the user can open), and starting it on demand.
 */
import * as path from 'node:path';
import { FcpError, FcpErrorCode } from '../errors';
import { packageRoot } from '../launch/packageRoot';
import { askSocket, BackgroundPaths, ensurePrivateDir, fcpStateDir, readPid, startDetached, waitGone } from '../state/controlSocket';
import type { JobSpec } from './jobSpec';

export const DEFAULT_MAX_JOBS = 2;
export const DEFAULT_KEEP_JOBS_DAYS = 7;
export const MAX_JOBS_LIMIT = 64;
export const KEEP_JOBS_DAYS_LIMIT = 3650;
/** The longest request line the runner reads: a start request carries the job's spec. */
export const MAX_RUNNER_REQUEST_BYTES = 1024 * 1024;

export interface RunnerPaths extends BackgroundPaths {
  jobs: string;
}

export function runnerPaths(env: NodeJS.ProcessEnv = process.env): RunnerPaths {
  const dir = fcpStateDir(env);
  return { dir, jobs: path.join(dir, 'jobs'), pid: path.join(dir, 'jobs.pid'), log: path.join(dir, 'jobs.log'), socket: path.join(dir, 'jobs.sock') };
}

/** The runner's settings; each request may carry them, and the latest win. */
export interface RunnerSettings {
  maxJobs: number;
  keepDays: number;
}

export type RunnerRequest = (
  | { op: 'status' }
  | { op: 'start'; spec: JobSpec }
  | { op: 'cancel'; id: string; discard: boolean }
  | { op: 'retry'; id: string }
  | { op: 'stop' }
) & { settings?: RunnerSettings };

export type RunnerReply = { ok: true; pid: number; id?: string } | { ok: false; code: FcpErrorCode; error: string };

const isReply = (value: unknown): value is RunnerReply => typeof value === 'object' && value !== null && typeof (value as RunnerReply).ok === 'boolean';

async function ask(paths: RunnerPaths, request: RunnerRequest): Promise<RunnerReply | undefined> {
  const reply = await askSocket(paths.socket, request);
  return isReply(reply) ? reply : undefined;
}

/** The running runner's pid, starting it when none answers. */
export async function ensureRunner(paths: RunnerPaths, settings?: RunnerSettings): Promise<number> {
  ensurePrivateDir(paths.dir);
  const status = await ask(paths, { op: 'status', settings });
  if (status?.ok) return status.pid;
  const main = path.join(packageRoot(), 'dist', 'src', 'jobs', 'runnerMain.js');
  const args = [main, ...(settings ? ['--max-jobs', String(settings.maxJobs), '--keep-jobs', String(settings.keepDays)] : [])];
  const { up } = await startDetached(paths, 'fcp job runner', args, async () => {
    const reply = await ask(paths, { op: 'status' });
    return reply?.ok ? reply : undefined;
  });
  return up.pid;
}

/** Sends a request to the runner (started on demand); a refusal is thrown as its FcpError. */
export async function askRunner(paths: RunnerPaths, request: RunnerRequest): Promise<{ pid: number; id?: string }> {
  await ensureRunner(paths, request.settings);
  const reply = await ask(paths, request);
  if (reply === undefined) throw new FcpError('FCP_ERR_CONNECT', `the fcp job runner did not answer on ${paths.socket}`, { hint: `see ${paths.log}` });
  if (!reply.ok) throw new FcpError(reply.code, reply.error);
  return reply;
}

/** Stops the runner if one runs (its jobs resume when it starts again); whether one did. */
export async function stopRunner(paths: RunnerPaths): Promise<boolean> {
  const pid = readPid(paths.pid);
  const reply = await ask(paths, { op: 'stop' });
  if (!reply?.ok) return false;
  await waitGone(pid);
  return true;
}
