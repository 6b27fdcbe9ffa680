import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { SshConnection } from '../../../src/ssh/sshClient';

/**
 * An SSH connection whose exec runs the command in this machine's sh in `cwd`: `commands` holds
 * what was written to each channel, `execs` the commands started. `close()` ends them all.
 */
export function localConnection(cwd?: string, name = 'testhost'): { ssh: SshConnection; commands: string[]; execs: string[]; close(): void } {
  const commands: string[] = [];
  const execs: string[] = [];
  const children: ReturnType<typeof spawn>[] = [];
  const exec = async (command: string) => {
    execs.push(command);
    const child = spawn('sh', ['-c', command], { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    const channel = Object.assign(new EventEmitter(), {
      stderr: new PassThrough(),
      write: (text: string) => commands.push(text) && child.stdin.write(text),
      close: () => child.kill(),
    });
    child.stdout.on('data', (chunk: Buffer) => channel.emit('data', chunk));
    child.stderr.pipe(channel.stderr);
    child.on('close', () => channel.emit('close'));
    return channel;
  };
  return { ssh: { name, exec } as unknown as SshConnection, commands, execs, close: () => children.forEach((child) => child.kill()) };
}
