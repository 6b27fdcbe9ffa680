/**
 * A sender asked for REMOVE_SOURCE in a dry run (by a client older than the fix that stops fcp
 * asking) removes nothing, and the session still ends: the protocol's part runs as asked.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModeFlag } from '../../../src/protocol/constants';
import { pushInProcess } from './pushInProcess';

let work: string;
beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-dry-removal-'));
  fs.mkdirSync(path.join(work, 'src', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(work, 'src', 'small'), 'small\n');
  fs.writeFileSync(path.join(work, 'src', 'sub', 'big'), Buffer.alloc(3 * 1024 * 1024, 7));
  fs.symlinkSync('small', path.join(work, 'src', 'link'));
});
afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

test('REMOVE_SOURCE with a dry run: every source stays, nothing is written', async () => {
  const sync = { checksum: false, sizeOnly: false, update: false, ignoreExisting: false, existing: false, delete: false, deleteExcluded: false, maxDelete: undefined, dryRun: true };
  const { summary } = await pushInProcess(work, { flags: ModeFlag.RECURSIVE | ModeFlag.INTO_DIR | ModeFlag.REMOVE_SOURCE, sync });
  expect(summary.errors).toEqual([]);
  expect(fs.readdirSync(path.join(work, 'src')).sort()).toEqual(['link', 'small', 'sub']);
  expect(fs.readdirSync(path.join(work, 'src', 'sub'))).toEqual(['big']);
  expect(fs.existsSync(path.join(work, 'dst'))).toBe(false);
});
