/**
 * One short command run on the SSH server, its output collected: for questions such as "which
 * Node is there?" or "what is this file's SHA-256?", never for a long-running process.
 */
import { FcpError } from '../errors';
import type { SshConnection } from './sshClient';

/** More output than this from a short command is cut: a question's answer is a line or two. */
const MAX_OUTPUT_BYTES = 64 * 1024;

export interface CommandResult {
  /** The exit status; null when the command was killed or the server did not say. */
  code: number | null;
  stdout: string;
}

/** Runs `command`; it must end within timeoutMs (FCP_ERR_TIMEOUT otherwise). */
export async function runRemoteCommand(ssh: SshConnection, command: string, timeoutMs: number): Promise<CommandResult> {
  const channel = await ssh.exec(command);
  // No input: a command that reads stdin gets its end at once.
  channel.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let code: number | null = null;
    const timer = setTimeout(() => {
      channel.close();
      reject(new FcpError('FCP_ERR_TIMEOUT', `${ssh.name} did not finish ${command} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    channel.on('data', (chunk: Buffer) => {
      if (size >= MAX_OUTPUT_BYTES) return;
      chunks.push(chunk);
      size += chunk.length;
    });
    channel.stderr.resume();
    channel.on('exit', (status: number | null) => (code = status));
    channel.on('close', () => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

/** `text` as one word for a POSIX shell: as it is when it holds nothing a shell reads, else quoted. */
export function shellWord(text: string): string {
  return /^[\w./,:=@%+-]+$/.test(text) ? text : shellQuote(text);
}

/** A path as one word for a POSIX shell, whatever bytes it holds. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
