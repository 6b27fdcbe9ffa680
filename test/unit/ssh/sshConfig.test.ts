/**
 * ssh_config loading and host resolution (src/ssh/sshConfig.ts): Host blocks and patterns,
 * precedence, Include, tokens, -o options, values, ProxyJump, and a cross-check of resolutions
 * against the real OpenSSH client (`ssh -G`). Every test uses its own temporary home directory.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { FcpError } from '../../../src/errors';
import {
  JumpHop,
  loadSshConfig,
  LoadSshConfigOptions,
  parseJumpSpec,
  ResolvedHost,
  resolveHost,
  ResolveHostOptions,
} from '../../../src/ssh/sshConfig';

const LOCAL_USER = os.userInfo().username;
const SSH_CLIENT = '/usr/bin/ssh';

const homes: string[] = [];
afterEach(() => {
  for (const home of homes.splice(0)) fs.rmSync(home, { recursive: true, force: true });
});

/** A fresh home directory holding `files` (paths relative to it; a name ending in / is a directory). */
function makeHome(files: Record<string, string> = {}): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-sshconfig-'));
  homes.push(home);
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(home, name);
    fs.mkdirSync(name.endsWith('/') ? file : path.dirname(file), { recursive: true });
    if (!name.endsWith('/')) fs.writeFileSync(file, text);
  }
  return home;
}

/** The home's ~/.ssh/config, then its etc/ssh_config standing in for /etc/ssh/ssh_config. */
function load(home: string, opts: LoadSshConfigOptions = {}) {
  return loadSshConfig({ home, systemFile: path.join(home, 'etc/ssh_config'), ...opts });
}

function resolveIn(home: string, host: string, opts: Partial<ResolveHostOptions> = {}, loadOpts: LoadSshConfigOptions = {}): ResolvedHost {
  return resolveHost(load(home, loadOpts), { host, env: {}, ...opts });
}

/** The FcpError `fn` throws. */
function thrown(fn: () => unknown): FcpError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FcpError);
    return err as FcpError;
  }
  throw new Error('expected an FcpError');
}

function expectUsageError(fn: () => unknown, message: RegExp): void {
  expect(thrown(fn)).toMatchObject({ code: 'FCP_ERR_USAGE', message: expect.stringMatching(message) });
}

describe('defaults', () => {
  it('resolves a host nothing configures to what ssh would use', () => {
    const home = makeHome();
    expect(resolveIn(home, 'example.org')).toEqual({
      alias: 'example.org',
      hostName: 'example.org',
      port: 22,
      user: LOCAL_USER,
      identityFiles: [],
      identityFilesFromConfig: false,
      identitiesOnly: false,
      proxyJump: [],
      userKnownHostsFiles: [`${home}/.ssh/known_hosts`, `${home}/.ssh/known_hosts2`],
      globalKnownHostsFiles: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
      strictHostKeyChecking: 'ask',
      hashKnownHosts: false,
      hostKeyAlias: undefined,
      connectTimeoutMs: undefined,
      serverAliveIntervalMs: 0,
      serverAliveCountMax: 3,
      batchMode: false,
      passwordAuthentication: true,
      kbdInteractiveAuthentication: true,
      identityAgent: 'none',
      addressFamily: 0,
      forwardAgent: false,
    });
  });

  it('takes the agent from SSH_AUTH_SOCK unless IdentityAgent says otherwise', () => {
    const home = makeHome({
      '.ssh/config': 'Host off\n  IdentityAgent none\nHost var\n  IdentityAgent $MY_AGENT\nHost file\n  IdentityAgent ~/agent.sock\nHost braces\n  IdentityAgent ${RUN}/agent\n',
    });
    const env = { SSH_AUTH_SOCK: '/run/default.sock', MY_AGENT: '/run/mine.sock', RUN: '/run/user' };
    const agentOf = (host: string) => resolveIn(home, host, { env }).identityAgent;
    expect(agentOf('plain')).toBe('/run/default.sock');
    expect(agentOf('off')).toBe('none');
    expect(agentOf('var')).toBe('/run/mine.sock');
    expect(agentOf('file')).toBe(`${home}/agent.sock`);
    expect(agentOf('braces')).toBe('/run/user/agent');
    expect(resolveIn(home, 'var', { env: {} }).identityAgent).toBe('none');
  });
});

