/**
 * fcpd's expansion of user paths (src/server/userPaths.ts): `~` and `~user`, and patterns per
 * component against a real directory, with names a shell would run and names that are not UTF-8.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expandHome, expandSources } from '../../../src/server/userPaths';

const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
const text = (paths: Buffer[]): string[] => paths.map((p) => p.toString('latin1'));

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-userpaths-'));
  for (const dir of ['d1', 'd2', 'e1']) fs.mkdirSync(path.join(root, dir));
  for (const file of ['d1/x.txt', 'd1/y.md', 'd2/x.txt', 'd1/.h.txt', 'd1/$(id).txt', 'e1/x.txt']) fs.writeFileSync(path.join(root, file), file);
  fs.writeFileSync(Buffer.from(`${root}/d1/\xff.txt`, 'latin1'), 'not UTF-8');
  fs.writeFileSync(path.join(root, 'dfile'), 'a file, not a directory');
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('expandHome', () => {
  const me = os.userInfo();
  test.each([
    ['~', os.homedir()],
    ['~/a/b', `${os.homedir()}/a/b`],
    [`~${me.username}/x`, `${me.homedir}/x`],
    ['a/~', 'a/~'],
    ['/~/x', '/~/x'],
    ['\\~', '\\~'],
  ])('%s is %s', (given, expected) => {
    expect(expandHome(bytes(given)).toString('latin1')).toBe(expected);
  });

  test('an unknown user, and a uid in its place, are FCP_ERR_NOT_FOUND', () => {
    for (const user of ['no-such-user-fcp', '0', '-x']) {
      expect(() => expandHome(bytes(`~${user}/x`))).toThrow(expect.objectContaining({ code: 'FCP_ERR_NOT_FOUND' }));
    }
  });
});

describe('expandSources', () => {
  test('a pattern in the last component: its matches, sorted, no hidden ones, bytes kept', () => {
    expect(text(expandSources([bytes(`${root}/d1/*.txt`)]))).toEqual([`${root}/d1/$(id).txt`, `${root}/d1/x.txt`, `${root}/d1/\xff.txt`]);
  });

  test('a pattern in a middle component: only paths that exist (a file there is no directory)', () => {
    expect(text(expandSources([bytes(`${root}/d*/x.txt`)]))).toEqual([`${root}/d1/x.txt`, `${root}/d2/x.txt`]);
  });

  test('paths without patterns stay as given, several sources add up, ~ comes first', () => {
    const sources = [bytes('/no/such/file'), bytes(`${root}/[de]2`), bytes('~')];
    expect(text(expandSources(sources))).toEqual(['/no/such/file', `${root}/d2`, os.homedir()]);
  });

  test('a pattern that matches nothing is FCP_ERR_NOT_FOUND naming it', () => {
    expect(() => expandSources([bytes(`${root}/d1/*.none`)])).toThrow(expect.objectContaining({ code: 'FCP_ERR_NOT_FOUND', message: expect.stringContaining('*.none: no match') }));
  });
});
