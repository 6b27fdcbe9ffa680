/** fcp's settings: the keys match the options, precedence over real files, echo-config's output. */
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse } from '../../../src/config/toml';
import { echoJson, echoText } from '../../../src/config/echo';
import { FCP_SCHEMA, FcpKey, loadFcpSettings } from '../../../src/cli/fcpConfig';
import { program } from '../../../src/cli/fcp';
import { program as fcpdProgram } from '../../../src/cli/fcpd';
import type { FcpError } from '../../../src/errors';

const README = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
const keyOf = (long: string): string => long.replace(/^--(no-)?/, '').replace(/-/g, '_');
/** Options about this run, not settings: where settings are and what to print. */
const NOT_SETTINGS = ['--config', '--echo-config', '--help', '--version'];

describe('the keys never drift from the options', () => {
  const options = program().options;

  test('every option whose help names a default is a config key', () => {
    const withDefault = options.filter((option) => option.long !== undefined && /default/i.test(option.description) && !NOT_SETTINGS.includes(option.long));
    expect(withDefault.length).toBeGreaterThan(5);
    for (const option of withDefault) expect(Object.keys(FCP_SCHEMA)).toContain(keyOf(option.long!));
  });

  test("every option fcp's and fcpd's --help list is in README's tables under its short and its long name", () => {
    const inCode = (flag: string): boolean => new RegExp(`\`[^\`\n]*${flag.replace(/[-]/g, '\\-')}(?![\\w-])[^\`\n]*\``).test(README);
    const missing = (command: typeof options): string[] =>
      command
        .filter((option) => option.long !== '--help' && option.long !== '--version')
        .flatMap((option) => [option.short, option.long].filter((flag): flag is string => flag !== undefined && !inCode(flag)));
    expect({ fcp: missing(options), fcpd: missing(fcpdProgram().options) }).toEqual({ fcp: [], fcpd: [] });
  });

  test('every config key is an option, and README lists it', () => {
    const longNames = new Set(options.map((option) => keyOf(option.long ?? '')));
    for (const key of Object.keys(FCP_SCHEMA)) {
      expect(longNames).toContain(key);
      expect(README).toContain(`\`${key}\``);
    }
  });

  test("a value echo-config shows reads back as the same value, from TOML and from text", () => {
    const samples: Record<FcpKey, fc.Arbitrary<unknown>> = {
      connections: fc.integer({ min: 1, max: 64 }),
      chunk_size: fc.integer({ min: 16, max: 26 }).map((bits) => 2 ** bits),
      encrypt: fc.boolean(),
      cipher: fc.constantFrom('aes256-gcm', 'chacha20-poly1305'),
      timeout: fc.integer({ min: 2, max: 86400 }).map((s) => s * 1000),
      bwlimit: fc.integer({ min: 1, max: 2 ** 40 }),
      fail_fast: fc.boolean(),
      dereference: fc.boolean(),
      ignore_times: fc.boolean(),
      resume: fc.boolean(),
      partial_dir: fc.constantFrom('.partial', 'tmp/fcp'),
      max_depth: fc.integer({ min: 0, max: 1000 }),
      filter: fc.constantFrom([], ['- *.tmp'], ['+ keep/', 'exclude *']),
      hard_links: fc.boolean(),
      one_file_system: fc.boolean(),
      mkpath: fc.boolean(),
      compress: fc.boolean(),
      whole_file: fc.boolean(),
      backup: fc.boolean(),
      suffix: fc.constantFrom('~', '.bak', '.old~'),
      remove_source_files: fc.boolean(),
      numeric_ids: fc.boolean(),
      tunnel: fc.boolean(),
      sftp: fc.boolean(),
      install: fc.boolean(),
      via_fcpd: fc.boolean(),
      verify: fc.boolean(),
      fcpd_path: fc.string({ minLength: 1 }).filter((s) => s.trim() !== ''),
      ssh: fc.constantFrom('ssh', '/usr/bin/ssh -q'),
      max_jobs: fc.integer({ min: 1, max: 64 }),
      keep_jobs: fc.integer({ min: 1, max: 3650 }),
      interval: fc.integer({ min: 1, max: 86400 }),
    };
    for (const [key, values] of Object.entries(samples)) {
      const spec = FCP_SCHEMA[key as FcpKey] as (typeof FCP_SCHEMA)[FcpKey] & { show(v: unknown): never; fromToml(v: unknown): unknown; fromText(v: string): unknown };
      fc.assert(
        fc.property(values, (value) => {
          const shown = spec.show(value as never);
          expect(spec.fromToml(shown)).toEqual(value);
          expect(spec.fromText(String(shown))).toEqual(value);
        }),
        { numRuns: 50 },
      );
    }
  });
});

