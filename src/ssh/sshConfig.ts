/**
 * ssh_config for fcp's own SSH client (ssh2 reads none): the files OpenSSH reads, with Include
 * expanded, resolved for one host the way `ssh -G` does — command-line options first, then the
 * user file, then the system file, the first value of an option winning. The `ssh-config`
 * package parses and matches Host/Match blocks; this module reads the files, splices Includes,
 * and turns the option text into checked, typed, token-expanded values.
 *
 * Known approximations of OpenSSH:
 * - An Include is spliced into the text where it stands. OpenSSH reads an included file under the
 *   enclosing Host/Match block and never matches the included file's own Host/Match lines when
 *   that block is inactive; here a Host line inside an included file starts a block of its own,
 *   as it would textually. After the included text, the enclosing block's header is repeated so
 *   that the lines following the Include belong to that block again, as in OpenSSH.
 * - Include globs understand `*` and `?` (not `[...]`); directories that match are skipped (OpenSSH
 *   reads nothing from them either).
 * - `Match exec` blocks never apply: the library would run the command without %-token expansion.
 * - `?` in a Host pattern matches zero or one character in the library (one in OpenSSH).
 * - The permission check OpenSSH makes on ~/.ssh/config is not made.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as SshConfigLib from 'ssh-config' with { 'resolution-mode': 'import' };
import { FcpError } from '../errors';
import { fsError } from '../transfer/fsError';

let sshConfigLib: typeof SshConfigLib | undefined;
/**
 * The ssh-config package, loaded when a config is first read: 2-4 ms of every start of fcp
 * (--version and a local copy too) and fcpd, which reach this file without reading any
 * ssh_config, when it still loaded node:child_process at its top (for Match exec; in the bundles
 * that require is lazy now: scripts/bundle.ts). The package's `types` condition names its
 * ES-module build, which a CommonJS file may import only as types; `require` loads its identical
 * CommonJS build.
 */
function lib(): typeof SshConfigLib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (sshConfigLib ??= require('ssh-config') as typeof SshConfigLib);
}
type ParsedConfig = SshConfigLib.SSHConfig;
type ConfigLine = SshConfigLib.Line;
/** Option values as the library computes them: repeatable and multi-word options as lists. */
type ComputedValues = Record<string, string | string[]>;

export interface LoadSshConfigOptions {
  /** -F: read only this file (OpenSSH's `-F none` reads nothing). Default ~/.ssh/config. */
  file?: string;
  /** Default /etc/ssh/ssh_config; not read when `file` is given, as OpenSSH does. */
  systemFile?: string;
  /** The home directory for ~ and %d; default os.homedir(). */
  home?: string;
}

/** The parsed ssh_config of one fcp run, to resolve any number of hosts (jump hosts too). */
export interface SshConfigSource {
  /** The user file's lines, then the system file's: the first value found wins across both. */
  readonly config: ParsedConfig;
  readonly home: string;
  /** Every file read, includes too, in reading order (for diagnostics). */
  readonly files: readonly string[];
}

export interface ResolveHostOptions {
  /** The host as typed (an alias or a name). */
  host: string;
  /** From user@host, -l or -o User. */
  user?: string;
  /** -P */
  port?: number;
  /** -i, in order; they come before the config's IdentityFiles. */
  identityFiles?: string[];
  /** -o Key=Value; these win over the config files, as on ssh's command line. */
  options?: Record<string, string>;
  /** For SSH_AUTH_SOCK and ${VAR} in paths; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface JumpHop {
  user?: string;
  host: string;
  port?: number;
}

export type StrictHostKeyChecking = 'yes' | 'no' | 'accept-new' | 'ask';

export interface ResolvedHost {
  /** The host as typed. */
  alias: string;
  /** HostName with %h expanded, lowercased as ssh does; the alias when not set. */
  hostName: string;
  port: number;
  user: string;
  /** -i files, then IdentityFile values in config order; ~, tokens and ${VAR} expanded. */
  identityFiles: string[];
  /** False when no identity file was given anywhere: the caller uses ssh's default files. */
  identityFilesFromConfig: boolean;
  identitiesOnly: boolean;
  /** Empty for none. */
  proxyJump: JumpHop[];
  /** A command whose stdin/stdout carry the SSH connection (tokens expanded); undefined for none. */
  proxyCommand: string | undefined;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  hashKnownHosts: boolean;
  /** Lowercased, as ssh does; undefined when not set. */
  hostKeyAlias: string | undefined;
  /** Undefined when not set, `none` or 0 (ssh then waits as long as TCP does). */
  connectTimeoutMs: number | undefined;
  /** 0 when not set: no keepalives. */
  serverAliveIntervalMs: number;
  serverAliveCountMax: number;
  batchMode: boolean;
  passwordAuthentication: boolean;
  kbdInteractiveAuthentication: boolean;
  /** The agent socket path, or 'none' when there is no agent to use. */
  identityAgent: string;
  /** AddressFamily (scp -4/-6): 4 or 6 to use only that family, 0 for any. */
  addressFamily: 0 | 4 | 6;
  /** ForwardAgent (scp -A): the agent is forwarded to the remote session. */
  forwardAgent: boolean;
}