describe('Host blocks', () => {
  const config = [
    'Host web',
    '  HostName web.internal.example.com',
    '  Port 2222',
    '  User deploy',
    '  IdentityFile ~/.ssh/web_key',
    'Host db db-replica',
    '  HostName 10.0.0.5',
    '  User postgres',
  ].join('\n');

  it('applies an alias block: HostName, Port, User, IdentityFile (after -i)', () => {
    const home = makeHome({ '.ssh/config': config });
    expect(resolveIn(home, 'web', { identityFiles: ['/keys/cli'] })).toMatchObject({
      alias: 'web',
      hostName: 'web.internal.example.com',
      port: 2222,
      user: 'deploy',
      identityFiles: ['/keys/cli', `${home}/.ssh/web_key`],
      identityFilesFromConfig: true,
    });
    expect(resolveIn(home, 'db-replica')).toMatchObject({ hostName: '10.0.0.5', port: 22, user: 'postgres', identityFiles: [] });
  });

  it('skips a block whose negated pattern matches', () => {
    const home = makeHome({
      '.ssh/config': 'Host * !bastion !*.local\n  ProxyJump bastion\nHost bastion\n  HostName bastion.example.com\n',
    });
    expect(resolveIn(home, 'web').proxyJump).toEqual([{ host: 'bastion' }]);
    expect(resolveIn(home, 'printer.local').proxyJump).toEqual([]);
    expect(resolveIn(home, 'bastion')).toMatchObject({ hostName: 'bastion.example.com', proxyJump: [] });
  });

  it('keeps the first value of an option across blocks, and accumulates IdentityFile', () => {
    const home = makeHome({
      '.ssh/config': [
        'Port 2000',
        'Host web',
        '  User first',
        '  IdentityFile ~/.ssh/a',
        'Host w*',
        '  User second',
        '  HostName w.example.com',
        '  IdentityFile ~/.ssh/b',
        'Host *',
        '  User third',
        '  IdentityFile ~/.ssh/a',
        '  IdentityFile ~/.ssh/c',
      ].join('\n'),
    });
    expect(resolveIn(home, 'web')).toMatchObject({
      port: 2000,
      user: 'first',
      hostName: 'w.example.com',
      identityFiles: ['a', 'b', 'c'].map((key) => `${home}/.ssh/${key}`),
    });
    expect(resolveIn(home, 'other')).toMatchObject({ port: 2000, user: 'third', hostName: 'other' });
  });

  it('reads keywords in any case and with =, and applies Match blocks', () => {
    const home = makeHome({
      '.ssh/config': 'Match user admin\n  IdentityFile ~/.ssh/admin\nHost box\n  hostname=box.example.com\nMatch host box.example.com\n  PORT 2200\n',
    });
    expect(resolveIn(home, 'box', { user: 'admin' })).toMatchObject({
      hostName: 'box.example.com',
      port: 2200,
      identityFiles: [`${home}/.ssh/admin`],
    });
    expect(resolveIn(home, 'box')).toMatchObject({ port: 2200, identityFiles: [] });
  });

  it('lowercases the host name as ssh does, but matches Host patterns against the host as typed', () => {
    const home = makeHome({ '.ssh/config': 'Host Web\n  HostName %h.Example.COM\n' });
    expect(resolveIn(home, 'Web')).toMatchObject({ alias: 'Web', hostName: 'web.example.com' });
    expect(resolveIn(home, 'web').hostName).toBe('web');
  });
});

