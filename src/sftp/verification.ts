/**
 * Which whole-file hash an SFTP copy can compare: SFTP itself has none, so the remote side must
 * run a coreutils-style `*sum` tool in a shell (remoteShell.ts). Asked once per copy, with the
 * empty input, whose digest is known: first with -z (one process hashes a whole batch of files,
 * their names in the output), then without (one process per file, busybox and old coreutils).
 */
import type { ShellRunner } from './remoteShell';

const PROBE_TIMEOUT_MS = 10_000;

export interface HashTool {
  /** The name in the summary's verification, and Node's name for the same hash. */
  name: 'blake2b' | 'sha256' | 'md5';
  node: string;
  command: string;
  empty: string;
}

/**
 * Cheapest first, by CPU seconds per GiB measured on the bench machine (coreutils 9.1, Node 20):
 * BLAKE2b-512 1.7 s in b2sum and 1.2 s in Node; SHA-256 3.0 s in sha256sum (no SHA extensions)
 * and 3.0 s in Node. MD5 is the last resort of hosts with neither.
 */
export const HASH_TOOLS: readonly HashTool[] = [
  {
    name: 'blake2b',
    node: 'blake2b512',
    command: 'b2sum',
    empty: '786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce',
  },
  { name: 'sha256', node: 'sha256', command: 'sha256sum', empty: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { name: 'md5', node: 'md5', command: 'md5sum', empty: 'd41d8cd98f00b204e9800998ecf8427e' },
];

/** A tool the remote host runs, and whether it takes -z (NUL-ended lines, names unescaped). */
export interface RemoteHashTool {
  tool: HashTool;
  zero: boolean;
}

/** What an SFTP copy verifies: sizes always, a hash when the server can compute one. */
export type Verification = 'size' | `size+${HashTool['name']}`;

/** The first tool that hashes the empty input right; none when the shell itself does not run. */
export async function remoteHash(shell: ShellRunner, log: (line: string) => void): Promise<RemoteHashTool | undefined> {
  try {
    for (const tool of HASH_TOOLS) {
      for (const zero of [true, false]) {
        const command = `${tool.command}${zero ? ' -z' : ''}`;
        const stdout = await shell.run(command, command, PROBE_TIMEOUT_MS);
        if (stdout === `${tool.empty}  -${zero ? '\0' : '\n'}`) return { tool, zero };
      }
      log(`sftp: ${tool.command} does not run on ${shell.host}`);
    }
  } catch (err) {
    log(`sftp: no shell on ${shell.host} (${(err as Error).message}): sizes alone are checked`);
  }
  return undefined;
}
