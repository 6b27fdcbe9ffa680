/**
 * After each batch of fuzz cases: is fcpd alive, is its memory bounded, did it log an internal
 * error, did every session of the batch end, and does a real transfer (copy() of the Node API,
 * through the same daemon) still give byte-identical files?
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { copy } from '../../src';
import type { Launcher } from '../../src';
import { dialTcp } from '../../src/launch/dial';
import { compareTrees } from '../../test/integration/helpers/compare';
import type { Target } from './target';

const DIAL_TIMEOUT_MS = 5_000;
/** How long the sessions of a batch may take to end once all its connections are closed. */
const SESSIONS_END_MS = 10_000;
/** What fcpd logs for a bug that escaped (one FCP_ERR_INTERNAL line), or a stack trace. */
const INTERNAL = /FCP_ERR_INTERNAL|^\s+at\s/m;

/** A launcher for copy() whose "fcpd --serve" is a register request to the daemon under test. */
export function daemonLauncher(target: Target, port = target.port): Launcher {
  return {
    async launch(secret) {
      const nonce = randomBytes(32);
      await target.register(secret, nonce);
      return {
        name: `fcpd daemon under fuzzing (pid ${target.pid}) on 127.0.0.1:${port}`,
        controlNonce: nonce,
        connect: () => dialTcp('127.0.0.1', port, DIAL_TIMEOUT_MS),
        close: async () => undefined,
      };
    },
  };
}

/** A small tree to copy: one file of several chunks, small files, a subdirectory. */
export function makeSource(parent: string): string {
  const root = path.join(parent, 'source');
  fs.mkdirSync(path.join(root, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'big.bin'), randomBytes(2 * 1024 * 1024 + 4321));
  for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(root, 'sub', `small-${i}`), randomBytes(1000 * (i + 1)));
  return root;
}

/** Pushes source through launcher into a fresh directory; returns the differences (none: byte-identical). */
export async function transferDifferences(source: string, destinationParent: string, launcher: Launcher): Promise<string[]> {
  const destination = fs.mkdtempSync(path.join(destinationParent, 'transfer-'));
  try {
    const summary = await copy({ sources: [source], destination: `localhost:${destination}`, recursive: true, connections: 2, encrypt: true, launcher });
    const errors = summary.errors.map((e) => `${e.code} ${e.message}`);
    return [...errors, ...compareTrees(source, path.join(destination, path.basename(source)))];
  } catch (err) {
    return [`the transfer failed: ${String(err)}`];
  } finally {
    fs.rmSync(destination, { recursive: true, force: true });
  }
}

export interface HealthCheck {
  rssKb: number;
  problems: string[];
}

export class Health {
  private logSeen = 0;

  constructor(
    private readonly target: Target,
    private readonly source: string,
    private readonly scratch: string,
    private readonly rssLimitKb: number,
  ) {}

  /** Sessions the daemon still holds once they have had SESSIONS_END_MS to end. */
  private async sessionsLeft(): Promise<number | undefined> {
    let sessions = await this.target.sessions();
    for (const deadline = Date.now() + SESSIONS_END_MS; sessions !== 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      sessions = await this.target.sessions();
    }
    return sessions;
  }

  async check(): Promise<HealthCheck> {
    if (!this.target.alive()) return { rssKb: 0, problems: [`fcpd (pid ${this.target.pid}) is not running`] };
    const problems: string[] = [];
    const log = this.target.log();
    const fresh = log.slice(this.logSeen);
    this.logSeen = log.length;
    const internal = INTERNAL.exec(fresh);
    if (internal) problems.push(`fcpd logged an internal error: ${fresh.slice(Math.max(0, internal.index - 300), internal.index + 300)}`);
    const sessions = await this.sessionsLeft();
    if (sessions !== 0) problems.push(`fcpd still holds ${sessions ?? 'an unknown number of'} sessions ${SESSIONS_END_MS / 1000} s after the batch closed all its connections`);
    problems.push(...(await transferDifferences(this.source, this.scratch, daemonLauncher(this.target))).map((d) => `real transfer: ${d}`));
    if (!this.target.alive()) return { rssKb: 0, problems: [...problems, `fcpd (pid ${this.target.pid}) died during the real transfer`] };
    const rssKb = this.target.rssKb();
    if (rssKb > this.rssLimitKb) problems.push(`fcpd's resident memory is ${Math.round(rssKb / 1024)} MiB, over the bound of ${Math.round(this.rssLimitKb / 1024)} MiB`);
    return { rssKb, problems };
  }
}
