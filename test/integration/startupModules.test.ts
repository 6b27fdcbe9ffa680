/**
 * What a local copy's start-up runs (docs/BENCHMARKS.md, "Local copies", third round): the
 * commands a copy does not use (--watch, --two-way, the job options, --new-token) and the SSH
 * client are required when used, not at start-up. fcp's main runs from dist/src (tsc's output),
 * where each module is a file, so that Node's require cache tells which ran.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, killAll, runNode, runProgram, ROOT } from './helpers/run';
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

/** Records, at exit, which of Node's modules the process loaded (process.moduleLoadList), in the file it is given. */
const BUILTINS_PRELOAD = `
const out = process.env.FCP_TEST_BUILTINS_OUT;
process.on('exit', () => {
  const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  require('node:fs').writeFileSync(out, JSON.stringify(names));
});
`;

/** Node's modules that none of these runs uses, each 1-4 ms of a start when loaded anyway (docs/BENCHMARKS.md "Start-up, third round"). */
const UNUSED_BUILTINS = ['zlib', 'child_process', 'perf_hooks'];

test.each([
  ['fcp --version', 'fcp', ['--version'], ['worker_threads']],
  ['fcp --help', 'fcp', ['--help'], ['worker_threads']],
  ['a local 1-byte copy', 'fcp', ['-q', 'SRC', 'DST'], []],
  ['fcpd --version', 'fcpd', ['--version'], ['worker_threads']],
])('%s through bin/ (the bundle) loads none of Node\'s modules it does not use', async (_what, program, given, alsoUnused) => {
  const dir = temp.make();
  const preload = path.join(dir, 'preload.js');
  const out = path.join(dir, 'builtins.json');
  fs.writeFileSync(preload, BUILTINS_PRELOAD);
  fs.writeFileSync(path.join(dir, 'src'), 'x');
  const args = given.map((arg) => (arg === 'SRC' ? path.join(dir, 'src') : arg === 'DST' ? path.join(dir, 'dst') : arg));
  const result = await runProgram(process.execPath, ['--require', preload, path.join(ROOT, 'bin', program), ...args], { env: { ...process.env, FCP_TEST_BUILTINS_OUT: out } });
  const what = describeRun(result);
  expect({ code: result.code, what }).toEqual({ code: 0, what });
  if (given.includes('DST')) expect(fs.readFileSync(path.join(dir, 'dst'), 'utf8')).toBe('x');
  const loaded = JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
  // The check itself sees a module when it is loaded: node:fs and node:crypto (the code cache's hash) always are.
  expect(loaded).toEqual(expect.arrayContaining(['fs', 'crypto']));
  expect(loaded.filter((name) => [...UNUSED_BUILTINS, ...alsoUnused].includes(name))).toEqual([]);
});

test.each([
  ['fcp', ['--version']],
  ['fcpd', ['--version']],
  ['fcp-track', ['--version']],
])('%s run as a program does not make Node read NODE_EXTRA_CA_CERTS at its start', async (program, args) => {
  const missing = path.join(temp.make(), 'missing-ca.pem');
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: missing };
  // Node that reads the name says so for a file that is not there: the check can see it.
  const plain = await runProgram(process.execPath, ['-e', '0'], { env });
  expect(plain.stderr).toContain('Ignoring extra certs');
  const result = await runProgram(path.join(ROOT, 'bin', program), args, { env });
  const what = describeRun(result);
  expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 0, stderr: '', what });
});

test('what fcp starts (here the -e program) gets NODE_EXTRA_CA_CERTS as it was', async () => {
  const dir = temp.make();
  const seen = path.join(dir, 'seen');
  const ssh = path.join(dir, 'fake-ssh');
  fs.writeFileSync(ssh, `#!/bin/sh\nprintf '%s|%s' "$NODE_EXTRA_CA_CERTS" "\${FCP_NODE_EXTRA_CA_CERTS-unset}" > ${seen}\nexit 255\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'src'), 'x');
  const missing = path.join(dir, 'missing-ca.pem');
  const result = await runProgram(path.join(ROOT, 'bin', 'fcp'), ['-e', ssh, path.join(dir, 'src'), 'somehost:dst'], { env: { ...process.env, NODE_EXTRA_CA_CERTS: missing } });
  expect(result.code).not.toBe(0);
  expect(result.stderr).not.toContain('Ignoring extra certs');
  expect(fs.readFileSync(seen, 'utf8')).toBe(`${missing}|unset`);
});
