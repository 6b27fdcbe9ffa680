/**
 * A launcher starts fcpd for one session and gives back a way to open connections to it. The
 * engine does not know how fcpd was started: this file has the local one (a child process); the
 * SSH launchers live beside it.
 */
import type { Duplex } from 'node:stream';
import type { Listen } from './handoff';

export interface LaunchedServer {
  /** "fcpd on 127.0.0.1:41234": how errors name the server. */
  readonly name: string;
  /**
   * The control connection's server nonce from fcpd's listen line (PROTOCOL.md §9), when it gave
   * one: the client then authenticates in its first packet instead of waiting for HELLO.
   */
  readonly controlNonce?: Buffer;
  /** How fcpd came to run: found on the host, or installed there by this run (README "Modes"). */
  readonly mode?: 'fcpd' | 'fcpd-installed';
  /**
   * What fcpd's listen line said, when it came over SSH: where another host may dial it (a copy
   * between two remote hosts, PROTOCOL.md §9.1).
   */
  readonly listen?: Listen;
  /**
   * Daemon access (fcp://): nothing was launched; the client logs in as `user` and the session's
   * secret is that user's login key, not the one given to launch().
   */
  readonly login?: { user: Buffer; key: Buffer };
  /**
   * A server launched once for several sessions (fcp --watch): the secret it was launched with,
   * which every session proves (not the one a later copy() made up).
   */
  readonly secret?: Buffer;
  /**
   * fcpd runs on this machine (a child of fcp, or reached at a loopback address): both ends of
   * every connection share its CPUs, so a tuned session starts with fewer (connectionTuner.ts).
   */
  readonly sameHost?: boolean;
  /** Opens one new connection to fcpd (control or data). */
  connect(): Promise<Duplex>;
  /**
   * Lets go of fcpd once the session is over. After a failed session it waits (briefly) for
   * fcpd to exit, so that what fcpd printed on the way out still reaches the log; after a
   * successful one it does not wait for fcpd's exit status, which would cost a round trip.
   */
  close(failed: boolean): Promise<void>;
}

/** Whether a dialled address is this machine's loopback (127.0.0.0/8, ::1, or 127.x mapped into IPv6). */
export function isLoopbackAddress(address: string): boolean {
  return /^(::ffff:)?127\./i.test(address) || address === '::1';
}

export interface Launcher {
  /** Starts fcpd, hands it the secret, and resolves once fcpd listens. */
  launch(secret: Buffer, log: (line: string) => void): Promise<LaunchedServer>;
}

/**
 * fcpd's arguments for one session (--serve, or --connect): fcp's --timeout (and, to a receiving
 * fcpd, --partial-dir) go along when set; `reuseS`: sessions one after another (fcp --watch), until
 * none came for that many seconds.
 */
export function serveArgs(timeoutMs: number | undefined, role: '--serve' | '--connect' = '--serve', partialDir?: string, reuseS?: number): string[] {
  return [
    role,
    ...(timeoutMs === undefined ? [] : ['--timeout', String(timeoutMs / 1000)]),
    ...(partialDir === undefined ? [] : ['--partial-dir', partialDir]),
    ...(reuseS === undefined ? [] : ['--reuse', String(reuseS)]),
  ];
}
