import { afterPush, emptyRecord, parseRecord } from '../../../src/track/remoteRecord';

const HASH = 'a'.repeat(64);
const entry = { at: '2026-12-04T00:00:00.000Z', who: 'u@h', action: 'push' as const, files: 1, deleted: 1, bytes: 5, paths: ['x/y', 'gone'] };

test('a record after a push round-trips through its JSON', () => {
  const before = afterPush(emptyRecord(), 'clone-1', entry, [{ path: 'x/y', version: { hash: HASH, mode: 0o644 }, size: 5 }, { path: 'gone', version: { hash: HASH, mode: 0o644 }, size: 1 }], []);
  const after = afterPush(before, 'clone-2', entry, [], ['gone']);
  expect(parseRecord(JSON.stringify(after))).toEqual(after);
  expect(Object.keys(after.files)).toEqual(['x/y']);
  expect(after.log.map((e) => e.clone)).toEqual(['clone-1', 'clone-2']);
  expect(after.clones['clone-2']).toEqual({ who: 'u@h', pushedAt: entry.at });
});

const withFile = (path: string, file: object = { hash: HASH, mode: 420, size: 1, by: 'c' }): string =>
  JSON.stringify({ ...emptyRecord(), files: { [path]: file } });

test.each([
  ['not JSON', '{', 'not valid'],
  ['another format', JSON.stringify({ ...emptyRecord(), format: 'x' }), 'not an fcp-track record'],
  ['a newer version', JSON.stringify({ ...emptyRecord(), version: 2 }), 'version 2'],
  ['a path leading out', withFile('../etc/passwd'), 'leads out'],
  ['an absolute path', withFile('/etc/passwd'), 'not a file of the folder'],
  ['a path with . components', withFile('a/./b'), 'not a file of the folder'],
  ['the record directory itself', withFile('.fcp/config.json'), 'not a file of the folder'],
  ['a bad digest', withFile('a', { hash: 'zz', mode: 420, size: 1, by: 'c' }), 'malformed'],
  ['a mode out of range', withFile('a', { hash: HASH, mode: 0o10000, size: 1, by: 'c' }), 'malformed'],
])('%s is FCP_ERR_TRACK_STATE', (_name, text, message) => {
  expect(() => parseRecord(text)).toThrow(expect.objectContaining({ code: 'FCP_ERR_TRACK_STATE', message: expect.stringContaining(message) }));
});