describe('config files', () => {
  const files = {
    '.ssh/config': 'Host web\n  User fromuser\n',
    'etc/ssh_config': 'Host *\n  User fromsystem\n  Port 2022\n  HashKnownHosts yes\n',
    'alt/alt.conf': 'Host web\n  Port 3000\n',
  };

  it('reads the user file, then the system file', () => {
    const home = makeHome(files);
    expect(resolveIn(home, 'web')).toMatchObject({ user: 'fromuser', port: 2022, hashKnownHosts: true });
    expect(resolveIn(home, 'other')).toMatchObject({ user: 'fromsystem', port: 2022 });
    expect(load(home).files).toEqual([`${home}/.ssh/config`, `${home}/etc/ssh_config`]);
  });

  it('-F replaces ~/.ssh/config and skips the system file', () => {
    const home = makeHome(files);
    const file = path.join(home, 'alt/alt.conf');
    expect(resolveIn(home, 'web', {}, { file })).toMatchObject({ user: LOCAL_USER, port: 3000, hashKnownHosts: false });
    expect(load(home, { file }).files).toEqual([file]);
    expect(resolveIn(home, 'web', {}, { file: 'none' })).toMatchObject({ user: LOCAL_USER, port: 22 });
  });

  it('a missing -F file is a usage error naming it', () => {
    const home = makeHome();
    const file = path.join(home, 'nope.conf');
    expectUsageError(() => load(home, { file }), new RegExp(`${file} does not exist`));
  });

  it('an unreadable config file is a permission error', () => {
    const home = makeHome({ '.ssh/config': 'Port 2\n' });
    const config = path.join(home, '.ssh/config');
    fs.chmodSync(config, 0o000);
    // Root reads a mode-000 file all the same: there the refusal the kernel gives others is played.
    const realFs = require('node:fs') as typeof fs;
    const denied = process.getuid?.() === 0 ? jest.spyOn(realFs, 'readFileSync').mockImplementationOnce(() => {
      throw Object.assign(new Error(`EACCES: permission denied, open '${config}'`), { code: 'EACCES' });
    }) : undefined;
    try {
      expect(thrown(() => load(home))).toMatchObject({ code: 'FCP_ERR_PERMISSION', message: expect.stringContaining('.ssh/config') });
    } finally {
      denied?.mockRestore();
    }
  });

  it('a config the parser rejects is a usage error naming the file', () => {
    const home = makeHome({ '.ssh/config': 'Host web\n  IdentityFile "unterminated\n' });
    expectUsageError(() => load(home), /cannot parse ssh config .*\.ssh\/config/);
  });
});

