/**
 * --files-from against rsync: the same list on the same tree, copied by `rsync -a --files-from`
 * and by fcp (in one process, through a local fcpd, and as a pull from a loopback fcpd, which walks
 * the list FILES_FROM carried), must leave exactly the same entries, each file with its content.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { filesFromLines } from '../../src/sync/filesFrom';
import { killAll, runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

const temp = useTempDirs();
afterAll(killAll);

const FILES = ['top.txt', 'a/b/x.txt', 'a/y.txt', 'c/z', 'c/deep/w', 'd/e/f/g.txt', 'sp ace/n\u00e9.txt'];

let work: string;
let src: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-files-from-'));
  src = path.join(work, 'src');
  for (const file of FILES) {
    fs.mkdirSync(path.dirname(path.join(src, file)), { recursive: true });
    fs.writeFileSync(path.join(src, file), `${file}\n`);
  }
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Every entry under root, as `d path` or `f path: content`, sorted. */
function listing(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const full = path.join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      if (fs.lstatSync(full).isDirectory()) {
        out.push(`d ${relPath}`);
        visit(full, relPath);
      } else {
        out.push(`f ${relPath}: ${fs.readFileSync(full, 'utf8')}`);
      }
    }
  };
  visit(root, '');
  return out.sort();
}

function writeList(lines: string): string {
  const file = path.join(temp.make('fcp-list'), 'list');
  fs.writeFileSync(file, lines);
  return file;
}

const LIST = '# wanted\r\na/b/x.txt\n; and these\n\n/top.txt\nc\n./d/e/../e/f/g.txt\nsp ace/n\u00e9.txt\n';

test.each([
  ['files, a directory without -r (empty), comments and CR LF', LIST, []],
  ['a listed directory with -r comes whole', LIST, ['-r']],
  ['the source directory itself with -r', '.\n', ['-r']],
])('%s: fcp leaves what rsync leaves', async (_name, lines, extra) => {
  const list = writeList(lines);
  const rsyncDst = temp.make('rsync');
  const ran = spawnSync('rsync', ['-a', ...extra, `--files-from=${list}`, src, rsyncDst], { encoding: 'utf8' });
  expect(ran.stderr).toBe('');
  const expected = listing(rsyncDst);
  expect(expected.length).toBeGreaterThan(3);
  for (const way of [[], ['--via-fcpd']]) {
    const dst = temp.make('fcp');
    const run = await runFcp(['-q', ...way, ...extra, '--files-from', list, src, dst]);
    expect(run.code).toBe(0);
    expect(listing(dst)).toEqual(expected);
  }
  const pulled = temp.make('pull');
  const paths = filesFromLines(fs.readFileSync(list));
  await copy({ sources: [`localhost:${src}`], destination: pulled, recursive: extra.includes('-r'), filesFrom: paths, launcher: localLauncher() });
  expect(listing(pulled)).toEqual(expected);
}, 60_000);

test('a listed path that is missing is reported and the others are copied (exit 8)', async () => {
  const dst = temp.make('fcp');
  const run = await runFcp(['-q', '--files-from', writeList('top.txt\nmissing.txt\n'), src, dst]);
  expect(run.code).toBe(8);
  expect(run.stderr).toMatch(/missing\.txt.*FCP_ERR_NOT_FOUND/);
  expect(listing(dst)).toEqual(['f top.txt: top.txt\n']);
});

test.each([
  ['a path leading out of the source', '../etc/passwd\n', [], 'leads out of the source directory'],
  ['--delete', 'top.txt\n', ['--delete'], '--files-from and --delete'],
  ['a source that is a file', 'x\n', ['FILE'], 'is not a directory'],
])('%s is refused with a clear error', async (_name, lines, extra, message) => {
  const dst = temp.make('fcp');
  const sources = extra.includes('FILE') ? [path.join(src, 'top.txt')] : [src];
  const run = await runFcp(['--files-from', writeList(lines), ...extra.filter((arg) => arg !== 'FILE'), ...sources, dst]);
  expect(run.code).not.toBe(0);
  expect(run.stderr).toMatch(/FCP_ERR_(USAGE|NOT_DIRECTORY)/);
  expect(run.stderr).toContain(message);
  expect(fs.readdirSync(dst)).toEqual([]);
});

test('the Node API checks the paths as the command does', async () => {
  const dst = temp.make('pull');
  await expect(copy({ sources: [`localhost:${src}`], destination: dst, filesFrom: ['a/../../x'], launcher: localLauncher() })).rejects.toMatchObject({ code: 'FCP_ERR_USAGE' });
});
