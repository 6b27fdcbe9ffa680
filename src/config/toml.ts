/**
 * A TOML settings file (fcp's config.toml, fcpd's fcpd.toml) parsed with smol-toml, plus the line
 * each key and table header stands on: the parser gives values only, and every complaint about a
 * value, and echo-config's answer to "where did this come from", names file and line.
 */
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import { FcpError } from '../errors';
import { showText } from '../showName';

// The package's `types` condition names its ES-module build, which a CommonJS file may import
// only as types; `require` loads its identical CommonJS build (as src/ssh/sshConfig.ts does).
export const { parse, stringify, TomlError } = require('smol-toml') as typeof SmolToml;

export type TomlTable = Record<string, unknown>;

export interface TomlDocument {
  file: string;
  data: TomlTable;
  /** The line (1-based) a key or table header at `path` was written on, when it could be told. */
  lineOf(path: readonly string[]): number | undefined;
}

/** A settings error: exit 2, naming the file, the line and (when there is one) the key. */
export function settingsError(file: string, line: number | undefined, message: string, hint?: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', `${showText(file)}${line === undefined ? '' : `:${line}`}: ${message}`, { hint });
}

export function parseTomlDocument(text: string, file: string): TomlDocument {
  let data: TomlTable;
  try {
    data = parse(text) as TomlTable;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw settingsError(file, err.line, `not valid TOML: ${reason}`);
  }
  const lines = keyLines(text);
  return { file, data, lineOf: (path) => lines.get(path.join('\0')) };
}

/** A key as TOML writes it: bare when it can be, else quoted. */
export function tomlKey(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name);
}

/** A key (bare, quoted or dotted) at the start of a line, then `=`. */
const KEY_AT_START = /^\s*((?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*'))*)\s*=/;
const HEADER = /^\s*\[\[?\s*(.+?)\s*\]\]?\s*(?:#.*)?$/;
/** A line that opens or closes a multi-line string has an odd number of these. */
const MULTILINE_QUOTE = /"""|'''/g;

/**
 * The path of every key and table header in `text` (joined by NUL) and its line. The key text
 * itself is read by the TOML parser, so quoting and dotted keys mean what they mean in TOML.
 */
function keyLines(text: string): Map<string, number> {
  const found = new Map<string, number>();
  let table: string[] = [];
  let inString = false;
  text.split('\n').forEach((line, index) => {
    const quotes = (line.match(MULTILINE_QUOTE) ?? []).length;
    const wasInString = inString;
    if (quotes % 2 === 1) inString = !inString;
    if (wasInString) return;
    const header = HEADER.exec(line);
    if (header && !KEY_AT_START.test(line)) {
      table = keyPath(header[1]!) ?? table;
      remember(found, table, index + 1);
      return;
    }
    const key = KEY_AT_START.exec(line);
    const path = key && keyPath(key[1]!);
    if (path) remember(found, [...table, ...path], index + 1);
  });
  return found;
}

function remember(found: Map<string, number>, path: string[], line: number): void {
  const id = path.join('\0');
  if (!found.has(id)) found.set(id, line);
}

/** The path a TOML key (`a."b.c".d`) names, or undefined when it is no key. */
function keyPath(key: string): string[] | undefined {
  let node: unknown;
  try {
    node = parse(`${key} = 0`);
  } catch {
    return undefined;
  }
  const path: string[] = [];
  while (typeof node === 'object' && node !== null) {
    const [name] = Object.keys(node);
    path.push(name!);
    node = (node as TomlTable)[name!];
  }
  return path;
}
