/**
 * fcpd's policy (fcpd.toml) against the real client: every rule with a case it allows and one it
 * refuses, refusals as FCP_ERR_POLICY naming the rule and the path, a line in fcpd's log, and
 * nothing created before the check. The session server runs in-process, listening on loopback.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { copy, CopyOptions, FcpError, Launcher } from '../../src';
import type { FcpdPolicy } from '../../src/config/policy';
import { loadXxhash } from '../../src/protocol/xxhash';
import { AccessPolicy } from '../../src/server/policy';
import { SessionServer } from '../../src/server/sessionServer';
import { dial } from './helpers/run';
import { useTempDirs } from './helpers/tmp';

jest.setTimeout(30_000);
const temp = useTempDirs();

const NO_RULES: FcpdPolicy = { forbiddenFiles: [], forbiddenDirs: [], allowedHosts: [], modules: [] };
const servers: SessionServer[] = [];
afterEach(() => servers.splice(0).forEach((server) => server.close()));

/** A session server under `rules` on `bind`, a launcher for copy() that reaches it there, and its log. */
async function policyServer(rules: Partial<FcpdPolicy>, bind = '127.0.0.1') {
  const log: string[] = [];
  const record = (line: string): number => log.push(line);
  const server = new SessionServer({ xxh: await loadXxhash(), bind, port: 0, access: new AccessPolicy({ ...NO_RULES, ...rules }, record), log: record });
  servers.push(server);
  const { port } = await server.listen();
  const launcher: Launcher = {
    async launch(secret) {
      void server.register(secret, undefined);
      return { name: `policy server on ${bind}`, connect: () => dial(port, bind), close: async () => undefined };
    },
  };
  return { server, launcher, log };
}

/** copy()'s outcome: its summary, or the error it failed with. */
async function attempt(options: CopyOptions): Promise<{ error?: FcpError; summary?: Awaited<ReturnType<typeof copy>> }> {
  try {
    return { summary: await copy(options) };
  } catch (err) {
    return { error: err as FcpError };
  }
}

/** A scratch directory with a file tree: `files` maps relative paths to contents. */
function tree(files: Record<string, string>): string {
  const root = temp.make('fcp-policy');
  for (const [name, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), content);
  }
  return root;
}

const remote = (p: string): string => `localhost:${p}`;

function expectPolicyError(error: FcpError | undefined, rule: string, where: string): void {
  expect(error).toBeInstanceOf(FcpError);
  expect(error!.code).toBe('FCP_ERR_POLICY');
  expect(error!.exitCode).toBe(5);
  expect(error!.message).toContain(`(${rule})`);
  expect(error!.message).toContain(where);
}

describe('forbidden_files', () => {
  test('a push: the matching file is refused and not written, the others are copied', async () => {
    const { launcher, log } = await policyServer({ forbiddenFiles: ['*.key'] });
    const src = tree({ 'd/notes.txt': 'notes', 'd/id.key': 'secret' });
    const dest = temp.make('fcp-policy-dest');
    const { summary } = await attempt({ sources: [path.join(src, 'd')], destination: remote(dest), recursive: true, launcher });
    expect(fs.readFileSync(path.join(dest, 'd', 'notes.txt'), 'utf8')).toBe('notes');
    expect(fs.readdirSync(path.join(dest, 'd'))).toEqual(['notes.txt']);
    expect(summary!.errors).toHaveLength(1);
    expectPolicyError(summary!.errors[0], 'forbidden_files', 'id.key');
    expect(log.some((line) => line.includes('forbidden_files') && line.includes('id.key'))).toBe(true);
  });

  test('a pull: the matching file is skipped with the rule, the others come', async () => {
    const { launcher } = await policyServer({ forbiddenFiles: ['*.key'] });
    const src = tree({ 'd/notes.txt': 'notes', 'd/id.key': 'secret' });
    const dest = temp.make('fcp-policy-dest');
    const { summary } = await attempt({ sources: [remote(path.join(src, 'd'))], destination: dest, recursive: true, launcher });
    expect(fs.readdirSync(path.join(dest, 'd'))).toEqual(['notes.txt']);
    expectPolicyError(summary!.errors[0], 'forbidden_files', 'id.key');
  });
});

