import fc from 'fast-check';
import { MAX_FILES_FROM_BYTES } from '../../../src/protocol/constants';
import { filesFromLines, filesFromMessages, listedPath, listedTree, pathsOfMessage } from '../../../src/sync/filesFrom';

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

test.each([
  ['a/b', 'a/b'],
  ['/a//b/', 'a/b'],
  ['./a/./b', 'a/b'],
  ['a/x/../b', 'a/b'],
  ['.', ''],
  ['a/..', ''],
])('%s is listed as %s', (line, expected) => {
  expect(listedPath(b(line)).toString('latin1')).toBe(expected);
});

test.each(['..', '../a', 'a/../../b', '/..'])('%s leads out of the source and is a usage error', (line) => {
  expect(() => listedPath(b(line))).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE', message: expect.stringContaining('leads out') }));
});

test('a line with a NUL byte is refused, from a peer as a bad field', () => {
  expect(() => listedPath(b('a\0b'), 'FCP_ERR_BAD_FIELD')).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
});

test('the file: comments, blank lines and CR LF skipped as rsync does', () => {
  expect(filesFromLines(b('# c\r\na\r\n\n; d\nb/c\n')).map((p) => p.toString())).toEqual(['a', 'b/c']);
});

test('the tree marks listed paths and the directories above them', () => {
  const tree = listedTree([b('a/b'), b('a'), b('c')]);
  expect(tree.listed).toBe(false);
  expect(tree.children.get('a')!.listed).toBe(true);
  expect(tree.children.get('a')!.children.get('b')!.listed).toBe(true);
  expect(tree.children.get('c')!.children.size).toBe(0);
});

test('FILES_FROM messages carry any list back unchanged, each within its size limit', () => {
  const component = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a.map((x) => (x === 0 || x === 0x2f ? 0x61 : x)))).filter((c) => c.toString('latin1') !== '.' && c.toString('latin1') !== '..');
  const path = fc.array(component, { minLength: 1, maxLength: 4 }).map((parts) => Buffer.concat(parts.flatMap((p, i) => (i ? [b('/'), p] : [p]))));
  fc.assert(
    fc.property(fc.array(path, { maxLength: 3000 }), fc.boolean(), (paths, recursive) => {
      const messages = filesFromMessages(paths, recursive);
      for (const message of messages) {
        expect(message.paths.length).toBeLessThanOrEqual(MAX_FILES_FROM_BYTES);
        expect(message.recursive).toBe(recursive ? 1 : 0);
      }
      expect(messages.flatMap(pathsOfMessage)).toEqual(paths);
    }),
    { numRuns: 30 },
  );
});

test('the source directory itself survives the trip as .', () => {
  expect(filesFromMessages([b('')], true).flatMap(pathsOfMessage)).toEqual([b('')]);
});

test('a peer path leading out is a bad field', () => {
  expect(() => pathsOfMessage({ type: 0x2e, recursive: 0, paths: b('ok\0../x') })).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD' }));
});
