/** fcpd --discard-partials's order and answer lines (PROTOCOL.md §9.2): round trip, and every bad order refused. */
import fc from 'fast-check';
import { discardedLine, discardOrderLine, parseDiscardedLine, parseDiscardOrderLine } from '../../../src/launch/discardOrder';
import { ModeFlag } from '../../../src/protocol/constants';
import { FcpError } from '../../../src/errors';

const order = { destination: Buffer.from('~/dst/'), flags: ModeFlag.RECURSIVE | ModeFlag.INTO_DIR, names: [Buffer.from('tree'), Buffer.from([0x66, 0xff])] };
const line = (json: unknown): string => `FCP-DISCARD ${JSON.stringify(json)}\n`;
const b64 = (text: string): string => Buffer.from(text).toString('base64');

function refusal(text: string): string | undefined {
  try {
    parseDiscardOrderLine(text);
    return undefined;
  } catch (err) {
    return (err as FcpError).code;
  }
}

test('an order and an answer survive the round trip, names as bytes', () => {
  expect(parseDiscardOrderLine(discardOrderLine(order))).toEqual(order);
  fc.assert(fc.property(fc.nat(), fc.nat(), (removed, busy) => expect(parseDiscardedLine(discardedLine({ removed, busy }))).toEqual({ removed, busy })));
  expect(parseDiscardedLine('FCPD-VERSION 1.0.0')).toBeUndefined();
});

test.each([
  ['a name with a /', line({ destination: b64('d'), flags: 1, names: [b64('a/b')] }), 'FCP_ERR_BAD_PATH'],
  ['a name ..', line({ destination: b64('d'), flags: 1, names: [b64('..')] }), 'FCP_ERR_BAD_PATH'],
  ['no names', line({ destination: b64('d'), flags: 1, names: [] }), 'FCP_ERR_PROTOCOL'],
  ['an unknown MODE flag', line({ destination: b64('d'), flags: 0x40000000, names: [b64('a')] }), 'FCP_ERR_PROTOCOL'],
  ['an empty destination', line({ destination: '', flags: 1, names: [b64('a')] }), 'FCP_ERR_PROTOCOL'],
  ['not JSON', 'FCP-DISCARD {nope\n', 'FCP_ERR_PROTOCOL'],
  ['another line', 'FCP-CONNECT {}\n', 'FCP_ERR_USAGE'],
])('refused: %s', (_what, text, code) => {
  expect(refusal(text)).toBe(code);
});
