/**
 * fcpd's policy file (fcpd.toml): what it serves and to whom (README "fcpd policy"). Pure: the
 * keys, their checks and the resolved rules; src/server/policy.ts applies them to real paths and
 * addresses.
 */
import * as ipaddr from 'ipaddr.js';
import * as path from 'node:path';
import { KeySpec, listKey, Layer, readTable, resolve, Schema, Setting, switchKey, tablesOf, textKey } from './settings';
import { settingsError, tomlKey, TomlDocument } from './toml';

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error('must be a whole number above 0');
  return n;
}

function absolutePath(text: string): string {
  if (!path.isAbsolute(text)) throw new Error(`"${text}" must be an absolute path`);
  // Without a trailing slash, so that a path is inside it when it continues with one.
  return path.resolve(text);
}

/** A file name pattern (`*.key`, `id_?sa`): matched against names, so no `/`. */
function namePattern(text: string): void {
  if (text === '' || text.includes('/')) throw new Error(`"${text}" must be a file name pattern (*, ?, [...]) without /`);
}

/** A CIDR block, or one address (a block of one). */
export function parseNetwork(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (ipaddr.isValidCIDR(text)) return ipaddr.parseCIDR(text);
  if (ipaddr.isValid(text)) {
    const address = ipaddr.parse(text);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  throw new Error(`"${text}" is not an IPv4 or IPv6 network (10.0.0.0/8, fd00::/8) or address`);
}

/** A rate as fcp's --bwlimit takes it; passed in so that this module does not import the CLI's parsers. */
export interface PolicyParsers {
  rate(text: string): number;
  showRate(bytesPerSecond: number): string;
}

export function policySchema(parsers: PolicyParsers) {
  const count = textKey(positiveInteger, (n: number) => n);
  return {
    forbidden_files: listKey(namePattern),
    forbidden_dirs: listKey((text) => void absolutePath(text)),
    allowed_hosts: listKey((text) => void parseNetwork(text)),
    max_sessions: count,
    max_connections_per_session: count,
    max_connections_per_address: count,
    bwlimit: textKey(parsers.rate, parsers.showRate),
    bwlimit_total: textKey(parsers.rate, parsers.showRate),
    users_file: textKey(absolutePath, (p: string) => p),
  } satisfies Schema;
}

const MODULE_SCHEMA = {
  path: textKey(absolutePath, (p: string) => p),
  read_only: switchKey,
} satisfies Schema;

const DEFAULTS = {
  forbidden_files: [],
  forbidden_dirs: [],
  allowed_hosts: [],
  max_sessions: undefined,
  max_connections_per_session: undefined,
  max_connections_per_address: undefined,
  bwlimit: undefined,
  bwlimit_total: undefined,
  users_file: undefined,
};

/** An exported root, as an rsync daemon module. */
export interface ModuleRule {
  name: string;
  path: string;
  readOnly: boolean;
}

export interface FcpdPolicy {
  forbiddenFiles: readonly string[];
  forbiddenDirs: readonly string[];
  /** Empty: every address may connect. */
  allowedHosts: readonly string[];
  /** Empty: every path fcpd's user can reach; else only paths inside one of them. */
  modules: readonly ModuleRule[];
  maxSessions?: number;
  maxConnectionsPerSession?: number;
  maxConnectionsPerAddress?: number;
  /** Bytes per second, each session and all together. */
  bwlimit?: number;
  bwlimitTotal?: number;
  /** Daemon access (fcp://): the users file; none, no logins. */
  usersFile?: string;
}

export type PolicySettings = Record<string, Setting>;

/**
 * The policy from its files (highest precedence first: the user's or --config's, then the
 * system's): each key from the first file that sets it; modules from the first file that has any.
 */
export function resolvePolicy(docs: readonly TomlDocument[], parsers: PolicyParsers): { policy: FcpdPolicy; settings: PolicySettings; schema: Schema } {
  const schema = policySchema(parsers);
  const layers: Layer[] = docs.map((doc) => readTable(doc, [], doc.data, schema, ['modules']));
  const moduleLayers = docs.map((doc) =>
    tablesOf(doc, doc.data, 'modules').map(([name, table]) => {
      const module = readTable(doc, ['modules', name], table, MODULE_SCHEMA);
      if (!module.path) throw settingsError(doc.file, doc.lineOf(['modules', name]), `modules.${tomlKey(name)} needs a path`);
      return { name, module };
    }),
  );
  const modules = moduleLayers.find((found) => found.length > 0) ?? [];
  const settings: PolicySettings = resolve(schema, DEFAULTS, layers);
  const moduleSchema: Record<string, KeySpec> = {};
  for (const { name, module } of modules) {
    const prefix = `modules.${tomlKey(name)}`;
    settings[`${prefix}.path`] = module.path!;
    settings[`${prefix}.read_only`] = module.read_only ?? { value: false, source: { kind: 'default' } };
    moduleSchema[`${prefix}.path`] = MODULE_SCHEMA.path;
    moduleSchema[`${prefix}.read_only`] = MODULE_SCHEMA.read_only;
  }
  const value = <T>(key: keyof typeof schema): T => settings[key]!.value as T;
  const policy: FcpdPolicy = {
    forbiddenFiles: value('forbidden_files'),
    forbiddenDirs: value<string[]>('forbidden_dirs').map(absolutePath),
    allowedHosts: value('allowed_hosts'),
    modules: modules.map(({ name, module }) => ({ name, path: module.path!.value as string, readOnly: (module.read_only?.value as boolean | undefined) ?? false })),
    maxSessions: value('max_sessions'),
    maxConnectionsPerSession: value('max_connections_per_session'),
    maxConnectionsPerAddress: value('max_connections_per_address'),
    bwlimit: value('bwlimit'),
    bwlimitTotal: value('bwlimit_total'),
    usersFile: value('users_file'),
  };
  return { policy, settings, schema: { ...schema, ...moduleSchema } };
}
