/**
 * The launch hand-off of PROTOCOL.md §9: fcp gives fcpd the session secret as one line on its
 * standard input and reads fcpd's port as one line from its standard output.
 */
import { FcpError } from '../errors';
import { SECRET_SIZE } from '../protocol/keys';

const SECRET_LINE = /^FCP-SECRET ([0-9a-f]{64})$/;
const LISTEN_LINE = /^FCPD-LISTEN (\d{1,5}) (\S+)(?: ((?!nonce=)\S+))?(?: nonce=([0-9a-f]{64}))?$/;

/**
 * Where fcpd listens: its bound address, the address the SSH connection reached when known, and
 * the server nonce of the control connection (PROTOCOL.md §5.1), so that the client need not
 * wait for the server's HELLO before it authenticates.
 */
export interface Listen {
  port: number;
  address: string;
  reached?: string;
  nonce?: Buffer;
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
  const reached = listen.reached ? ` ${listen.reached}` : '';
  const nonce = listen.nonce ? ` nonce=${listen.nonce.toString('hex')}` : '';
  return `FCPD-LISTEN ${listen.port} ${listen.address}${reached}${nonce}\n`;
}

const PID_LINE = /^FCPD-PID (\d{1,10})$/;

/**
 * What a remote launch command prints first, before anything runs (sh's `$$`): the process, and
 * through it the process group, fcp ends when the launch fails (PROTOCOL.md §9). A command without
 * a terminal gets no SIGHUP when its SSH channel closes, so nothing else would end it.
 */
export const PRINT_PID = 'echo FCPD-PID $$';

export function parsePidLine(line: string): number | undefined {
  const pid = Number(PID_LINE.exec(line.trim())?.[1]);
  // 0 and 1 are never a launch's: kill would take them as "my group" and init.
  return pid > 1 ? pid : undefined;
}

const VERSION_LINE = /^FCPD-VERSION (\S{1,64})$/;

/** The line fcpd prints before its listen line: which fcp release it belongs to (PROTOCOL.md §9). */
export function versionLine(version: string): string {
  return `FCPD-VERSION ${version}\n`;
}

export function parseVersionLine(line: string): string | undefined {
  return VERSION_LINE.exec(line.trim())?.[1];
}

export function parseListenLine(line: string): Listen | undefined {
  const match = LISTEN_LINE.exec(line.trim());
  if (!match) return undefined;
  const port = Number(match[1]);
  if (port <= 0 || port >= 65536) return undefined;
  const listen: Listen = { port, address: match[2]! };
  if (match[3]) listen.reached = match[3];
  if (match[4]) listen.nonce = Buffer.from(match[4], 'hex');
  return listen;
}

/** The server address of an SSH login (SSH_CONNECTION = "client port server port"), if fcpd runs under sshd. */
export function sshServerAddress(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SSH_CONNECTION?.trim().split(/\s+/)[2];
}
