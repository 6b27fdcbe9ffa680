/** Removing a cancelled job's partial files: only part files with their journals and locks, never one a running process holds, never through a symlink. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { discardPartialOf, discardPartialsUnder, newTally } from '../../../src/state/discardPartials';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-discard-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const put = (rel: string, text = 'x'): void => {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), text);
};
const left = (): string[] => (fs.readdirSync(dir, { recursive: true }) as string[]).sort();

test('under a directory: every part file with its journal and a stale lock; other files stay', () => {
  put('.a.fcp-part');
  put('.a.fcp-part.journal');
  put('.a.fcp-part.lock', '999999999\n');
  put('sub/.b.fcp-part');
  put('keep.txt');
  put('.fcp-part');
  put('sub/.b.fcp-part.bak');
  const tally = newTally();
  discardPartialsUnder(Buffer.from(dir), tally);
  expect(tally).toEqual({ removed: 4, busy: 0 });
  expect(left()).toEqual(['.fcp-part', 'keep.txt', 'sub', 'sub/.b.fcp-part.bak']);
});

test('a part file whose lock a running process holds is kept and counted busy', () => {
  put('.a.fcp-part');
  put('.a.fcp-part.lock', `${process.pid}\n`);
  const tally = newTally();
  discardPartialOf(Buffer.from(path.join(dir, 'a')), undefined, tally);
  expect(tally).toEqual({ removed: 0, busy: 1 });
  expect(left()).toEqual(['.a.fcp-part', '.a.fcp-part.lock']);
});

test('one file, its partial state in --partial-dir; a symlink to a directory is not followed', () => {
  put('.partial/.f.fcp-part');
  put('.partial/.f.fcp-part.journal');
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-discard-outside-'));
  fs.writeFileSync(path.join(outside, '.x.fcp-part'), 'not ours');
  fs.symlinkSync(outside, path.join(dir, 'link'));
  const tally = newTally();
  discardPartialOf(Buffer.from(path.join(dir, 'f')), Buffer.from('.partial'), tally);
  discardPartialsUnder(Buffer.from(dir), tally);
  expect(tally).toEqual({ removed: 2, busy: 0 });
  expect(fs.readdirSync(outside)).toEqual(['.x.fcp-part']);
  fs.rmSync(outside, { recursive: true });
});
