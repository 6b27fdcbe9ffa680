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

/** `run` fails with FCP_ERR_SECRETS, its message matching `message`, and these other fields. */
function expectSecretsError(run: () => unknown, message: RegExp, other: Partial<FcpError> = {}): void {
  expect(run).toThrow(expect.objectContaining({ code: 'FCP_ERR_SECRETS', message: expect.stringMatching(message), ...other }));
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
  expectSecretsError(() => clientSecretFor(secrets, 'example.org', 7600, 'dave'), /no token for dave@example\.org:7600/);
});

test('a secrets file others may read, or a malformed line, is refused naming the file and what to do', () => {
  const open = file('open', `h u ${token}\n`, 0o640);
  expectSecretsError(() => clientSecretFor(open, 'h', 7523), /mode 0640 lets others read it/, { hint: `chmod 600 ${open}` });
  expectSecretsError(() => clientSecretFor(file('bad', `h u not-a-token\n`), 'h', 7523), /bad: line 1: expected HOST\[:PORT\] USER TOKEN/);
  expectSecretsError(() => clientSecretFor(path.join(dir, 'absent'), 'h', 7523), /absent/);
});

test("fcpd's users file: users with their keys and modules; unknown modules, doubled users and open files refused", () => {
  const users = readUsersFile(file('users', `alice ${key} pub,ro\nbob ${key} pub\n`), ['pub', 'ro']);
  expect(users.get('alice')).toEqual({ key: parseLoginKey(key), modules: ['pub', 'ro'] });
  expect([...users.keys()]).toEqual(['alice', 'bob']);
  expectSecretsError(() => readUsersFile(file('u2', `alice ${key} pub,nope\n`), ['pub']), /line 1: module nope is not in fcpd.toml/);
  expectSecretsError(() => readUsersFile(file('u3', `alice ${key} pub\nalice ${key} pub\n`), ['pub']), /line 2: user alice has a line already/);
  expectSecretsError(() => readUsersFile(file('u4', `alice ${token} pub\n`), ['pub']), /expected USER LOGIN_KEY/);
  expectSecretsError(() => readUsersFile(file('u5', `alice ${key} pub\n`, 0o604), ['pub']), /mode 0604/);
});
