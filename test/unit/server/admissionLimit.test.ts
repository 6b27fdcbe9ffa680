/** The total pre-authentication bound follows the open-file limit, so that a flood meets it before EMFILE. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openFileLimit, PREAUTH_TOTAL, preAuthTotal } from '../../../src/server/admission';

test('the soft open-file limit is read from a limits file; unreadable gives undefined', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-limits-'));
  const limits = path.join(dir, 'limits');
  fs.writeFileSync(limits, 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n');
  expect(openFileLimit(limits)).toBe(1024);
  expect(openFileLimit(path.join(dir, 'missing'))).toBeUndefined();
  fs.rmSync(dir, { recursive: true });
});

test('the total bound is PREAUTH_TOTAL, at most half the limit, at least 1', () => {
  expect(preAuthTotal(undefined)).toBe(PREAUTH_TOTAL);
  expect(preAuthTotal(1_048_576)).toBe(PREAUTH_TOTAL);
  expect(preAuthTotal(1024)).toBe(512);
  expect(preAuthTotal(1)).toBe(1);
});
