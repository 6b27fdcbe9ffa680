/**
 * FILTER_RULES' rules field (src/sync/filterWire.ts): any filter fcp can send comes back the same
 * (through the codec and through fcpd --connect's order), and what a peer sends is bounded.
 */
import fc from 'fast-check';
import { parseOrderLine, orderLine } from '../../../src/launch/connectOrder';
import { MAX_FILTER_RULES, NO_MAX_DEPTH, PacketType } from '../../../src/protocol/constants';
import type { FilterRulesMessage } from '../../../src/protocol/messages';
import { parsePayload } from '../../../src/protocol/parser';
import { encodePayload } from '../../../src/protocol/serializer';
import { FilterRule, PathFilter } from '../../../src/sync/filter';
import { filterOfMessage, filterRulesMessage } from '../../../src/sync/filterWire';

// Any bytes but NUL; not only slashes (that names no file).
const pattern = fc
  .uint8Array({ minLength: 1, maxLength: 40 })
  .map((bytes) => Buffer.from(Array.from(bytes, (b) => b || 0x61)))
  .filter((bytes) => !/^\/*$/.test(bytes.toString('latin1')));
const rule = fc.record({ kind: fc.constantFrom<FilterRule['kind']>('include', 'exclude'), pattern });
const depth = fc.option(fc.integer({ min: 0, max: NO_MAX_DEPTH - 1 }), { nil: undefined });
const rules = (texts: string): FilterRulesMessage => ({ type: PacketType.FILTER_RULES, maxDepth: NO_MAX_DEPTH, rules: Buffer.from(texts) });

test('a filter survives FILTER_RULES, through the codec', () => {
  fc.assert(
    fc.property(fc.array(rule, { maxLength: 20 }), depth, (given, maxDepth) => {
      const message = filterRulesMessage(new PathFilter(given, maxDepth));
      const decoded = filterOfMessage(parsePayload(PacketType.FILTER_RULES, encodePayload(message)) as FilterRulesMessage);
      expect(decoded.rules).toEqual(given);
      expect(decoded.maxDepth).toBe(maxDepth);
    }),
  );
});

test('a filter survives the order fcp hands fcpd --connect', () => {
  const filter = new PathFilter([{ kind: 'exclude', pattern: Buffer.from('*.tmp') }], 2);
  const order = { targets: [{ host: '10.0.0.2', port: 7000 }], secret: Buffer.alloc(32, 1), sources: [Buffer.from('src')], destination: Buffer.from('dst'), flags: 1, hardLinks: false, compress: false, chunkSize: 1 << 20, connections: 4, cipher: 1, failFast: false, delta: false, filter };
  const parsed = parseOrderLine(orderLine(order));
  expect(parsed.filter?.rules).toEqual(filter.rules);
  expect(parsed.filter?.maxDepth).toBe(2);
  expect(parseOrderLine(orderLine({ ...order, filter: undefined })).filter).toBeUndefined();
  expect(() => parseOrderLine(orderLine(order).replace(/"filter":"[^"]*"/, '"filter":"!!"'))).toThrow(expect.objectContaining({ code: 'FCP_ERR_PROTOCOL' }));
});

test.each([
  ['more rules than allowed', Array.from({ length: MAX_FILTER_RULES + 1 }, () => '- x').join('\0'), `more than ${MAX_FILTER_RULES} rules`],
  ['a trailing NUL', '- a\0', 'ends with a NUL'],
  ['a rule without its prefix', '- a\0b', 'neither'],
  ['a pattern longer than PATH_MAX', `- ${'x'.repeat(4097)}`, 'longer than 4096'],
])('a peer FILTER_RULES with %s is FCP_ERR_BAD_FIELD', (_name, texts, why) => {
  expect(() => filterOfMessage(rules(texts))).toThrow(expect.objectContaining({ code: 'FCP_ERR_BAD_FIELD', message: expect.stringContaining(why) }));
});

test('fcp refuses to send more rules or bytes than FILTER_RULES carries, as a usage error', () => {
  const many = Array.from({ length: MAX_FILTER_RULES + 1 }, (): FilterRule => ({ kind: 'exclude', pattern: Buffer.from('x') }));
  expect(() => filterRulesMessage(new PathFilter(many))).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE' }));
  const long = Array.from({ length: 20 }, (): FilterRule => ({ kind: 'exclude', pattern: Buffer.alloc(4000, 'y') }));
  expect(() => filterRulesMessage(new PathFilter(long))).toThrow(expect.objectContaining({ code: 'FCP_ERR_USAGE', message: expect.stringContaining('bytes') }));
});
