/**
 * Which of fcp's background job options (jobsCommand.ts) a command line gives: apart, so that a
 * copy, which gives none, does not load the job commands (the job store, the SSH login check).
 */
import { FcpError } from '../errors';

/** Each job option, by its attribute in commander's options, as the user writes it. */
const FLAGS = { background: '--background', jobs: '--jobs', job: '--job', attach: '--attach', cancel: '--cancel', retry: '--retry', checkLogin: '--check-login' } as const;
export type JobCommand = keyof typeof FLAGS;

export interface JobFlags {
  background?: boolean;
  jobs?: boolean;
  job?: string;
  attach?: string;
  cancel?: string;
  discard?: boolean;
  retry?: string;
  checkLogin?: string;
  json?: boolean;
}

/** The job option given, if any; two of them, or --discard without --cancel, are a usage error. */
export function jobCommandOf(flags: JobFlags): JobCommand | undefined {
  const given = (Object.keys(FLAGS) as JobCommand[]).filter((key) => flags[key] !== undefined && flags[key] !== false);
  if (given.length > 1) {
    throw new FcpError('FCP_ERR_USAGE', `${given.map((key) => FLAGS[key]).join(' and ')} were both given`, { hint: 'give one job option at a time' });
  }
  if (flags.discard && given[0] !== 'cancel') throw new FcpError('FCP_ERR_USAGE', '--discard goes with --cancel ID', { hint: 'fcp --cancel ID --discard' });
  return given[0];
}
