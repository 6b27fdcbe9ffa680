/**
 * The launch hand-off of PROTOCOL.md §9: fcp gives fcpd the session secret as one line on its
 * standard input and reads fcpd's port as one line from its standard output.
 */
import { FcpError } from '../errors';
import { SECRET_SIZE } from '../protocol/keys';

const SECRET_LINE = /^FCP-SECRET ([0-9a-f]{64})$/;
const LISTEN_LINE = /^FCPD-LISTEN (\d{1,5}) (\S+)(?: (\S+))?$/;

/** Where fcpd listens: its bound address, and the address the SSH connection reached when known. */
export interface Listen {
  port: number;
  address: string;
  reached?: string;
}

export function secretLine(secret: Buffer): string {
  return `FCP-SECRET ${secret.toString('hex')}\n`;
}

export function parseSecretLine(line: string): Buffer {
  const match = SECRET_LINE.exec(line.trim());
  if (!match) {
    throw new FcpError('FCP_ERR_USAGE', 'fcpd expected "FCP-SECRET <64 hex digits>" on its standard input', {
      hint: 'fcpd --serve is started by fcp; to run a standing server use fcpd -d',
    });
  }
  const secret = Buffer.from(match[1]!, 'hex');
  if (secret.length !== SECRET_SIZE) throw new FcpError('FCP_ERR_USAGE', 'session secret must be 32 bytes');
  return secret;
}

export function listenLine(listen: Listen): string {
  return `FCPD-LISTEN ${listen.port} ${listen.address}${listen.reached ? ` ${listen.reached}` : ''}\n`;
}

export function parseListenLine(line: string): Listen | undefined {
  const match = LISTEN_LINE.exec(line.trim());
  if (!match) return undefined;
  const port = Number(match[1]);
  if (port <= 0 || port >= 65536) return undefined;
  return match[3] ? { port, address: match[2]!, reached: match[3] } : { port, address: match[2]! };
}

/** The server address of an SSH login (SSH_CONNECTION = "client port server port"), if fcpd runs under sshd. */
export function sshServerAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SSH_CONNECTION?.trim().split(/\s+/)[2];
}
