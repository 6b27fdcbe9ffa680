/**
 * The N SSH sessions of an SFTP copy, each with its own TCP connection and SFTP channel (as
 * mscp does: one SSH connection's window and cipher are a single core's worth of throughput).
 */
import { Socket } from 'node:net';
import type { SFTPWrapper } from 'ssh2';
import { FcpError } from '../errors';
import { connectSsh, SshConnection, SshContext } from '../ssh/sshClient';
import type { ResolvedHost } from '../ssh/sshConfig';
import { CHUNKS_PER_SESSION } from './mover';
import { RemoteFs } from './remoteFs';
import { SFTP_CHUNK_BYTES } from './resume';

/**
 * The window an SFTP channel gives the server for the answers it sends: twice the bytes a
 * session's reads ask for at once, so that it never holds them back. ssh2 gives every channel
 * 2 MiB and tops it up only once half is used, so that between 1 and 2 MiB were in flight: a
 * one-session pull over a 50 ms link moved 10 MB/s (20 MB/s with TCP_NODELAY) where its 4 MiB of
 * reads could have moved 80. A larger window costs no memory: the server sends only answers to
 * requests, and every read's answer already has its buffer.
 */
export const RECEIVE_WINDOW_BYTES = 2 * CHUNKS_PER_SESSION * SFTP_CHUNK_BYTES;

/**
 * The window OpenSSH's sshd gives a session channel (CHAN_SES_WINDOW_DEFAULT: 64 packets of 32
 * KiB): a push's session has at most this in flight, whatever more its writes ask for, so over a
 * 50 ms round trip it carries about 40 MB/s. Another server's may differ; OpenSSH's is the one
 * fcp meets where it falls back to SFTP.
 */
export const SERVER_WINDOW_BYTES = 2 * 1024 * 1024;

/** The most one session keeps in flight: a push's writes are held by the server's window, a pull's by the reads it asks for at once. */
export function sessionWindowBytes(push: boolean): number {
  const asked = CHUNKS_PER_SESSION * SFTP_CHUNK_BYTES;
  return push ? Math.min(asked, SERVER_WINDOW_BYTES) : asked;
}

export interface SftpSession {
  ssh: SshConnection;
  fs: RemoteFs;
}

function openSftp(ssh: SshConnection): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) =>
    ssh.client.sftp((err, sftp) =>
      err
        ? reject(new FcpError('FCP_ERR_CONNECT', `${ssh.name} has no SFTP service: ${err.message}`, { cause: err, hint: 'the server needs "Subsystem sftp" in its sshd_config' }))
        : resolve(sftp),
    ),
  );
}

/**
 * ssh2 writes every SSH packet to its socket on its own: a system call each, and on loopback the
 * receiver's TCP work too. SFTP requests come in bursts (a chunk's writes, many small files'
 * requests), so the socket is corked for the rest of the tick and a burst goes out in one writev.
 */
function coalesceWrites(ssh: SshConnection): void {
  const socket = (ssh.client as unknown as { _sock?: unknown })._sock;
  if (!(socket instanceof Socket)) return;
  const write = socket.write.bind(socket);
  socket.write = ((...args: Parameters<typeof write>) => {
    if (socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    return write(...args);
  }) as typeof socket.write;
}

/**
 * Tops the channel's receive window up to RECEIVE_WINDOW_BYTES each time half of it is used. ssh2
 * hands each packet to the channel's push, then adjusts the window itself only when it is down to
 * 1 MiB, which this keeps it from reaching.
 */
export function widenReceiveWindow(ssh: SshConnection, sftp: SFTPWrapper): void {
  const channel = sftp as unknown as { push(data: Buffer | null): unknown; incoming?: { window?: unknown }; outgoing?: { id?: unknown } };
  const protocol = (ssh.client as unknown as { _protocol?: { channelWindowAdjust?(id: number, amount: number): void } })._protocol;
  const { incoming, outgoing } = channel;
  if (typeof incoming?.window !== 'number' || typeof outgoing?.id !== 'number' || typeof protocol?.channelWindowAdjust !== 'function') return;
  const id = outgoing.id;
  const window = incoming as { window: number };
  const adjust = (): void => {
    const amount = RECEIVE_WINDOW_BYTES - window.window;
    window.window += amount;
    protocol.channelWindowAdjust!(id, amount);
  };
  const push = channel.push.bind(channel);
  channel.push = (data) => {
    const parsed = push(data);
    if (data !== null && window.window <= RECEIVE_WINDOW_BYTES / 2) adjust();
    return parsed;
  };
  adjust();
}

/**
 * Nagle's algorithm held each write that followed one not yet acknowledged for up to a round trip:
 * a read request or a window adjust waited for the previous one's acknowledgement, halving a pull
 * over a long link. coalesceWrites already sends a tick's packets in one write.
 */
function sendAtOnce(ssh: SshConnection): void {
  const socket = (ssh.client as unknown as { _sock?: unknown })._sock;
  if (socket instanceof Socket) socket.setNoDelay(true);
}

async function openSession(ssh: SshConnection): Promise<SftpSession> {
  try {
    coalesceWrites(ssh);
    sendAtOnce(ssh);
    const sftp = await openSftp(ssh);
    widenReceiveWindow(ssh, sftp);
    return { ssh, fs: new RemoteFs(sftp, ssh.name) };
  } catch (err) {
    ssh.close();
    throw err;
  }
}

/** One more session, for a copy that grows (sessionGrowth.ts). */
export async function openAnotherSession(host: ResolvedHost, context: SshContext): Promise<SftpSession> {
  return openSession(await connectSsh(host, context));
}

/**
 * Opens `count` sessions: the first alone (a password or passphrase is asked once, a new host key
 * is accepted once), then the others together.
 */
export async function openSessions(host: ResolvedHost, context: SshContext, count: number, first?: SshConnection): Promise<SftpSession[]> {
  const sessions = [await openSession(first ?? (await connectSsh(host, context)))];
  const rest = await Promise.allSettled(Array.from({ length: count - 1 }, async () => openSession(await connectSsh(host, context))));
  for (const result of rest) if (result.status === 'fulfilled') sessions.push(result.value);
  const failed = rest.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    closeSessions(sessions);
    throw failed.reason;
  }
  return sessions;
}

export function closeSessions(sessions: SftpSession[]): void {
  for (const session of sessions) session.ssh.close();
}