describe('forbidden_dirs', () => {
  test('a push into a forbidden directory is refused before anything is created; next to it, allowed', async () => {
    const root = tree({ 'ok/.keep': '', 'closed/.keep': '' });
    const { launcher, log } = await policyServer({ forbiddenDirs: [path.join(root, 'closed')] });
    const src = tree({ 'a.txt': 'A' });
    const refused = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(root, 'closed', 'sub', 'a.txt')), launcher });
    expectPolicyError(refused.error, 'forbidden_dirs', path.join(root, 'closed'));
    expect(fs.readdirSync(path.join(root, 'closed'))).toEqual(['.keep']);
    expect(log.some((line) => line.includes('refused') && line.includes('forbidden_dirs'))).toBe(true);
    const allowed = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(root, 'ok', 'a.txt')), launcher });
    expect(allowed.error).toBeUndefined();
    expect(fs.readFileSync(path.join(root, 'ok', 'a.txt'), 'utf8')).toBe('A');
  });

  test('a symlink to a forbidden directory does not lead around the rule, for a push or a pull', async () => {
    const secret = tree({ 'passwd.txt': 'root:x' });
    const root = tree({ 'open.txt': 'open' });
    fs.symlinkSync(secret, path.join(root, 'door'));
    const { launcher } = await policyServer({ forbiddenDirs: [secret] });
    const src = tree({ 'a.txt': 'A' });
    const push = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(root, 'door', 'planted.txt')), launcher });
    expectPolicyError(push.error, 'forbidden_dirs', secret);
    expect(fs.readdirSync(secret)).toEqual(['passwd.txt']);
    const dest = temp.make('fcp-policy-dest');
    const pull = await attempt({ sources: [remote(path.join(root, 'door', 'passwd.txt'))], destination: path.join(dest, 'x'), launcher });
    expectPolicyError(pull.error, 'forbidden_dirs', secret);
    expect(fs.readdirSync(dest)).toEqual([]);
    const allowed = await attempt({ sources: [remote(path.join(root, 'open.txt'))], destination: path.join(dest, 'open.txt'), launcher });
    expect(allowed.error).toBeUndefined();
    expect(fs.readFileSync(path.join(dest, 'open.txt'), 'utf8')).toBe('open');
  });
});

describe('modules', () => {
  test('a symlink inside a module pointing out of it is refused, named or met in a tree with -L', async () => {
    const outside = tree({ 'private.txt': 'private' });
    const root = tree({ 'pub/in.txt': 'in' });
    fs.symlinkSync(outside, path.join(root, 'pub', 'out'));
    const { launcher } = await policyServer({ modules: [{ name: 'data', path: path.join(root, 'pub'), readOnly: false }] });
    const dest = temp.make('fcp-policy-dest');
    const named = await attempt({ sources: [remote(path.join(root, 'pub', 'out', 'private.txt'))], destination: path.join(dest, 'p.txt'), launcher });
    expectPolicyError(named.error, 'modules', path.join(outside, 'private.txt'));
    const walked = await attempt({ sources: [remote(path.join(root, 'pub'))], destination: dest, recursive: true, followSymlinks: true, launcher });
    expect(fs.readFileSync(path.join(dest, 'pub', 'in.txt'), 'utf8')).toBe('in');
    expect(fs.existsSync(path.join(dest, 'pub', 'out'))).toBe(false);
    expectPolicyError(walked.summary!.errors[0], 'modules', outside);
    // Without -L the link is sent as a link: its target's content never is.
    const links = temp.make('fcp-policy-dest');
    const asLink = await attempt({ sources: [remote(path.join(root, 'pub'))], destination: links, recursive: true, launcher });
    expect(asLink.summary!.errors).toEqual([]);
    expect(fs.readlinkSync(path.join(links, 'pub', 'out'))).toBe(outside);
    // A push through the link is refused, and nothing lands outside.
    const src = tree({ 'a.txt': 'A' });
    const push = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(root, 'pub', 'out', 'a.txt')), launcher });
    expectPolicyError(push.error, 'modules', outside);
    expect(fs.readdirSync(outside)).toEqual(['private.txt']);
  });

  test('a read-only module serves pulls and refuses a push before creating anything', async () => {
    const root = tree({ 'doc.txt': 'doc' });
    const { launcher, log } = await policyServer({ modules: [{ name: 'pub', path: root, readOnly: true }] });
    const src = tree({ 'a.txt': 'A' });
    const push = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(root, 'a.txt')), launcher });
    expectPolicyError(push.error, 'read_only', 'module pub');
    expect(fs.readdirSync(root)).toEqual(['doc.txt']);
    expect(log.some((line) => line.includes('read_only'))).toBe(true);
    const dest = temp.make('fcp-policy-dest');
    const pull = await attempt({ sources: [remote(path.join(root, 'doc.txt'))], destination: path.join(dest, 'doc.txt'), launcher });
    expect(pull.error).toBeUndefined();
    expect(fs.readFileSync(path.join(dest, 'doc.txt'), 'utf8')).toBe('doc');
  });
});

/** Whether this host can listen on ::1 (containers without IPv6 cannot). */
function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(0, '::1', () => probe.close(() => resolve(true)));
  });
}

