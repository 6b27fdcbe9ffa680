/** The job runner's control requests: anything malformed is refused with a code, never thrown. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobRunner } from '../../../src/jobs/runner';
import { runnerPaths } from '../../../src/jobs/runnerControl';

let dir: string;
let runner: JobRunner;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-runner-'));
  runner = new JobRunner(runnerPaths({ XDG_STATE_HOME: dir }), { maxJobs: 1, keepDays: 7 }, () => undefined, () => undefined);
  runner.load();
});
afterEach(() => {
  runner.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test.each([
  ['not json', 'FCP_ERR_USAGE', /not JSON/],
  ['null', 'FCP_ERR_USAGE', /not a JSON object/],
  ['{"op":"explode"}', 'FCP_ERR_USAGE', /unknown request/],
  ['{"op":"start"}', 'FCP_ERR_USAGE', /not a job spec/],
  ['{"op":"start","spec":{"sources":[1],"destination":"x","cwd":"/","options":{}}}', 'FCP_ERR_USAGE', /not a job spec/],
  ['{"op":"cancel","id":"000000000000"}', 'FCP_ERR_NO_SUCH_JOB', /no job/],
  ['{"op":"retry","id":"../x"}', 'FCP_ERR_NO_SUCH_JOB', /not a job id/],
  ['{"op":"status","settings":{"maxJobs":0,"keepDays":7}}', 'FCP_ERR_USAGE', /settings out of range/],
  ['{"op":"status","settings":{"maxJobs":"2"}}', 'FCP_ERR_USAGE', /settings out of range/],
])('%s is refused', (line, code, message) => {
  const reply = runner.answer(line);
  expect(reply).toMatchObject({ ok: false, code });
  expect((reply as { error: string }).error).toMatch(message);
});

test('status answers with the pid', () => {
  expect(runner.answer('{"op":"status"}')).toEqual({ ok: true, pid: process.pid });
});
