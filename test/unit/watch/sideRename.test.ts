import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stateOf } from '../../../src/watch/sideListing';
import { renameUnchanged } from '../../../src/watch/sideRename';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-side-rename-'));
  fs.writeFileSync(path.join(root, 'a'), 'a\n');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const rootBuf = (): Buffer => Buffer.from(root);
const listed = (name: string) => stateOf(Buffer.from(path.join(root, name)));

test('a file still as listed is renamed, the directories on the way made', () => {
  const state = listed('a');
  expect(renameUnchanged(rootBuf(), { from: 'a', to: 'd/e/b' }, state)).toBe(true);
  expect(fs.readFileSync(path.join(root, 'd', 'e', 'b'), 'utf8')).toBe('a\n');
  expect(fs.existsSync(path.join(root, 'a'))).toBe(false);
});

test('a file changed since the listing, a taken name, or a symlink on the way: nothing renamed', () => {
  const state = listed('a')!;
  expect(renameUnchanged(rootBuf(), { from: 'a', to: 'b' }, { ...state, size: state.size + 1 })).toBe(false);
  fs.writeFileSync(path.join(root, 'b'), 'b\n');
  expect(renameUnchanged(rootBuf(), { from: 'a', to: 'b' }, state)).toBe(false);
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-side-rename-out-'));
  try {
    fs.symlinkSync(outside, path.join(root, 'link'));
    expect(renameUnchanged(rootBuf(), { from: 'a', to: 'link/c' }, state)).toBe(false);
    expect(fs.readdirSync(outside)).toEqual([]);
  } finally {
    fs.rmSync(outside, { recursive: true, force: true });
  }
  expect(renameUnchanged(rootBuf(), { from: 'gone', to: 'c' }, undefined)).toBe(false);
  expect(fs.readFileSync(path.join(root, 'a'), 'utf8')).toBe('a\n');
  expect(fs.readFileSync(path.join(root, 'b'), 'utf8')).toBe('b\n');
});
