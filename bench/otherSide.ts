/**
 * The other side of the latency benches (follow.ts, watch.ts): a local fcpd on loopback, or with
 * BENCH_WAN=1 fcpd on host B of ../shared/bench/wan/wan.sh, reached over SSH across the emulated
 * WAN. Run the bench on host A then (`wan.sh a node dist/bench/...`, after `wan.sh up` and
 * `wan.sh sshd`, holding /tmp/wan.lock); the hosts share this file system, so the bench checks the
 * copy at the same path it asked for.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { localLauncher } from '../src';
import type { CopyOptions } from '../src/client/copy';
import { sshConfigFile, WAN_DIR, WAN_HOST_B } from './suite/links';

export interface OtherSide {
  /** `path` as a location on the other side. */
  at(path: string): string;
  /** How copy() reaches it; `reuseS`: one fcpd serves sessions for this long (fcp --watch's). */
  options(reuseS?: number): Partial<CopyOptions>;
  label: string;
}

const REPO = path.join(__dirname, '..', '..');

export function otherSide(): OtherSide {
  if (process.env.BENCH_WAN !== '1') {
    return { at: (p) => `localhost:${p}`, options: (reuseS) => ({ launcher: localLauncher(reuseS === undefined ? {} : { reuseS }) }), label: 'loopback, a local fcpd' };
  }
  const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-bench-wan-')), 'config');
  sshConfigFile(configFile, 'wanb', WAN_HOST_B, 22, path.join(WAN_DIR, 'id_ed25519'));
  return {
    at: (p) => `wanb:${p}`,
    options: () => ({ ssh: { configFile, fcpdPath: `${process.execPath} ${path.join(REPO, 'bin', 'fcpd')}` } }),
    label: `the emulated WAN (wan.sh), fcpd over SSH on ${WAN_HOST_B}`,
  };
}
