/**
 * --exclude/--include/--exclude-from/--include-from and --max-depth against rsync: the same rules
 * on the same tree, copied by `rsync -a` and by fcp (in one process, through a local fcpd, and
 * as a pull from a loopback fcpd, which walks with the rules FILTER_RULES carried), must leave
 * exactly the same entries at the destination.
 *
 * Each copy names the source without a trailing slash into an existing directory, so the tree
 * lands in dst/src under scp's rule and under rsync's alike (the trailing-slash rule does not
 * matter here), and anchored patterns start at `/src`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { FilterArg, filterOf } from '../../src/cli/filterOptions';
import { killAll, runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

const temp = useTempDirs();
afterAll(killAll);

const FILES = [
  'a.txt', 'b.tmp', 'A.md', 'file1', 'file2', 'fileA', 'data[1].csv', '.hidden',
  '.git/config', '.git/objects/o1',
  'build/out.o', 'build/keep.txt',
  'docs/readme.md', 'docs/build', 'docs/img/p.png', 'docs/x.tmp',
  'deep/a/b/c/d.txt', 'deep/a/x.tmp', 'deep/c',
  'foo/bar/baz.txt', 'bar/foo',
  'keep/k.txt', 'keep/sub/k2.txt', 'keep/k.tmp',
  'x/y.txt', 'lib/x',
  'logs/l.log', 'log',
];

let work: string;
let src: string;
let excludeFile: string;
let includeFile: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-filters-'));
  src = path.join(work, 'src');
  for (const file of FILES) {
    fs.mkdirSync(path.dirname(path.join(src, file)), { recursive: true });
    fs.writeFileSync(path.join(src, file), `${file}\n`);
  }
  fs.mkdirSync(path.join(src, 'emptydir'));
  fs.symlinkSync('a.txt', path.join(src, 'link'));
  excludeFile = path.join(work, 'excludes');
  fs.writeFileSync(excludeFile, '# build products\r\n*.o\n\n; logs, anchored\n/src/logs/\n- *.png\n');
  includeFile = path.join(work, 'includes');
  fs.writeFileSync(includeFile, '# keep every text file under keep\nkeep/**.txt\n');
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Every entry under root, as `d path`, `f path` or `l path`, sorted. */
function listing(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string, rel: string): void => {
    for (const name of fs.readdirSync(dir)) {
      const full = path.join(dir, name);
      const relPath = rel ? `${rel}/${name}` : name;
      const stat = fs.lstatSync(full);
      out.push(`${stat.isSymbolicLink() ? 'l' : stat.isDirectory() ? 'd' : 'f'} ${relPath}`);
      if (stat.isDirectory()) visit(full, relPath);
    }
  };
  visit(root, '');
  return out.sort();
}

/** rsync's options as FilterArgs, as fcp's parser collects them. */
function filterArgs(args: string[]): FilterArg[] {
  const given: FilterArg[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const [option, value] = [args[i]!, args[i + 1]!];
    given.push({ kind: option.startsWith('--include') ? 'include' : 'exclude', value, from: option.endsWith('-from') });
  }
  return given;
}

function emptyDir(name: string): string {
  const dir = path.join(temp.make('fcp-filters'), name);
  fs.mkdirSync(dir);
  return dir;
}

