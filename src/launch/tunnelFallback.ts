/**
 * How SSH launchers open data connections: straight over TCP to fcpd, and when that does not
 * connect within a few seconds (a firewall), through the SSH connection instead, saying so once.
 * The first outcome decides for the connections opened later. --tunnel skips the direct attempt.
 */
import type { Duplex } from 'node:stream';
import type { FcpError } from '../errors';

/** A firewall that drops packets shows up as a connect that never finishes: wait this long. */
export const DIRECT_CONNECT_TIMEOUT_MS = 4000;

export interface TunnelFallbackOptions {
  direct: () => Promise<Duplex>;
  tunnel: () => Promise<Duplex>;
  forceTunnel: boolean;
  /** Where direct connections go, for the notice. */
  directTarget: string;
  notice(line: string): void;
}

export function tunnelFallback(options: TunnelFallbackOptions): () => Promise<Duplex> {
  let mode: 'direct' | 'tunnel' | undefined = options.forceTunnel ? 'tunnel' : undefined;
  return async () => {
    if (mode === 'tunnel') return options.tunnel();
    if (mode === 'direct') return options.direct();
    // Undecided: connections opened together all try direct at once (waiting for the first to
    // decide would cost every other connection a round trip); the first failure says so, once.
    try {
      const stream = await options.direct();
      mode ??= 'direct';
      return stream;
    } catch (err) {
      if (mode === undefined) {
        mode = 'tunnel';
        options.notice(`direct TCP to fcpd at ${options.directTarget} failed (${(err as FcpError).message}); carrying the connections through SSH`);
      }
      return options.tunnel();
    }
  };
}
