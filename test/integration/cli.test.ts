/**
 * What the fcp command prints: --json lines (start, one file record per file with the digest of
 * PROTOCOL.md §8, summary), nothing with -q, --help with options and exit codes, --version, and
 * usage errors.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees } from './helpers/compare';
import { specDigest } from './helpers/digest';
import { testBothLocalPaths } from './helpers/localPaths';
import { describeRun, FCPD_BIN, killAll, runFcp, runNode, stackLines } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { buildSmallTree, TreeBuilder } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
afterAll(() => killAll());

type JsonRecord = Record<string, unknown> & { event: string };

function jsonLines(stdout: string): JsonRecord[] {
  const lines = stdout.split('\n').filter((l) => l !== '');
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as JsonRecord;
    } catch {
      throw new Error(`stdout line ${i + 1} is not JSON: ${JSON.stringify(line)}`);
    }
  });
}

describe('--json', () => {
  testBothLocalPaths('start first, one file record per file with its digest, summary last', async (runFcp) => {
    const work = temp.make('fcp-cli');
    const t = new TreeBuilder(Buffer.from(path.join(work, 'src')));
    t.dir([]);
    t.file(['empty'], 0);
    t.file(['one'], 1);
    t.file(['frame+1'], 57_345);
    t.file(['chunk+1'], 1_048_577);
    t.file(['two-chunks+1'], 2 * 1_048_576 + 1);
    t.dir(['sub dir']);
    t.file(['sub dir', 'ünï cødé'], 4321);
    t.file(['sub dir', Buffer.from([0x66, 0xff, 0x6f])], 77);
    t.symlink(['link'], 'one');
    t.finish();

    const result = await runFcp(['-r', '--json', 'src', 'dst'], { cwd: work });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const records = jsonLines(result.stdout);
    expect(records[0]).toMatchObject({ event: 'start', files: t.fileCount, bytes: t.totalBytes });
    expect(records.at(-1)).toMatchObject({ event: 'summary', files: t.fileCount, bytes: t.totalBytes, filesFailed: 0, errors: [] });
    expect(typeof records.at(-1)!.seconds).toBe('number');
    for (const r of records) expect(['start', 'progress', 'file', 'summary']).toContain(r.event);

    const files = records.filter((r) => r.event === 'file');
    // Paths are shown as UTF-8 text (a non-UTF-8 byte becomes U+FFFD).
    const expectedPaths = t.files.map((p) => p.toString('utf8')).sort();
    expect(files.map((f) => f.path as string).sort()).toEqual(expectedPaths);
    for (const f of files) {
      expect(f).not.toHaveProperty('error');
      expect(f.digest).toMatch(/^[0-9a-f]{32}$/);
      const source = t.files.find((p) => p.toString('utf8') === f.path)!;
      const absolute = Buffer.concat([Buffer.from(`${work}/`), source]);
      expect({ path: f.path, size: f.size, digest: f.digest }).toEqual({
        path: f.path,
        size: fs.statSync(absolute).size,
        digest: await specDigest(absolute),
      });
    }
    expect(compareTrees(path.join(work, 'src'), path.join(work, 'dst', 'src'))).toEqual([]);
  });

});

test('-q prints nothing at all on success', async () => {
  const work = temp.make('fcp-cli');
  const tree = buildSmallTree(work, 'src');
  const result = await runFcp(['-q', '-r', 'src', 'dst'], { cwd: work });
  expect({ code: result.code, stdout: result.stdout, stderr: result.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
  expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
});

test('-v logs the session on stderr and still copies', async () => {
  const work = temp.make('fcp-cli');
  const tree = buildSmallTree(work, 'src');
  const result = await runFcp(['-v', '-r', '-n', '3', '--encrypt', 'src', 'dst'], { cwd: work });
  expect(result.code).toBe(0);
  expect(result.stderr).toMatch(/3 connections/);
  expect(result.stderr).toMatch(/AES-256-GCM|encrypted/);
  expect(stackLines(result.stderr)).toEqual([]);
  expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
});

test("rsync's habits: -a copies a tree as -r does, -z turns compression on as -C does", async () => {
  const work = temp.make('fcp-cli');
  const tree = buildSmallTree(work, 'src');
  const result = await runFcp(['-aqz', 'src', 'dst'], { cwd: work });
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
  const echo = await runFcp(['--echo-config', '-z'], { cwd: work });
  expect(echo.stdout).toMatch(/^compress = true +# flag -z$/m);
});

test("-h is rsync's: with a copy's arguments it is --human-readable and the copy runs (rsync -avh); alone it is the help", async () => {
  const work = temp.make('fcp-cli');
  const tree = buildSmallTree(work, 'src');
  const result = await runFcp(['-avh', 'src', 'dst'], { cwd: work });
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 0, stdout: expect.not.stringContaining('Usage:') });
  expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
  const long = await runFcp(['--human-readable', '-q', '-r', 'src', 'dst2'], { cwd: work });
  expect({ code: long.code, stderr: long.stderr }).toEqual({ code: 0, stderr: '' });
  expect(compareTrees(tree.root, path.join(work, 'dst2', 'src'))).toEqual([]);
  const help = await runFcp(['-h']);
  expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: '' });
  expect(help.stdout).toMatch(/^Usage: fcp \[options\] SOURCE\.\.\. DEST/);
  // With no copy to run, -h among other options is a usage error, not the help.
  const noPaths = await runFcp(['-h', '-q']);
  expect(noPaths.code).toBe(2);
  expect(noPaths.stderr).toMatch(/missing arguments.*FCP_ERR_USAGE/);
});

test('--progress draws the progress line without a terminal too, then the summary; --partial is accepted', async () => {
  const work = temp.make('fcp-cli');
  const tree = buildSmallTree(work, 'src');
  const plain = await runFcp(['-r', 'src', 'quiet-dst'], { cwd: work });
  expect({ code: plain.code, stderr: plain.stderr }).toEqual({ code: 0, stderr: '' });
  const result = await runFcp(['--progress', '--partial', '-r', 'src', 'dst'], { cwd: work });
  expect(result.code).toBe(0);
  // At least the first and the last drawing, each after a carriage return; the last stays on its line.
  const drawn = result.stderr.split('\n')[0]!.split('\r').filter((text) => text !== '');
  expect(drawn.length).toBeGreaterThanOrEqual(2);
  expect(drawn[drawn.length - 1]).toMatch(new RegExp(`100% .* files ${tree.fileCount}/${tree.fileCount}`));
  expect(result.stderr).not.toContain('\x1b');
  expect(result.stderr.split('\n')[1]).toMatch(new RegExp(`^fcp: ${tree.fileCount} files, .* in [0-9.]+ s`));
  expect(compareTrees(tree.root, path.join(work, 'dst', 'src'))).toEqual([]);
});

test('--help lists the options and the exit codes (exit 0)', async () => {
  const result = await runFcp(['--help']);
  expect(result.code).toBe(0);
  for (const option of ['-r, --recursive', '-a, --archive', '-n, --connections', '--chunk-size', '--encrypt', '--no-encrypt', '--via-fcpd', '--no-verify', '-L, --dereference', '-q, --quiet', '-v, --verbose', '--json', '--timeout', '--version', '--help']) {
    expect(result.stdout).toContain(option);
  }
  expect(result.stdout).toMatch(/Exit codes:/);
  for (const code of [0, 2, 3, 4, 5, 6, 7, 8, 9]) expect(result.stdout).toMatch(new RegExp(`^\\s+${code}\\s+\\S`, 'm'));
  expect(result.stderr).toBe('');
});

test('--version and -V print the version (exit 0)', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const result = await runFcp([flag]);
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.stdout).toContain(pkg.version);
  }
});

const USAGE_ERRORS: [string, string[], RegExp][] = [
  ['an unknown option', ['--bogus-option', 'a', 'b'], /unknown option.*--bogus-option/],
  ['no arguments', [], /missing|usage|argument/i],
  ['a single path', ['only-source'], /source and a destination/],
  ['-n out of range', ['-n', '0', 'a', 'b'], /connections|1.*64/i],
  ['-n not a number', ['-n', 'many', 'a', 'b'], /connections|number/i],
  ['a chunk size that is not a power of two', ['--chunk-size', '100K', 'a', 'b'], /chunk/i],
  ['a port that is not a number', ['-P', 'ssh', 'a', 'host:b'], /port number/],
  ['an -o without a value', ['-o', 'BatchMode', 'a', 'host:b'], /-o BatchMode: expected Key=Value/],
  ['a --timeout below 2 s', ['--timeout', '1', 'a', 'b'], /--timeout.*seconds from 2 to 86400/],
  ['a --timeout that is not a number', ['--timeout', 'soon', 'a', 'b'], /--timeout.*seconds from 2 to 86400/],
];

describe('usage errors: exit 2, a message, no stack trace, nothing written', () => {
  test.each(USAGE_ERRORS)('%s', async (_label, args, message) => {
    const work = temp.make('fcp-cli');
    fs.writeFileSync(path.join(work, 'a'), 'a');
    const result = await runFcp(args, { cwd: work });
    const what = describeRun(result);
    expect({ code: result.code, what }).toEqual({ code: 2, what });
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toContain('FCP_ERR_USAGE');
    // Commander's own errors as fcp's: the program's name first, not "error:".
    expect(result.stderr).toMatch(/^fcp: /);
    expect(stackLines(result.stderr)).toEqual([]);
    expect(fs.readdirSync(work)).toEqual(['a']);
  });
});

test.each(['two', '65', '-1'])('FCP_CRYPTO_THREADS=%s: fcp and fcpd stop at once with exit 2 and FCP_ERR_USAGE, nothing written', async (value) => {
  const work = temp.make('fcp-cli');
  fs.writeFileSync(path.join(work, 'a'), 'a');
  const env = { FCP_CRYPTO_THREADS: value };
  for (const result of [await runFcp(['a', 'b'], { cwd: work, env }), await runNode(FCPD_BIN, ['--serve'], { cwd: work, env })]) {
    const what = describeRun(result);
    expect({ code: result.code, what }).toEqual({ code: 2, what });
    expect(result.stderr).toMatch(new RegExp(`^fcpd?: FCP_CRYPTO_THREADS must be a number of threads from 0 to 64, not "${value}" \\(FCP_ERR_USAGE\\)`));
    expect(stackLines(result.stderr)).toEqual([]);
  }
  expect(fs.readdirSync(work)).toEqual(['a']);
});

describe('usage errors with --json (first or last): exit 2, one JSON error record on stdout, nothing on stderr', () => {
  test.each(USAGE_ERRORS)('%s', async (_label, args, message) => {
    const work = temp.make('fcp-cli');
    fs.writeFileSync(path.join(work, 'a'), 'a');
    for (const argv of [['--json', ...args], [...args, '--json']]) {
      const result = await runFcp(argv, { cwd: work });
      const what = describeRun(result);
      expect({ code: result.code, stderr: result.stderr, what }).toEqual({ code: 2, stderr: '', what });
      const records = jsonLines(result.stdout);
      expect(records).toEqual([{ event: 'error', code: 'FCP_ERR_USAGE', message: expect.stringMatching(message), hint: expect.any(String) }]);
      expect(records[0]!.message).not.toMatch(/^error:/);
    }
    expect(fs.readdirSync(work)).toEqual(['a']);
  });
});

describe('an error that escapes every handler (a bug) is one FCP_ERR_INTERNAL line, exit 9', () => {
  // Preloaded: an exception thrown outside any handler, or a rejection nobody handles.
  const preload = (how: string, program = 'fcp'): NodeJS.ProcessEnv => ({
    NODE_OPTIONS: `--require ${path.join(__dirname, 'helpers', 'escapeOnPurpose.js')}`,
    FCP_TEST_ESCAPE: how,
    FCP_TEST_ESCAPE_IN: program,
    FCP_DEBUG: undefined,
  });

  test.each(['throw', 'reject'])('%s: the message and a hint, no stack', async (how) => {
    const work = temp.make('fcp-cli');
    fs.writeFileSync(path.join(work, 'a'), 'a');
    const result = await runFcp(['a', 'b'], { cwd: work, env: preload(how) });
    const what = describeRun(result);
    expect({ code: result.code, stdout: result.stdout, what }).toEqual({ code: 9, stdout: '', what });
    expect(result.stderr).toBe(
      'fcp: internal error: escaped on purpose (FCP_ERR_INTERNAL)\n  this is a bug: please report it (FCP_DEBUG=1 or -v shows where it happened)\n',
    );
  });

  test('--json: the one record on stdout; FCP_DEBUG=1 adds the stack on stderr', async () => {
    const work = temp.make('fcp-cli');
    fs.writeFileSync(path.join(work, 'a'), 'a');
    const result = await runFcp(['--json', 'a', 'b'], { cwd: work, env: { ...preload('throw'), FCP_DEBUG: '1' } });
    expect(result.code).toBe(9);
    expect(jsonLines(result.stdout)).toEqual([{ event: 'error', code: 'FCP_ERR_INTERNAL', message: 'internal error: escaped on purpose', hint: expect.any(String) }]);
    expect(stackLines(result.stderr).some((line) => line.includes('escapeOnPurpose.js'))).toBe(true);
  });

  test('fcpd too', async () => {
    const result = await runNode(FCPD_BIN, ['--status'], { env: preload('throw', 'fcpd') });
    const what = describeRun(result);
    expect({ code: result.code, stderr: result.stderr, what }).toEqual({
      code: 9,
      stderr: 'fcpd: internal error: escaped on purpose (FCP_ERR_INTERNAL)\n  this is a bug: please report it (FCP_DEBUG=1 or -v shows where it happened)\n',
      what,
    });
  });
});
