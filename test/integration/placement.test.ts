/**
 * Where `fcp -r` puts its sources (README "Where sources go", PROTOCOL.md §7.2), case by case
 * against rsync -r on the same trees: a destination missing, an existing directory or an existing
 * file; sources with and without a trailing slash (or as `a/.`), one or several, directories and files; a
 * destination with and without one. fcp does what rsync does, and a second run changes nothing
 * (it converges, never nests), except where README says it refuses: a missing destination that
 * several sources, or a destination written `dst/`, would need created (FCP_ERR_NOT_DIRECTORY).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeRun, errorCodes, killAll, RunResult, stackLines } from './helpers/run';
import { LOCAL_PATHS, RunFcp } from './helpers/localPaths';
import { runFcp } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(60_000);

const temp = useTempDirs();
afterAll(() => killAll());

type DestState = 'missing' | 'dir' | 'file';
// `a/.` is `a/` (rsync, cp -r and scp copy what it holds: the `.` has no name to create).
const SOURCES = [['a'], ['a/'], ['a/.'], ['a', 'b'], ['a/', 'b/'], ['a/.', 'b/.'], ['f1'], ['f1', 'f2']];
const STATES: DestState[] = ['missing', 'dir', 'file'];
const CASES = SOURCES.flatMap((sources) => STATES.flatMap((state) => ['dst', 'dst/'].map((dest) => ({ sources, state, dest }))));

const hasRsync = spawnSync('rsync', ['--version']).status === 0;

/** The cases README lists as fcp refusing what rsync does: creating a missing destination for several sources, or for `dst/`. */
function refusedByFcp(sources: string[], state: DestState, dest: string): boolean {
  const contents = sources[0]!.endsWith('/') || sources[0]!.endsWith('/.');
  return state === 'missing' && !contents && (sources.length > 1 || dest.endsWith('/'));
}

/** Two directories and two files to copy, and the destination in its state. */
function setUp(state: DestState): string {
  const work = temp.make('fcp-place');
  fs.mkdirSync(path.join(work, 'a', 'sub'), { recursive: true });
  fs.mkdirSync(path.join(work, 'b'));
  fs.writeFileSync(path.join(work, 'a', 'x'), 'ax');
  fs.writeFileSync(path.join(work, 'a', 'sub', 'y'), 'ay');
  fs.writeFileSync(path.join(work, 'b', 'z'), 'bz');
  fs.writeFileSync(path.join(work, 'f1'), 'one');
  fs.writeFileSync(path.join(work, 'f2'), 'two');
  if (state === 'dir') fs.mkdirSync(path.join(work, 'dst'));
  // Another size than the sources': written in the same clock tick, a file of their size would be
  // one the quick check (rsync's and fcp's) leaves, in one run and not in the other.
  if (state === 'file') fs.writeFileSync(path.join(work, 'dst'), 'older');
  return work;
}

/** What `dst` holds: each path with its type and a file's content, sorted. */
function listing(work: string): string[] {
  const out: string[] = [];
  const visit = (rel: string): void => {
    const full = path.join(work, rel);
    const stat = fs.lstatSync(full, { throwIfNoEntry: false });
    if (!stat) return;
    if (!stat.isDirectory()) return void out.push(`${rel} = ${fs.readFileSync(full, 'utf8')}`);
    out.push(`${rel}/`);
    for (const name of fs.readdirSync(full)) visit(path.join(rel, name));
  };
  visit('dst');
  return out.sort();
}

async function fcpResult(run: RunFcp, sources: string[], state: DestState, dest: string): Promise<{ first: RunResult; tree: string[]; again?: string[] }> {
  const work = setUp(state);
  const first = await run(['-r', ...sources, dest], { cwd: work });
  const tree = listing(work);
  if (first.code !== 0) return { first, tree };
  const second = await run(['-r', ...sources, dest], { cwd: work });
  if (second.code !== 0) throw new Error(`the second run failed:\n${describeRun(second)}`);
  return { first, tree, again: listing(work) };
}

function rsyncResult(sources: string[], state: DestState, dest: string): { ok: boolean; tree: string[] } {
  const work = setUp(state);
  const run = spawnSync('rsync', ['-r', ...sources, dest], { cwd: work });
  return { ok: run.status === 0, tree: listing(work) };
}

/** Both local paths resolve the destination with the same code (transfer/destination.ts): through fcpd, the plain `dst` cases suffice. */
const casesFor = (option: string[]): typeof CASES => (option.length === 0 ? CASES : CASES.filter((c) => c.dest === 'dst'));

describe.each(LOCAL_PATHS)('fcp -r SOURCES DEST against rsync -r (%s)', (_label, option) => {
  const run: RunFcp = (args, options) => runFcp([...option, ...args], options);

  test.each(casesFor(option))('$sources -> $dest ($state)', async ({ sources, state, dest }) => {
    const fcp = await fcpResult(run, sources, state, dest);
    const what = describeRun(fcp.first);
    if (refusedByFcp(sources, state, dest)) {
      expect({ exit: fcp.first.code, codes: errorCodes(fcp.first.stderr), tree: fcp.tree, what }).toEqual({ exit: 4, codes: ['FCP_ERR_NOT_DIRECTORY'], tree: [], what });
      return;
    }
    if (fcp.first.code === 0) {
      expect({ stderr: fcp.first.stderr, what }).toEqual({ stderr: '', what });
      // Run again, it converges: nothing nests.
      expect(fcp.again).toEqual(fcp.tree);
    } else {
      // A refusal leaves the destination as it was.
      expect({ exit: fcp.first.code, codes: errorCodes(fcp.first.stderr), stack: stackLines(fcp.first.stderr), what }).toEqual({ exit: 4, codes: ['FCP_ERR_NOT_DIRECTORY'], stack: [], what });
      expect(fcp.tree).toEqual(state === 'file' ? ['dst = older'] : state === 'dir' ? ['dst/'] : []);
    }
    if (!hasRsync) return;
    const rsync = rsyncResult(sources, state, dest);
    expect({ ok: fcp.first.code === 0, tree: fcp.tree }).toEqual(rsync);
  });
});