describe('allowed_hosts', () => {
  const pushOver = async (allowedHosts: string[], bind: string) => {
    const { launcher, log } = await policyServer({ allowedHosts }, bind);
    const src = tree({ 'a.txt': 'A' });
    const dest = temp.make('fcp-policy-dest');
    const outcome = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(dest, 'a.txt')), launcher });
    return { ...outcome, log, written: fs.existsSync(path.join(dest, 'a.txt')) };
  };

  test('IPv4 loopback: allowed by 127.0.0.0/8, refused by 10.0.0.0/8 and ::1/128', async () => {
    const allowed = await pushOver(['10.0.0.0/8', '127.0.0.0/8'], '127.0.0.1');
    expect([allowed.error, allowed.written]).toEqual([undefined, true]);
    const refused = await pushOver(['10.0.0.0/8', '::1/128'], '127.0.0.1');
    expectPolicyError(refused.error, 'allowed_hosts', '127.0.0.1 is not in 10.0.0.0/8, ::1/128');
    expect(refused.written).toBe(false);
    expect(refused.log.some((line) => line.includes('refused client 127.0.0.1') && line.includes('allowed_hosts'))).toBe(true);
  });

  test('IPv6 loopback: allowed by ::1/128, refused by 127.0.0.0/8 and fd00::/8', async () => {
    if (!(await ipv6Loopback())) return console.warn('no IPv6 loopback here: the IPv6 case is not run');
    const allowed = await pushOver(['::1/128'], '::1');
    expect([allowed.error, allowed.written]).toEqual([undefined, true]);
    const refused = await pushOver(['127.0.0.0/8', 'fd00::/8'], '::1');
    expectPolicyError(refused.error, 'allowed_hosts', '::1 is not in 127.0.0.0/8, fd00::/8');
    expect(refused.written).toBe(false);
  });
});

describe('limits', () => {
  const BIG = 3 * 1024 * 1024;

  test('max_sessions: a second session while one runs is refused, the first completes', async () => {
    const { server, launcher } = await policyServer({ maxSessions: 1 });
    const src = tree({ 'small.txt': 'small' });
    fs.writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(BIG, 1));
    const dest = temp.make('fcp-policy-dest');
    // The first copy is held to 1 MiB/s, so that it is still running when the second starts.
    const first = attempt({ sources: [path.join(src, 'big.bin')], destination: remote(path.join(dest, 'big.bin')), bwlimit: 1024 * 1024, launcher });
    for (const deadline = Date.now() + 10_000; server.activeSessions === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    expect(server.activeSessions).toBe(1);
    const second = await attempt({ sources: [path.join(src, 'small.txt')], destination: remote(path.join(dest, 'small.txt')), launcher });
    expectPolicyError(second.error, 'max_sessions', 'at most 1 sessions');
    expect(fs.existsSync(path.join(dest, 'small.txt'))).toBe(false);
    expect((await first).error).toBeUndefined();
    expect(fs.statSync(path.join(dest, 'big.bin')).size).toBe(BIG);
    const third = await attempt({ sources: [path.join(src, 'small.txt')], destination: remote(path.join(dest, 'small.txt')), launcher });
    expect(third.error).toBeUndefined();
  });

  test('max_connections_per_session lowers what the client offered, and says so', async () => {
    const { launcher, log } = await policyServer({ maxConnectionsPerSession: 2 });
    const src = tree({ 'a.txt': 'A' });
    const dest = temp.make('fcp-policy-dest');
    const { summary } = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(dest, 'a.txt')), connections: 8, launcher });
    expect(summary!.connections).toBe(2);
    expect(log.some((line) => line.includes('max_connections_per_session is 2'))).toBe(true);
  });

  test('max_connections_per_address: a session needing more connections than allowed is refused; within it, copied', async () => {
    const { launcher } = await policyServer({ maxConnectionsPerAddress: 3 });
    const src = tree({ 'a.txt': 'A' });
    fs.writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(BIG, 2));
    const dest = temp.make('fcp-policy-dest');
    const within = await attempt({ sources: [path.join(src, 'a.txt')], destination: remote(path.join(dest, 'a.txt')), connections: 2, launcher });
    expect(within.error).toBeUndefined();
    const beyond = await attempt({ sources: [path.join(src, 'big.bin')], destination: remote(path.join(dest, 'big.bin')), connections: 4, launcher });
    expectPolicyError(beyond.error, 'max_connections_per_address', '127.0.0.1');
    expect(fs.existsSync(path.join(dest, 'big.bin'))).toBe(false);
  });

  test('bwlimit and bwlimit_total: a limited session still copies every byte', async () => {
    const { launcher } = await policyServer({ bwlimit: 4 * 1024 * 1024, bwlimitTotal: 8 * 1024 * 1024 });
    const src = tree({});
    fs.writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(BIG, 3));
    const dest = temp.make('fcp-policy-dest');
    const { summary } = await attempt({ sources: [path.join(src, 'big.bin')], destination: remote(path.join(dest, 'big.bin')), launcher });
    expect(summary!.errors).toEqual([]);
    expect(fs.readFileSync(path.join(dest, 'big.bin')).equals(fs.readFileSync(path.join(src, 'big.bin')))).toBe(true);
  });
});
