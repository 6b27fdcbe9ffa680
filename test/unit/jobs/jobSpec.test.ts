/** A job's copy as data: names survive as bytes, callbacks are left out, and overlapping destinations are found. */
import { destinationsOverlap, describeSpec, receivingHost, toCopyOptions, toSpec } from '../../../src/jobs/jobSpec';

const spec = (destination: string, cwd = '/home/u') => toSpec({ sources: ['a'], destination }, cwd, {});

test('names that are not UTF-8, the backup suffix and the options survive the record; callbacks do not', () => {
  const odd = Buffer.from([0x66, 0xff, 0x2f, 0x78]);
  const stored = JSON.parse(JSON.stringify(toSpec({ sources: [odd, 'b c'], destination: 'host:dst/', backupSuffix: Buffer.from([0x7e, 0xfe]), recursive: true, bwlimit: 1024, onEvent: () => undefined } as never, '/w', { SSH_AUTH_SOCK: '/tmp/agent' })));
  const options = toCopyOptions(stored);
  expect(options.sources).toEqual([odd, Buffer.from('b c')]);
  expect(options.destination).toEqual(Buffer.from('host:dst/'));
  expect(options.backupSuffix).toEqual(Buffer.from([0x7e, 0xfe]));
  expect(options.recursive).toBe(true);
  expect(options.bwlimit).toBe(1024);
  expect('onEvent' in options).toBe(false);
  expect(stored.cwd).toBe('/w');
  expect(stored.sshAuthSock).toBe('/tmp/agent');
  expect(describeSpec(stored)).toEqual({ source: 'f\\377/x b c', destination: 'host:dst/' });
});

test('the receiving host is the destination host, or localhost', () => {
  expect(receivingHost(spec('alice@example.org:x'))).toBe('alice@example.org');
  expect(receivingHost(spec('example.org:'))).toBe('example.org');
  expect(receivingHost(spec('/tmp/x'))).toBe('localhost');
});

test('destinations overlap when equal or one inside the other, on the same host; relative local paths from the cwd', () => {
  expect(destinationsOverlap(spec('h:dir'), spec('h:dir/'))).toBe(true);
  expect(destinationsOverlap(spec('h:dir'), spec('h:dir/sub/file'))).toBe(true);
  expect(destinationsOverlap(spec('h:dir'), spec('h:dirt'))).toBe(false);
  expect(destinationsOverlap(spec('h:dir'), spec('other:dir'))).toBe(false);
  expect(destinationsOverlap(spec('u@h:dir'), spec('h:dir'))).toBe(false);
  expect(destinationsOverlap(spec('out', '/w'), spec('/w/out/x', '/elsewhere'))).toBe(true);
  expect(destinationsOverlap(spec('out', '/w'), spec('out', '/v'))).toBe(false);
  expect(destinationsOverlap(spec('/w/out'), spec('h:/w/out'))).toBe(false);
});
