/**
 * known_hosts parsing, matching and StrictHostKeyChecking (src/ssh/knownHosts.ts), checked
 * against OpenSSH's ssh-keygen on real keys and files, and by properties on generated ones.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { FcpError } from '../../../src/errors';
import {
  defaultKnownHostsFiles,
  entriesForHost,
  formatKnownHostsLine,
  globMatches,
  HostKeyVerdict,
  hostKeyFingerprint,
  KnownHostEntry,
  keyTypeOfBlob,
  loadKnownHosts,
  lookupHostKey,
  orderHostKeyAlgorithms,
  parseKnownHosts,
  StrictHostKeyChecking,
  verifyHostKey,
  VerifyHostKeyOptions,
} from '../../../src/ssh/knownHosts';
import {
  GeneratedKey,
  generateKey,
  sshKeygenFingerprint,
  sshKeygenFoundLines,
  sshKeygenHash,
} from './knownHosts.sshKeygen';

const POLICIES: StrictHostKeyChecking[] = ['yes', 'accept-new', 'no', 'ask'];

let dir: string;
let ed25519: GeneratedKey;
let ed25519Other: GeneratedKey;
let rsa: GeneratedKey;
let ecdsa256: GeneratedKey;
let ecdsa384: GeneratedKey;
let ecdsa521: GeneratedKey;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fcp-known-hosts-'));
  ed25519 = generateKey(dir, 'ed25519', ['-t', 'ed25519']);
  ed25519Other = generateKey(dir, 'ed25519-other', ['-t', 'ed25519']);
  rsa = generateKey(dir, 'rsa', ['-t', 'rsa', '-b', '2048']);
  ecdsa256 = generateKey(dir, 'ecdsa256', ['-t', 'ecdsa', '-b', '256']);
  ecdsa384 = generateKey(dir, 'ecdsa384', ['-t', 'ecdsa', '-b', '384']);
  ecdsa521 = generateKey(dir, 'ecdsa521', ['-t', 'ecdsa', '-b', '521']);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
/** A fresh path in the temp dir, written with `lines` when given. */
function knownHostsFile(lines?: string[]): string {
  const file = join(dir, `known_hosts_${++fileCount}`);
  if (lines) writeFileSync(file, lines.map((line) => `${line}\n`).join(''));
  return file;
}

function parse(lines: string[]): KnownHostEntry[] {
  return parseKnownHosts(lines.join('\n'), 'test').entries;
}

function lookup(entries: KnownHostEntry[], host: string, port: number, key: GeneratedKey) {
  return lookupHostKey(entries, host, port, key.type, key.blob);
}

