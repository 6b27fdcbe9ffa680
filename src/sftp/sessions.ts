/**
 * The N SSH sessions of an SFTP copy, each with its own TCP connection and SFTP channel (as
 * mscp does: one SSH connection's window and cipher are a single core's worth of throughput).
 */
import { Socket } from 'node:net';
import type { SFTPWrapper } from 'ssh2';
import { FcpError } from '../errors';
import { connectSsh, SshConnection, SshContext } from '../ssh/sshClient';
import type { ResolvedHost } from '../ssh/sshConfig';
import { RemoteFs } from './remoteFs';

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

async function openSession(ssh: SshConnection): Promise<SftpSession> {
  try {
    coalesceWrites(ssh);
    return { ssh, fs: new RemoteFs(await openSftp(ssh), ssh.name) };
  } catch (err) {
    ssh.close();
    throw err;
  }
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
