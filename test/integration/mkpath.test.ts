/**
 * --mkpath (rsync --mkpath): the destination's missing directories are made first, DEST itself
 * when it is written with a trailing slash or several sources go into it, else the directory DEST
 * is in; then the placement is rsync's as ever. In fcp's process and through fcpd (MODE's
 * MKPATH), a push and a pull; a dry run makes nothing; a `..` among the names to make, or a file
 * in the way, is refused with nothing made.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy, localLauncher } from '../../src';
import { compareTrees } from './helpers/compare';
import { testBothLocalPaths } from './helpers/localPaths';
import { describeRun, killAll } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { buildSmallTree } from './helpers/tree';

jest.setTimeout(30_000);

const temp = useTempDirs();
afterAll(() => killAll());

function workWithTree(): { work: string; src: string } {
  const work = temp.make('fcp-mkpath');
  const src = buildSmallTree(work, 'src').root;
  fs.writeFileSync(path.join(work, 'f'), 'one file\n');
  fs.writeFileSync(path.join(work, 'g'), 'another\n');
  return { work, src };
}

testBothLocalPaths('the placement of each form, once the missing directories are made', async (runFcp) => {
  const { work, src } = workWithTree();
  const cases: [string[], () => void][] = [
    [['f', 'a/b/c'], () => expect(fs.readFileSync(path.join(work, 'a/b/c'), 'utf8')).toBe('one file\n')],
    [['f', 'd/e/'], () => expect(fs.readFileSync(path.join(work, 'd/e/f'), 'utf8')).toBe('one file\n')],
    [['f', 'g', 'h/i'], () => expect(fs.readdirSync(path.join(work, 'h/i')).sort()).toEqual(['f', 'g'])],
    [['-r', 'src', 'j/k'], () => expect(compareTrees(src, path.join(work, 'j/k/src'))).toEqual([])],
    [['-r', 'src/', 'l/m'], () => expect(compareTrees(src, path.join(work, 'l/m'))).toEqual([])],
  ];
  for (const [args, check] of cases) {
    const run = await runFcp(['-q', '--mkpath', ...args], { cwd: work });
    expect({ args, code: run.code, what: describeRun(run) }).toEqual({ args, code: 0, what: describeRun(run) });
    check();
  }
  // Run again: it converges, nothing nests.
  const again = await runFcp(['-q', '--mkpath', '-r', 'src', 'j/k'], { cwd: work });
  expect(again.code).toBe(0);
  expect(fs.readdirSync(path.join(work, 'j/k'))).toEqual(['src']);
});

testBothLocalPaths('without --mkpath a missing directory is still refused; with it, a .. to make or a file in the way is, and nothing is made', async (runFcp) => {
  const { work } = workWithTree();
  const refused = await runFcp(['-q', 'f', 'a/b/c'], { cwd: work });
  expect({ code: refused.code, stderr: refused.stderr }).toMatchObject({ code: 4, stderr: expect.stringContaining('(FCP_ERR_') });
  const dotDot = await runFcp(['-q', '--mkpath', 'f', 'new/../out/f'], { cwd: work });
  expect({ code: dotDot.code, stderr: dotDot.stderr }).toMatchObject({ code: 2, stderr: expect.stringMatching(/--mkpath: .* has \. or \.\. among the directories it would make \(FCP_ERR_USAGE\)/) });
  const inTheWay = await runFcp(['-q', '--mkpath', 'f', 'g/sub/f'], { cwd: work });
  expect({ code: inTheWay.code, stderr: inTheWay.stderr }).toMatchObject({ code: 4, stderr: expect.stringMatching(/--mkpath: .*g is not a directory \(FCP_ERR_NOT_DIRECTORY\)/) });
  expect(fs.readdirSync(work).sort()).toEqual(['f', 'g', 'src']);
});

testBothLocalPaths('a dry run makes nothing and shows every entry as new', async (runFcp) => {
  const { work } = workWithTree();
  const run = await runFcp(['--mkpath', '--dry-run', '--itemize-changes', '-r', 'src', 'p/q/'], { cwd: work });
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^cd\+{9} src\/$/m);
  expect(run.stdout).toMatch(/^>f\+{9} src\/\S+/m);
  expect(fs.existsSync(path.join(work, 'p'))).toBe(false);
});

test.each([
  ['a push to fcpd', 'push'],
  ['a pull from fcpd', 'pull'],
])('%s: fcpd makes (or fcp makes, pulling) the missing directories', async (_label, direction) => {
  const { work, src } = workWithTree();
  const target = path.join(work, 'far/away/');
  const summary = await copy({
    sources: [direction === 'pull' ? `localhost:${src}` : src],
    destination: direction === 'push' ? `localhost:${target}` : target,
    recursive: true,
    mkpath: true,
    launcher: localLauncher(),
  });
  expect({ errors: summary.errors, filesFailed: summary.filesFailed }).toEqual({ errors: [], filesFailed: 0 });
  expect(compareTrees(src, path.join(target, 'src'))).toEqual([]);
});