describe('loadFcpSettings', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-config-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const userFile = (text: string): string => {
    fs.mkdirSync(path.join(dir, 'fcp'), { recursive: true });
    const file = path.join(dir, 'fcp', 'config.toml');
    fs.writeFileSync(file, text);
    return file;
  };

  test('the same key at every level: flag > environment > user file > built-in', () => {
    const file = userFile('connections = 5\nchunk_size = "4M"\ntimeout = 60\n[host."*.lan"]\nconnections = 7\n');
    const env = { XDG_CONFIG_HOME: dir, FCP_CONNECTIONS: '6', FCP_TIMEOUT: '45' };
    const flag = { connections: { value: 8, source: { kind: 'flag' as const, flag: '--connections' } } };
    const at = (commandLine = {}, environment: NodeJS.ProcessEnv = env, host?: string) => loadFcpSettings({ env: environment, host, commandLine }).settings;
    expect(at(flag).connections).toEqual(flag.connections);
    expect(at().connections).toEqual({ value: 6, source: { kind: 'environment', name: 'FCP_CONNECTIONS' } });
    expect(at({}, { XDG_CONFIG_HOME: dir }).connections).toEqual({ value: 5, source: { kind: 'file', file, line: 1 } });
    expect(at({}, { XDG_CONFIG_HOME: dir }, 'db.lan').connections).toEqual({ value: 7, source: { kind: 'file', file, line: 5 } });
    // No -n anywhere: the count is tuned while the transfer runs.
    expect(at({}, { XDG_CONFIG_HOME: path.join(dir, 'none') }).connections).toEqual({ value: undefined, source: { kind: 'default' } });
    expect(at().chunk_size.value).toBe(4 * 1024 ** 2);
    expect(at().timeout).toEqual({ value: 45_000, source: { kind: 'environment', name: 'FCP_TIMEOUT' } });
  });

  test('FCP_CONFIG and --config name the user file, which must then exist', () => {
    const other = path.join(dir, 'other.toml');
    fs.writeFileSync(other, 'sftp = true\n');
    expect(loadFcpSettings({ env: { FCP_CONFIG: other }, commandLine: {} }).settings.sftp.value).toBe(true);
    expect(loadFcpSettings({ env: {}, configFile: other, commandLine: {} }).files[0]).toEqual({ file: other, found: true });
    let error: FcpError | undefined;
    try {
      loadFcpSettings({ env: {}, configFile: path.join(dir, 'missing.toml'), commandLine: {} });
    } catch (err) {
      error = err as FcpError;
    }
    expect(error?.code).toBe('FCP_ERR_USAGE');
    expect(error?.message).toMatch(/missing\.toml/);
  });

  test('cipher = "none" is encrypt = false from the same line; with encrypt = true there it is an error', () => {
    const file = userFile('cipher = "none"\n');
    const settings = loadFcpSettings({ env: { XDG_CONFIG_HOME: dir }, commandLine: {} }).settings;
    expect(settings.encrypt).toEqual({ value: false, source: { kind: 'file', file, line: 1 } });
    expect(settings.cipher.source.kind).toBe('default');
    userFile('encrypt = true\ncipher = "none"\n');
    expect(() => loadFcpSettings({ env: { XDG_CONFIG_HOME: dir }, commandLine: {} })).toThrow(/config\.toml:2: cipher "none" and encrypt both given/);
  });

  test('a bad environment value names the variable', () => {
    expect(() => loadFcpSettings({ env: { XDG_CONFIG_HOME: dir, FCP_CHUNK_SIZE: '3M' }, commandLine: {} })).toThrow(
      'environment variable FCP_CHUNK_SIZE: must be a power of two from 64K to 64M',
    );
  });

  test('echo-config: the text is TOML with the effective values, the JSON names every source', () => {
    const file = userFile('chunk_size = "4M"\n[host.big]\nconnections = 16\nbwlimit = "50M"\n');
    const loaded = loadFcpSettings({ env: { XDG_CONFIG_HOME: dir, FCP_TUNNEL: 'yes' }, host: 'big', commandLine: {} });
    const text = echoText({ program: 'fcp', ...loaded });
    expect(parse(text)).toEqual({
      connections: 16,
      chunk_size: '4M',
      cipher: 'aes256-gcm',
      timeout: 30,
      bwlimit: '51200K',
      fail_fast: false,
      dereference: false,
      ignore_times: false,
      resume: true,
      filter: [],
      hard_links: false,
      one_file_system: false,
      mkpath: false,
      compress: false,
      backup: false,
      suffix: '~',
      remove_source_files: false,
      numeric_ids: false,
      tunnel: true,
      sftp: false,
      install: true,
      via_fcpd: false,
      verify: true,
      max_jobs: 2,
      keep_jobs: 7,
      interval: 60,
    });
    expect(text).toContain(`connections = 16  # ${file}:3`);
    expect(text).toContain('# encrypt is not set  # default');
    const json = JSON.parse(JSON.stringify(echoJson({ program: 'fcp', ...loaded })));
    expect(json.host).toBe('big');
    expect(json.files[0]).toEqual({ file, found: true });
    expect(json.settings.connections).toEqual({ value: 16, source: 'file', where: `${file}:3` });
    expect(json.settings.tunnel).toEqual({ value: true, source: 'environment', where: 'environment FCP_TUNNEL' });
    expect(json.settings.encrypt).toEqual({ value: null, source: 'default', where: 'default' });
    expect(Object.keys(json.settings)).toEqual(Object.keys(FCP_SCHEMA));
  });
});
