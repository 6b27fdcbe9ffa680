/** Daemon access's secrets files: owner-only, their line formats, which line a host takes; tokens and login keys. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clientSecretFor, readUsersFile } from '../../../src/config/secretFiles';
import { FcpError } from '../../../src/errors';
import { loginKeyOf, newToken, parseLoginKey, parseToken, showLoginKey } from '../../../src/protocol/tokens';

let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-secrets-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string, mode = 0o600): string {
  const where = path.join(dir, name);
  fs.writeFileSync(where, text);
  fs.chmodSync(where, mode);
  return where;
}

function failure(run: () => unknown): FcpError {
  try {
    run();
  } catch (err) {
    return err as FcpError;
  }
  throw new Error('expected a failure');
}

const token = newToken();
const key = showLoginKey(loginKeyOf(parseToken(token)!));

test('a token reads back as its bytes; its login key is one way and the same every time', () => {
  expect(token).toMatch(/^fcpt1_[A-Za-z0-9_-]{43}$/);
  expect(parseToken(token)).toHaveLength(32);
  expect(newToken()).not.toBe(token);
  expect(parseLoginKey(key)).toEqual(loginKeyOf(parseToken(token)!));
  expect(parseLoginKey(key)).not.toEqual(parseToken(token));
  expect(parseToken(key)).toBeUndefined();
  expect(parseToken(`${token}x`)).toBeUndefined();
});

test("the client's line: HOST:PORT before HOST, a named user's own line, the first that matches", () => {
  const secrets = file('secrets', `# comment\n\nexample.org:7600 bob ${token}\nexample.org alice ${token}\n[::1]:7523 carol ${token}\n`);
  expect(clientSecretFor(secrets, 'example.org', 7600).user).toBe('bob');
  expect(clientSecretFor(secrets, 'example.org', 7523).user).toBe('alice');
  expect(clientSecretFor(secrets, 'example.org', 7600, 'alice').user).toBe('alice');
  expect(clientSecretFor(secrets, '::1', 7523).token).toEqual(parseToken(token));
  const missing = failure(() => clientSecretFor(secrets, 'example.org', 7600, 'dave'));
  expect(missing.code).toBe('FCP_ERR_SECRETS');
  expect(missing.message).toContain('no token for dave@example.org:7600');
});

test('a secrets file others may read, or a malformed line, is refused naming the file and what to do', () => {
  const open = failure(() => clientSecretFor(file('open', `h u ${token}\n`, 0o640), 'h', 7523));
  expect(open.code).toBe('FCP_ERR_SECRETS');
  expect(open.message).toMatch(/mode 0640 lets others read it/);
  expect(open.hint).toMatch(/^chmod 600 /);
  const bad = failure(() => clientSecretFor(file('bad', `h u not-a-token\n`), 'h', 7523));
  expect(bad.message).toMatch(/bad: line 1: expected HOST\[:PORT\] USER TOKEN/);
  expect(failure(() => clientSecretFor(path.join(dir, 'absent'), 'h', 7523)).code).toBe('FCP_ERR_SECRETS');
});

test("fcpd's users file: users with their keys and modules; unknown modules, doubled users and open files refused", () => {
  const users = readUsersFile(file('users', `alice ${key} pub,ro\nbob ${key} pub\n`), ['pub', 'ro']);
  expect(users.get('alice')).toEqual({ key: parseLoginKey(key), modules: ['pub', 'ro'] });
  expect([...users.keys()]).toEqual(['alice', 'bob']);
  expect(failure(() => readUsersFile(file('u2', `alice ${key} pub,nope\n`), ['pub'])).message).toMatch(/line 1: module nope is not in fcpd.toml/);
  expect(failure(() => readUsersFile(file('u3', `alice ${key} pub\nalice ${key} pub\n`), ['pub'])).message).toMatch(/line 2: user alice has a line already/);
  expect(failure(() => readUsersFile(file('u4', `alice ${token} pub\n`), ['pub'])).message).toMatch(/expected USER LOGIN_KEY/);
  expect(failure(() => readUsersFile(file('u5', `alice ${key} pub\n`, 0o604), ['pub'])).code).toBe('FCP_ERR_SECRETS');
});
