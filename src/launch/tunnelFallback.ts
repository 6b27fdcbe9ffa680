/**
 * How SSH launchers open data connections: straight over TCP to fcpd, and when that does not
 * connect within a few seconds (a firewall), through the SSH connection instead, saying so once.
 * The first connection decides; the rest follow. --tunnel skips the direct attempt.
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
  let mode: Promise<'direct' | 'tunnel'> | undefined = options.forceTunnel ? Promise.resolve('tunnel') : undefined;
  return async () => {
    if (!mode) {
      let first: Duplex | undefined;
      mode = options.direct().then(
        (stream) => {
          first = stream;
          return 'direct' as const;
        },
        (err: FcpError) => {
          options.notice(`direct TCP to fcpd at ${options.directTarget} failed (${err.message}); carrying the connections through SSH`);
          return 'tunnel' as const;
        },
      );
      if ((await mode) === 'direct') return first!;
    }
    return (await mode) === 'direct' ? options.direct() : options.tunnel();
  };
}
