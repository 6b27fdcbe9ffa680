/**
 * Daemon access without SSH (fcp://): a standing `fcpd -d` with users_file in its fcpd.toml, and
 * fcp logging in with a token from its secrets file. Good token: push and pull of a tree; refused:
 * a wrong token, an unknown user, a module the user may not use, a push into a read-only module, a
 * path out of the module, a secrets file others may read. Each refusal as the client reports it
 * and as fcpd logs it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { alive, childEnv, expectExit, expectFailure, expectSameTree, killAll, makeTree, Run, runFcp, runFcpd, tempDir } from './ssh/harness';
import { freePort } from './ssh/sshd';

jest.setTimeout(90_000);

let port: number;
let work: string;
let state: string;
let modules: { pub: string; ro: string; other: string };
let daemonEnv: NodeJS.ProcessEnv;
/** A client environment whose secrets file holds `lines`. */
let clientEnv: (name: string, lines: string[], mode?: number) => NodeJS.ProcessEnv;
let token: string;
let users: string;
const daemonPids = new Set<number>();
const user = os.userInfo().username;

const url = (rest: string, who = ''): string => `fcp://${who}127.0.0.1:${port}/${rest}`;
const daemonLog = (): string => fs.readFileSync(path.join(state, 'fcp', 'fcpd.log'), 'utf8');

beforeAll(async () => {
  work = tempDir('daemon-access');
  state = path.join(work, 'state');
  modules = { pub: path.join(work, 'pub'), ro: path.join(work, 'ro'), other: path.join(work, 'other') };
  for (const dir of Object.values(modules)) fs.mkdirSync(dir);
  fs.writeFileSync(path.join(modules.ro, 'readme.txt'), 'read only\n');
  fs.writeFileSync(path.join(modules.other, 'private.txt'), 'not for alice\n');

  const made = await runFcp(['--new-token'], { env: childEnv(work) });
  expectExit(made, 0);
  token = /^HOST \S+ (fcpt1_\S+)$/m.exec(made.stdout)![1]!;
  const loginKey = /^\S+ (fcpk1_\S+) MODULE/m.exec(made.stdout)![1]!;
  expect(made.stdout).not.toMatch(new RegExp(`${loginKey}.*${token}|${token}.*${loginKey}`));

  users = path.join(work, 'fcpd.users');
  fs.writeFileSync(users, `# user, login key, modules\n${user} ${loginKey} pub,ro\n`, { mode: 0o600 });
  const config = path.join(work, 'fcpd.toml');
  fs.writeFileSync(
    config,
    `users_file = "${users}"\n[modules.pub]\npath = "${modules.pub}"\n[modules.ro]\npath = "${modules.ro}"\nread_only = true\n[modules.other]\npath = "${modules.other}"\n`,
  );
  daemonEnv = childEnv(work, { XDG_STATE_HOME: state, XDG_CONFIG_HOME: path.join(work, 'daemon-config') });
  port = await freePort();
  const start = await runFcpd(['-d', '--port', String(port), '--bind', '127.0.0.1', '--config', config], { env: daemonEnv });
  expectExit(start, 0);
  for (const match of start.stdout.matchAll(/pid (\d+)/g)) daemonPids.add(Number(match[1]));

  clientEnv = (name, lines, mode = 0o600) => {
    const home = path.join(work, `client-${name}`);
    fs.mkdirSync(path.join(home, 'fcp'), { recursive: true });
    fs.writeFileSync(path.join(home, 'fcp', 'secrets'), `${lines.join('\n')}\n`, { mode });
    fs.chmodSync(path.join(home, 'fcp', 'secrets'), mode);
    return childEnv(work, { XDG_CONFIG_HOME: home });
  };
});

