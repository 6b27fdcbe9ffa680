/**
 * File names that would drive a terminal (ESC, BEL, a bidi override, a byte that is not UTF-8)
 * reach stderr escaped as `ls -b` shows them, with real fcp and fcpd processes, while the files
 * themselves arrive under their exact raw names.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { copy, localLauncher } from '../../src';
import { Reporter } from '../../src/cli/reporter';
import { testBothLocalPaths } from './helpers/localPaths';
import { describeRun, killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { joinBytes } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
afterAll(() => killAll());

/** ESC [31m, BEL and 0xff (not UTF-8): copied fine. */
const COPIED = Buffer.concat([Buffer.from('esc-\x1b[31m-bel-\x07-'), Buffer.from([0xff])]);
/** Blocked at the destination by a directory: fcpd reports it failed (FILE_ERROR). */
const BLOCKED = Buffer.from('blocked-\x1b[2J');
/** A FIFO, which the walk skips with an error; its name also holds a bidi override. */
const FIFO = 'fifo-\x1b]0;title\x07-\u202e';

/** Bytes a terminal acts on, or that reorder text. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** work/src with the three entries; returns the source directory. */
function nastySource(work: string): string {
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  fs.writeFileSync(joinBytes(src, COPIED), 'copied exactly');
  fs.writeFileSync(joinBytes(src, BLOCKED), 'never lands');
  const fifo = spawnSync('mkfifo', [path.join(src, FIFO)], { encoding: 'utf8' });
  if (fifo.status !== 0) throw new Error(`mkfifo failed: ${fifo.stderr}`);
  return src;
}

testBothLocalPaths('fcp -v -r: names on stderr are escaped; the file arrives under its raw name', async (runFcp) => {
  const work = temp.make('fcp-escape');
  nastySource(work);
  // dst exists, so the tree lands in dst/src; a non-empty directory stands where BLOCKED goes.
  fs.mkdirSync(joinBytes(work, 'dst', 'src', BLOCKED, 'inner'), { recursive: true });

  const result = await runFcp(['-v', '-r', 'src', 'dst'], { cwd: work });
  const what = describeRun(result);
  expect({ exit: result.code, what }).toEqual({ exit: 8, what });
  expect(result.stderr).not.toMatch(RAW_CONTROL);
  expect(result.stderr).toContain('fcp: src/esc-\\033[31m-bel-\\a-\\377: 14 B ok, digest ');
  // The receiver's error, as the sender names it: "fcpd on HOST:PORT" through fcpd, "the destination" in one process.
  expect(result.stderr).toMatch(/fcp: src\/blocked-\\033\[2J: (fcpd .*|the destination) reported: cannot finish \S*\/dst\/src\/blocked-\\033\[2J: .*\(FCP_ERR_IS_DIRECTORY\)\n/);
  expect(result.stderr).toContain('fcp: src/fifo-\\033]0;title\\a-\\u202e: src/fifo-\\033]0;title\\a-\\u202e is a FIFO; skipped (FCP_ERR_IO)\n');

  expect(fs.readdirSync(joinBytes(work, 'dst', 'src'), { encoding: 'buffer' }).map((n) => n.toString('hex')).sort()).toEqual(
    [COPIED, BLOCKED].map((n) => n.toString('hex')).sort(),
  );
  expect(fs.readFileSync(joinBytes(work, 'dst', 'src', COPIED), 'utf8')).toBe('copied exactly');
});

test('a pull through fcpd: the names fcpd sends reach the reporter escaped', async () => {
  const work = temp.make('fcp-escape');
  const src = nastySource(work);
  const dst = path.join(work, 'dst');
  fs.mkdirSync(joinBytes(dst, 'src', BLOCKED, 'inner'), { recursive: true });
  let stderr = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stderr += chunk.toString('utf8');
      done();
    },
  });
  const reporter = new Reporter({ json: false, quiet: false, verbose: true, stdout: sink as NodeJS.WriteStream, stderr: sink as NodeJS.WriteStream });

  const summary = await copy({
    sources: [`localhost:${src}`],
    destination: dst,
    recursive: true,
    launcher: localLauncher(),
    log: (line) => reporter.log(line),
    onEvent: (event) => reporter.event(event),
  });
  reporter.summary(summary);

  expect(stderr).not.toMatch(RAW_CONTROL);
  expect(stderr).toContain('fcp: src/esc-\\033[31m-bel-\\a-\\377: 14 B ok, digest ');
  expect(stderr).toMatch(/fcp: src\/blocked-\\033\[2J: cannot finish \S*\/dst\/src\/blocked-\\033\[2J: .*\(FCP_ERR_IS_DIRECTORY\)\n/);
  expect(fs.readFileSync(joinBytes(dst, 'src', COPIED), 'utf8')).toBe('copied exactly');
});
