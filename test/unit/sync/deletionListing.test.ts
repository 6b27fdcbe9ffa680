/**
 * --delete's listing (src/sync/deletionListing.ts): a directory's extraneous entries are found
 * once the pre-order listing leaves it, its names are then forgotten, and a listing that breaks
 * pre-order deletes nothing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FcpError } from '../../../src/errors';
import { DeletionListing } from '../../../src/sync/deletionListing';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-deletion-listing-'));
  for (const dir of ['t/a/sub', 't/b', 't/c']) fs.mkdirSync(path.join(root, dir), { recursive: true });
  for (const file of ['t/a/1', 't/a/2', 't/a/extra', 't/a/sub/k', 't/a/sub/extra', 't/b/1', 't/b/extra', 't/c/f']) fs.writeFileSync(path.join(root, file), file);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** Announces `entries` in order (a trailing / marks a directory, which --delete goes through). */
function announce(listing: DeletionListing, entries: string[], held: number[] = []): void {
  for (const spelled of entries) {
    const isDir = spelled.endsWith('/');
    const entry = Buffer.from(isDir ? spelled.slice(0, -1) : spelled);
    listing.entry(entry, isDir);
    if (isDir) listing.scan(entry, Buffer.from(path.join(root, entry.toString())));
    held.push(listing.heldNames);
  }
}

const noFailure = (entry: Buffer, error: FcpError): void => {
  throw new Error(`unexpected failure for ${entry.toString()}: ${error.message}`);
};

test('each directory is planned once the listing leaves it, and only the open directories keep names', () => {
  const listing = new DeletionListing({ relative: (entry) => entry.toString('latin1') });
  const held: number[] = [];
  announce(listing, ['t/', 't/a/', 't/a/1', 't/a/2', 't/a/sub/', 't/a/sub/k', 't/b/', 't/b/1'], held);
  // After t/a/sub/k: t {a}, t/a {1, 2, sub}, t/a/sub {k}; after t/b/1 only t {a, b} and t/b {1}.
  expect(held).toEqual([0, 1, 2, 3, 4, 5, 2, 3]);
  const plan = listing.plan(noFailure).map((deletion) => [deletion.entry.toString(), deletion.isDir, deletion.local.toString()]);
  expect(plan).toEqual([
    ['t/c/f', false, path.join(root, 't/c/f')],
    ['t/c', true, path.join(root, 't/c')],
    ['t/a/extra', false, path.join(root, 't/a/extra')],
    ['t/a/sub/extra', false, path.join(root, 't/a/sub/extra')],
    ['t/b/extra', false, path.join(root, 't/b/extra')],
  ]);
  expect(listing.heldNames).toBe(0);
});

test('a directory announced but not scanned is not planned, and its entries are not held', () => {
  const listing = new DeletionListing({ relative: (entry) => entry.toString('latin1') });
  listing.entry(Buffer.from('t'), true);
  listing.scan(Buffer.from('t'), Buffer.from(path.join(root, 't')));
  for (const entry of ['t/a', 't/b', 't/c']) listing.entry(Buffer.from(entry), true);
  listing.entry(Buffer.from('t/c/f'), false);
  expect(listing.plan(noFailure)).toEqual([]);
});

test('an entry announced into a directory already over deletes nothing and is reported', () => {
  const listing = new DeletionListing({ relative: (entry) => entry.toString('latin1') });
  announce(listing, ['t/', 't/a/', 't/a/1', 't/b/', 't/a/2', 't/c/']);
  const failures: [string, string][] = [];
  expect(listing.plan((entry, error) => failures.push([entry.toString(), error.code]))).toEqual([]);
  expect(failures).toEqual([['t/a/2', 'FCP_ERR_PROTOCOL']]);
});

test('a directory announced twice deletes nothing and is reported', () => {
  const listing = new DeletionListing({ relative: (entry) => entry.toString('latin1') });
  announce(listing, ['t/', 't/a/', 't/a/1', 't/b/', 't/a/']);
  const failures: string[] = [];
  expect(listing.plan((entry) => failures.push(entry.toString()))).toEqual([]);
  expect(failures).toEqual(['t/a']);
});
