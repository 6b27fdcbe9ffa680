/**
 * One `sh` on the SSH server for the short commands of an SFTP copy (which hash tool there is,
 * the hashes of files), started once and fed a command at a time on its standard input. An exec
 * per command started the user's login shell each time, and its rc files with it: on the bench
 * host (a pyenv-initialising .bashrc) that was over a second of CPU an exec.
 */
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { FcpError } from '../errors';
import type { SshConnection } from '../ssh/sshClient';

export class RemoteShell {
  private channel: Promise<ClientChannel> | undefined;
  /** Commands run one after another: each waits for the one before it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Printed after each command's output, on a line of its own; no file name can guess it. */
  private readonly marker = `fcp-done-${randomBytes(12).toString('hex')}`;

  constructor(private readonly ssh: SshConnection) {}

  get host(): string {
    return this.ssh.name;
  }

  /**
   * The standard output of `command` (its standard input is empty and its standard error dropped),
   * within timeoutMs; `what` names it in errors.
   */
  run(command: string, what: string, timeoutMs: number): Promise<string> {
    const result = this.queue.then(() => this.runNow(command, what, timeoutMs));
    this.queue = result.catch(() => undefined);
    return result;
  }

  close(): void {
    void this.channel?.then((channel) => channel.close()).catch(() => undefined);
    this.channel = undefined;
  }

  private shell(): Promise<ClientChannel> {
    if (!this.channel) {
      const opening = this.ssh.exec('exec sh');
      this.channel = opening;
      void opening.then(
        (channel) => {
          channel.stderr.resume();
          channel.on('close', () => {
            if (this.channel === opening) this.channel = undefined;
          });
        },
        () => {
          if (this.channel === opening) this.channel = undefined;
        },
      );
    }
    return this.channel;
  }

  private async runNow(command: string, what: string, timeoutMs: number): Promise<string> {
    const channel = await this.shell();
    const end = Buffer.from(`\n${this.marker}\n`);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tail = Buffer.alloc(0);
      const finish = (error: FcpError | undefined) => {
        clearTimeout(timer);
        channel.off('data', onData);
        channel.off('close', onClose);
        if (!error) {
          resolve(Buffer.concat(chunks, size).subarray(0, size - end.length).toString('utf8'));
          return;
        }
        this.close();
        reject(error);
      };
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        tail = Buffer.concat([tail, chunk]).subarray(-end.length);
        // The marker comes last: nothing follows it until the next command.
        if (tail.equals(end)) finish(undefined);
      };
      const onClose = () => finish(new FcpError('FCP_ERR_VERIFY', `the shell on ${this.ssh.name} ended during ${what}`));
      const timer = setTimeout(() => finish(new FcpError('FCP_ERR_TIMEOUT', `${this.ssh.name} did not finish ${what} within ${timeoutMs / 1000} s`)), timeoutMs);
      channel.on('data', onData);
      channel.on('close', onClose);
      channel.write(`{ ${command}\n} </dev/null 2>/dev/null\nprintf '\\n%s\\n' '${this.marker}'\n`);
    });
  }
}
