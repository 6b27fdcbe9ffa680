/**
 * fcpd --serve: one session for the fcp that launched this process, then exit; with --reuse
 * (fcp --watch), sessions one after another until none has run for a while.
 */
import * as net from 'node:net';
import type { FcpError } from '../errors';
import { loadXxhash } from '../protocol/xxhash';
import type { ServerPolicy } from '../session/params';
import type { TransferSummary } from '../transfer/link';
import { listenTcp } from './listener';
import type { AccessPolicy } from './policy';
import type * as SessionServerModule from './sessionServer';

export interface ServeOptions {
  secret: Buffer;
  /** The control connection's server nonce, printed in the listen line. */
  nonce: Buffer;
  bind?: string;
  port: number;
  policy?: ServerPolicy;
  /** fcpd.toml's rules. */
  access?: AccessPolicy;
  /** --timeout in ms (default: src/timeouts.ts). */
  timeoutMs?: number;
  /** --partial-dir: where a push's partial files go, relative to each destination directory. */
  partialDir?: string;
  log(line: string): void;
  listening(port: number, address: string): void;
}

/** How often a reusing fcpd looks whether it has been idle long enough to exit. */
const IDLE_CHECK_MS = 1000;

export async function serveSession(options: ServeOptions): Promise<TransferSummary> {
  const xxh = await loadXxhash();
  const listener = net.createServer();
  const address = await listenTcp(listener, options.bind, options.port, options.log);
  options.listening(address.port, address.address);
  // The session server and the transfer engines load while the listen line travels to fcp and
  // its connections come back (a round trip and a half), not before the line goes out. Nothing
  // yields between here and register(), so no connection is accepted before it is handled.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SessionServer } = require('./sessionServer') as typeof SessionServerModule;
  const server = new SessionServer({ xxh, server: listener, bind: options.bind, port: address.port, policy: options.policy, access: options.access, timeoutMs: options.timeoutMs, partialDir: options.partialDir, log: options.log });
  const outcome = await server.register(options.secret, options.nonce);
  server.close();
  if (!outcome.ok) throw outcome.error as FcpError;
  return outcome.summary;
}

/**
 * fcpd --serve --reuse: the launch's secret starts session after session (fcp --watch makes one a
 * round); fcpd exits once no session has run for `idleMs` (its client went away, or never came).
 * A failed session ends only itself. Resolves with how many sessions ended well.
 */
export async function serveSessions(options: ServeOptions & { idleMs: number }): Promise<number> {
  const xxh = await loadXxhash();
  const listener = net.createServer();
  const address = await listenTcp(listener, options.bind, options.port, options.log);
  options.listening(address.port, address.address);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SessionServer } = require('./sessionServer') as typeof SessionServerModule;
  const server = new SessionServer({ xxh, server: listener, bind: options.bind, port: address.port, policy: options.policy, access: options.access, timeoutMs: options.timeoutMs, partialDir: options.partialDir, log: options.log });
  let lastActive = Date.now();
  let served = 0;
  server.registerReusable(options.secret, options.nonce, (outcome) => {
    lastActive = Date.now();
    if (outcome.ok) served++;
    else options.log(`session failed: ${outcome.error.message}`);
  });
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (server.activeSessions > 0) lastActive = Date.now();
      else if (Date.now() - lastActive >= options.idleMs) {
        clearInterval(check);
        resolve();
      }
    }, Math.min(IDLE_CHECK_MS, options.idleMs));
  });
  server.close();
  options.log(`no session for ${options.idleMs / 1000} s after ${served} sessions: exiting`);
  return served;
}
