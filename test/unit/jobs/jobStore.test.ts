/** The job records on disk: round trip, a private directory, torn and foreign files reported, pruning. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FcpError } from '../../../src/errors';
import { isUnreadable, JobRecord, jobOrError, newJobId, newJobRecord, pruneJobs, readAllJobs, readJob, writeJob } from '../../../src/jobs/jobStore';
import { toSpec } from '../../../src/jobs/jobSpec';
import { infoOf } from '../../../src/jobs/jobView';
import { Schema, schemaProblems } from '../../integration/helpers/jsonSchema';

const SCHEMA = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'job.schema.json'), 'utf8')) as Schema;

let dir: string;
beforeEach(() => (dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-jobs-')), 'jobs')));
afterEach(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

function record(overrides: Partial<JobRecord> = {}): JobRecord {
  return { ...newJobRecord(toSpec({ sources: ['a'], destination: 'host:b' }, '/tmp', {})), ...overrides };
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (err) {
    return (err as FcpError).code;
  }
  return undefined;
}

test('a record reads back as written, in a 0700 directory, as a 0600 file, with no temporary file left', () => {
  const job = record();
  writeJob(dir, job);
  expect(readJob(dir, job.id)).toEqual(job);
  expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
  expect(fs.statSync(path.join(dir, `${job.id}.json`)).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(dir)).toEqual([`${job.id}.json`]);
});

test('a torn file, a file of another version and a file naming another job are reported, not thrown', () => {
  const good = record();
  writeJob(dir, good);
  const torn = record();
  writeJob(dir, torn);
  const text = fs.readFileSync(path.join(dir, `${torn.id}.json`), 'utf8');
  fs.writeFileSync(path.join(dir, `${torn.id}.json`), text.slice(0, text.length / 2));
  const future = record();
  fs.writeFileSync(path.join(dir, `${future.id}.json`), JSON.stringify({ ...future, version: 2 }));
  const other = record();
  fs.writeFileSync(path.join(dir, `${other.id}.json`), JSON.stringify({ ...other, id: newJobId() }));
  const all = readAllJobs(dir);
  expect(all).toHaveLength(4);
  const problems = Object.fromEntries(all.filter(isUnreadable).map((job) => [job.id, job.problem]));
  expect(problems[torn.id]).toMatch(/not JSON/);
  expect(problems[future.id]).toMatch(/format version 2/);
  expect(problems[other.id]).toMatch(/names job/);
  expect(all.find((job) => job.id === good.id)).toEqual(good);
  expect(codeOf(() => jobOrError(dir, torn.id))).toBe('FCP_ERR_JOB_RECORD');
});

test('bad and unknown ids are FCP_ERR_NO_SUCH_JOB, a usage error (exit 2)', () => {
  for (const id of ['', 'nope', '../../etc/passwd', 'ABCDEFABCDEF', newJobId()]) expect(codeOf(() => jobOrError(dir, id))).toBe('FCP_ERR_NO_SUCH_JOB');
  expect(new FcpError('FCP_ERR_NO_SUCH_JOB', 'x').exitCode).toBe(2);
});

test('pruning removes finished jobs older than the limit, and only those', () => {
  const day = 86_400_000;
  const now = Date.now();
  const iso = (ms: number): string => new Date(ms).toISOString();
  const oldDone = record({ state: 'done', created: iso(now - 10 * day), finished: iso(now - 8 * day) });
  const recentFailed = record({ state: 'failed', created: iso(now - 10 * day), finished: iso(now - 6 * day) });
  const oldQueued = record({ state: 'queued', created: iso(now - 30 * day) });
  const oldCancelled = record({ state: 'cancelled', created: iso(now - 3 * day), finished: iso(now - 2 * day) });
  for (const job of [oldDone, recentFailed, oldQueued, oldCancelled]) writeJob(dir, job);
  expect(pruneJobs(dir, 7, now)).toEqual([oldDone.id]);
  expect(pruneJobs(dir, 1, now).sort()).toEqual([recentFailed.id, oldCancelled.id].sort());
  expect(readAllJobs(dir).map((job) => job.id)).toEqual([oldQueued.id]);
});

test('every listed job, a readable one or one whose file is torn, fits docs/job.schema.json', () => {
  const good = record({ state: 'running', progress: { bytesDone: 5, bytesTotal: 10, filesDone: 0, filesTotal: 1, rate: 2.5, etaSeconds: 2, currentFile: 'a' } });
  writeJob(dir, good);
  fs.writeFileSync(path.join(dir, `${newJobId()}.json`), '{"version":1,"id":');
  const listed = readAllJobs(dir).map(infoOf);
  expect(listed.map((job) => job.state).sort()).toEqual(['failed', 'running']);
  for (const job of listed) expect(schemaProblems(job, SCHEMA)).toEqual([]);
  expect(listed.find((job) => job.id === good.id)).toMatchObject({ progress: 50, speed: 3, leftTime: 2, filePath: 'a', recvAddress: 'host', transferSize: 10 });
});
