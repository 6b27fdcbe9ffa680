/** What a side of fcp --watch --two-way never lists: fcp's own files of a transfer under way (src/watch/sideListing.ts). */
import { sideFilter } from '../../../src/watch/sideListing';
import { PathFilter } from '../../../src/sync/filter';

const filter = sideFilter(undefined);

test.each([
  ['a partial file', '.big.bin.fcp-part'],
  ['its journal', 'sub/.big.bin.fcp-part.journal'],
  ['its lock', '.big.bin.fcp-part.lock'],
  ['a temporary a file is written under', 'd/.new-a.txt.fcp-nm1-4'],
  ["an SFTP copy's partial file", '.big.bin.fcp-sftp-1048576-1700000000'],
])('%s is not listed', (_what, name) => {
  expect(filter.excludes(name, false)).toBe(true);
});

test.each([['a.txt'], ['.hidden'], ['notes.fcp'], ['.x.fcp-notes'], ['fcp-1-2']])('%s is', (name) => {
  expect(filter.excludes(name, false)).toBe(false);
});

test("the user's rules come after fcp's: they cannot bring a temporary back in", () => {
  const user = new PathFilter([{ kind: 'include', pattern: Buffer.from('*') }]);
  const both = sideFilter(user);
  expect(both.excludes('.a.fcp-1-2', false)).toBe(true);
  expect(both.excludes('a', false)).toBe(false);
});