function rsync(args: string[], source = src): string[] {
  const dst = emptyDir('rsync');
  const result = spawnSync('rsync', ['-a', ...args, source, `${dst}/`], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return listing(dst);
}

/** What fcp leaves, each way: the CLI in one process and through a local fcpd, and a pull from a loopback fcpd. */
async function fcpListings(args: string[], maxDepth?: number, source = src): Promise<Record<string, string[]>> {
  const depthArgs = maxDepth === undefined ? [] : ['--max-depth', String(maxDepth)];
  const found: Record<string, string[]> = {};
  for (const [way, option] of [['in one process', []], ['via fcpd', ['--via-fcpd']]] as const) {
    const dst = emptyDir('fcp');
    const run = await runFcp(['-r', '-q', ...option, ...args, ...depthArgs, source, dst]);
    expect(run.code).toBe(0);
    found[way] = listing(dst);
  }
  const dst = emptyDir('pull');
  await copy({ sources: [`localhost:${source}`], destination: dst, recursive: true, launcher: localLauncher(), filter: filterOf(filterArgs(args), maxDepth) });
  found['pulled'] = listing(dst);
  return found;
}

const sameEverywhere = (expected: string[]) => ({ 'in one process': expected, 'via fcpd': expected, pulled: expected });

test('rsync is there to compare with', () => {
  expect(spawnSync('rsync', ['--version']).status).toBe(0);
});

test.each([
  ['a basename pattern at any depth', ['--exclude', '*.tmp']],
  ['a directory-only pattern (.git/)', ['--exclude', '.git/']],
  ['an anchored path', ['--exclude', '/src/a.txt']],
  ['an anchored name that is not at the top matches nothing', ['--exclude', '/a.txt']],
  ['directories only: build/ keeps the file docs/build', ['--exclude', 'build/']],
  ['a name: build drops the directory and the file', ['--exclude', 'build']],
  ['include before exclude keeps one subtree', ['--include', '/src/', '--include', '/src/docs/***', '--exclude', '*']],
  ['every directory and only .txt files', ['--include', '*/', '--include', '*.txt', '--exclude', '*']],
  ['** across directories', ['--exclude', 'deep/**/d.txt']],
  ['dir/** keeps the directory, drops what it holds', ['--exclude', 'deep/**']],
  ['**/name from the top', ['--exclude', '**/c']],
  ['a character class', ['--exclude', 'file[12]']],
  ['a negated class', ['--exclude', 'file[!1]']],
  ['a POSIX class', ['--exclude', '[[:upper:]]*']],
  ['? is one character', ['--exclude', '?.txt']],
  ['an inner slash matches trailing components', ['--exclude', 'foo/bar']],
  ['dir/*** drops the directory and its contents', ['--exclude', 'x/***']],
  ['a symlink by name', ['--exclude', 'link']],
  ['dot files', ['--exclude', '.*']],
  ['a backslash escapes a wildcard', ['--exclude', 'data\\[*']],
  ['an --exclude-from file with comments, CR LF and a - prefix', ['--exclude-from', 'EXCLUDES']],
  ['an --include-from file before an exclude', ['--include-from', 'INCLUDES', '--exclude', '*.txt']],
  ['everything excluded', ['--exclude', '*']],
  ['the first matching rule wins', ['--include', '*.txt', '--exclude', '*.t*']],
  ['a + prefix makes an --exclude an include', ['--exclude', '+ *.tmp', '--exclude', '*.t*']],
  ['an empty directory by name', ['--exclude', 'emptydir/']],
])('%s: fcp leaves what rsync leaves', async (_name, given) => {
  const args = given.map((arg) => (arg === 'EXCLUDES' ? excludeFile : arg === 'INCLUDES' ? includeFile : arg));
  const expected = rsync(args);
  expect(await fcpListings(args)).toEqual(sameEverywhere(expected));
}, 60_000);

// A source written src/ (or src/.) is its contents: rsync's transfer root moves into it, and a
// leading / anchors there (src/a.txt is /a.txt), on the sending side as on the side that deletes.
describe.each(['/', '/.'])('a source written src%s', (ending) => {
  test.each([
    ['an anchored name at the top of the contents', ['--exclude', '/a.txt']],
    ['an anchored path with the name of the source matches nothing', ['--exclude', '/src/a.txt']],
    ['include one anchored subtree, exclude the rest', ['--include', '/docs/***', '--exclude', '*']],
    ['an anchored directory-only pattern', ['--exclude', '/deep/']],
  ])('%s: fcp leaves what rsync leaves', async (_name, args) => {
    const expected = rsync(args, `${src}${ending}`);
    expect(await fcpListings(args, undefined, `${src}${ending}`)).toEqual(sameEverywhere(expected));
  }, 60_000);
});

test.each([0, 1, 2])('--max-depth %d leaves what rsync leaves when it excludes everything deeper', async (depth) => {
  // Depth N below src is what the anchored /src/*/.../* (N + 1 stars) pattern excludes in rsync.
  const deeper = `/src/${Array.from({ length: depth + 1 }, () => '*').join('/')}`;
  const expected = rsync(['--exclude', deeper]);
  expect(await fcpListings([], depth)).toEqual(sameEverywhere(expected));
  expect(await fcpListings(['--exclude', '*.txt'], depth)).toEqual(sameEverywhere(rsync(['--exclude', '*.txt', '--exclude', deeper])));
}, 60_000);

test.each([
  ['an empty pattern', ['--exclude', ''], 'it is empty'],
  ['a pattern that names no file', ['--exclude', '/'], 'names no file'],
  ['a file that does not exist', ['--exclude-from', '/nonexistent/fcp-excludes'], '/nonexistent/fcp-excludes'],
  ['a depth that is not a number', ['--max-depth', 'two'], '--max-depth'],
])('%s is a usage error naming it', async (_name, args, named) => {
  const run = await runFcp(['-r', ...args, src, emptyDir('dst')]);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('FCP_ERR_USAGE');
  expect(run.stderr).toContain(named);
  expect(run.stderr).not.toMatch(/\n\s+at /);
});