describe('Include', () => {
  it('expands a glob in bytewise order, skipping dot files and directories', () => {
    const home = makeHome({
      '.ssh/config': 'Include config.d/*.conf\nHost *\n  User fallback\n',
      '.ssh/config.d/a.conf': 'Host *\n  Port 2002\n  User fromA\n',
      '.ssh/config.d/B.conf': 'Host *\n  Port 2001\n',
      '.ssh/config.d/.hidden.conf': 'Host *\n  Port 2003\n',
      '.ssh/config.d/notes.txt': 'Port 2004\n',
      '.ssh/config.d/dir.conf/': '',
    });
    expect(resolveIn(home, 'web')).toMatchObject({ port: 2001, user: 'fromA' });
    expect(load(home).files).toEqual([`${home}/.ssh/config`, `${home}/.ssh/config.d/B.conf`, `${home}/.ssh/config.d/a.conf`]);
  });

  it('resolves relative paths from ~/.ssh for the user file and -F, and beside the system file', () => {
    const home = makeHome({
      '.ssh/config': 'Include user.conf\n',
      '.ssh/user.conf': 'Host u\n  User fromuserdir\n',
      'etc/ssh_config': 'Include sys.d/*\n',
      'etc/sys.d/x.conf': 'Host s\n  User fromsysdir\n',
      'alt/alt.conf': 'Include user.conf\n',
      'alt/user.conf': 'Host u\n  User decoy\n',
    });
    expect(resolveIn(home, 'u').user).toBe('fromuserdir');
    expect(resolveIn(home, 's').user).toBe('fromsysdir');
    expect(resolveIn(home, 'u', {}, { file: path.join(home, 'alt/alt.conf') }).user).toBe('fromuserdir');
  });

  it('reads several paths on one line: ~, quoted, missing (ignored, as ssh does)', () => {
    const home = makeHome({
      '.ssh/config': 'Include ~/one.conf "~/with space.conf" missing.conf # a comment\n',
      'one.conf': 'Host one\n  Port 1001\n',
      'with space.conf': 'Host two\n  Port 1002\n',
    });
    expect(resolveIn(home, 'one').port).toBe(1001);
    expect(resolveIn(home, 'two').port).toBe(1002);
  });

  it('expands nested includes', () => {
    const home = makeHome({
      '.ssh/config': 'Include level1.conf\n',
      '.ssh/level1.conf': 'Include sub/level2.conf\nHost *\n  Port 1111\n',
      '.ssh/sub/level2.conf': 'Host deep\n  User nested\n',
    });
    expect(resolveIn(home, 'deep')).toMatchObject({ user: 'nested', port: 1111 });
  });

  it('keeps an Include inside a Host block conditional, and the lines after it in that block', () => {
    const home = makeHome({
      '.ssh/config': 'Include ~/top.conf\nPort 3333\nHost a b\n  Include ~/inner.conf\n  User alice\n',
      'top.conf': 'Host c\n  User carol\n',
      'inner.conf': 'IdentityFile ~/.ssh/ab_key\nHost b\n  User bob\n',
    });
    expect(resolveIn(home, 'a')).toMatchObject({ user: 'alice', port: 3333, identityFiles: [`${home}/.ssh/ab_key`] });
    expect(resolveIn(home, 'b')).toMatchObject({ user: 'bob', port: 3333 });
    expect(resolveIn(home, 'c')).toMatchObject({ user: 'carol', port: 3333, identityFiles: [] });
    expect(resolveIn(home, 'x')).toMatchObject({ user: LOCAL_USER, port: 3333 });
  });

  it('(approximation) a Host line in an included file starts its own block, even under an inactive one', () => {
    const home = makeHome({ '.ssh/config': 'Host a\n  Include ~/inner.conf\n', 'inner.conf': 'Host c\n  User carol\n' });
    // OpenSSH would not apply this block to c, since the Include sits in the block of Host a.
    expect(resolveIn(home, 'c').user).toBe('carol');
  });

  /** ~/.ssh/config includes 1.conf, which includes 2.conf, ... down to a file at `depth`. */
  function includeChain(depth: number): string {
    const files: Record<string, string> = { '.ssh/config': 'Include chain/1.conf\n' };
    for (let level = 1; level < depth; level++) files[`.ssh/chain/${level}.conf`] = `Include chain/${level + 1}.conf\n`;
    files[`.ssh/chain/${depth}.conf`] = 'User deepest\n';
    return makeHome(files);
  }

  it('follows includes 16 deep, as ssh does, and refuses a 17th level', () => {
    expect(resolveIn(includeChain(16), 'x').user).toBe('deepest');
    expectUsageError(() => load(includeChain(17)), /Include nested too deeply/);
  });

  it('stops a file that includes itself', () => {
    const home = makeHome({ '.ssh/config': 'Host *\n  Include config\n' });
    expectUsageError(() => load(home), /Include nested too deeply/);
  });
});

describe('tokens', () => {
  it('expands ~ and %h %r %u %d %% %p %l %n in IdentityFile and UserKnownHostsFile', () => {
    const home = makeHome({
      '.ssh/config': 'Host Web\n  HostName %h.example.com\n  User deploy\n  Port 2222\n  IdentityFile ~/.ssh/%h_%r_%u_%p_%l_%n_%%_%d\n  UserKnownHostsFile %d/kh/%h ~/kh2\n',
    });
    expect(resolveIn(home, 'Web')).toMatchObject({
      hostName: 'web.example.com',
      identityFiles: [`${home}/.ssh/web.example.com_deploy_${LOCAL_USER}_2222_${os.hostname()}_Web_%_${home}`],
      userKnownHostsFiles: [`${home}/kh/web.example.com`, `${home}/kh2`],
    });
  });

  it('expands ${VAR} from the environment and refuses one that is not set', () => {
    const home = makeHome({ '.ssh/config': 'IdentityFile ${KEYS}/id\n' });
    expect(resolveIn(home, 'x', { env: { KEYS: '/keys' } }).identityFiles).toEqual(['/keys/id']);
    expectUsageError(() => resolveIn(home, 'x'), /IdentityFile .*\$\{KEYS\}.* not set/);
  });

  it('refuses an unknown token and ~user', () => {
    expectUsageError(() => resolveIn(makeHome({ '.ssh/config': 'IdentityFile ~/.ssh/%z\n' }), 'x'), /unknown token %z in IdentityFile/);
    expectUsageError(() => resolveIn(makeHome({ '.ssh/config': 'IdentityFile ~bob/key\n' }), 'x'), /~user paths are not supported/);
  });
});