afterAll(async () => {
  killAll();
  await runFcpd(['--stop'], { env: daemonEnv });
  for (const pid of daemonPids) if (pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

const fcp = (args: string[], env: NodeJS.ProcessEnv): Promise<Run> => runFcp(args, { env });

test('with a good token a tree goes into a module and comes back: content, modes, mtimes', async () => {
  const env = clientEnv('good', [`127.0.0.1:${port} ${user} ${token}`]);
  const source = path.join(work, 'tree');
  makeTree(source, 'daemon-access');
  const push = await fcp(['-r', source, url('pub/')], env);
  expectExit(push, 0);
  expectSameTree(path.join(modules.pub, 'tree'), source, push);

  const back = path.join(work, 'back');
  const pull = await fcp(['-r', url('pub/tree', `${user}@`), back], env);
  expectExit(pull, 0);
  // rsync's placement: the directory goes under the destination.
  expectSameTree(path.join(back, 'tree'), source, pull);
  expect(daemonLog()).toMatch(new RegExp(`user ${user}: push in module pub`));
});

test('a wrong token and an unknown user are refused alike (FCP_ERR_AUTH), logged with the address and which it was', async () => {
  const wrong = await fcp([url('ro/readme.txt'), path.join(work, 'wrong.txt')], clientEnv('wrong', [`127.0.0.1 ${user} fcpt1_${'A'.repeat(43)}`]));
  expectFailure(wrong, 5, 'FCP_ERR_AUTH', new RegExp(`login as ${user} refused: unknown user or wrong token`));
  const unknown = await fcp([url('ro/readme.txt'), path.join(work, 'unknown.txt')], clientEnv('unknown', [`127.0.0.1 mallory ${token}`]));
  expectFailure(unknown, 5, 'FCP_ERR_AUTH', /login as mallory refused: unknown user or wrong token/);
  expect(fs.existsSync(path.join(work, 'wrong.txt')) || fs.existsSync(path.join(work, 'unknown.txt'))).toBe(false);
  const log = daemonLog();
  expect(log).toMatch(new RegExp(`login of ${user} from client 127\\.0\\.0\\.1:\\d+ refused \\(wrong token\\)`));
  expect(log).toMatch(/login of mallory from client 127\.0\.0\.1:\d+ refused \(unknown user\)/);
});

test('a module the user may not use is refused (FCP_ERR_POLICY) and logged', async () => {
  const env = clientEnv('modules', [`127.0.0.1 ${user} ${token}`]);
  const run = await fcp([url('other/private.txt'), path.join(work, 'private.txt')], env);
  expectFailure(run, 5, 'FCP_ERR_POLICY', new RegExp(`user ${user} may not use module other`));
  expect(fs.existsSync(path.join(work, 'private.txt'))).toBe(false);
  expect(daemonLog()).toMatch(new RegExp(`login of ${user} from client 127\\.0\\.0\\.1:\\d+ refused \\(.*may not use module other`));
});

test('a push into a read-only module is refused; a pull from it is served', async () => {
  const env = clientEnv('ro', [`127.0.0.1 ${user} ${token}`]);
  const file = path.join(work, 'planted.txt');
  fs.writeFileSync(file, 'planted');
  const push = await fcp([file, url('ro/planted.txt')], env);
  expectFailure(push, 5, 'FCP_ERR_POLICY', /read_only/, /module ro/);
  expect(fs.readdirSync(modules.ro)).toEqual(['readme.txt']);
  const pull = await fcp([url('ro/readme.txt'), path.join(work, 'readme.txt')], env);
  expectExit(pull, 0);
  expect(fs.readFileSync(path.join(work, 'readme.txt'), 'utf8')).toBe('read only\n');
});

test('no path leads out of the module: not .., not a symlink into another module', async () => {
  const env = clientEnv('escape', [`127.0.0.1 ${user} ${token}`]);
  const dotdot = await fcp([url('pub/../other/private.txt'), path.join(work, 'dotdot.txt')], env);
  expectFailure(dotdot, 5, 'FCP_ERR_POLICY', /leads out of module pub/);
  fs.symlinkSync(modules.other, path.join(modules.pub, 'door'));
  const viaLink = await fcp([url('pub/door/private.txt'), path.join(work, 'door.txt')], env);
  expectFailure(viaLink, 5, 'FCP_ERR_POLICY', /\(modules\)/, /is in no module/);
  const file = path.join(work, 'planted.txt');
  fs.writeFileSync(file, 'planted');
  const pushThrough = await fcp([file, url('pub/door/planted.txt')], env);
  expectFailure(pushThrough, 5, 'FCP_ERR_POLICY', /\(modules\)/);
  expect(fs.readdirSync(modules.other)).toEqual(['private.txt']);
  expect(fs.existsSync(path.join(work, 'dotdot.txt')) || fs.existsSync(path.join(work, 'door.txt'))).toBe(false);
});

test('a secrets file others may read is refused before anything is sent (FCP_ERR_SECRETS)', async () => {
  const env = clientEnv('open', [`127.0.0.1 ${user} ${token}`], 0o644);
  const run = await fcp([url('ro/readme.txt'), path.join(work, 'open.txt')], env);
  expectFailure(run, 5, 'FCP_ERR_SECRETS', /mode 0644 lets others read it/, /chmod 600/);
  expect(fs.existsSync(path.join(work, 'open.txt'))).toBe(false);
  const none = await fcp([url('ro/readme.txt'), path.join(work, 'open.txt')], clientEnv('elsewhere', [`example.org ${user} ${token}`]));
  expectFailure(none, 5, 'FCP_ERR_SECRETS', new RegExp(`no token for 127\\.0\\.0\\.1:${port}`));
});
