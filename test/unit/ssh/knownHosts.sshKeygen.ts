/**
 * OpenSSH's own ssh-keygen as the reference for the known_hosts tests: it makes real keys, hashes
 * real files and says which lines it matches. A missing ssh-keygen fails the tests, never skips.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GeneratedKey {
  type: string;
  blob: Buffer;
  /** `keytype base64`, ready to follow a host field. */
  keyText: string;
  pubFile: string;
}

function sshKeygen(args: string[]): string {
  try {
    return execFileSync('ssh-keygen', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`ssh-keygen ${args.join(' ')} failed (these tests need OpenSSH's ssh-keygen): ${String(err)}`);
  }
}

/** `ssh-keygen -t ...` into dir/name; extraArgs pick the type and size. */
export function generateKey(dir: string, name: string, extraArgs: string[]): GeneratedKey {
  const privateFile = join(dir, name);
  sshKeygen(['-q', '-N', '', '-C', `${name}@fixture`, '-f', privateFile, ...extraArgs]);
  const pubFile = `${privateFile}.pub`;
  const [type, base64] = readFileSync(pubFile, 'utf8').trim().split(' ');
  return { type: type!, blob: Buffer.from(base64!, 'base64'), keyText: `${type} ${base64}`, pubFile };
}

/** The SHA256:... field of `ssh-keygen -lf`. */
export function sshKeygenFingerprint(pubFile: string): string {
  return sshKeygen(['-l', '-f', pubFile]).split(' ')[1]!;
}

/** Hashes the host names of a known_hosts file in place (`ssh-keygen -H`). */
export function sshKeygenHash(file: string): void {
  sshKeygen(['-H', '-f', file]);
}

/** The line numbers `ssh-keygen -l -F name` finds (-l parses keys, so bad lines are left out). */
export function sshKeygenFoundLines(file: string, name: string): number[] {
  let output: string;
  try {
    output = execFileSync('ssh-keygen', ['-l', '-F', name, '-f', file], { encoding: 'utf8' });
  } catch (err) {
    // Exit status 1 means "not found"; anything else (no ssh-keygen) is a failure.
    if ((err as { status?: number }).status !== 1) throw err;
    return [];
  }
  return [...output.matchAll(/found: line (\d+)/g)].map((match) => Number(match[1]));
}
