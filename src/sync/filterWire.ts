/**
 * A PathFilter as FILTER_RULES carries it (PROTOCOL.md §7.6): --max-depth, and the rules as
 * NUL-separated texts, each `- ` (exclude) or `+ ` (include) followed by the pattern's bytes. The
 * client of a session sends it; fcpd, the sender of a pull or the receiver of a push, rebuilds the
 * same filter. What a peer sends is bounded: rule count and bytes here, each pattern's length in
 * the filter itself.
 */
import { FcpError } from '../errors';
import { MAX_FILTER_RULES, MAX_FILTER_RULES_BYTES, NO_MAX_DEPTH, PacketType } from '../protocol/constants';
import type { FilterRulesMessage } from '../protocol/messages';
import { FilterRule, PathFilter } from './filter';

const NUL = 0;
const PREFIX_BYTES = 2;
const PREFIX: Record<FilterRule['kind'], Buffer> = { exclude: Buffer.from('- '), include: Buffer.from('+ ') };

/** The FILTER_RULES message of `filter`; one too large to carry is a usage error naming the limit. */
export function filterRulesMessage(filter: PathFilter): FilterRulesMessage {
  if (filter.rules.length > MAX_FILTER_RULES) {
    throw new FcpError('FCP_ERR_USAGE', `${filter.rules.length} filter rules: fcp carries at most ${MAX_FILTER_RULES}`, {
      hint: 'merge patterns (a * or [...] covers several names)',
    });
  }
  const texts = filter.rules.map((rule) => Buffer.concat([PREFIX[rule.kind], rule.pattern]));
  const rules = Buffer.concat(texts.flatMap((text, i) => (i > 0 ? [Buffer.of(NUL), text] : [text])));
  if (rules.length > MAX_FILTER_RULES_BYTES) {
    throw new FcpError('FCP_ERR_USAGE', `the filter rules take ${rules.length} bytes: fcp carries at most ${MAX_FILTER_RULES_BYTES}`, {
      hint: 'merge patterns (a * or [...] covers several names)',
    });
  }
  return { type: PacketType.FILTER_RULES, maxDepth: filter.maxDepth ?? NO_MAX_DEPTH, rules };
}

function badRules(why: string): FcpError {
  return new FcpError('FCP_ERR_BAD_FIELD', `FILTER_RULES ${why}`);
}

/** The filter a peer's FILTER_RULES describes; anything malformed is FCP_ERR_BAD_FIELD. */
export function filterOfMessage(message: FilterRulesMessage): PathFilter {
  const rules: FilterRule[] = [];
  for (let start = 0; start < message.rules.length; ) {
    if (rules.length === MAX_FILTER_RULES) throw badRules(`holds more than ${MAX_FILTER_RULES} rules`);
    let end = message.rules.indexOf(NUL, start);
    if (end < 0) end = message.rules.length;
    const text = message.rules.subarray(start, end);
    const prefix = text.subarray(0, PREFIX_BYTES);
    const kind = prefix.equals(PREFIX.exclude) ? 'exclude' : prefix.equals(PREFIX.include) ? 'include' : undefined;
    if (!kind) throw badRules(`rule ${rules.length + 1} starts with neither "- " nor "+ "`);
    // A copy: the pattern would otherwise hold the whole received frame.
    rules.push({ kind, pattern: Buffer.from(text.subarray(PREFIX_BYTES)) });
    start = end + 1;
    if (start === message.rules.length) throw badRules('ends with a NUL byte');
  }
  try {
    return new PathFilter(rules, message.maxDepth === NO_MAX_DEPTH ? undefined : message.maxDepth);
  } catch (err) {
    throw badRules(`holds a ${(err as FcpError).message}`);
  }
}
