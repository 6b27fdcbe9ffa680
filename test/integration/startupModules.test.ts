/**
 * What a local copy's start-up runs (docs/BENCHMARKS.md, "Local copies", third round): the
 * commands a copy does not use (--watch, --two-way, the job options, --new-token) and the SSH
 * client are required when used, not at start-up. fcp's main runs from dist/src (tsc's output),
 * where each module is a file, so that Node's require cache tells which ran.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, killAll, runNode, ROOT } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(60_000);
const temp = useTempDirs();
afterAll(killAll);

/** Runs fcp's main with the arguments it is given, then prints the modules loaded from dist/src. */
const HARNESS = `
const path = require('node:path');
const src = path.join(${JSON.stringify(ROOT)}, 'dist', 'src');
require(path.join(src, 'cli', 'fcp.js')).main(process.argv).then((code) => {
  const loaded = Object.keys(require.cache).filter((file) => file.startsWith(src + path.sep)).map((file) => path.relative(src, file));
  process.stdout.write(JSON.stringify({ code, loaded }));
  process.exit(0);
});
`;

const NOT_FOR_A_COPY = ['cli/watchCommand.js', 'cli/jobsCommand.js', 'cli/newToken.js', 'ssh/sshClient.js', 'ssh/ssh2Module.js', 'watch/watch.js', 'watch/twoWay.js'];

test('a local copy runs none of the modules of the commands it does not use, nor the SSH client', async () => {
  const dir = temp.make();
  const harness = path.join(dir, 'harness.js');
  fs.writeFileSync(harness, HARNESS);
  fs.writeFileSync(path.join(dir, 'a'), 'local bytes\n');
  const result = await runNode(harness, ['-q', path.join(dir, 'a'), path.join(dir, 'b')]);
  const what = describeRun(result);
  expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 0, stderr: '', what });
  const { code, loaded } = JSON.parse(result.stdout) as { code: number; loaded: string[] };
  expect(code).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'b'), 'utf8')).toBe('local bytes\n');
  // It did copy in this process: the local path's modules ran.
  expect(loaded).toEqual(expect.arrayContaining(['cli/fcp.js', 'client/localCopy.js', 'transfer/receiver.js', 'cli/jobFlags.js']));
  expect(loaded.filter((file) => NOT_FOR_A_COPY.includes(file))).toEqual([]);
});