// --- reading the files ------------------------------------------------------------------------

const DEFAULT_SYSTEM_FILE = '/etc/ssh/ssh_config';
/** OpenSSH's READCONF_MAX_DEPTH: the top file is depth 0, a file it includes depth 1. */
const MAX_INCLUDE_DEPTH = 16;
/** A header matching every host, standing for "no enclosing block" when an Include ends. */
const TOP_LEVEL_HEADER = 'Host *';

interface ConfigFile {
  path: string;
  /** Where relative Include paths start: ~/.ssh for the user file, /etc/ssh for the system file. */
  includeBase: string;
  /** Whether a missing file is an error (-F) rather than an empty config. */
  required: boolean;
}

/** Where an Include is expanded: the file it is in and the block it is inside. */
interface IncludeSite {
  file: string;
  includeBase: string;
  home: string;
  depth: number;
  /** The Host/Match line of the enclosing block. */
  header: string;
  /** Collects every file read. */
  filesRead: string[];
}

export function loadSshConfig(opts: LoadSshConfigOptions = {}): SshConfigSource {
  const home = opts.home ?? os.homedir();
  const filesRead: string[] = [];
  const config = new (lib().SSHConfig)();
  for (const file of configFiles(opts, home)) {
    const text = readConfigFile(file.path, file.required);
    if (text === undefined) continue;
    filesRead.push(file.path);
    const site = { file: file.path, includeBase: file.includeBase, home, depth: 0, header: TOP_LEVEL_HEADER, filesRead };
    config.push(...parseConfig(expandIncludes(text, site), file.path));
  }
  canonicalizeKeywords(config);
  return { config, home, files: filesRead };
}

function configFiles(opts: LoadSshConfigOptions, home: string): ConfigFile[] {
  const userDir = path.join(home, '.ssh');
  if (opts.file !== undefined) {
    return opts.file === 'none' ? [] : [{ path: opts.file, includeBase: userDir, required: true }];
  }
  const systemFile = opts.systemFile ?? DEFAULT_SYSTEM_FILE;
  return [
    { path: path.join(userDir, 'config'), includeBase: userDir, required: false },
    // dirname is /etc/ssh for the default file; a custom system file keeps its includes beside it.
    { path: systemFile, includeBase: path.dirname(systemFile), required: false },
  ];
}

/** The file's text; undefined when it does not exist and need not. */
function readConfigFile(file: string, required: boolean): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, 'read ssh config file', file);
    if (!required) return undefined;
    throw new FcpError('FCP_ERR_USAGE', `ssh config file ${file} does not exist`, { cause: err, hint: 'check the file given with -F' });
  }
}

