/** fcp:// locations: a module of a standing fcpd, its path as fcpd takes it. */
import { parseLocation, showLocation } from '../../../src/client/location';

test('fcp://[user@]host[:port]/MODULE[/PATH] is a daemon location; its module root is MODULE/.', () => {
  expect(parseLocation('fcp://alice@data.example:7600/pub/a/b.txt')).toEqual({
    kind: 'remote',
    user: 'alice',
    host: 'data.example',
    path: Buffer.from('pub/a/b.txt'),
    daemon: { port: 7600 },
  });
  expect(parseLocation('fcp://[::1]/pub')).toEqual({ kind: 'remote', host: '::1', path: Buffer.from('pub/.'), daemon: { port: 7523 } });
  expect(parseLocation('fcp://h/pub/')).toMatchObject({ path: Buffer.from('pub/.') });
  expect(showLocation(parseLocation('fcp://h/pub/x'))).toBe('fcp://h:7523/pub/x');
  expect(parseLocation('h:pub/x')).toEqual({ kind: 'remote', host: 'h', path: Buffer.from('pub/x') });
});

test.each(['fcp://host', 'fcp://host/', 'fcp://host:99999/pub', 'fcp://host:x/pub'])('%s is a usage error', (spec) => {
  expect(() => parseLocation(spec)).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
});

test('an empty argument is a usage error, not the working directory', () => {
  expect(() => parseLocation('')).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE', message: 'an empty argument names no file' }));
  expect(() => parseLocation(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
  expect(parseLocation('h:')).toEqual({ kind: 'remote', host: 'h', path: Buffer.alloc(0) });
});

test.each([
  ['u@:x', 'no host after the @'],
  ['@host:x', 'a host name holds no @'],
  ['a@b@c:x', 'a host name holds no @'],
])('%s names no host it could reach: a usage error', (spec, why) => {
  expect(() => parseLocation(spec)).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE', message: `${spec}: ${why}` }));
  expect(parseLocation('u@h:x')).toEqual({ kind: 'remote', user: 'u', host: 'h', path: Buffer.from('x') });
});
