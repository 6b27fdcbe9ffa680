/**
 * fcp's rsync filter options: --exclude, --include, --exclude-from, --include-from (rules in
 * command-line order, first match wins) and --max-depth, read into one PathFilter.
 */
import * as fs from 'node:fs';
import { Option } from 'commander';
import { FcpError } from '../errors';
import { NO_MAX_DEPTH } from '../protocol/constants';
import { addRuleText, FilterRule, PathFilter, RuleKind, ruleLines } from '../sync/filter';
import { filterRulesMessage } from '../sync/filterWire';
import { filesFromLines } from '../sync/filesFrom';
import { showName } from '../showName';
import { argParser } from './optionValues';

/** One filter option as given: rules keep the order of the command line across the four options. */
export interface FilterArg {
  kind: RuleKind;
  /** A pattern, or with `from` the file of patterns (`-`: standard input). */
  value: string;
  from: boolean;
}

const STDIN_NAME = '-';
/** rsync's --filter rules that fcp takes: their long words and the prefixes PathFilter reads. */
const FILTER_WORDS: [word: string, prefix: string][] = [
  ['- ', '- '],
  ['+ ', '+ '],
  ['exclude ', '- '],
  ['include ', '+ '],
];
const CLEAR_RULES = ['!', 'clear'];

/**
 * An rsync `--filter` rule (`- PATTERN`, `+ PATTERN`, `exclude PATTERN`, `include PATTERN`, or
 * `!`/`clear`) as the `- `/`+ `/`!` text PathFilter reads; other rsync rules (merge files,
 * modifiers, hide/protect) are refused, not ignored, so a rule never silently means less.
 */
export function filterRuleText(rule: string): string {
  if (CLEAR_RULES.includes(rule.trim())) return '!';
  for (const [word, prefix] of FILTER_WORDS) {
    if (rule.startsWith(word) && rule.length > word.length) return prefix + rule.slice(word.length);
  }
  throw new Error(`${JSON.stringify(rule)} is not a filter rule fcp takes: give "- PATTERN", "+ PATTERN", "exclude PATTERN", "include PATTERN" or "!"`);
}

export function maxDepth(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n >= NO_MAX_DEPTH) {
    throw new Error(`must be a whole number from 0 to ${NO_MAX_DEPTH - 1}`);
  }
  return n;
}

/**
 * The options, each appending to `given` as commander reads them (in command-line order); the
 * value of each is `given` itself.
 */
export function filterOptions(given: FilterArg[]): Option[] {
  const adding = (kind: RuleKind, from: boolean) => (value: string): FilterArg[] => {
    given.push({ kind, value, from });
    return given;
  };
  return [
    new Option('--exclude <pattern>', "leave out what PATTERN matches (rsync's rules: *, **, ?, [...]; a leading / anchors at the top of the copy, a trailing / matches directories only); repeatable, first matching --exclude/--include wins").argParser(adding('exclude', false)),
    new Option('--include <pattern>', 'do not leave out what PATTERN matches (before an --exclude that would); repeatable').argParser(adding('include', false)),
    new Option('--exclude-from <file>', 'read exclude patterns from FILE, one a line (- for standard input; blank lines and lines starting with ; or # skipped)').argParser(adding('exclude', true)),
    new Option('--include-from <file>', 'read include patterns from FILE, as --exclude-from').argParser(adding('include', true)),
    new Option('--filter <rule>', 'add an rsync filter rule: "- PATTERN", "+ PATTERN" (or exclude/include PATTERN), "!" clears the rules before it (the config key filter adds rules after the command line\'s; default: none)').argParser(argParser((rule) => adding('exclude', false)(filterRuleText(rule)))),
    new Option('--max-depth <n>', 'descend at most N levels below each source: 0 copies a source directory empty, 1 also what it holds directly, its subdirectories empty (default: no limit)').argParser(argParser(maxDepth)),
  ];
}

function readListFile(name: string, what: string): Buffer {
  try {
    return fs.readFileSync(name === STDIN_NAME ? 0 : name);
  } catch (err) {
    throw new FcpError('FCP_ERR_USAGE', `cannot read ${what} file ${showName(name)}: ${(err as Error).message}`, {
      hint: `give a readable file of ${what === 'filter' ? 'patterns' : 'paths'}, one a line, or - for standard input`,
    });
  }
}

/** --files-from FILE (`-`: standard input): the paths it lists, checked (sync/filesFrom.ts). */
export function filesFromFile(name: string): Buffer[] {
  return filesFromLines(readListFile(name, '--files-from'));
}

/**
 * The filter of the options given, then of the config's `filter` rules (`configured`, already in
 * PathFilter's text form): the command line's rules come first, so they win; a `!` among them
 * clears the config's too. Undefined when there is none. A bad pattern or file is FCP_ERR_USAGE.
 */
export function filterOf(given: readonly FilterArg[], depth: number | undefined, configured: readonly string[] = []): PathFilter | undefined {
  const cleared = given.some((arg) => !arg.from && arg.value === '!');
  const all = cleared ? given : [...given, ...configured.map((rule): FilterArg => ({ kind: 'exclude', value: filterRuleText(rule), from: false }))];
  if (all.length === 0 && depth === undefined) return undefined;
  const rules: FilterRule[] = [];
  for (const arg of all) {
    const texts = arg.from ? ruleLines(readListFile(arg.value, 'filter')) : [Buffer.from(arg.value)];
    for (const text of texts) addRuleText(rules, arg.kind, text);
  }
  const filter = new PathFilter(rules, depth);
  // The same limits wherever the copy runs: fcpd gets the rules in one FILTER_RULES.
  filterRulesMessage(filter);
  return filter;
}

/** A rule of the config key `filter`: as --filter's, but `!` (which would clear the command line's rules, before it) is refused. */
export function checkConfiguredRule(rule: string): void {
  if (filterRuleText(rule) === '!') throw new Error('"!" clears rules only on the command line (--filter !), not in a config file');
}
