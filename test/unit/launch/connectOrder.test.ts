/** The remote-to-remote hand-off of PROTOCOL.md §9.1: the order and the event lines, checked as a peer's input. */
import fc from 'fast-check';
import { ConnectOrder, eventLine, orderLine, parseEventLine, parseOrderLine, RelayEvent } from '../../../src/launch/connectOrder';
import { FcpError } from '../../../src/errors';
import { KNOWN_MODE_FLAGS, ModeFlag } from '../../../src/protocol/constants';
import { numRuns } from '../protocol/fuzzRuns';

const ORDER: ConnectOrder = {
  targets: [
    { host: '10.0.0.2', port: 41234 },
    { host: '127.0.0.1', port: 50000 },
  ],
  secret: Buffer.alloc(32, 7),
  nonce: Buffer.alloc(32, 9),
  sources: [Buffer.from('data/a'), Buffer.from([0x62, 0xff, 0x2a])],
  destination: Buffer.from('~/in/'),
  flags: 0x25,
  backupSuffix: Buffer.from('.bak'),
  hardLinks: true,
  compress: true,
  delta: true,
  chunkSize: 1 << 20,
  connections: 4,
  cipher: 1,
  bwlimit: 1000,
  failFast: false,
};

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as FcpError).code;
  }
};

describe('the connect order', () => {
  it('is one line that reads back the same, names not UTF-8 included', () => {
    const line = orderLine(ORDER);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(parseOrderLine(line)).toEqual(ORDER);
  });

  it('names no target under -3: every connection is relayed through fcp', () => {
    expect(parseOrderLine(orderLine({ ...ORDER, targets: [] })).targets).toEqual([]);
  });

  it("carries every MODE flag fcp knows (a source's trailing slash: CONTENTS), and refuses any other bit", () => {
    const contents = { ...ORDER, flags: ModeFlag.RECURSIVE | ModeFlag.CONTENTS | ModeFlag.INTO_DIR };
    expect(parseOrderLine(orderLine(contents))).toEqual(contents);
    const unknown = 2 ** 31;
    expect(KNOWN_MODE_FLAGS & unknown).toBe(0);
    expect(code(() => parseOrderLine(orderLine({ ...ORDER, flags: ModeFlag.RECURSIVE | unknown })))).toBe('FCP_ERR_PROTOCOL');
  });

  it('round-trips any paths and counts', () => {
    const bytes = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(fc.array(bytes, { minLength: 1, maxLength: 5 }), bytes, fc.integer({ min: 1, max: 64 }), (sources, destination, connections) => {
        const order = { ...ORDER, sources, destination, connections };
        expect(parseOrderLine(orderLine(order))).toEqual(order);
      }),
      { numRuns: numRuns(100) },
    );
  });

  it.each([
    ['another line', 'FCP-SECRET ab', 'FCP_ERR_USAGE'],
    ['not JSON', 'FCP-CONNECT {', 'FCP_ERR_PROTOCOL'],
    ['a short secret', orderLine({ ...ORDER, secret: Buffer.alloc(31) }), 'FCP_ERR_PROTOCOL'],
    ['nine targets', orderLine({ ...ORDER, targets: Array.from({ length: 9 }, (_, i) => ({ host: 'h', port: i + 1 })) }), 'FCP_ERR_PROTOCOL'],
    ['port 0', orderLine({ ...ORDER, targets: [{ host: 'h', port: 0 }] }), 'FCP_ERR_PROTOCOL'],
    ['65 connections', orderLine({ ...ORDER, connections: 65 }), 'FCP_ERR_PROTOCOL'],
    ['a chunk size not a power of two', orderLine({ ...ORDER, chunkSize: 100_000 }), 'FCP_ERR_PROTOCOL'],
    ['an empty source', orderLine({ ...ORDER, sources: [Buffer.alloc(0)] }), 'FCP_ERR_PROTOCOL'],
    ['a source over PATH_MAX', orderLine({ ...ORDER, sources: [Buffer.alloc(4097, 0x61)] }), 'FCP_ERR_PROTOCOL'],
  ])('refuses %s', (_, line, expected) => {
    expect(code(() => parseOrderLine(line))).toBe(expected);
  });
});

describe('event lines', () => {
  const error = { code: 'FCP_ERR_PERMISSION' as const, message: 'permission denied', hint: 'check the mode' };
  it.each<RelayEvent>([
    { e: 'connected', target: '10.0.0.2:41234', relayed: false },
    { e: 'unreachable', tried: '10.0.0.2:41234 (refused)' },
    { e: 'relay', node: '/usr/bin/node', script: "/home/o'brien/.cache/fcp/1.0.0/fcpd.js", socket: '/tmp/fcp-relay-a1b2c3/s' },
    { e: 'start', files: 3, bytes: 3_000_003 },
    { e: 'bytes', n: 0 },
    { e: 'file', path: Buffer.from([0x61, 0xff]), size: 12, digest: 'ab'.repeat(16) },
    { e: 'file', path: Buffer.from('b'), size: 0, error, warning: 'it grew' },
    { e: 'entry', path: Buffer.from('d/link'), error },
    { e: 'end', summary: { filesOk: 1, filesFailed: 1, entriesFailed: 1, bytes: 12, bytesSent: 12, bytesResumed: 0, connections: 4, cipher: 1 } },
    { e: 'fail', error: { code: 'FCP_ERR_NOT_FOUND', message: 'no such file' } },
  ])('%j is written and read back', (event) => {
    expect(parseEventLine(eventLine(event))).toEqual(event);
  });

  it('other lines are not events', () => {
    expect(parseEventLine('FCPD-VERSION 0.1.0')).toBeUndefined();
    expect(parseEventLine('fcpd: hello')).toBeUndefined();
  });

  it.each([
    ['an unknown event', 'FCP-EVENT {"e":"boom"}'],
    ['an unknown error code', 'FCP-EVENT {"e":"fail","error":{"code":"FCP_ERR_NOPE","message":"x"}}'],
    ['a negative size', 'FCP-EVENT {"e":"file","path":"YQ==","size":-1}'],
    ['a fractional count', 'FCP-EVENT {"e":"bytes","n":1.5}'],
    ['a path that is not base64', 'FCP-EVENT {"e":"file","path":"a b","size":1}'],
    ['an empty path', 'FCP-EVENT {"e":"entry","path":"","error":{"code":"FCP_ERR_IO","message":"x"}}'],
    ['a short digest', 'FCP-EVENT {"e":"file","path":"YQ==","size":1,"digest":"ab"}'],
    ['a message over 4096 bytes', `FCP-EVENT {"e":"fail","error":{"code":"FCP_ERR_IO","message":"${'x'.repeat(4097)}"}}`],
    ['an array', 'FCP-EVENT []'],
    ['a relay command that is not an absolute path', 'FCP-EVENT {"e":"relay","node":"node","script":"/f.js","socket":"/tmp/s"}'],
    ['a relay socket with a NUL', 'FCP-EVENT {"e":"relay","node":"/n","script":"/f.js","socket":"/tmp/s\\u0000x"}'],
  ])('%s is FCP_ERR_PROTOCOL', (_, line) => {
    expect(code(() => parseEventLine(line))).toBe('FCP_ERR_PROTOCOL');
  });
});