describe('command-line options', () => {
  it('-o options win over the config files, keys in any case', () => {
    const home = makeHome({ '.ssh/config': 'Host web\n  Port 2222\n  User cfg\n  StrictHostKeyChecking yes\n  BatchMode no\n' });
    const options = { port: '3333', StrictHostKeyChecking: 'accept-new', USER: 'fromo', batchmode: 'yes' };
    expect(resolveIn(home, 'web', { options })).toMatchObject({ port: 3333, user: 'fromo', strictHostKeyChecking: 'accept-new', batchMode: true });
  });

  it('-l/-P and -i win over -o, and identity files come -i, -o, then config', () => {
    const home = makeHome({ '.ssh/config': 'IdentityFile ~/.ssh/cfg_key\n' });
    const resolved = resolveIn(home, 'web', {
      user: 'flag',
      port: 4444,
      identityFiles: ['/keys/i'],
      options: { User: 'o', Port: '5555', IdentityFile: '/keys/o' },
    });
    expect(resolved).toMatchObject({ user: 'flag', port: 4444, identityFiles: ['/keys/i', '/keys/o', `${home}/.ssh/cfg_key`] });
  });

  it('reads -o values as config text: lists and quotes, old option names', () => {
    const home = makeHome({ '.ssh/config': 'UserKnownHostsFile ~/cfg_hosts\nKbdInteractiveAuthentication yes\n' });
    const options = { UserKnownHostsFile: '/k1 "/k 2"', ChallengeResponseAuthentication: 'no' };
    expect(resolveIn(home, 'web', { options })).toMatchObject({ userKnownHostsFiles: ['/k1', '/k 2'], kbdInteractiveAuthentication: false });
  });

  it('refuses an unknown -o key, naming it, and an empty value', () => {
    const home = makeHome();
    expectUsageError(() => resolveIn(home, 'web', { options: { Compression: 'yes' } }), /unknown ssh option -o Compression/);
    expectUsageError(() => resolveIn(home, 'web', { options: { Include: '/etc/passwd' } }), /unknown ssh option -o Include/);
    expectUsageError(() => resolveIn(home, 'web', { options: { User: ' ' } }), /-o User needs a value/);
  });

  it.each([
    ['Port', '0'],
    ['Port', '65536'],
    ['Port', 'ssh'],
    ['HashKnownHosts', 'maybe'],
    ['BatchMode', '1'],
    ['StrictHostKeyChecking', 'sometimes'],
    ['ConnectTimeout', 'soon'],
    ['ServerAliveInterval', '-5'],
    ['ServerAliveCountMax', 'many'],
    ['ProxyJump', 'host:0'],
  ])('refuses %s %s, naming the option', (name, value) => {
    const home = makeHome({ '.ssh/config': `${name} ${value}\n` });
    expectUsageError(() => resolveIn(makeHome(), 'web', { options: { [name]: value } }), new RegExp(name));
    expectUsageError(() => resolveIn(home, 'web'), new RegExp(name));
  });
});

describe('option values', () => {
  const valueOf = <K extends keyof ResolvedHost>(key: K, line: string): ResolvedHost[K] => resolveIn(makeHome({ '.ssh/config': `${line}\n` }), 'web')[key];

  it.each([
    ['yes', 'yes'],
    ['YES', 'yes'],
    ['true', 'yes'],
    ['no', 'no'],
    ['off', 'no'],
    ['False', 'no'],
    ['ask', 'ask'],
    ['accept-new', 'accept-new'],
    ['Accept-New', 'accept-new'],
  ])('StrictHostKeyChecking %s is %s', (value, expected) => {
    expect(valueOf('strictHostKeyChecking', `StrictHostKeyChecking ${value}`)).toBe(expected);
  });

  it('reads yes/no options in any case', () => {
    expect(valueOf('batchMode', 'BatchMode YES')).toBe(true);
    expect(valueOf('identitiesOnly', 'IdentitiesOnly True')).toBe(true);
    expect(valueOf('passwordAuthentication', 'PasswordAuthentication No')).toBe(false);
  });

  it('reads times as ssh does, with 0 and none meaning no connect timeout', () => {
    expect(valueOf('connectTimeoutMs', 'ConnectTimeout 10')).toBe(10_000);
    expect(valueOf('connectTimeoutMs', 'ConnectTimeout 1m30s')).toBe(90_000);
    expect(valueOf('connectTimeoutMs', 'ConnectTimeout 0')).toBeUndefined();
    expect(valueOf('connectTimeoutMs', 'ConnectTimeout none')).toBeUndefined();
    expect(valueOf('serverAliveIntervalMs', 'ServerAliveInterval 2m')).toBe(120_000);
    expect(valueOf('serverAliveCountMax', 'ServerAliveCountMax 5')).toBe(5);
  });

  it('keeps the first known-hosts line, with all the files it lists; none means no file', () => {
    const home = makeHome({ '.ssh/config': 'Host web\n  UserKnownHostsFile ~/a ~/b\nHost *\n  UserKnownHostsFile ~/c\n  GlobalKnownHostsFile none\n' });
    expect(resolveIn(home, 'web')).toMatchObject({ userKnownHostsFiles: [`${home}/a`, `${home}/b`], globalKnownHostsFiles: [] });
    expect(resolveIn(home, 'other').userKnownHostsFiles).toEqual([`${home}/c`]);
  });

  it('lowercases HostKeyAlias as ssh does', () => {
    expect(valueOf('hostKeyAlias', 'HostKeyAlias Gateway')).toBe('gateway');
  });
});

