/** The launch hand-off lines of PROTOCOL.md §9. */
import fc from 'fast-check';
import { Listen, listenLine, parseListenLine, parseVersionLine, versionLine } from '../../../src/launch/handoff';
import { numRuns } from '../protocol/fuzzRuns';

const NONCE = Buffer.alloc(32, 0xab);

describe('the listen line', () => {
  it.each<[string, Listen]>([
    ['FCPD-LISTEN 7523 ::\n', { port: 7523, address: '::' }],
    ['FCPD-LISTEN 41234 0.0.0.0 10.0.0.2\n', { port: 41234, address: '0.0.0.0', reached: '10.0.0.2' }],
    [`FCPD-LISTEN 41234 :: nonce=${'ab'.repeat(32)}\n`, { port: 41234, address: '::', nonce: NONCE }],
    [`FCPD-LISTEN 1 127.0.0.1 fe80::1 nonce=${'ab'.repeat(32)}\n`, { port: 1, address: '127.0.0.1', reached: 'fe80::1', nonce: NONCE }],
  ])('%j is written and read back', (line, listen) => {
    expect(listenLine(listen)).toBe(line);
    expect(parseListenLine(line)).toEqual(listen);
  });

  it('round-trips any port, addresses and nonce', () => {
    const token = fc.stringMatching(/^[0-9a-f:.]{1,39}$/).filter((t) => !t.startsWith('nonce='));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 65535 }),
        token,
        fc.option(token, { nil: undefined }),
        fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)), { nil: undefined }),
        (port, address, reached, nonce) => {
          const listen: Listen = { port, address };
          if (reached !== undefined) listen.reached = reached;
          if (nonce !== undefined) listen.nonce = nonce;
          expect(parseListenLine(listenLine(listen))).toEqual(listen);
        },
      ),
      { numRuns: numRuns(200) },
    );
  });

  it.each([
    'FCPD-LISTEN 0 ::',
    'FCPD-LISTEN 65536 ::',
    'FCPD-LISTEN 7523',
    `FCPD-LISTEN 7523 :: nonce=${'ab'.repeat(31)}`,
    `FCPD-LISTEN 7523 :: nonce=${'AB'.repeat(32)}`,
    `FCPD-LISTEN 7523 :: 10.0.0.2 nonce=${'ab'.repeat(32)} extra`,
    'fcpd: some other line',
  ])('%j is not a listen line', (line) => {
    expect(parseListenLine(line)).toBeUndefined();
  });
});

describe('the version line', () => {
  it('is written and read back', () => {
    expect(versionLine('0.1.0')).toBe('FCPD-VERSION 0.1.0\n');
    expect(parseVersionLine(versionLine('1.2.3-rc.1'))).toBe('1.2.3-rc.1');
  });

  it.each(['FCPD-VERSION', 'FCPD-VERSION 1 2', `FCPD-VERSION ${'9'.repeat(65)}`, 'FCPD-LISTEN 7523 ::'])('%j is not one', (line) => {
    expect(parseVersionLine(line)).toBeUndefined();
  });
});