function parseConfig(text: string, source: string): ParsedConfig {
  try {
    return lib().SSHConfig.parse(text);
  } catch (err) {
    throw new FcpError('FCP_ERR_USAGE', `cannot parse ssh config ${source}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Whether `host` matches a Host pattern list (`*.lan !gw.lan`) as ssh_config's Host line matches
 * it: the library's own matching, so fcp's config sections and ssh_config agree on every host.
 */
export function hostMatches(patterns: string, host: string): boolean {
  if (!/^[!-~]+(?: [!-~]+)*$/.test(patterns)) {
    throw new FcpError('FCP_ERR_USAGE', `host pattern ${JSON.stringify(patterns)}: use printable characters separated by single spaces, as on a Host line`);
  }
  return parseConfig(`Host ${patterns}\n  User matched\n`, 'host pattern').compute(host).User === 'matched';
}

/** The text with every Include line replaced by the text of the files it names. */
function expandIncludes(text: string, site: IncludeSite): string {
  let header = site.header;
  const lines = text.split(/\r?\n/).map((line, index) => {
    const [, keyword = '', args = ''] = /^\s*([^\s=]*)\s*=?\s*(.*)$/.exec(line) ?? [];
    if (/^(host|match)$/i.test(keyword)) header = line;
    if (!/^include$/i.test(keyword)) return line;
    const patterns = splitArguments(args, `${site.file} line ${index + 1}`);
    return [...patterns.map((pattern) => includedText(pattern, { ...site, header })), header].join('\n');
  });
  return lines.join('\n');
}

/** The text of the files one Include pattern names, in glob order, each expanded in turn. */
function includedText(pattern: string, site: IncludeSite): string {
  const absolute = path.resolve(site.includeBase, expandTilde(pattern, site.home));
  return globFiles(absolute)
    .map((file) => {
      if (site.depth + 1 > MAX_INCLUDE_DEPTH) {
        throw new FcpError('FCP_ERR_USAGE', `ssh config: Include nested too deeply (more than ${MAX_INCLUDE_DEPTH} levels) in ${site.file}`, {
          hint: 'check for a file that includes itself',
        });
      }
      const text = readConfigFile(file, false) ?? '';
      site.filesRead.push(file);
      return expandIncludes(text, { ...site, file, depth: site.depth + 1 });
    })
    .join('\n');
}

/** One argument: quoted strings, escaped and plain characters; or a quote or backslash left open. */
const CONFIG_ARGUMENT = /(?:"[^"]*"|'[^']*'|\\.|[^\s"'\\])+|(?<open>["'\\])/g;

/**
 * A config line's arguments as OpenSSH splits them: at whitespace, where quotes group, a
 * backslash escapes the next character, and an argument starting with '#' ends the line.
 */
function splitArguments(text: string, where: string): string[] {
  const args: string[] = [];
  for (const match of text.matchAll(CONFIG_ARGUMENT)) {
    if (match.groups?.open) throw new FcpError('FCP_ERR_USAGE', `ssh config: unterminated quote at ${where}`);
    if (match[0].startsWith('#')) break;
    args.push(match[0].replace(/"([^"]*)"|'([^']*)'|\\(.)/g, (_all, doubleQuoted, singleQuoted, escaped) => doubleQuoted ?? singleQuoted ?? escaped));
  }
  return args;
}

/** The regular files matching an absolute path whose components may hold `*` and `?`. */
function globFiles(pattern: string): string[] {
  let candidates = [path.parse(pattern).root];
  for (const component of pattern.split(path.sep).filter(Boolean)) {
    candidates = candidates.flatMap((dir) => matchComponent(dir, component));
  }
  // glob(3) sorts its matches; OpenSSH's C locale makes that bytewise, not by locale.
  return candidates.filter(isRegularFile).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function matchComponent(dir: string, component: string): string[] {
  if (!/[*?]/.test(component)) return [path.join(dir, component)];
  const wildcard = wildcardRegExp(component);
  // As in glob(3), a wildcard does not match a leading dot.
  const hidden = (name: string) => name.startsWith('.') && !component.startsWith('.');
  return listDirectory(dir)
    .filter((name) => wildcard.test(name) && !hidden(name))
    .map((name) => path.join(dir, name));
}

function wildcardRegExp(component: string): RegExp {
  const body = [...component].map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 's');
}

/** The names in a directory; none when it cannot be read, which glob(3) skips silently too. */
function listDirectory(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function isRegularFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Renames the options fcp reads to their canonical spelling: the library matches `Match host`
 * and `Match user` against HostName and User only when spelled so, and first-value-wins must see
 * ChallengeResponseAuthentication and KbdInteractiveAuthentication as one option.
 */
function canonicalizeKeywords(lines: ConfigLine[]): void {
  for (const line of lines) {
    if (line.type !== lib().LineType.DIRECTIVE) continue;
    line.param = KEYWORDS.get(line.param.toLowerCase()) ?? line.param;
    if ('config' in line) canonicalizeKeywords(line.config);
  }
}

// --- resolving a host -------------------------------------------------------------------------

/** The ssh_config options fcp uses, the only ones -o accepts. */
const OPTION_NAMES = [
  'AddressFamily',
  'BatchMode',
  'ConnectTimeout',
  'ForwardAgent',
  'GlobalKnownHostsFile',
  'HashKnownHosts',
  'HostKeyAlias',
  'HostName',
  'IdentitiesOnly',
  'IdentityAgent',
  'IdentityFile',
  'KbdInteractiveAuthentication',
  'PasswordAuthentication',
  'Port',
  'ProxyCommand',
  'ProxyJump',
  'ServerAliveCountMax',
  'ServerAliveInterval',
  'StrictHostKeyChecking',
  'User',
  'UserKnownHostsFile',
] as const;
type OptionName = (typeof OPTION_NAMES)[number];

/** Option names by lowercase spelling; ChallengeResponseAuthentication is the old name of one. */
const KEYWORDS = new Map<string, OptionName>([
  ...OPTION_NAMES.map((name) => [name.toLowerCase(), name] as const),
  ['challengeresponseauthentication', 'KbdInteractiveAuthentication'],
]);

const DEFAULT_USER_KNOWN_HOSTS = ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'];
const DEFAULT_GLOBAL_KNOWN_HOSTS = ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];

export function resolveHost(source: SshConfigSource, opts: ResolveHostOptions): ResolvedHost {
  const config = new (lib().SSHConfig)();
  // ssh reads its command line before any file, so with first-value-wins these take precedence.
  config.push(...commandLineLines(opts), ...source.config);
  const values = config.compute(opts.host, { matchExec: false });
  return resolveValues(values, opts.host, source.home, opts.env ?? process.env);
}

/** -l/-P/-i, then -o: explicit flags win over -o, as ssh's own flags do. */
function commandLineLines(opts: ResolveHostOptions): ConfigLine[] {
  const flags: [OptionName, string | undefined][] = [
    ['User', opts.user],
    ['Port', opts.port?.toString()],
    ...(opts.identityFiles ?? []).map((file): [OptionName, string] => ['IdentityFile', file]),
  ];
  const flagLines = flags.filter((flag): flag is [OptionName, string] => flag[1] !== undefined).map(([name, value]) => literalLine(name, value));
  return [...flagLines, ...Object.entries(opts.options ?? {}).flatMap(([key, value]) => optionLines(key, value))];
}

/** A config line holding the value as is (a flag's value is not config syntax). */
function literalLine(param: OptionName, value: string): ConfigLine {
  return { type: lib().LineType.DIRECTIVE, param, separator: ' ', value, before: '', after: '\n' };
}

/** An -o option read as a config line, so that its quoting and lists mean what they do in a file. */
function optionLines(key: string, value: string): ConfigLine[] {
  const name = KEYWORDS.get(key.toLowerCase());
  if (!name) {
    throw new FcpError('FCP_ERR_USAGE', `unknown ssh option -o ${key}`, { hint: `fcp understands: ${OPTION_NAMES.join(', ')}` });
  }
  if (value.trim() === '' || /[\r\n]/.test(value)) {
    throw new FcpError('FCP_ERR_USAGE', `ssh option -o ${key} needs a value on one line`, { hint: `write -o ${name}=VALUE` });
  }
  return parseConfig(`${name} ${value}`, `option -o ${key}`);
}

function resolveValues(values: ComputedValues, alias: string, home: string, env: NodeJS.ProcessEnv): ResolvedHost {
  const hostName = setting(values, 'HostName', (raw) => expandTokens(raw, { '%': '%', h: alias }, 'HostName', env), alias).toLowerCase();
  const port = setting(values, 'Port', parsePort, 22);
  const user = setting(values, 'User', (raw) => raw, localUserName());
  const tokens = pathTokens({ alias, hostName, port, user, home });
  const expandPath = (name: OptionName) => (raw: string) => expandTokens(expandTilde(raw, home), tokens, name, env);
  // ssh skips an IdentityFile it already has.
  const identityFiles = [...new Set(listSetting(values, 'IdentityFile', []).map(expandPath('IdentityFile')))];
  return {
    alias,
    hostName,
    port,
    user,
    identityFiles,
    identityFilesFromConfig: identityFiles.length > 0,
    identitiesOnly: setting(values, 'IdentitiesOnly', parseFlag, false),
    proxyJump: setting(values, 'ProxyJump', (raw) => (raw === 'none' ? [] : parseJumpSpec(raw)), []),
    proxyCommand: setting<string | undefined>(values, 'ProxyCommand', (raw) => (raw === 'none' ? undefined : expandTokens(raw, tokens, 'ProxyCommand', env)), undefined),
    userKnownHostsFiles: knownHostsFiles(values, 'UserKnownHostsFile', DEFAULT_USER_KNOWN_HOSTS).map(expandPath('UserKnownHostsFile')),
    // ssh expands only ~ in the global files.
    globalKnownHostsFiles: knownHostsFiles(values, 'GlobalKnownHostsFile', DEFAULT_GLOBAL_KNOWN_HOSTS).map((raw) => expandTilde(raw, home)),
    strictHostKeyChecking: setting(values, 'StrictHostKeyChecking', parseStrictHostKeyChecking, 'ask'),
    hashKnownHosts: setting(values, 'HashKnownHosts', parseFlag, false),
    hostKeyAlias: setting<string | undefined>(values, 'HostKeyAlias', (raw) => raw.toLowerCase(), undefined),
    connectTimeoutMs: setting(values, 'ConnectTimeout', parseConnectTimeout, undefined),
    serverAliveIntervalMs: setting(values, 'ServerAliveInterval', parseDurationMs, 0),
    serverAliveCountMax: setting(values, 'ServerAliveCountMax', parseCount, 3),
    batchMode: setting(values, 'BatchMode', parseFlag, false),
    passwordAuthentication: setting(values, 'PasswordAuthentication', parseFlag, true),
    kbdInteractiveAuthentication: setting(values, 'KbdInteractiveAuthentication', parseFlag, true),
    identityAgent: identityAgent(setting(values, 'IdentityAgent', (raw) => raw, 'SSH_AUTH_SOCK'), expandPath('IdentityAgent'), env),
    addressFamily: setting(values, 'AddressFamily', parseAddressFamily, 0),
    forwardAgent: setting(values, 'ForwardAgent', parseFlag, false),
  };
}

/** The option's value parsed, or the fallback when no source set it. */
function setting<T>(values: ComputedValues, name: OptionName, parse: (raw: string, name: OptionName) => T, fallback: T): T {
  const raw = values[name];
  return raw === undefined ? fallback : parse([raw].flat().join(' '), name);
}

/** All the values of a list option (IdentityFile accumulates; a known-hosts line lists several). */
function listSetting(values: ComputedValues, name: OptionName, fallback: string[]): string[] {
  const raw = values[name];
  return raw === undefined ? fallback : [raw].flat();
}

function knownHostsFiles(values: ComputedValues, name: OptionName, fallback: string[]): string[] {
  const files = listSetting(values, name, fallback);
  return files.length === 1 && files[0] === 'none' ? [] : files;
}

function localUserName(): string {
  return os.userInfo().username;
}

function pathTokens(host: { alias: string; hostName: string; port: number; user: string; home: string }): Record<string, string> {
  const localHost = os.hostname();
  return {
    '%': '%',
    d: host.home,
    h: host.hostName,
    i: String(os.userInfo().uid),
    L: localHost.split('.')[0]!,
    l: localHost,
    n: host.alias,
    p: String(host.port),
    r: host.user,
    u: localUserName(),
  };
}

/** Expands %x tokens and ${VAR} environment variables in one pass, as ssh does. */
function expandTokens(text: string, tokens: Record<string, string>, name: OptionName, env: NodeJS.ProcessEnv): string {
  return text.replace(/%(.?)|\$\{([^}]*)\}/gs, (match, token: string | undefined, variable: string | undefined) => {
    const value = token !== undefined ? tokens[token] : env[variable!];
    if (value !== undefined) return value;
    throw new FcpError(
      'FCP_ERR_USAGE',
      token !== undefined ? `ssh config: unknown token ${match} in ${name} ${text}` : `ssh config: ${name} ${text} names ${match}, which is not set`,
      { hint: token !== undefined ? `${name} understands ${Object.keys(tokens).map((t) => `%${t}`).join(' ')}` : undefined },
    );
  });
}

/** ~ and ~/... name the home directory; ~user cannot be looked up from Node. */
function expandTilde(file: string, home: string): string {
  if (file === '~' || file.startsWith('~/')) return home + file.slice(1);
  if (file.startsWith('~')) {
    throw new FcpError('FCP_ERR_USAGE', `ssh config: ${file}: ~user paths are not supported`, { hint: 'write the path in full' });
  }
  return file;
}

/** 'SSH_AUTH_SOCK' and '$VAR' take the socket from the environment; anything else is a path. */
function identityAgent(raw: string, expandPath: (raw: string) => string, env: NodeJS.ProcessEnv): string {
  if (raw === 'none') return 'none';
  const variable = raw === 'SSH_AUTH_SOCK' ? raw : /^\$([A-Za-z_]\w*)$/.exec(raw)?.[1];
  return variable === undefined ? expandPath(raw) : env[variable] || 'none';
}

function badValue(name: OptionName, raw: string, expected: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', `ssh config: bad value '${raw}' for ${name}; expected ${expected}`, {
    hint: 'fix it in the ssh config file or the -o option',
  });
}

const FLAG_WORDS: Record<string, boolean> = { yes: true, true: true, no: false, false: false };

const ADDRESS_FAMILIES: Record<string, 0 | 4 | 6> = { any: 0, inet: 4, inet6: 6 };

function parseAddressFamily(raw: string, name: OptionName): 0 | 4 | 6 {
  const family = ADDRESS_FAMILIES[raw.toLowerCase()];
  if (family === undefined) throw badValue(name, raw, 'any, inet or inet6');
  return family;
}

function parseFlag(raw: string, name: OptionName): boolean {
  const flag = FLAG_WORDS[raw.toLowerCase()];
  if (flag === undefined) throw badValue(name, raw, 'yes or no');
  return flag;
}

const STRICT_HOST_KEY_CHECKING_WORDS: Record<string, StrictHostKeyChecking> = {
  yes: 'yes',
  true: 'yes',
  no: 'no',
  false: 'no',
  off: 'no',
  ask: 'ask',
  'accept-new': 'accept-new',
};

function parseStrictHostKeyChecking(raw: string, name: OptionName): StrictHostKeyChecking {
  const value = STRICT_HOST_KEY_CHECKING_WORDS[raw.toLowerCase()];
  if (value === undefined) throw badValue(name, raw, 'yes, no, accept-new or ask');
  return value;
}

function isPortNumber(raw: string): boolean {
  return /^\d{1,5}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 65535;
}

function parsePort(raw: string, name: OptionName): number {
  if (!isPortNumber(raw)) throw badValue(name, raw, 'a port number from 1 to 65535');
  return Number(raw);
}

function parseCount(raw: string, name: OptionName): number {
  if (!/^\d{1,9}$/.test(raw)) throw badValue(name, raw, 'a whole number');
  return Number(raw);
}

const SECONDS_PER_UNIT: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A time as ssh writes it: seconds, or a sum of numbers with units (1m30s). */
function parseDurationMs(raw: string, name: OptionName): number {
  if (!/^(\d{1,9}[smhdw]?)+$/i.test(raw)) throw badValue(name, raw, 'a time such as 30, 30s or 1m30s');
  const parts = [...raw.toLowerCase().matchAll(/(\d+)([smhdw]?)/g)];
  return parts.reduce((sum, [, count, unit]) => sum + Number(count) * SECONDS_PER_UNIT[unit!]!, 0) * 1000;
}

function parseConnectTimeout(raw: string, name: OptionName): number | undefined {
  if (raw.toLowerCase() === 'none') return undefined;
  // 0 means no timeout of ssh's own, as not setting it does.
  return parseDurationMs(raw, name) || undefined;
}

// --- jump hosts -------------------------------------------------------------------------------

/** ProxyJump's (and -J's) list: [ssh://][user@]host[:port], comma-separated, IPv6 in brackets. */
export function parseJumpSpec(text: string): JumpHop[] {
  return text.split(',').map((hop) => parseJumpHop(hop, text));
}

function parseJumpHop(hop: string, text: string): JumpHop {
  const spec = hop.startsWith('ssh://') ? hop.slice('ssh://'.length) : hop;
  // The last '@' ends the user, as in ssh, so a user name may hold one.
  const at = spec.lastIndexOf('@');
  const user = at < 0 ? undefined : spec.slice(0, at);
  const { host, port } = splitHostPort(spec.slice(at + 1));
  if (user === '' || host === '' || /[\s[\]/]/.test(host) || (port !== undefined && !isPortNumber(port))) throw badJumpHop(hop, text);
  const parsed: JumpHop = { host };
  if (user !== undefined) parsed.user = user;
  if (port !== undefined) parsed.port = Number(port);
  return parsed;
}

/** host, host:port, [v6] or [v6]:port; a bare IPv6 address (several colons) has no port. */
function splitHostPort(text: string): { host: string; port: string | undefined } {
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] };
  const parts = text.split(':');
  return parts.length === 2 ? { host: parts[0]!, port: parts[1] } : { host: text, port: undefined };
}

function badJumpHop(hop: string, text: string): FcpError {
  return new FcpError('FCP_ERR_USAGE', `bad jump host '${hop}' in ProxyJump ${text}`, {
    hint: 'write [user@]host[:port], several separated by commas, an IPv6 address in brackets',
  });
}
