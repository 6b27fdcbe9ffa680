/** fastcopy's Node API: `copy()` runs the same engine as the fcp command. */
export { copy } from './client/copy';
export { PathFilter } from './sync/filter';
export type { FilterRule } from './sync/filter';
export type { CopyEvent, CopyOptions, CopySummary } from './client/copy';
export { ExitCode, FcpError, isFcpError } from './errors';
export type { FcpErrorCode } from './errors';
export { localLauncher } from './launch/localLauncher';
export type { Launcher, LaunchedServer } from './launch/launcher';
export { cancelJob, getJob, listJobs, retryJob, startJob } from './jobs/api';
export type { JobContext } from './jobs/api';
export type { JobOptions } from './jobs/jobSpec';
export type { JobInfo } from './jobs/jobView';