describe('ProxyJump', () => {
  it.each<[string, JumpHop[]]>([
    ['bastion', [{ host: 'bastion' }]],
    ['admin@bastion:2222', [{ user: 'admin', host: 'bastion', port: 2222 }]],
    ['[2001:db8::1]:2222', [{ host: '2001:db8::1', port: 2222 }]],
    ['u@[::1]', [{ user: 'u', host: '::1' }]],
    ['fe80::1', [{ host: 'fe80::1' }]],
    ['a,b@c:1,[::1]:3', [{ host: 'a' }, { user: 'b', host: 'c', port: 1 }, { host: '::1', port: 3 }]],
    ['ssh://u@h:22', [{ user: 'u', host: 'h', port: 22 }]],
    ['first@last@host', [{ user: 'first@last', host: 'host' }]],
  ])('parses %s', (spec, hops) => {
    expect(parseJumpSpec(spec)).toEqual(hops);
  });

  it.each(['', 'a,,b', 'host:0', 'host:99999', 'host:x', '@host', '[::1', '[::1]x', 'a b', 'user@'])('refuses %j', (spec) => {
    expectUsageError(() => parseJumpSpec(spec), /bad jump host/);
  });

  it('takes the first ProxyJump, where none means no jump', () => {
    const home = makeHome({ '.ssh/config': 'Host direct\n  ProxyJump none\nHost *\n  ProxyJump j1@gw1:2200,gw2\n' });
    expect(resolveIn(home, 'direct').proxyJump).toEqual([]);
    expect(resolveIn(home, 'web').proxyJump).toEqual([{ user: 'j1', host: 'gw1', port: 2200 }, { host: 'gw2' }]);
  });

  /** A hop written in one of the ways ssh accepts. */
  function formatHop(hop: JumpHop, style: { uri: boolean; bracket: boolean }): string {
    const bracketed = hop.host.includes(':') && (style.bracket || hop.port !== undefined);
    return [
      style.uri ? 'ssh://' : '',
      hop.user !== undefined ? `${hop.user}@` : '',
      bracketed ? `[${hop.host}]` : hop.host,
      hop.port !== undefined ? `:${hop.port}` : '',
    ].join('');
  }

  const arbHop: fc.Arbitrary<JumpHop> = fc.record(
    {
      user: fc.stringMatching(/^[a-z_][a-z0-9_.:@-]{0,12}$/),
      host: fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()),
      port: fc.integer({ min: 1, max: 65535 }),
    },
    { requiredKeys: ['host'] },
  );
  const arbStyle = fc.record({ uri: fc.boolean(), bracket: fc.boolean() });

  it('parses back every spec written from hops (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(arbHop, arbStyle), { minLength: 1, maxLength: 5 }), (hops) => {
        const spec = hops.map(([hop, style]) => formatHop(hop, style)).join(',');
        expect(parseJumpSpec(spec)).toEqual(hops.map(([hop]) => hop));
      }),
    );
  });
});

