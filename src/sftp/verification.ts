/**
 * Which whole-file hash an SFTP copy can compare: SFTP itself has none, so the remote side must
 * run `sha256sum` (or `md5sum`) through an exec channel. Asked once per copy, with the empty
 * input, whose digest is known.
 */
import { runRemoteCommand } from '../ssh/remoteCommand';
import type { SshConnection } from '../ssh/sshClient';
import type { HashName } from './remoteHasher';

const PROBE_TIMEOUT_MS = 10_000;
const EMPTY_DIGESTS: [HashName, string][] = [
  ['sha256', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  ['md5', 'd41d8cd98f00b204e9800998ecf8427e'],
];

/** What an SFTP copy verifies: sizes always, a hash when the server can compute one. */
export type Verification = 'size' | 'size+sha256' | 'size+md5';

export async function remoteHash(ssh: SshConnection, log: (line: string) => void): Promise<HashName | undefined> {
  for (const [name, empty] of EMPTY_DIGESTS) {
    const answer = await runRemoteCommand(ssh, `${name}sum </dev/null`, PROBE_TIMEOUT_MS).catch(() => undefined);
    if (answer?.code === 0 && answer.stdout.startsWith(empty)) return name;
    log(`sftp: ${name}sum does not run on ${ssh.name}`);
  }
  return undefined;
}
