/**
 * A two-way side's listing with and without TWO_WAY_TREE: with it, directories (their version is
 * their existence) and symlinks (their target, read and never followed) beside the files; without
 * it (a peer that predates it), files alone, and the record's rows of directories and symlinks
 * neither listed nor taken for deleted.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Recorded } from '../../../src/state/twoWayDb';
import { DIR_HASH, DIR_MODE, LINK_MODE, linkVersionHash } from '../../../src/watch/entryKinds';
import { listSide, sideFilter } from '../../../src/watch/sideListing';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-side-tree-'));
  fs.mkdirSync(path.join(root, 'd', 'empty'), { recursive: true });
  fs.writeFileSync(path.join(root, 'd', 'f'), 'f');
  fs.symlinkSync('/etc', path.join(root, 'd', 'out'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const records = (): Map<string, Recorded> =>
  new Map([
    ['gone-dir', { path: 'gone-dir', hash: DIR_HASH, mode: DIR_MODE, size: 0, mtimeUs: 0 }],
    ['gone-link', { path: 'gone-link', hash: linkVersionHash(Buffer.from('x')), mode: LINK_MODE, size: 0, mtimeUs: 0 }],
  ]);

test('with the tree: directories and symlinks listed as such, a symlink never followed', async () => {
  const { listing } = await listSide(Buffer.from(root), sideFilter(undefined), records(), true);
  expect([...listing.files.keys()].sort()).toEqual(['d', 'd/empty', 'd/f', 'd/out']);
  expect(listing.files.get('d')).toMatchObject({ mode: DIR_MODE, hash: DIR_HASH });
  expect(listing.files.get('d/out')).toMatchObject({ mode: LINK_MODE, hash: linkVersionHash(Buffer.from('/etc')), target: '/etc' });
  expect([...listing.records.keys()].sort()).toEqual(['gone-dir', 'gone-link']);
});

test('without the tree (an older peer): files alone, and no record row of a directory or symlink', async () => {
  const { listing } = await listSide(Buffer.from(root), sideFilter(undefined), records(), false);
  expect([...listing.files.keys()]).toEqual(['d/f']);
  expect([...listing.records.keys()]).toEqual([]);
});
