/**
 * Whether the remote host can run fcpd at all: fcpd needs Node.js 20 or later on the PATH of the
 * SSH session. Asked only after fcpd failed to start, so that a working host pays nothing.
 */
import { FcpError } from '../errors';
import { runRemoteCommand } from '../ssh/remoteCommand';
import type { SshConnection } from '../ssh/sshClient';

export const MIN_NODE_MAJOR = 20;
const PROBE_TIMEOUT_MS = 10_000;

/** Why the `node --version` output rules Node out, or undefined when it is usable. */
export function nodeVersionProblem(code: number | null, stdout: string): string | undefined {
  const match = /^v(\d+)\./.exec(stdout.trim());
  if (code !== 0 || !match) return 'no node on the PATH of its SSH session';
  const major = Number(match[1]);
  return major < MIN_NODE_MAJOR ? `node ${stdout.trim()} is older than ${MIN_NODE_MAJOR}` : undefined;
}

/**
 * FCP_ERR_NO_REMOTE_NODE when the host has no usable Node.js, else undefined (fcpd failed for
 * another reason, which its own error tells).
 */
export async function noRemoteNode(ssh: SshConnection): Promise<FcpError | undefined> {
  const { code, stdout } = await runRemoteCommand(ssh, 'node --version', PROBE_TIMEOUT_MS);
  const problem = nodeVersionProblem(code, stdout);
  if (!problem) return undefined;
  return new FcpError('FCP_ERR_NO_REMOTE_NODE', `no Node.js ${MIN_NODE_MAJOR}+ on ${ssh.name}: ${problem}`, {
    hint: `install Node.js ${MIN_NODE_MAJOR}+ and fcp there for fcp's own protocol, or copy over SFTP with --sftp`,
  });
}
