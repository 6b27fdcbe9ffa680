/** fcpd.toml: keys, their checks, modules, and which file a value came from. */
import { resolvePolicy } from '../../../src/config/policy';
import { parseTomlDocument } from '../../../src/config/toml';
import { bwlimit, showRate } from '../../../src/cli/optionValues';

const parsers = { rate: bwlimit, showRate };
const policyOf = (...texts: string[]) => resolvePolicy(texts.map((text, i) => parseTomlDocument(text, `f${i}.toml`)), parsers);

test('every key, modules as tables; each key from the first file that sets it', () => {
  const user = [
    'forbidden_files = ["*.key", "id_?sa"]',
    'allowed_hosts = ["10.0.0.0/8", "fd00::/8", "192.168.1.7"]',
    'max_sessions = 4',
    'bwlimit = "50M"',
    '[modules.data]',
    'path = "/srv/data/"',
    'read_only = true',
    '[modules."raw files"]',
    'path = "/srv/raw"',
  ].join('\n');
  const system = 'forbidden_dirs = ["/etc", "/root/"]\nmax_sessions = 9\nbwlimit_total = 1024\n[modules.other]\npath = "/x"\n';
  const { policy, settings } = policyOf(user, system);
  expect(policy).toEqual({
    forbiddenFiles: ['*.key', 'id_?sa'],
    forbiddenDirs: ['/etc', '/root'],
    allowedHosts: ['10.0.0.0/8', 'fd00::/8', '192.168.1.7'],
    modules: [
      { name: 'data', path: '/srv/data', readOnly: true },
      { name: 'raw files', path: '/srv/raw', readOnly: false },
    ],
    maxSessions: 4,
    maxConnectionsPerSession: undefined,
    maxConnectionsPerAddress: undefined,
    bwlimit: 50 * 1024 ** 2,
    bwlimitTotal: 1024 * 1024,
  });
  expect(settings.max_sessions!.source).toEqual({ kind: 'file', file: 'f0.toml', line: 3 });
  expect(settings.forbidden_dirs!.source).toEqual({ kind: 'file', file: 'f1.toml', line: 1 });
  expect(settings['modules."raw files".path']!.source).toEqual({ kind: 'file', file: 'f0.toml', line: 9 });
  expect(settings.max_connections_per_address!.source).toEqual({ kind: 'default' });
});

test.each([
  ['max_session = 3', 'f0.toml:1: unknown key "max_session"'],
  ['\nallowed_hosts = ["10.0.0.0/33"]', 'f0.toml:2: allowed_hosts: "10.0.0.0/33" is not an IPv4 or IPv6 network'],
  ['allowed_hosts = "10.0.0.0/8"', 'f0.toml:1: allowed_hosts: must be an array of strings, not a string'],
  ['forbidden_dirs = ["etc"]', 'f0.toml:1: forbidden_dirs: "etc" must be an absolute path'],
  ['forbidden_files = ["a/*.key"]', 'f0.toml:1: forbidden_files: "a/*.key" must be a file name pattern'],
  ['max_sessions = 0', 'f0.toml:1: max_sessions: must be a whole number above 0'],
  ['max_sessions = true', 'f0.toml:1: max_sessions: must be a string or a number, not a boolean'],
  ['[modules.a]\nread_only = true', 'f0.toml:1: modules.a needs a path'],
  ['[modules.a]\npath = "/srv"\nreadonly = true', 'f0.toml:3: unknown key "modules.a.readonly"'],
  ['[modules.a]\npath = "/srv"\nread_only = "yes"', 'f0.toml:3: modules.a.read_only: must be true or false, not a string'],
])('%s: a usage error naming file, line and key', (text, message) => {
  expect(() => policyOf(text)).toThrow(message);
});
