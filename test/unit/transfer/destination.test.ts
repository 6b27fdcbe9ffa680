/** Where received entries land for a directory destination written with trailing slashes. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveDestination } from '../../../src/transfer/destination';

test.each([
  ['dir', ''],
  ['dir/', '/'],
  ['dir//', '//'],
])('a directory destination spelled %s puts entry "a" at dir/a, one slash between', (_label, slashes) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-dest-'));
  try {
    const destination = resolveDestination(Buffer.from(dir + slashes), 0);
    expect(destination.localPath(Buffer.from('a')).toString()).toBe(`${dir}/a`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the root directory as destination puts entry "a" at /a', () => {
  expect(resolveDestination(Buffer.from('/'), 0).localPath(Buffer.from('a')).toString()).toBe('/a');
});
