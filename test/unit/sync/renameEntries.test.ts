/** RENAME at the receiver: made only inside the destination, never through a symlink, never over an entry. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PacketType } from '../../../src/protocol/constants';
import { applyRenames } from '../../../src/sync/renameEntries';
import { resolveDestination } from '../../../src/transfer/destination';

let dest: string;
let outside: string;
beforeEach(() => {
  dest = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-rename-dst-'));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-rename-out-'));
  fs.mkdirSync(path.join(dest, 'src', 'd'), { recursive: true });
  fs.writeFileSync(path.join(dest, 'src', 'a.txt'), 'a');
  fs.writeFileSync(path.join(dest, 'src', 'taken.txt'), 'taken');
  fs.symlinkSync(outside, path.join(dest, 'src', 'link'));
});
afterEach(() => {
  fs.rmSync(dest, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const rename = (from: string, to: string) => ({ type: PacketType.RENAME, from: Buffer.from(from), to: Buffer.from(to) });

function apply(...renames: ReturnType<typeof rename>[]): { made: number; lines: string[] } {
  const lines: string[] = [];
  const made = applyRenames(resolveDestination(Buffer.from(dest), 0), renames, (line) => lines.push(line));
  return { made, lines };
}

test('a rename inside the destination is made', () => {
  expect(apply(rename('src/a.txt', 'src/d/b.txt')).made).toBe(1);
  expect(fs.readFileSync(path.join(dest, 'src', 'd', 'b.txt'), 'utf8')).toBe('a');
  expect(fs.existsSync(path.join(dest, 'src', 'a.txt'))).toBe(false);
});

test.each([
  ['through a symlinked directory (out)', 'src/a.txt', 'src/link/a.txt'],
  ['through a symlinked directory (in)', 'src/link/x', 'src/x'],
  ['over an entry that is there', 'src/a.txt', 'src/taken.txt'],
  ['of a name that is not there', 'src/gone.txt', 'src/new.txt'],
  ['into a directory that is not there', 'src/a.txt', 'src/nodir/a.txt'],
  ['of the top-level entry itself', 'src', 'moved'],
  ['to another top-level entry', 'src/a.txt', 'other/a.txt'],
])('a rename %s is not made, and says why', (_label, from, to) => {
  fs.writeFileSync(path.join(outside, 'x'), 'outside');
  const before = fs.readdirSync(path.join(dest, 'src')).sort();
  const { made, lines } = apply(rename(from, to));
  expect(made).toBe(0);
  expect(lines).toEqual([expect.stringContaining('not made')]);
  expect(fs.readdirSync(path.join(dest, 'src')).sort()).toEqual(before);
  expect(fs.readdirSync(outside)).toEqual(['x']);
});
