import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { localHash } from '../../../src/sftp/cksum';
import { MAX_BATCH_FILES, RemoteHasher } from '../../../src/sftp/remoteHasher';
import { RemoteShell } from '../../../src/sftp/remoteShell';
import { HASH_TOOLS, remoteHash, RemoteHashTool } from '../../../src/sftp/verification';
import { localConnection } from './localShell';
import type { SshConnection } from '../../../src/ssh/sshClient';

/**
 * A RemoteShell over an SSH connection whose exec runs the command in this machine's sh in `cwd`:
 * `commands` holds what each run wrote to the shell, `execs` the shells started.
 */
const shells: RemoteShell[] = [];
afterEach(() => shells.splice(0).forEach((shell) => shell.close()));

function localShell(cwd?: string): { shell: RemoteShell; commands: string[]; execs: string[] } {
  const { ssh, commands, execs } = localConnection(cwd);
  const shell = new RemoteShell(ssh);
  shells.push(shell);
  return { shell, commands, execs };
}

const tool = (name: string) => HASH_TOOLS.find((candidate) => candidate.name === name)!;
/** Every way of running a tool: one process per batch (-z), and one per file. */
const MODES: [string, RemoteHashTool][] = [
  ['cksum -z', { tool: tool('crc'), zero: true }],
  ['cksum per file', { tool: tool('crc'), zero: false }],
  ['b2sum -z', { tool: tool('blake2b'), zero: true }],
  ['sha256sum -z', { tool: tool('sha256'), zero: true }],
  ['sha256sum per file', { tool: tool('sha256'), zero: false }],
];
function digest(hashTool: RemoteHashTool, bytes: Buffer | string): string {
  const hash = localHash(hashTool.tool.node);
  hash.update(Buffer.from(bytes));
  return hash.digest('hex');
}

describe.each(MODES)('RemoteHasher, %s', (_mode, hashTool) => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-hasher-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('files asked for together share execs, and each gets its own digest whatever its name', async () => {
    const names = ["plain", "with space", "it's", 'new\nline', '$(touch pwned)', '-n', 'back\\slash', '-'];
    const files = names.map((name, i) => {
      const file = path.join(dir, name);
      const bytes = Buffer.from(`content ${i} `.repeat(i * 100 + 1));
      fs.writeFileSync(file, bytes);
      return { file, bytes };
    });
    const { shell, commands, execs } = localShell(dir);
    const hasher = new RemoteHasher(shell, hashTool);
    // Relative names, as SFTP paths are: a lone '-' is a file, not standard input.
    const digests = await Promise.all(names.map((name, i) => hasher.hash(name, files[i]!.bytes.length)));
    expect(digests).toEqual(files.map(({ bytes }) => digest(hashTool, bytes)));
    // Asked for together, they go in one command, in one shell.
    expect(commands.length).toBe(1);
    expect(execs).toEqual(['exec sh']);
    expect(fs.existsSync(path.join(dir, 'pwned'))).toBe(false);
  });

  test('an unreadable file fails alone with FCP_ERR_VERIFY naming it; the others in its batch succeed', async () => {
    const good = path.join(dir, 'good');
    fs.writeFileSync(good, 'x');
    const { shell } = localShell();
    const hasher = new RemoteHasher(shell, hashTool);
    const results = await Promise.allSettled([hasher.hash(good, 1), hasher.hash(good, 1), hasher.hash(path.join(dir, 'missing'), 1), hasher.hash(good, 1)]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    for (const index of [0, 1, 3]) expect((results[index] as PromiseFulfilledResult<string>).value).toBe(digest(hashTool, 'x'));
    const error = (results[2] as PromiseRejectedResult).reason as { code: string; message: string };
    expect(error.code).toBe('FCP_ERR_VERIFY');
    expect(error.message).toContain('missing');
    expect(error.message).toContain('testhost');
  });

  test('more files than one batch holds are split over several execs', async () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'abc');
    const { shell, commands } = localShell();
    const hasher = new RemoteHasher(shell, hashTool);
    const count = (hashTool.zero ? MAX_BATCH_FILES.zero : MAX_BATCH_FILES.perFile) + 100;
    const digests = await Promise.all(Array.from({ length: count }, () => hasher.hash(file, 3)));
    expect(new Set(digests)).toEqual(new Set([digest(hashTool, 'abc')]));
    // A full batch at once, then the 100 left.
    expect(commands.length).toBe(2);
    // 356 processes for the tool that hashes a file per process, on a loaded machine.
  }, 120_000);

  test('long names make smaller batches, so that a command and its output stay small', async () => {
    fs.writeFileSync(path.join(dir, 'f'), 'abc');
    const { shell, commands } = localShell(dir);
    const hasher = new RemoteHasher(shell, hashTool);
    // 1,602 bytes a name: 40 fit in a batch's 64 KiB of names.
    const long = `${'./'.repeat(800)}f`;
    const digests = await Promise.all(Array.from({ length: 100 }, () => hasher.hash(long, 3)));
    expect(new Set(digests)).toEqual(new Set([digest(hashTool, 'abc')]));
    // Batches of 40, 40 and 20.
    expect(commands.length).toBe(3);
    expect(Math.max(...commands.map((command) => command.length))).toBeLessThan(72 * 1024);
  });

  test('files asked for one after another, each after the last one\'s answer, are not held longer than the linger', async () => {
    fs.writeFileSync(path.join(dir, 'f'), 'abc');
    const { shell, commands } = localShell(dir);
    const hasher = new RemoteHasher(shell, hashTool);
    for (let i = 0; i < 3; i++) expect(await hasher.hash('f', 3)).toBe(digest(hashTool, 'abc'));
    expect(commands.length).toBe(3);
  });
});

describe('remoteHash', () => {
  test('the cheapest tool the host runs, with -z when it takes it', async () => {
    const { shell, execs } = localShell();
    expect(await remoteHash(shell, () => undefined)).toEqual({ tool: tool('crc'), zero: true });
    expect(execs).toHaveLength(1);
  });

  test('a server whose sessions run no shell (ForceCommand internal-sftp): sizes alone, said once', async () => {
    // internal-sftp reads the command as a packet length far too large and hangs up.
    const exec = async () => {
      const channel = Object.assign(new EventEmitter(), { stderr: new PassThrough(), write: () => setImmediate(() => channel.emit('close')), close: () => undefined });
      return channel;
    };
    const logged: string[] = [];
    const shell = new RemoteShell({ name: 'sftponly', exec } as unknown as SshConnection);
    expect(await remoteHash(shell, (line) => logged.push(line))).toBeUndefined();
    expect(logged).toEqual([expect.stringMatching(/^sftp: no shell on sftponly \(the shell on sftponly ended during cksum -z\): sizes alone are checked$/)]);
  });
});
