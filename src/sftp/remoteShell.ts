/**
 * `sh` on the SSH server for the commands of an SFTP copy (which hash tool there is, the hashes
 * of files, the digests streamed while files are written), each shell started once and fed a
 * command at a time on its standard input. An exec per command started the user's login shell
 * each time, and its rc files with it: on the bench host (a pyenv-initialising .bashrc) that was
 * over a second of CPU an exec. A command that reads the copy's lines as it goes (a stream) holds
 * its shell until it ends; the pool (ShellPool) then runs the others in another.
 */
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { FcpError } from '../errors';
import type { SshConnection } from '../ssh/sshClient';

/** Runs short commands on the remote host: a shell, or a pool of them. */
export interface ShellRunner {
  readonly host: string;
  /**
   * The standard output of `command` (its standard input is empty and its standard error dropped),
   * within timeoutMs; `what` names it in errors.
   */
  run(command: string, what: string, timeoutMs: number): Promise<string>;
}

/** A command that reads lines from the copy as it goes. */
export interface ShellStream {
  /** Writes a line (without its newline) to the command's standard input. */
  send(line: string): void;
  /** Its standard output and error, once it ends. */
  readonly output: Promise<string>;
  /** Ends it where it is, and its shell with it. */
  abort(): void;
}

export class RemoteShell implements ShellRunner {
  private channel: Promise<ClientChannel> | undefined;
  /** Commands run one after another: each waits for the one before it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Commands queued or running: the pool gives a stream only a shell with none. */
  pending = 0;
  /** Whether a stream holds the shell until it ends. */
  streaming = false;
  /** Printed after each command's output, on a line of its own; no file name can guess it. */
  private readonly marker = `fcp-done-${randomBytes(12).toString('hex')}`;
  /** What a stream prints first, once the shell runs it. */
  private readonly ready = `fcp-ready-${randomBytes(12).toString('hex')}`;

  constructor(private readonly ssh: SshConnection) {}

  get host(): string {
    return this.ssh.name;
  }

  run(command: string, what: string, timeoutMs: number): Promise<string> {
    return this.enqueue(() => this.runNow(`{ ${command}\n} </dev/null 2>/dev/null\nprintf '\\n%s\\n' '${this.marker}'\n`, what, timeoutMs));
  }

  /**
   * Runs `command` with the shell's standard input as its own and its standard error joined to its
   * output. It must stop reading at a line the copy sends to end it (the shell reads the next
   * command after that line), and has no deadline of its own: whoever ends it waits with one.
   */
  stream(command: string, what: string): ShellStream {
    this.streaming = true;
    // Lines go to the channel the command runs in, once it runs, and only while it does: the
    // shell reads its input ahead while it parses, so a line sent with the command would be the
    // shell's, not the command's. The group says when it runs; the marker's printf is on its
    // closing line, so that the shell has read that too by then.
    let running: ClientChannel | undefined;
    let started: (channel: ClientChannel) => void = () => undefined;
    const writing = new Promise<ClientChannel>((resolve) => (started = resolve));
    const script = `{ echo '${this.ready}'; ${command}\n} 2>&1; printf '\\n%s\\n' '${this.marker}'\n`;
    const output = this.enqueue(() => this.runNow(script, what, undefined, started)).finally(() => {
      this.streaming = false;
      running = undefined;
    });
    output.catch(() => undefined);
    void writing.then((channel) => (running = channel));
    return {
      send: (line) => void writing.then(() => running?.write(`${line}\n`)),
      output,
      abort: () => this.close(),
    };
  }

  close(): void {
    void this.channel?.then((channel) => channel.close()).catch(() => undefined);
    this.channel = undefined;
  }

  private enqueue(command: () => Promise<string>): Promise<string> {
    this.pending++;
    const result = this.queue.then(command).finally(() => this.pending--);
    this.queue = result.catch(() => undefined);
    return result;
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

  /**
   * Writes `script` (a command and the marker's printf) and collects the output up to the marker;
   * `running` is told when a stream's ready line has come (and that line is not output).
   */
  private async runNow(script: string, what: string, timeoutMs: number | undefined, running?: (channel: ClientChannel) => void): Promise<string> {
    const channel = await this.shell();
    const end = Buffer.from(`\n${this.marker}\n`);
    const ready = running && Buffer.from(`${this.ready}\n`);
    let readyAt = 0;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let tail = Buffer.alloc(0);
      const finish = (error: FcpError | undefined) => {
        clearTimeout(timer);
        channel.off('data', onData);
        channel.off('close', onClose);
        if (!error) {
          resolve(Buffer.concat(chunks, size).subarray(readyAt, size - end.length).toString('utf8'));
          return;
        }
        this.close();
        reject(error);
      };
      const onData = (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        tail = Buffer.concat([tail, chunk]).subarray(-end.length);
        if (ready && readyAt === 0 && size >= ready.length && Buffer.concat(chunks, size).subarray(0, ready.length).equals(ready)) {
          readyAt = ready.length;
          running!(channel);
        }
        // The marker comes last: nothing follows it until the next command.
        if (tail.equals(end)) finish(undefined);
      };
      const onClose = () => finish(new FcpError('FCP_ERR_VERIFY', `the shell on ${this.ssh.name} ended during ${what}`));
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => finish(new FcpError('FCP_ERR_TIMEOUT', `${this.ssh.name} did not finish ${what} within ${timeoutMs / 1000} s`)), timeoutMs);
      channel.on('data', onData);
      channel.on('close', onClose);
      channel.write(script);
    });
  }
}

/**
 * The shells of a copy: commands go to one a stream does not hold, and a stream takes a shell
 * nothing else waits for; a new shell is started only when there is none such, on the copy's SSH
 * connections in turn (a connection has a limited number of channels).
 */
export class ShellPool implements ShellRunner {
  private readonly shells: RemoteShell[] = [];
  private turn = 0;

  constructor(private readonly connections: SshConnection[]) {}

  get host(): string {
    return this.connections[0]!.name;
  }

  run(command: string, what: string, timeoutMs: number): Promise<string> {
    const shell = this.shells.find((candidate) => !candidate.streaming) ?? this.start();
    return shell.run(command, what, timeoutMs);
  }

  stream(command: string, what: string): ShellStream {
    const shell = this.shells.find((candidate) => !candidate.streaming && candidate.pending === 0) ?? this.start();
    return shell.stream(command, what);
  }

  close(): void {
    for (const shell of this.shells) shell.close();
  }

  private start(): RemoteShell {
    const shell = new RemoteShell(this.connections[this.turn++ % this.connections.length]!);
    this.shells.push(shell);
    return shell;
  }
}
