/**
 * What a new user types (issue 13): `~` and `~user` in remote paths, remote patterns expanded by
 * fcpd without a shell, symlinks named on the command line, and names that are not UTF-8 given as
 * arguments, each against the test sshd and, where fcp means to behave like scp, next to scp run
 * on the same input.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childEnv, expectExit, expectFailure, FCP, killAll, Run, runFcp, show, tempDir, unique } from './harness';
import { aliasLogin, Sshd, startSshd } from './sshd';

jest.setTimeout(90_000);

let sshd: Sshd;
let home: string;
let work: string;
let env: NodeJS.ProcessEnv;
/** sshd starts the session in the user's home from the password database. */
const remoteHome = os.userInfo().homedir;
const inRemoteHome: string[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  home = tempDir('paths-home');
  work = tempDir('paths-work');
  env = childEnv(home);
});

afterAll(async () => {
  killAll();
  await sshd?.stop();
  for (const dir of [home, work, ...inRemoteHome]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const viaAlias = (): string[] => aliasLogin(sshd);
const at = (p: string): string => `${sshd.alias}:${p}`;

/** A fresh directory in the remote user's home, removed at the end; its name. */
function homeDir(label: string): string {
  const name = unique(label);
  fs.mkdirSync(path.join(remoteHome, name));
  inRemoteHome.push(path.join(remoteHome, name));
  return name;
}

function freshDir(label: string): string {
  const dir = path.join(work, unique(label));
  fs.mkdirSync(dir);
  return dir;
}

/**
 * A command run through sh, with `@BAD@` in an argument replaced by the bytes `bad\xff.bin`:
 * spawn passes arguments as UTF-8 text, which cannot hold that byte; printf in a shell can.
 */
function runRaw(command: string[], cwd = work): Run {
  const script = `bad=$(printf 'bad\\377.bin'); for a; do shift; case $a in *@BAD@*) a="\${a%%@BAD@*}$bad\${a#*@BAD@}";; esac; set -- "$@" "$a"; done; exec "$@"`;
  const started = Date.now();
  const result = spawnSync('/bin/sh', ['-c', script, 'sh', ...command], { cwd, env: { ...process.env, ...env }, timeout: 45_000, encoding: 'utf8' });
  return {
    args: command,
    code: result.status,
    signal: result.signal,
    stdout: result.stdout,
    stderr: result.stderr,
    timedOut: result.error !== undefined,
    ms: Date.now() - started,
  };
}

const fcpRaw = (args: string[], cwd?: string): Run => runRaw([process.execPath, FCP, ...viaAlias(), ...args], cwd);
const scp = (args: string[], cwd?: string): Run => runRaw(['scp', '-q', '-F', sshd.sshConfig, ...args], cwd);

/** Names in a directory, sorted, with bytes that are not UTF-8 kept as latin1 escapes. */
const names = (dir: string): string[] =>
  fs
    .readdirSync(dir, { encoding: 'buffer' })
    .map((name) => name.toString('latin1'))
    .sort();

describe('~ and ~user in remote paths mean the home directory (as in scp)', () => {
  test('host:~/dir/ as a destination, then host:~/dir/f as a source; scp agrees', async () => {
    const dir = homeDir('tilde');
    const local = path.join(freshDir('tilde-src'), 'f.txt');
    fs.writeFileSync(local, 'to the home\n');
    expectExit(await runFcp([...viaAlias(), local, at(`~/${dir}/`)], { env }), 0);
    expect(fs.readFileSync(path.join(remoteHome, dir, 'f.txt'), 'utf8')).toBe('to the home\n');

    const down = freshDir('tilde-down');
    expectExit(await runFcp([...viaAlias(), at(`~/${dir}/f.txt`), down], { env }), 0);
    const byScp = freshDir('tilde-scp');
    expectExit(scp([at(`~/${dir}/f.txt`), byScp]), 0);
    expect(names(down)).toEqual(names(byScp));
    expect(fs.readFileSync(path.join(down, 'f.txt'), 'utf8')).toBe('to the home\n');
  });

  test('host:~ as a destination puts the file in the home directory, not in a file named ~', async () => {
    const name = `${unique('tilde-alone')}.txt`;
    const local = path.join(freshDir('tilde-alone'), name);
    fs.writeFileSync(local, 'home\n');
    inRemoteHome.push(path.join(remoteHome, name), path.join(remoteHome, '~'));
    expectExit(await runFcp([...viaAlias(), local, at('~')], { env }), 0);
    expect(fs.readFileSync(path.join(remoteHome, name), 'utf8')).toBe('home\n');
    expect(fs.existsSync(path.join(remoteHome, '~'))).toBe(false);
  });

  test('host:~user/... is that user’s home; an unknown user is FCP_ERR_NOT_FOUND', async () => {
    const dir = homeDir('tilde-user');
    fs.writeFileSync(path.join(remoteHome, dir, 'u.txt'), 'user home\n');
    const down = freshDir('tilde-user-down');
    expectExit(await runFcp([...viaAlias(), at(`~${sshd.user}/${dir}/u.txt`), down], { env }), 0);
    expect(fs.readFileSync(path.join(down, 'u.txt'), 'utf8')).toBe('user home\n');

    const unknown = await runFcp([...viaAlias(), at('~no-such-user-fcp/x'), down], { env });
    expectFailure(unknown, 4, 'FCP_ERR_NOT_FOUND', /no-such-user-fcp: no such user/);
  });
});

describe('remote patterns are expanded by fcpd, without a shell', () => {
  /** Names that a shell would run: none of them may. */
  const HOSTILE = ['$(touch PWNED1).txt', '`touch PWNED2`.txt', 'x;touch PWNED3;.txt'];

  function patternSource(): { dir: string; abs: string } {
    const dir = homeDir('glob');
    const abs = path.join(remoteHome, dir);
    for (const name of ['a.txt', 'b.txt', 'c.md', '.hidden.txt', ...HOSTILE]) fs.writeFileSync(path.join(abs, name), `${name}\n`);
    fs.mkdirSync(path.join(abs, 'sub.txt'));
    fs.writeFileSync(path.join(abs, 'sub.txt', 'inner'), 'inner\n');
    return { dir, abs };
  }

  test('host:dir/*.txt copies every match but hidden files and (without -r) directories, as scp does; no name runs', async () => {
    const { dir, abs } = patternSource();
    const down = freshDir('glob-down');
    const run = await runFcp([...viaAlias(), at(`${dir}/*.txt`), down], { env, cwd: work });
    // sub.txt matches too and is a directory: refused without -r, as scp says "not a regular file".
    expectFailure(run, 4, 'FCP_ERR_IS_DIRECTORY', /sub\.txt/);
    const files = freshDir('glob-files');
    expectExit(await runFcp([...viaAlias(), at(`${abs}/[a-b$\`x]*.txt`), files], { env, cwd: work }), 0);
    const byScp = freshDir('glob-scp');
    expectExit(scp([at(`${abs}/[a-b$\`x]*.txt`), byScp]), 0);
    expect(names(files)).toEqual(['$(touch PWNED1).txt', '`touch PWNED2`.txt', 'a.txt', 'b.txt', 'x;touch PWNED3;.txt']);
    expect(names(files)).toEqual(names(byScp));
    for (const name of names(files)) expect(fs.readFileSync(path.join(files, name), 'utf8')).toBe(`${name}\n`);
    for (const where of [work, remoteHome, abs, files]) for (const pwned of ['PWNED1', 'PWNED2', 'PWNED3']) expect(fs.existsSync(path.join(where, pwned))).toBe(false);
  });

  test('-r host:~/dir/?ub.* and host:dir/.h* copy the directory and the hidden file they name', async () => {
    const { dir } = patternSource();
    const down = freshDir('glob-r');
    expectExit(await runFcp([...viaAlias(), '-r', at(`~/${dir}/?ub.*`), at(`${dir}/.h*`), down], { env }), 0);
    expect(names(down)).toEqual(['.hidden.txt', 'sub.txt']);
    expect(fs.readFileSync(path.join(down, 'sub.txt', 'inner'), 'utf8')).toBe('inner\n');
  });

  test('a pattern that matches nothing is FCP_ERR_NOT_FOUND naming it; so is it for scp', async () => {
    const { dir } = patternSource();
    const down = freshDir('glob-none');
    const run = await runFcp([...viaAlias(), at(`${dir}/*.none`), down], { env });
    expectFailure(run, 4, 'FCP_ERR_NOT_FOUND', /\*\.none: no match/);
    expect(scp([at(`${dir}/*.none`), down]).code).not.toBe(0);
    expect(names(down)).toEqual([]);
  });

  test('a pattern needs an existing directory as destination (it may match several)', async () => {
    const { dir } = patternSource();
    const run = await runFcp([...viaAlias(), at(`${dir}/a*.txt`), path.join(work, unique('no-such'))], { env });
    expectFailure(run, 4, 'FCP_ERR_NOT_DIRECTORY', /existing directory/);
  });
});

describe('symlinks named on the command line are followed (as scp and cp -H); links inside trees stay links', () => {
  test('a relative link to a file arrives as the file, as with scp', async () => {
    const src = freshDir('link-src');
    fs.writeFileSync(path.join(src, 'real.txt'), 'real\n');
    fs.symlinkSync('real.txt', path.join(src, 'rel-link'));
    const dest = homeDir('link-dest');
    expectExit(await runFcp([...viaAlias(), path.join(src, 'rel-link'), at(`${dest}/`)], { env }), 0);
    const got = path.join(remoteHome, dest, 'rel-link');
    expect(fs.lstatSync(got).isFile()).toBe(true);
    expect(fs.readFileSync(got, 'utf8')).toBe('real\n');
    const byScp = freshDir('link-scp');
    expectExit(scp([path.join(src, 'rel-link'), byScp]), 0);
    expect(fs.lstatSync(path.join(byScp, 'rel-link')).isFile()).toBe(true);
  });

  test('-r through a link to a directory copies the tree, its own links kept as links', async () => {
    const src = freshDir('linkdir-src');
    fs.mkdirSync(path.join(src, 'tree'));
    fs.writeFileSync(path.join(src, 'tree', 'a'), 'a\n');
    fs.symlinkSync('a', path.join(src, 'tree', 'inner-link'));
    fs.symlinkSync('tree', path.join(src, 'linkdir'));
    const dest = homeDir('linkdir-dest');
    expectExit(await runFcp([...viaAlias(), '-r', path.join(src, 'linkdir'), at(dest)], { env }), 0);
    const got = path.join(remoteHome, dest, 'linkdir');
    expect(fs.lstatSync(got).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(got, 'a'), 'utf8')).toBe('a\n');
    expect(fs.readlinkSync(path.join(got, 'inner-link'))).toBe('a');

    // The same for a pull of a remote link to a directory.
    const down = freshDir('linkdir-down');
    fs.symlinkSync(path.join(src, 'tree'), path.join(remoteHome, dest, 'remote-link'));
    expectExit(await runFcp([...viaAlias(), '-r', at(`${dest}/remote-link`), down], { env }), 0);
    expect(fs.lstatSync(path.join(down, 'remote-link')).isDirectory()).toBe(true);
    expect(fs.readlinkSync(path.join(down, 'remote-link', 'inner-link'))).toBe('a');
  });
});

describe('a name that is not UTF-8 given as an argument names its file (README: any name survives)', () => {
  test('push, pull and a local copy of bad\\xff.bin keep the byte', () => {
    const src = freshDir('raw-src');
    const badName = Buffer.from('bad\xff.bin', 'latin1');
    fs.writeFileSync(Buffer.concat([Buffer.from(`${src}/`), badName]), 'raw\n');
    const dest = homeDir('raw-dest');
    const up = fcpRaw([`${src}/@BAD@`, at(`${dest}/`)]);
    if (up.code !== 0) throw new Error(show(up));
    expect(names(path.join(remoteHome, dest))).toEqual(['bad\xff.bin']);

    const down = freshDir('raw-down');
    const pull = fcpRaw([at(`${dest}/@BAD@`), `${down}/`]);
    if (pull.code !== 0) throw new Error(show(pull));
    const local = freshDir('raw-local');
    const copy = runRaw([process.execPath, FCP, '@BAD@', local], src);
    if (copy.code !== 0) throw new Error(show(copy));
    const byScp = freshDir('raw-scp');
    expectExit(scp([at(`${dest}/@BAD@`), byScp]), 0);
    for (const dir of [down, local, byScp]) {
      expect(names(dir)).toEqual(['bad\xff.bin']);
      expect(fs.readFileSync(Buffer.concat([Buffer.from(`${dir}/`), badName]), 'utf8')).toBe('raw\n');
    }
  });
});
