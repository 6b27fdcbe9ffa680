/**
 * fcp (a local copy in one process, and with the fcpd it starts) under small open-file limits (`ulimit -n`): a
 * process's transfers share one budget of descriptors below its limit, so files wait for a
 * descriptor instead of failing with EMFILE (as 1,269 of 1,500 did at 256 before), and nothing
 * crashes. The budget is what the limit leaves beside the descriptors open when it is sized: a
 * parent that leaves 28 of its own open under a limit of 64 stalled the copy for 30 s and failed it
 * (FCP_ERR_IO) when it was sized from the limit alone. Both sides run under the limit here; test/integration/ssh/openFiles.test.ts has a
 * limited fcpd facing an unlimited fcp, pulls, and a standing daemon.
 */
import * as path from 'node:path';
import { compareTrees } from './helpers/compare';
import { LOCAL_PATHS } from './helpers/localPaths';
import { FCP_BIN, killAll, runNode, stackLines } from './helpers/run';
import { TempDirs, useTempDirs } from './helpers/tmp';
import { buildManyFiles, mixedSmallSize } from './helpers/tree';

jest.setTimeout(60_000);

const LIMITED = path.join(__dirname, 'helpers', 'limited.js');
const temp = useTempDirs();
const shared = new TempDirs();
let source: string;

beforeAll(() => {
  source = buildManyFiles(shared.make('fcp-openfiles-src'), 'many', 6, 500, mixedSmallSize);
});
afterAll(() => {
  shared.cleanup();
  killAll();
});

// In one process the two engines share fcp's limit; --via-fcpd puts each under its own, and fcp
// needs more for fcpd's pipes and the connections: with descriptors left open by the parent (a CI
// runner may leave its own besides these) whether those are left is not for a test to assume.
const LIMITS: [openFiles: number, inherited: number, paths: string[]][] = [
  [256, 0, ['in one process', 'via fcpd']],
  [64, 0, ['in one process', 'via fcpd']],
  [64, 28, ['in one process']],
];
const CASES = LIMITS.flatMap(([openFiles, inherited, paths]) => LOCAL_PATHS.filter(([label]) => paths.includes(label)).map(([label, option]) => [openFiles, inherited, label, option] as const));
test.each(CASES)('3,000 files copied under ulimit -n %i, %i descriptors left open by the parent (%s), arrive complete', async (openFiles, inherited, _label, option) => {
  const dst = path.join(temp.make('fcp-openfiles-dst'), 'copy');
  const env = { FCP_TEST_OPEN_FILES: String(openFiles), FCP_TEST_INHERITED_FILES: String(inherited) };
  // Past the budget's 30 s stall, so that a copy out of descriptors shows its error rather than a kill.
  const run = await runNode(LIMITED, [FCP_BIN, ...option, '-r', `${source}/`, dst], { env, timeoutMs: 50_000 });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(compareTrees(source, dst)).toEqual([]);
});

// With 40 or 44 of 64 left open fcp cannot read its own files, or fcpd's pipes cannot be made.
test.each([40, 44])('with %i of 64 descriptors left open by the parent, --via-fcpd ends with FCP_ERR_IO, not a stack trace', async (inherited) => {
  const dst = path.join(temp.make('fcp-openfiles-dst'), 'copy');
  const env = { FCP_TEST_OPEN_FILES: '64', FCP_TEST_INHERITED_FILES: String(inherited) };
  const run = await runNode(LIMITED, [FCP_BIN, '--via-fcpd', '-r', `${source}/`, dst], { env, timeoutMs: 50_000 });
  expect({ code: run.code, error: /out of file descriptors.*\(FCP_ERR_IO\)/.test(run.stderr), stack: stackLines(run.stderr) }).toEqual({ code: 4, error: true, stack: [] });
});
