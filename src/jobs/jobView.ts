/**
 * A job as fcp --jobs --json and the Node API show it: Scow-Sync's query fields under their names
 * (recvAddress, filePath, transferSize, progress, speed, leftTime) and fcp's own. docs/job.schema.json
 * describes it.
 */
import { receivingHost } from './jobSpec';
import { isUnreadable, JobRecord, JobState, JobSummary, UnreadableJob } from './jobStore';

export interface JobInfo {
  id: string;
  state: JobState;
  source: string;
  destination: string;
  /** The receiving host: [user@]host, or localhost for a local destination. */
  recvAddress: string;
  /** The file being sent now (the last one finished), or null. */
  filePath: string | null;
  /** Bytes to copy in all (0 until the copy has said). */
  transferSize: number;
  bytesDone: number;
  /** Percent of transferSize done, 0-100. */
  progress: number;
  /** Bytes per second over the last seconds (0 when not running). */
  speed: number;
  /** Seconds left at that speed; null when not known. */
  leftTime: number | null;
  filesDone: number;
  filesTotal: number;
  created: string;
  started: string | null;
  finished: string | null;
  runs: number;
  /** The pid of the process copying, while running. */
  pid: number | null;
  /** What the last finished run did. */
  summary: JobSummary | null;
  error: { code: string; message: string } | null;
}

export function jobInfo(job: JobRecord): JobInfo {
  const { progress: p } = job;
  const running = job.state === 'running';
  const percent = p.bytesTotal > 0 ? Math.min(100, (100 * p.bytesDone) / p.bytesTotal) : job.state === 'done' ? 100 : 0;
  return {
    id: job.id,
    state: job.state,
    source: job.source,
    destination: job.destination,
    recvAddress: receivingHost(job.spec),
    filePath: p.currentFile,
    transferSize: p.bytesTotal,
    bytesDone: p.bytesDone,
    progress: Math.round(percent * 10) / 10,
    speed: running ? Math.round(p.rate) : 0,
    leftTime: running && p.etaSeconds !== null ? Math.round(p.etaSeconds) : job.state === 'done' ? 0 : null,
    filesDone: p.filesDone,
    filesTotal: p.filesTotal,
    created: job.created,
    started: job.started,
    finished: job.finished,
    runs: job.runs,
    pid: job.workerPid,
    summary: job.summary,
    error: job.error,
  };
}

/**
 * A job file that cannot be read, listed as a failed job with the reason (its other fields empty),
 * so a listing never hides it and every entry has the same fields.
 */
export function unreadableInfo(job: UnreadableJob): JobInfo {
  return {
    id: job.id,
    state: 'failed',
    source: '',
    destination: '',
    recvAddress: '',
    filePath: null,
    transferSize: 0,
    bytesDone: 0,
    progress: 0,
    speed: 0,
    leftTime: null,
    filesDone: 0,
    filesTotal: 0,
    created: '',
    started: null,
    finished: null,
    runs: 0,
    pid: null,
    summary: null,
    error: { code: 'FCP_ERR_JOB_RECORD', message: `cannot read ${job.file}: ${job.problem}` },
  };
}

export const infoOf = (job: JobRecord | UnreadableJob): JobInfo => (isUnreadable(job) ? unreadableInfo(job) : jobInfo(job));