/** A syntactically valid public key blob: the type name as an SSH string, then the key bytes. */
function blobOf(type: string, body: Uint8Array): Buffer {
  const name = Buffer.from(type, 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  return Buffer.concat([length, name, body]);
}

// --- parsing ---------------------------------------------------------------------------------

describe('parseKnownHosts', () => {
  test('reads a line built from a real .pub file, with its comment, line number and key', () => {
    const known = parseKnownHosts(`# header\n\nhost.example.com ${ed25519.keyText} a comment here\n`, 'kh');
    expect(known.malformed).toEqual([]);
    expect(known.entries).toHaveLength(1);
    const [entry] = known.entries;
    expect(entry).toMatchObject({ file: 'kh', line: 3, marker: null, keyType: 'ssh-ed25519' });
    expect(entry!.keyBlob.equals(ed25519.blob)).toBe(true);
  });

  test('reads every key type ssh-keygen makes', () => {
    const keys = [ed25519, rsa, ecdsa256, ecdsa384, ecdsa521];
    const entries = parse(keys.map((key) => `h ${key.keyText}`));
    expect(entries.map((entry) => entry.keyType)).toEqual([
      'ssh-ed25519',
      'ssh-rsa',
      'ecdsa-sha2-nistp256',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
    ]);
    keys.forEach((key) => expect(lookup(entries, 'h', 22, key)).toEqual({ status: 'match' }));
  });

  test('skips comments, blank lines and leading white space; takes CRLF line ends', () => {
    const text = ['  # indented comment', '', ' \t ', `\t host ${ed25519.keyText}  trailing`, `crlf ${rsa.keyText}`].join('\r\n');
    const known = parseKnownHosts(text, 'kh');
    expect(known.malformed).toEqual([]);
    expect(known.entries.map((entry) => [entry.line, entry.keyType])).toEqual([
      [4, 'ssh-ed25519'],
      [5, 'ssh-rsa'],
    ]);
  });

  test('skips and counts malformed lines, keeping the good ones around them', () => {
    const [type, base64] = ed25519.keyText.split(' ') as [string, string];
    const malformed = [
      'lonely-host',
      `host ${type}`,
      `host ${type} not*base64`,
      `host ${type} ${base64.slice(0, -1)}`,
      `host ssh-unknown ${base64}`,
      `host ssh-future ${blobOf('ssh-future', Buffer.alloc(32, 7)).toString('base64')}`, // not a host key type
      `host ssh-rsa ${base64}`, // the blob says ssh-ed25519
      `host ${type} ${Buffer.from('AAAA').toString('base64')}`,
      `@bogus host ${ed25519.keyText}`,
      `@revoked @cert-authority host ${ed25519.keyText}`,
      `@revoked @host ${ed25519.keyText}`, // one marker only: '@host' would be a second
      '@revoked',
      `|1|c2hvcnQ=|${'A'.repeat(27)}= ${ed25519.keyText}`,
      `|2|${'A'.repeat(27)}=|${'A'.repeat(27)}= ${ed25519.keyText}`,
      `|1|${'A'.repeat(27)}=|${'A'.repeat(27)}=|extra ${ed25519.keyText}`,
      `host # ${ed25519.keyText}`,
      `host 2048 65537 12345`, // SSH-1 RSA
    ];
    const lines = [`good ${ed25519.keyText}`, ...malformed, `good ${rsa.keyText}`];
    const known = parseKnownHosts(lines.join('\n'), 'kh');
    expect(known.entries.map((entry) => entry.line)).toEqual([1, lines.length]);
    expect(known.malformed).toEqual(malformed.map((_, index) => ({ file: 'kh', line: index + 2 })));
  });

  test('never throws, and sorts every line into entry, malformed, comment or blank', () => {
    const lineChars = fc.constantFrom(...'ab |!*?,@#1=\t'.split(''), ed25519.keyText, ` ${rsa.keyText}`, '@revoked ');
    const line = fc.array(lineChars, { maxLength: 8 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        const known = parseKnownHosts(lines.join('\n'), 'kh');
        const ignorable = lines.filter((text) => /^[ \t]*(#|$)/.test(text)).length;
        expect(known.entries.length + known.malformed.length + ignorable).toBe(lines.length);
      }),
    );
  });
});

// --- matching --------------------------------------------------------------------------------

describe('host patterns', () => {
  test('* matches any run of characters and ? exactly one', () => {
    const entries = parse([`*.example.com ${ed25519.keyText}`, `web? ${rsa.keyText}`]);
    expect(lookup(entries, 'a.example.com', 22, ed25519).status).toBe('match');
    expect(lookup(entries, 'a.b.example.com', 22, ed25519).status).toBe('match');
    expect(lookup(entries, 'example.com', 22, ed25519).status).toBe('unknown');
    expect(lookup(entries, 'web1', 22, rsa).status).toBe('match');
    expect(lookup(entries, 'web', 22, rsa).status).toBe('unknown');
    expect(lookup(entries, 'web12', 22, rsa).status).toBe('unknown');
  });

  test('a negated pattern excludes its line even where another pattern of it matches', () => {
    for (const hosts of ['*.example.com,!bad.example.com', '!bad.example.com,*.example.com']) {
      const entries = parse([`${hosts} ${ed25519.keyText}`, `bad.example.com ${rsa.keyText}`]);
      expect(lookup(entries, 'good.example.com', 22, ed25519).status).toBe('match');
      // Only the second line is about bad.example.com, so the ed25519 key is a changed key.
      expect(lookup(entries, 'bad.example.com', 22, ed25519)).toEqual({
        status: 'mismatch',
        knownKeys: [{ type: 'ssh-rsa', file: 'test', line: 2 }],
      });
    }
  });

  test('a negation alone matches nothing', () => {
    const entries = parse([`!bad ${ed25519.keyText}`]);
    expect(lookup(entries, 'good', 22, ed25519).status).toBe('unknown');
  });

  test('a plain host is port 22 only; [host]:port is that port only; * covers both', () => {
    const entries = parse([`plain ${ed25519.keyText}`, `[ported]:2222 ${ed25519.keyText}`, `[star*]:* ${ed25519.keyText}`]);
    expect(lookup(entries, 'plain', 22, ed25519).status).toBe('match');
    expect(lookup(entries, 'plain', 2222, ed25519).status).toBe('unknown');
    expect(lookup(entries, 'ported', 2222, ed25519).status).toBe('match');
    expect(lookup(entries, 'ported', 22, ed25519).status).toBe('unknown');
    expect(lookup(entries, 'ported', 2223, ed25519).status).toBe('unknown');
    expect(lookup(entries, 'starry', 8022, ed25519).status).toBe('match');
    expect(lookup(entries, 'starry', 22, ed25519).status).toBe('unknown');
    const star = parse([`* ${ed25519.keyText}`]);
    expect(lookup(star, 'anything', 22, ed25519).status).toBe('match');
    expect(lookup(star, 'anything', 2222, ed25519).status).toBe('match');
  });

  test('names and patterns compare without case', () => {
    const entries = parse([`Mixed.Example.COM ${ed25519.keyText}`]);
    expect(lookup(entries, 'mixed.example.com', 22, ed25519).status).toBe('match');
    expect(lookup(entries, 'MIXED.example.com', 22, ed25519).status).toBe('match');
  });

  test('globMatches agrees with a regular expression on every small pattern', () => {
    const reference = (glob: string, text: string) =>
      new RegExp(`^${glob.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's').test(text);
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), maxLength: 8 });
    const text = fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 10 });
    fc.assert(fc.property(glob, text, (g, t) => expect(globMatches(g, t)).toBe(reference(g, t))), { numRuns: 2000 });
  });

  test('a hostile pattern matches in linear time, not by exponential backtracking', () => {
    const start = process.hrtime.bigint();
    expect(globMatches(`${'*a'.repeat(30)}b`, 'a'.repeat(5000))).toBe(false);
    expect(Number(process.hrtime.bigint() - start) / 1e6).toBeLessThan(2000);
  });
});

describe('lookupHostKey', () => {
  test('several keys per host: any of them matches', () => {
    const entries = parse([`multi ${ed25519.keyText}`, `multi ${rsa.keyText}`, `multi,other ${ecdsa256.keyText}`]);
    for (const key of [ed25519, rsa, ecdsa256]) expect(lookup(entries, 'multi', 22, key)).toEqual({ status: 'match' });
  });

  test('a different key of a known type is a mismatch that lists every known key', () => {
    const entries = parse([`host ${ed25519.keyText}`, `elsewhere ${ed25519Other.keyText}`, `host ${rsa.keyText}`]);
    expect(lookup(entries, 'host', 22, ed25519Other)).toEqual({
      status: 'mismatch',
      knownKeys: [
        { type: 'ssh-ed25519', file: 'test', line: 1 },
        { type: 'ssh-rsa', file: 'test', line: 3 },
      ],
    });
  });

  test('keys known only of other types make a mismatch too, as in OpenSSH hostfile.c', () => {
    const entries = parse([`host ${rsa.keyText}`]);
    expect(lookup(entries, 'host', 22, ed25519)).toEqual({
      status: 'mismatch',
      knownKeys: [{ type: 'ssh-rsa', file: 'test', line: 1 }],
    });
  });

  test('rsa-sha2-* algorithms look up ssh-rsa keys', () => {
    const entries = parse([`host ${rsa.keyText}`]);
    expect(lookupHostKey(entries, 'host', 22, 'rsa-sha2-512', rsa.blob).status).toBe('match');
  });

  test('@revoked wins over a match, for the hosts its patterns match', () => {
    const entries = parse([`host,other ${ed25519.keyText}`, `@revoked host ${ed25519.keyText}`]);
    expect(lookup(entries, 'host', 22, ed25519)).toEqual({
      status: 'revoked',
      revokedBy: { type: 'ssh-ed25519', file: 'test', line: 2 },
    });
    expect(lookup(entries, 'other', 22, ed25519).status).toBe('match');
    const everywhere = parse([`host ${ed25519.keyText}`, `@revoked * ${ed25519.keyText}`]);
    expect(lookup(everywhere, 'host', 22, ed25519).status).toBe('revoked');
    expect(lookup(everywhere, 'new-host', 2222, ed25519).status).toBe('revoked');
  });

  test('a revoked key of the host does not count as a known key', () => {
    const entries = parse([`@revoked host ${ed25519.keyText}`]);
    expect(lookup(entries, 'host', 22, ed25519Other).status).toBe('unknown');
  });

  test('@cert-authority lines are ignored: no match, no mismatch', () => {
    const entries = parse([`@cert-authority *.example.com ${ed25519.keyText}`]);
    expect(lookup(entries, 'a.example.com', 22, ed25519).status).toBe('unknown');
    expect(lookup(entries, 'a.example.com', 22, ed25519Other).status).toBe('unknown');
  });
});

describe('against ssh-keygen', () => {
  test('fingerprints equal the SHA256 field of ssh-keygen -lf', () => {
    for (const key of [ed25519, ed25519Other, rsa, ecdsa256, ecdsa384, ecdsa521]) {
      expect(hostKeyFingerprint(key.blob)).toBe(sshKeygenFingerprint(key.pubFile));
    }
  });

  /** Host names, written as ssh-keygen -F takes them, with the host and port lookups use. */
  const NAMES: [string, string, number][] = [
    ['alpha.example.com', 'alpha.example.com', 22],
    ['beta.example.com', 'beta.example.com', 22],
    ['bad.example.com', 'bad.example.com', 22],
    ['example.com', 'example.com', 22],
    ['[alpha.example.com]:2222', 'alpha.example.com', 2222],
    ['[gamma]:2222', 'gamma', 2222],
    ['gamma', 'gamma', 22],
    ['web1', 'web1', 22],
    ['web12', 'web12', 22],
    ['10.0.0.5', '10.0.0.5', 22],
    ['10.0.1.5', '10.0.1.5', 22],
    ['revoked-host', 'revoked-host', 22],
    ['nowhere', 'nowhere', 22],
  ];

  function fixtureLines(): string[] {
    return [
      '# fixture',
      `alpha.example.com,10.0.0.5 ${ed25519.keyText}`,
      `*.example.com,!bad.example.com ${rsa.keyText}`,
      `[alpha.example.com]:2222 ${ecdsa256.keyText}`,
      `[gamma]:2222,gamma ${ecdsa384.keyText} comment`,
      `web? ${ecdsa521.keyText}`,
      `10.0.?.5 ${ed25519Other.keyText}`,
      `@revoked revoked-host ${ed25519.keyText}`,
      `@cert-authority *.example.com ${ed25519Other.keyText}`,
      `bad.example.com ${ed25519Other.keyText}`,
    ];
  }

  test('matches the same lines as ssh-keygen -F, plain and after ssh-keygen -H', () => {
    const file = knownHostsFile(fixtureLines());
    const plain = loadKnownHosts([file]).entries;
    sshKeygenHash(file);
    const hashedText = readFileSync(file, 'utf8');
    expect(hashedText).toContain('|1|');
    const hashed = loadKnownHosts([file]);
    expect(hashed.malformed).toEqual([]);
    for (const [name, host, port] of NAMES) {
      const expected = sshKeygenFoundLines(file, name);
      expect([name, entriesForHost(hashed.entries, host, port).map((entry) => entry.line)]).toEqual([name, expected]);
      // Hashing splits and reorders lines, so compare what plain and hashed files say by key.
      const keysOf = (entries: KnownHostEntry[]) => entries.map((entry) => `${entry.marker} ${entry.keyBlob.toString('base64')}`).sort();
      expect(keysOf(entriesForHost(hashed.entries, host, port))).toEqual(keysOf(entriesForHost(plain, host, port)));
    }
  });

  test('lookups give the same answers on the hashed file', () => {
    const file = knownHostsFile(fixtureLines());
    sshKeygenHash(file);
    const entries = loadKnownHosts([file]).entries;
    expect(lookup(entries, 'alpha.example.com', 22, ed25519).status).toBe('match');
    expect(lookup(entries, 'alpha.example.com', 2222, ecdsa256).status).toBe('match');
    expect(lookup(entries, 'gamma', 2222, ecdsa384).status).toBe('match');
    expect(lookup(entries, 'gamma', 22, ecdsa256).status).toBe('mismatch');
    expect(lookup(entries, 'revoked-host', 22, ed25519).status).toBe('revoked');
    expect(lookup(entries, 'nowhere', 22, ed25519).status).toBe('unknown');
  });

  test('ssh-keygen -F finds the lines formatKnownHostsLine writes, hashed or not', () => {
    const lines = [
      formatKnownHostsLine('Plain.Example.com', 22, ed25519.type, ed25519.blob, false),
      formatKnownHostsLine('hashed.example.com', 22, rsa.type, rsa.blob, true),
      formatKnownHostsLine('hashed.example.com', 2200, ecdsa256.type, ecdsa256.blob, true),
    ];
    const file = knownHostsFile(lines);
    expect(sshKeygenFoundLines(file, 'plain.example.com')).toEqual([1]);
    expect(sshKeygenFoundLines(file, 'hashed.example.com')).toEqual([2]);
    expect(sshKeygenFoundLines(file, '[hashed.example.com]:2200')).toEqual([3]);
  });
});

describe('formatKnownHostsLine round trips', () => {
  const TYPES = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa', 'sk-ssh-ed25519@openssh.com'];
  const hostLabel = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split('')), minLength: 1, maxLength: 12 });
  const arbHost = fc.oneof(
    fc.array(hostLabel, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.')),
    fc.ipV4(),
    fc.ipV6(),
  );
  const arbPort = fc.oneof(fc.constant(22), fc.integer({ min: 1, max: 65535 }));
  const arbKey = fc
    .tuple(fc.constantFrom(...TYPES), fc.uint8Array({ minLength: 1, maxLength: 80 }))
    .map(([type, body]) => ({ type, blob: blobOf(type, body) }));
  const arbLine = fc.record({ host: arbHost, port: arbPort, key: arbKey, hashed: fc.boolean() });

  function roundTrip(line: { host: string; port: number; key: { type: string; blob: Buffer }; hashed: boolean }) {
    return parseKnownHosts(formatKnownHostsLine(line.host, line.port, line.key.type, line.key.blob, line.hashed), 'kh');
  }

  test('the same host, port and key match', () => {
    fc.assert(
      fc.property(arbLine, (line) => {
        const known = roundTrip(line);
        expect(known.malformed).toEqual([]);
        expect(lookupHostKey(known.entries, line.host, line.port, line.key.type, line.key.blob)).toEqual({ status: 'match' });
        expect(lookupHostKey(known.entries, line.host.toUpperCase(), line.port, line.key.type, line.key.blob).status).toBe('match');
      }),
    );
  });

  test('another host or another port is unknown', () => {
    fc.assert(
      fc.property(arbLine, arbHost, arbPort, (line, otherHost, otherPort) => {
        const { entries } = roundTrip(line);
        fc.pre(otherHost.toLowerCase() !== line.host.toLowerCase() && otherPort !== line.port);
        expect(lookupHostKey(entries, otherHost, line.port, line.key.type, line.key.blob).status).toBe('unknown');
        expect(lookupHostKey(entries, line.host, otherPort, line.key.type, line.key.blob).status).toBe('unknown');
      }),
    );
  });

  test('another key of the same type is a mismatch', () => {
    fc.assert(
      fc.property(arbLine, fc.uint8Array({ minLength: 1, maxLength: 80 }), (line, otherBody) => {
        const otherBlob = blobOf(line.key.type, otherBody);
        fc.pre(!otherBlob.equals(line.key.blob));
        const { entries } = roundTrip(line);
        const result = lookupHostKey(entries, line.host, line.port, line.key.type, otherBlob);
        expect(result).toEqual({ status: 'mismatch', knownKeys: [{ type: line.key.type, file: 'kh', line: 1 }] });
      }),
    );
  });

  test('hashed lines carry a fresh salt each time', () => {
    const once = formatKnownHostsLine('host', 22, ed25519.type, ed25519.blob, true);
    const twice = formatKnownHostsLine('host', 22, ed25519.type, ed25519.blob, true);
    expect(once).toMatch(/^\|1\|[A-Za-z0-9+/]{27}=\|[A-Za-z0-9+/]{27}= ssh-ed25519 /);
    expect(once).not.toBe(twice);
  });
});

describe('keys and algorithms', () => {
  test('keyTypeOfBlob reads the type name a blob starts with', () => {
    expect(keyTypeOfBlob(rsa.blob)).toBe('ssh-rsa');
    expect(keyTypeOfBlob(ecdsa384.blob)).toBe('ecdsa-sha2-nistp384');
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 9, 0x61]))).toBeUndefined();
    expect(keyTypeOfBlob(Buffer.alloc(3))).toBeUndefined();
  });

  test('orderHostKeyAlgorithms puts the algorithms of known key types first, keeping order', () => {
    const entries = parse([`host ${rsa.keyText}`, `host ${ecdsa256.keyText}`, `@revoked host ${ed25519Other.keyText}`]);
    const offered = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    expect(orderHostKeyAlgorithms(entries, 'host', 22, offered)).toEqual([
      'ecdsa-sha2-nistp256',
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ssh-ed25519',
      'ecdsa-sha2-nistp384',
    ]);
    expect(orderHostKeyAlgorithms(entries, 'unknown', 22, offered)).toEqual(offered);
  });
});

// --- files -----------------------------------------------------------------------------------

describe('loadKnownHosts', () => {
  test('the default files are ssh\'s: the user\'s two, then the system\'s two', () => {
    expect(defaultKnownHostsFiles('/home/u')).toEqual([
      '/home/u/.ssh/known_hosts',
      '/home/u/.ssh/known_hosts2',
      '/etc/ssh/ssh_known_hosts',
      '/etc/ssh/ssh_known_hosts2',
    ]);
  });

  test('reads the files in order, skipping missing ones, and counts their malformed lines', () => {
    const user = knownHostsFile([`host ${ed25519.keyText}`, 'junk']);
    const system = knownHostsFile(['junk', `host ${rsa.keyText}`]);
    const underAFile = join(user, 'known_hosts');
    const known = loadKnownHosts([join(dir, 'missing'), user, join(dir, 'no-dir', 'missing'), underAFile, system]);
    expect(known.entries.map((entry) => [entry.file, entry.line])).toEqual([
      [user, 1],
      [system, 2],
    ]);
    expect(known.malformed).toEqual([
      { file: user, line: 2 },
      { file: system, line: 1 },
    ]);
  });

  test('an unreadable file is an FcpError that names it', () => {
    const notAFile = join(dir, 'a-directory');
    mkdirSync(notAFile);
    expect(() => loadKnownHosts([notAFile])).toThrow(FcpError);
    expect(() => loadKnownHosts([notAFile])).toThrow(notAFile);
  });
});

// --- policy ----------------------------------------------------------------------------------

describe('verifyHostKey', () => {
  function options(overrides: Partial<VerifyHostKeyOptions> & Pick<VerifyHostKeyOptions, 'files' | 'strict'>): VerifyHostKeyOptions {
    return { host: 'server.example.com', port: 22, keyType: ed25519.type, keyBlob: ed25519.blob, hashKnownHosts: false, ...overrides };
  }

  function refusal(verdict: HostKeyVerdict): FcpError {
    if (verdict.accepted) throw new Error(`expected a refusal, got ${JSON.stringify(verdict)}`);
    expect(verdict.error).toBeInstanceOf(FcpError);
    return verdict.error;
  }

  const neverAsk = () => Promise.reject(new Error('must not ask'));

  test('a known key is accepted under every policy, adding nothing', async () => {
    for (const strict of POLICIES) {
      const file = knownHostsFile([`server.example.com ${ed25519.keyText}`]);
      await expect(verifyHostKey(options({ files: [file], strict, ask: neverAsk }))).resolves.toEqual({ accepted: true });
      expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(2);
    }
  });

  test('yes refuses an unknown key, saying how to add it', async () => {
    const file = knownHostsFile([`other ${ed25519.keyText}`]);
    const error = refusal(await verifyHostKey(options({ files: [file], strict: 'yes' })));
    expect(error.code).toBe('FCP_ERR_AUTH');
    expect(error.message).toContain('host key for server.example.com is not known');
    expect(error.hint).toContain(`ssh-keyscan -t ed25519 server.example.com >> ${file}`);
    expect(error.hint).toContain(hostKeyFingerprint(ed25519.blob));
    expect(readFileSync(file, 'utf8')).not.toContain('server.example.com');
  });

  test('accept-new creates the first file (0600) and its directory (0700), then the key matches', async () => {
    const sshDir = join(dir, 'fresh-home', '.ssh');
    const userFile = join(sshDir, 'known_hosts');
    const systemFile = knownHostsFile([`unrelated ${rsa.keyText}`]);
    const files = [userFile, systemFile];
    await expect(verifyHostKey(options({ files, strict: 'accept-new', port: 2022 }))).resolves.toEqual({ accepted: true, added: userFile });
    expect(statSync(userFile).mode & 0o777).toBe(0o600);
    expect(statSync(sshDir).mode & 0o777).toBe(0o700);
    expect(readFileSync(userFile, 'utf8')).toBe(`[server.example.com]:2022 ${ed25519.keyText}\n`);
    await expect(verifyHostKey(options({ files, strict: 'yes', port: 2022 }))).resolves.toEqual({ accepted: true });
    expect(sshKeygenFoundLines(userFile, '[server.example.com]:2022')).toEqual([1]);
  });

  test('accept-new hashes the name when asked; ssh-keygen and a second check both find it', async () => {
    const file = knownHostsFile([`other ${rsa.keyText}`]);
    await expect(verifyHostKey(options({ files: [file], strict: 'accept-new', hashKnownHosts: true }))).resolves.toEqual({
      accepted: true,
      added: file,
    });
    const added = readFileSync(file, 'utf8').split('\n')[1]!;
    expect(added).toMatch(/^\|1\|/);
    expect(added).not.toContain('server');
    expect(sshKeygenFoundLines(file, 'server.example.com')).toEqual([2]);
    await expect(verifyHostKey(options({ files: [file], strict: 'yes' }))).resolves.toEqual({ accepted: true });
  });

  test('no accepts and adds an unknown key', async () => {
    const file = knownHostsFile([]);
    await expect(verifyHostKey(options({ files: [file], strict: 'no' }))).resolves.toEqual({ accepted: true, added: file });
    expect(lookup(loadKnownHosts([file]).entries, 'server.example.com', 22, ed25519).status).toBe('match');
  });

  test('ask asks the OpenSSH question and adds the key on yes', async () => {
    const file = knownHostsFile([]);
    const questions: string[] = [];
    const ask = async (question: string) => {
      questions.push(question);
      return true;
    };
    const verdict = await verifyHostKey(options({ files: [file], strict: 'ask', ask, address: '192.0.2.7' }));
    expect(verdict).toEqual({ accepted: true, added: file });
    expect(questions).toEqual([
      "The authenticity of host 'server.example.com (192.0.2.7)' can't be established.\n" +
        `ED25519 key fingerprint is ${hostKeyFingerprint(ed25519.blob)}.\n` +
        'Are you sure you want to continue connecting (yes/no)? ',
    ]);
  });

  test('ask refuses on no, and without a way to ask, adding nothing', async () => {
    const file = knownHostsFile([]);
    const declined = refusal(await verifyHostKey(options({ files: [file], strict: 'ask', ask: async () => false })));
    expect(declined.code).toBe('FCP_ERR_AUTH');
    expect(declined.message).toContain('not accepted');
    const noTerminal = refusal(await verifyHostKey(options({ files: [file], strict: 'ask' })));
    expect(noTerminal.message).toContain('host key for server.example.com is not known');
    expect(noTerminal.message).toContain('no terminal');
    expect(readFileSync(file, 'utf8')).toBe('');
  });

  test.each(POLICIES)('a changed key is refused loudly under %s', async (strict) => {
    const file = knownHostsFile(['# first line', `server.example.com ${ed25519Other.keyText}`]);
    const error = refusal(await verifyHostKey(options({ files: [file], strict, ask: neverAsk })));
    expect(error.code).toBe('FCP_ERR_AUTH');
    expect(error.message).toContain('@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @');
    expect(error.message).toContain('IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!');
    expect(error.message).toContain(`${hostKeyFingerprint(ed25519.blob)}.`);
    expect(error.message).toContain(`Offending ED25519 key in ${file}:2`);
    expect(error.hint).toContain(`ssh-keygen -f ${file} -R 'server.example.com'`);
    expect(readFileSync(file, 'utf8').split('\n')).toHaveLength(3);
  });

  test('a host known only by a key of another type is refused as changed', async () => {
    const file = knownHostsFile([`server.example.com ${rsa.keyText}`]);
    const error = refusal(await verifyHostKey(options({ files: [file], strict: 'accept-new' })));
    expect(error.message).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');
    expect(error.message).toContain(`Offending RSA key in ${file}:1`);
  });

  test.each(POLICIES)('a revoked key is refused under %s', async (strict) => {
    const file = knownHostsFile([`server.example.com ${ed25519.keyText}`, `@revoked * ${ed25519.keyText}`]);
    const error = refusal(await verifyHostKey(options({ files: [file], strict, ask: neverAsk })));
    expect(error.code).toBe('FCP_ERR_AUTH');
    expect(error.message).toContain('WARNING: REVOKED HOST KEY DETECTED!');
    expect(error.message).toContain(`marked as revoked in ${file}:2`);
  });

  test('keys in later files count; new keys go to the first', async () => {
    const user = knownHostsFile([]);
    const system = knownHostsFile([`server.example.com ${ed25519.keyText}`]);
    await expect(verifyHostKey(options({ files: [user, system], strict: 'yes' }))).resolves.toEqual({ accepted: true });
    const other = options({ files: [user, system], strict: 'accept-new', host: 'new.example.com' });
    await expect(verifyHostKey(other)).resolves.toEqual({ accepted: true, added: user });
  });

  test('on another port, a key known for the plain host name is accepted, as ssh does', async () => {
    const file = knownHostsFile([`server.example.com ${ed25519.keyText}`, `@revoked revoked.example.com ${ed25519.keyText}`]);
    await expect(verifyHostKey(options({ files: [file], strict: 'yes', port: 2222 }))).resolves.toEqual({ accepted: true });
    const changed = options({ files: [file], strict: 'yes', port: 2222, keyBlob: ed25519Other.blob });
    const unknownOnPort = refusal(await verifyHostKey({ ...changed, hashKnownHosts: true }));
    expect(unknownOnPort.message).toContain('host key for [server.example.com]:2222 is not known');
    expect(unknownOnPort.hint).toContain('ssh-keyscan -H -p 2222 -t ed25519 server.example.com');
    const revoked = options({ files: [file], strict: 'accept-new', port: 2222, host: 'revoked.example.com' });
    expect(refusal(await verifyHostKey(revoked)).message).toContain('REVOKED');
  });

  test('an added line starts on a line of its own when the file lacks a final newline', async () => {
    const file = knownHostsFile();
    writeFileSync(file, `other ${rsa.keyText}`);
    await verifyHostKey(options({ files: [file], strict: 'accept-new' }));
    expect(loadKnownHosts([file]).entries.map((entry) => entry.line)).toEqual([1, 2]);
  });

  test('failing to add the key still accepts it, reporting why (ssh only warns)', async () => {
    const blocker = knownHostsFile([]);
    const verdict = await verifyHostKey(options({ files: [join(blocker, 'known_hosts')], strict: 'accept-new' }));
    expect(verdict).toMatchObject({ accepted: true, addError: expect.any(FcpError) });
    expect(verdict.accepted && verdict.addError?.message).toContain(blocker);
  });

  test('an unreadable known hosts file refuses, naming it', async () => {
    const notAFile = join(dir, 'dir-as-file');
    mkdirSync(notAFile);
    const error = refusal(await verifyHostKey(options({ files: [notAFile], strict: 'no' })));
    expect(error.message).toContain(notAFile);
  });

  test('a key whose blob is not of the stated type is refused', async () => {
    const file = knownHostsFile([]);
    const error = refusal(await verifyHostKey(options({ files: [file], strict: 'no', keyType: 'ssh-rsa' })));
    expect(error.message).toContain('is not a ssh-rsa key');
    expect(readFileSync(file, 'utf8')).toBe('');
  });
});
