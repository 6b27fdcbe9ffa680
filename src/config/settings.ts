/**
 * Settings as fcp and fcpd read them: a schema of keys, each read from TOML (typed) or from text
 * (a command-line flag, an environment variable), and the precedence that picks one value per key
 * from several layers, remembering where it came from (echo-config shows that).
 */
import { hostMatches } from '../ssh/sshConfig';
import { settingsError, TomlDocument, TomlTable } from './toml';

export type Source =
  | { kind: 'default' }
  | { kind: 'file'; file: string; line: number | undefined }
  | { kind: 'environment'; name: string }
  | { kind: 'flag'; flag: string };

export interface Setting<T = unknown> {
  value: T;
  source: Source;
}

/** How one key's value is read; both throw an Error whose message says what the value must be. */
export interface KeySpec<T = unknown> {
  fromToml(value: unknown): T;
  fromText(text: string): T;
  /** The value as TOML would write it back (echo-config): reading it again gives the same value. */
  show(value: T): string | number | boolean | readonly string[];
}

export type Schema = Readonly<Record<string, KeySpec>>;
export type Layer = Partial<Record<string, Setting>>;

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/** An on/off key: a TOML boolean, or yes/no, true/false, on/off, 1/0 as text. */
export const switchKey: KeySpec<boolean> = {
  fromToml(value) {
    if (typeof value !== 'boolean') throw new Error(`must be true or false, not ${tomlType(value)}`);
    return value;
  },
  fromText(text) {
    const word = text.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    throw new Error('must be yes or no (true/false, on/off, 1/0)');
  },
  show: (value) => value,
};

/**
 * A key whose value means what the same text means on the command line (`chunk_size = "4M"` as
 * `--chunk-size 4M`): a TOML string or number, read by the flag's own parser.
 */
export function textKey<T>(parseText: (text: string) => T, show: (value: T) => string | number): KeySpec<T> {
  return {
    fromToml(value) {
      if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`must be a string or a number, not ${tomlType(value)}`);
      return parseText(String(value));
    },
    fromText: parseText,
    show,
  };
}

/** A list of strings (`allowed_hosts = ["10.0.0.0/8"]`), each checked by `check` (which throws). */
export function listKey(check: (item: string) => void = () => undefined): KeySpec<readonly string[]> {
  const checked = (items: readonly string[]): readonly string[] => {
    items.forEach(check);
    return items;
  };
  return {
    fromToml(value) {
      if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new Error(`must be an array of strings, not ${tomlType(value)}`);
      return checked(value as string[]);
    },
    fromText: (text) => checked(text.split(',').map((item) => item.trim()).filter((item) => item !== '')),
    show: (value) => value,
  };
}

function tomlType(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object' && value !== null) return 'a table';
  return `a ${typeof value}`;
}

/** An error about `key` at `path` in `doc`, at the key's line (or its table's). */
function keyError(doc: TomlDocument, path: readonly string[], message: string, hint?: string): Error {
  const line = doc.lineOf(path) ?? doc.lineOf(path.slice(0, -1));
  return settingsError(doc.file, line, message, hint);
}

/**
 * The settings of one TOML table; `skip` names sub-tables the caller reads itself. An unknown key
 * or a bad value is an FCP_ERR_USAGE error naming file, line and key.
 */
export function readTable(doc: TomlDocument, tablePath: readonly string[], table: TomlTable, schema: Schema, skip: readonly string[] = []): Layer {
  const layer: Layer = {};
  for (const [key, raw] of Object.entries(table)) {
    if (skip.includes(key)) continue;
    const path = [...tablePath, key];
    const spec = schema[key];
    if (!spec) throw keyError(doc, path, `unknown key "${path.join('.')}"`, `known keys: ${[...Object.keys(schema), ...skip].join(', ')}`);
    try {
      layer[key] = { value: spec.fromToml(raw), source: { kind: 'file', file: doc.file, line: doc.lineOf(path) } };
    } catch (err) {
      throw keyError(doc, path, `${path.join('.')}: ${(err as Error).message}`);
    }
  }
  return layer;
}

/** A sub-table of `data` (`host`, `modules`), checked to be a table of tables. */
export function tablesOf(doc: TomlDocument, data: TomlTable, key: string): [string, TomlTable][] {
  const value = data[key];
  if (value === undefined) return [];
  const isTable = (v: unknown): v is TomlTable => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
  if (!isTable(value)) throw keyError(doc, [key], `${key} must be a table of tables ([${key}."NAME"])`);
  return Object.entries(value).map(([name, table]) => {
    if (!isTable(table)) throw keyError(doc, [key, name], `${key}."${name}" must be a table ([${key}."${name}"])`);
    return [name, table];
  });
}

/**
 * One file's settings for `host`: the `[host."PATTERN"]` sections that match it, the first in the
 * file winning as in ssh_config, then the file's top-level keys. Every section is checked, whether
 * it matches or not, so that a mistake shows on the first run.
 */
export function fileLayer(doc: TomlDocument, schema: Schema, host: string | undefined): Layer {
  const top = readTable(doc, [], doc.data, schema, ['host']);
  const sections = tablesOf(doc, doc.data, 'host')
    .map(([pattern, table]) => {
      const layer = readTable(doc, ['host', pattern], table, schema);
      let matches: boolean;
      try {
        // Matched even without a host, so that a bad pattern shows on every run.
        matches = hostMatches(pattern, host ?? '') && host !== undefined;
      } catch (err) {
        throw keyError(doc, ['host', pattern], (err as Error).message);
      }
      return { line: doc.lineOf(['host', pattern]) ?? 0, layer, matches };
    })
    .filter((section) => section.matches)
    .sort((a, b) => a.line - b.line);
  return firstSet([...sections.map((section) => section.layer), top]);
}

/** One layer of the first value each key has in `layers` (highest precedence first). */
export function firstSet(layers: readonly Layer[]): Layer {
  const merged: Layer = {};
  for (const layer of [...layers].reverse()) Object.assign(merged, layer);
  return merged;
}

/** Every key of `schema`: its value from the first layer that sets it, else its default. */
export function resolve<S extends Schema>(schema: S, defaults: { [K in keyof S]: unknown }, layers: readonly Layer[]): { [K in keyof S]: Setting } {
  const merged = firstSet(layers);
  return Object.fromEntries(Object.keys(schema).map((key) => [key, merged[key] ?? { value: defaults[key], source: { kind: 'default' } }])) as { [K in keyof S]: Setting };
}

/** The layer of environment variables `PREFIX_KEY` (FCP_CONNECTIONS) set for keys of `schema`. */
export function environmentLayer(schema: Schema, prefix: string, env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = {};
  for (const [key, spec] of Object.entries(schema)) {
    const name = `${prefix}${key.toUpperCase()}`;
    const text = env[name];
    if (text === undefined || text === '') continue;
    try {
      layer[key] = { value: spec.fromText(text), source: { kind: 'environment', name } };
    } catch (err) {
      throw settingsError(`environment variable ${name}`, undefined, (err as Error).message);
    }
  }
  return layer;
}

/** Where a value came from, as echo-config prints it. */
export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return source.line === undefined ? source.file : `${source.file}:${source.line}`;
    case 'environment':
      return `environment ${source.name}`;
    case 'flag':
      return `flag ${source.flag}`;
  }
}
