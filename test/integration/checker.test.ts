/**
 * The tree checker itself must be able to fail: it is given trees that differ in each way a
 * copy can go wrong and must name every difference precisely.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareTrees, leftoverTemporaries, snapshot, snapshotDiff } from './helpers/compare';
import { useTempDirs } from './helpers/tmp';
import { buildMixedTree } from './helpers/tree';

const temp = useTempDirs();

test('compareTrees finds identical trees equal and names every kind of difference', () => {
  const a = temp.make('fcp-chk');
  const b = temp.make('fcp-chk');
  const left = buildMixedTree(a, 'mixed');
  const right = path.join(b, 'mixed');
  // A faithful copy made by cp -a (modes, mtimes of files, directories and symlinks, raw names).
  const cp = spawnSync('cp', ['-a', left.root, right], { encoding: 'utf8' });
  expect({ status: cp.status, stderr: cp.stderr }).toEqual({ status: 0, stderr: '' });
  expect(compareTrees(left.root, right)).toEqual([]);

  const before = snapshot(b);
  fs.appendFileSync(path.join(right, 'sizes', 'size-1.bin'), 'x');
  const frame = path.join(right, 'sizes', 'frame.bin');
  const bytes = fs.readFileSync(frame);
  bytes[1000] = bytes[1000]! ^ 1;
  const st = fs.statSync(frame);
  fs.writeFileSync(frame, bytes);
  fs.utimesSync(frame, st.atime, st.mtime);
  fs.chmodSync(path.join(right, 'modes', 'f0600'), 0o644);
  fs.utimesSync(path.join(right, 'modes', 'f0755'), 1, 1);
  fs.unlinkSync(path.join(right, 'links', 'relative'));
  fs.symlinkSync('../sizes/elsewhere', path.join(right, 'links', 'relative'));
  fs.rmSync(Buffer.from(`${right}/names/${String.fromCharCode(0x66)}\xff\x6f`, 'latin1'));
  fs.writeFileSync(path.join(right, 'names', '.left.fcp-0123abcd'), '');
  fs.rmdirSync(path.join(right, 'empty'));
  fs.mkdirSync(path.join(right, 'empty'));

  const diffs = compareTrees(left.root, right);
  const expectations: [string, RegExp][] = [
    ['size', /"sizes\/size-1\.bin": size differs: expected 1, copy has 2/],
    ['content', /"sizes\/frame\.bin": content differs/],
    ['mode', /"modes\/f0600": mode differs: expected 0600, copy has 0644/],
    ['mtime', /"modes\/f0755": mtime differs/],
    ['symlink', /"links\/relative": symlink target differs: expected "\.\.\/sizes\/size-1\.bin", copy points to "\.\.\/sizes\/elsewhere"/],
    ['non-UTF-8 name', /"names\/f\\xffo": missing in copy \(expected file\)/],
    ['temporary', /"names\/\.left\.fcp-0123abcd": unexpected in copy \(file\) — a leftover temporary/],
    ['dir mtime', /"empty": mtime differs/],
  ];
  for (const [what, pattern] of expectations) {
    expect({ what, found: diffs.some((d) => pattern.test(d)), diffs }).toMatchObject({ what, found: true });
  }
  expect(leftoverTemporaries(right)).toEqual(['"names/.left.fcp-0123abcd"']);
  expect(snapshotDiff(before, snapshot(b)).length).toBeGreaterThan(5);
});
