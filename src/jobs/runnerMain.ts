/** The job runner's process (started detached by ensureRunner): node runnerMain.js [--max-jobs N] [--keep-jobs DAYS]. */
import { asFcpError } from '../errors';
import { runRunner } from './runner';
import { DEFAULT_KEEP_JOBS_DAYS, DEFAULT_MAX_JOBS, runnerPaths } from './runnerControl';

function numberAfter(flag: string, fallback: number): number {
  const at = process.argv.indexOf(flag);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  return Number.isInteger(value) && value >= 0 ? value : fallback;
}

runRunner(runnerPaths(), { maxJobs: Math.max(1, numberAfter('--max-jobs', DEFAULT_MAX_JOBS)), keepDays: Math.max(1, numberAfter('--keep-jobs', DEFAULT_KEEP_JOBS_DAYS)) }).catch((err: unknown) => {
  process.stdout.write(`fcp job runner: ${asFcpError(err).describe()}\n`);
  process.exit(1);
});
