import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { RemoteHasher } from '../../../src/sftp/remoteHasher';
import type { SshConnection } from '../../../src/ssh/sshClient';

/** An SSH connection whose exec runs the command in this machine's sh, counting the execs. */
function localShell(): { ssh: SshConnection; commands: string[] } {
  const commands: string[] = [];
  const exec = async (command: string) => {
    commands.push(command);
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const channel = Object.assign(new EventEmitter(), { stderr: new PassThrough(), end: () => undefined, close: () => child.kill() });
    child.stdout.on('data', (chunk: Buffer) => channel.emit('data', chunk));
    child.stderr.pipe(channel.stderr);
    child.on('close', (code) => {
      channel.emit('exit', code);
      channel.emit('close');
    });
    return channel;
  };
  return { ssh: { name: 'testhost', exec } as unknown as SshConnection, commands };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('RemoteHasher', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-hasher-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('files asked for together share execs, and each gets its own digest whatever its name', async () => {
    const names = ["plain", "with space", "it's", 'new\nline', '$(touch pwned)', '-n', 'back\\slash'];
    const files = names.map((name, i) => {
      const file = path.join(dir, name);
      const bytes = Buffer.from(`content ${i} `.repeat(i * 100 + 1));
      fs.writeFileSync(file, bytes);
      return { file, bytes };
    });
    const { ssh, commands } = localShell();
    const hasher = new RemoteHasher(ssh, 'sha256');
    const digests = await Promise.all(files.map(({ file, bytes }) => hasher.hash(file, bytes.length)));
    expect(digests).toEqual(files.map(({ bytes }) => sha256(bytes)));
    // The first request starts an exec at once; the rest wait for it and go together.
    expect(commands.length).toBe(2);
    expect(fs.existsSync(path.join(dir, 'pwned'))).toBe(false);
  });

  test('an unreadable file fails alone with FCP_ERR_VERIFY naming it; the others in its batch succeed', async () => {
    const good = path.join(dir, 'good');
    fs.writeFileSync(good, 'x');
    const { ssh } = localShell();
    const hasher = new RemoteHasher(ssh, 'md5');
    const results = await Promise.allSettled([hasher.hash(good, 1), hasher.hash(path.join(dir, 'missing'), 1), hasher.hash(good, 1)]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[0] as PromiseFulfilledResult<string>).value).toBe(createHash('md5').update('x').digest('hex'));
    const error = (results[1] as PromiseRejectedResult).reason as { code: string; message: string };
    expect(error.code).toBe('FCP_ERR_VERIFY');
    expect(error.message).toContain('missing');
    expect(error.message).toContain('testhost');
  });

  test('more files than one batch holds are split over several execs', async () => {
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, 'abc');
    const { ssh, commands } = localShell();
    const hasher = new RemoteHasher(ssh, 'sha256');
    const digests = await Promise.all(Array.from({ length: 600 }, () => hasher.hash(file, 3)));
    expect(new Set(digests)).toEqual(new Set([sha256(Buffer.from('abc'))]));
    // 1 at once, then the 599 waiting in batches of at most 256.
    expect(commands.length).toBe(4);
  });
});