/** What `ssh -G` resolves: the values of the options it prints, by lowercase name. */
function sshResolves(home: string, file: string, host: string, args: string[] = []): Map<string, string[]> {
  const output = execFileSync(SSH_CLIENT, ['-G', '-F', file, ...args, host], {
    env: { ...process.env, HOME: home },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const values = new Map<string, string[]>();
  for (const [, key, value] of output.matchAll(/^(\S+) (.*)$/gm)) values.set(key!, [...(values.get(key!) ?? []), value!]);
  return values;
}

(fs.existsSync(SSH_CLIENT) ? describe : describe.skip)('agrees with ssh -G', () => {
  const files = {
    '.ssh/main.conf': [
      'Include config.d/*.conf',
      'Host web Web',
      '  HostName %h.example.com',
      '  Port 2222',
      '  IdentityFile ~/.ssh/web_key',
      'Host db db-replica',
      '  HostName 10.0.0.5',
      '  User postgres',
      '  Include ~/.ssh/db-extra.conf',
      '  Port 5433',
      'Host * !bastion',
      '  User everyone',
      '  IdentityFile ~/.ssh/common_key',
      'Host *',
      '  Port 2200',
      '  IdentityFile ~/.ssh/fallback',
    ].join('\n'),
    '.ssh/config.d/a.conf': 'Host inc*\n  User fromA\n  Port 2002\n',
    '.ssh/config.d/B.conf': 'Host inc*\n  Port 2001\n  IdentityFile /keys/b\n',
    '.ssh/db-extra.conf': 'IdentityFile ~/.ssh/db_key\n',
    // ssh drops an -i file that does not exist, so this one does.
    'keys/cli': '',
  };

  it.each([
    ['web', []],
    ['Web', []],
    ['db-replica', []],
    ['bastion', []],
    ['include-me', []],
    ['other.example.org', []],
    ['web', ['-l', 'cli', '-p', '2', '-i', 'HOME/keys/cli']],
    ['db', ['-o', 'User=viaoption', '-o', 'Port=3', '-o', 'IdentityFile=/keys/opt']],
  ])('%s %j', (host, argsInHome) => {
    const home = makeHome(files);
    const args = argsInHome.map((arg) => arg.replace(/^HOME/, home));
    const file = path.join(home, '.ssh/main.conf');
    const ssh = sshResolves(home, file, host, args);
    const flag = (name: string) => args[args.indexOf(name) + 1];
    const options = Object.fromEntries(args.filter((_, i) => args[i - 1] === '-o').map((option) => option.split('=') as [string, string]));
    const ours = resolveHost(loadSshConfig({ home, file }), {
      host,
      user: args.includes('-l') ? flag('-l') : undefined,
      port: args.includes('-p') ? Number(flag('-p')) : undefined,
      identityFiles: args.includes('-i') ? [flag('-i')!] : undefined,
      options,
      env: {},
    });
    expect({ hostName: ours.hostName, port: ours.port, user: ours.user, identityFiles: ours.identityFiles }).toEqual({
      hostName: ssh.get('hostname')![0],
      port: Number(ssh.get('port')![0]),
      user: ssh.get('user')![0],
      identityFiles: ssh.get('identityfile')!.map((file) => file.replace(/^~/, home)),
    });
  });
});

describe('AddressFamily and ForwardAgent (scp -4, -6, -A)', () => {
  test.each([
    ['inet', 4],
    ['inet6', 6],
    ['any', 0],
    ['INET', 4],
  ])('AddressFamily %s is %i', (value, family) => {
    expect(resolveIn(makeHome(), 'h', { options: { AddressFamily: value } }).addressFamily).toBe(family);
  });

  test('ForwardAgent yes/no, and a bad value of either is a usage error naming the option', () => {
    expect(resolveIn(makeHome(), 'h', { options: { ForwardAgent: 'yes' } }).forwardAgent).toBe(true);
    expect(resolveIn(makeHome(), 'h', { options: { ForwardAgent: 'no' } }).forwardAgent).toBe(false);
    expect(() => resolveIn(makeHome(), 'h', { options: { AddressFamily: 'ipx' } })).toThrow(/AddressFamily/);
    expect(() => resolveIn(makeHome(), 'h', { options: { ForwardAgent: 'maybe' } })).toThrow(/ForwardAgent/);
  });
});
