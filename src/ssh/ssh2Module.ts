/**
 * ssh2, loaded when first needed. Its modules take a while to run (65 ms from node_modules; less
 * from dist/fcp.js, where it is bundled and in the code cache): they run while the first TCP
 * handshake is under way (sshClient.ts connectSsh) rather than before it starts. Apart from
 * sshClient.ts so that fcp's entry can ask whether SSH was used without loading the SSH client
 * (and the child_process, net and stream modules it needs), which a local copy never uses.
 */
import type * as Ssh2 from 'ssh2';

let ssh2Loaded = false;

export function ssh2(): typeof Ssh2 {
  ssh2Loaded = true;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('ssh2') as typeof Ssh2;
}

/** Whether this process logged in over SSH (or began to): its V8 code cache is then an SSH run's (src/cli/codeCache.ts). */
export function usedSsh(): boolean {
  return ssh2Loaded;
}
