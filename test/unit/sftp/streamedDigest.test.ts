/**
 * The streamed digest trusts only a clean run of its loop: the chunk counts fcp feeds reach the
 * remote loop in order and in batches (sent once the channel opens, the rest at the end), a digest line is taken, and a read
 * failure, an exec refused or a shell that printed no digest give none, so the file is hashed again.
 */
import { EventEmitter } from 'node:events';
import type { ClientChannel } from 'ssh2';
import { StreamedDigest } from '../../../src/sftp/streamedDigest';
import type { SshConnection } from '../../../src/ssh/sshClient';
import { HASH_TOOLS } from '../../../src/sftp/verification';

class FakeChannel extends EventEmitter {
  readonly stderr = new EventEmitter();
  readonly written: string[] = [];
  ended = false;
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  close(): void {
    this.emit('close');
  }
}

const tool = { tool: HASH_TOOLS[0]!, zero: true };
const DIGEST = 'ab'.repeat(64);

function connection(channel: FakeChannel | Error): { ssh: SshConnection; opened: () => void; command: () => string } {
  let open: () => void = () => {};
  let command = '';
  const ssh = {
    exec: (text: string) => {
      command = text;
      return channel instanceof Error ? Promise.reject(channel) : new Promise<ClientChannel>((resolve) => (open = () => resolve(channel as unknown as ClientChannel)));
    },
  } as unknown as SshConnection;
  return { ssh, opened: () => open(), command: () => command };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** A stream whose channel opened, nothing fed, its input ended: what the remote side says next decides. */
async function finishedAfterOpening(): Promise<{ channel: FakeChannel; digest: Promise<string | undefined> }> {
  const channel = new FakeChannel();
  const fake = connection(channel);
  const stream = new StreamedDigest(fake.ssh, tool, '/f');
  fake.opened();
  await settle();
  return { channel, digest: stream.finish(1) };
}

describe('StreamedDigest', () => {
  it('sends counts fed before the channel opened, then in batches, the rest at the end, and takes the digest line after its input ends', async () => {
    const channel = new FakeChannel();
    const fake = connection(channel);
    const stream = new StreamedDigest(fake.ssh, tool, "/data/it's here");
    stream.feed(30);
    stream.feed(5);
    expect(fake.command()).toContain(`'/data/it'\\''s here'`);
    fake.opened();
    await settle();
    // Counts go in batches: each starts a process on the remote host.
    stream.feed(4);
    expect(channel.written).toEqual(['35\n']);
    stream.feed(31);
    stream.feed(1);
    expect(channel.written).toEqual(['35\n', '35\n']);
    stream.feed(3);
    const digest = stream.finish(1);
    await settle();
    expect(channel.ended).toBe(true);
    expect(channel.written).toEqual(['35\n', '35\n', '4\n']);
    channel.stderr.emit('data', Buffer.from('bash: pyenv: command not found\n'));
    channel.emit('data', Buffer.from(`${DIGEST}  -\n`));
    channel.emit('close');
    await expect(digest).resolves.toBe(DIGEST);
  });

  it('gives no digest when a read failed, however much else the remote side printed first', async () => {
    const { channel, digest } = await finishedAfterOpening();
    channel.stderr.emit('data', Buffer.from('x'.repeat(5000)));
    channel.stderr.emit('data', Buffer.from('fcp-stream-'));
    channel.stderr.emit('data', Buffer.from('failed\n'));
    channel.emit('data', Buffer.from(`${DIGEST}  -\n`));
    channel.emit('close');
    await expect(digest).resolves.toBeUndefined();
  });

  it('gives no digest when the exec is refused or the output is not a digest line', async () => {
    await expect(new StreamedDigest(connection(new Error('no more sessions')).ssh, tool, '/f').finish(1)).resolves.toBeUndefined();
    const { channel, digest } = await finishedAfterOpening();
    channel.emit('data', Buffer.from('Welcome!\n'));
    channel.emit('data', Buffer.from(`${DIGEST}  -\n`));
    channel.emit('close');
    await expect(digest).resolves.toBeUndefined();
  });
});
