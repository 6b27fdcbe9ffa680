/**
 * fcp --check-login [user@]host (Scow-Sync's --check): whether a key or the agent logs in to the
 * host without any prompt, as a background job would have to. BatchMode is on, so nothing is asked.
 */
import { FcpError } from '../errors';
import { connectSsh } from '../ssh/sshClient';
import { parseLocation } from './location';
import { sshLogin, SshOptions } from './remoteLauncher';

/** Resolves when the login works; rejects with why not (an authentication, host key or connection error). */
export async function checkLogin(target: string, ssh: SshOptions, log: (line: string) => void): Promise<void> {
  const location = parseLocation(target.endsWith(':') ? target : `${target}:`);
  if (location.kind !== 'remote') {
    throw new FcpError('FCP_ERR_USAGE', `--check-login ${JSON.stringify(target)}: not a host`, { hint: 'give [user@]host' });
  }
  const { host, context } = sshLogin(location, { ...ssh, options: ['BatchMode=yes', ...(ssh.options ?? [])] }, log);
  const connection = await connectSsh(host, { ...context, prompter: undefined });
  connection.close();
}
