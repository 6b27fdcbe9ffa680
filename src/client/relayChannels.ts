/**
 * fcp's side of the relay between two remote hosts (src/launch/execRelay.ts): for each `relay`
 * event of the source host's fcpd, an exec channel there running `fcpd --relay-pipe`, joined to a
 * new connection to the destination's fcpd, the bytes counted and never read. OpenSSH serves at
 * most MaxSessions (10 by default) channels on one connection: when the source host's connections
 * are full, the next channel goes on a new SSH login there.
 */
import type { Duplex } from 'node:stream';
import { pipeCommandLine, PipeCommand } from '../launch/execRelay';
import type { LaunchedServer } from '../launch/launcher';
import type { SshConnection } from '../ssh/sshClient';

/** Relay channels on one SSH connection, below OpenSSH's default MaxSessions (10) with fcpd --connect's channel. */
const CHANNELS_PER_SSH_CONNECTION = 8;

/** How the data went: host to host, or through this machine (and how much crossed it). */
export interface Route {
  route: 'direct' | 'relayed';
  bytesRelayed: number;
}

interface Carrier {
  conn: SshConnection;
  open: number;
}

export class RelayChannels {
  private readonly carriers: Carrier[];
  private readonly extra: SshConnection[] = [];

  constructor(
    first: SshConnection,
    /** Another SSH login to the source host, for when the open ones are full. */
    private readonly login: () => Promise<SshConnection>,
    private readonly destination: LaunchedServer,
    readonly route: Route,
    private readonly log: (line: string) => void,
  ) {
    this.carriers = [{ conn: first, open: 0 }];
  }

  /** One relayed connection for `command`; a failure is logged, and fcpd --connect's wait for it ends in its timeout. */
  async relay(command: PipeCommand): Promise<void> {
    this.route.route = 'relayed';
    const [channel, outbound] = await Promise.allSettled([this.channel(command), this.destination.connect()]);
    if (channel.status === 'fulfilled' && outbound.status === 'fulfilled') return this.join(channel.value, outbound.value);
    for (const side of [channel, outbound]) {
      if (side.status === 'fulfilled') side.value.destroy();
      else this.log(`relay: ${(side.reason as Error).message}`);
    }
  }

  /** The SSH logins opened for channels beyond the first connection's share. */
  close(): void {
    for (const conn of this.extra) conn.close();
  }

  private async channel(command: PipeCommand): Promise<Duplex> {
    let carrier = this.carriers.find((c) => c.open < CHANNELS_PER_SSH_CONNECTION);
    if (!carrier) {
      const conn = await this.login();
      this.extra.push(conn);
      carrier = { conn, open: 0 };
      this.carriers.push(carrier);
    }
    carrier.open++;
    const held = carrier;
    try {
      const channel = await held.conn.exec(pipeCommandLine(command));
      channel.once('close', () => held.open--);
      channel.stderr.on('data', (chunk: Buffer) => this.log(`relay: fcpd: ${chunk.toString('utf8').trimEnd()}`));
      return channel;
    } catch (err) {
      held.open--;
      throw err;
    }
  }

  private join(inbound: Duplex, outbound: Duplex): void {
    const count = (chunk: Buffer): void => {
      this.route.bytesRelayed += chunk.length;
    };
    inbound.on('data', count);
    outbound.on('data', count);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    // Either side failing ends both; either closing (both directions done) lets go of the other.
    for (const [one, other] of [[inbound, outbound], [outbound, inbound]] as const) {
      one.on('error', () => other.destroy());
      one.on('close', () => other.destroy());
    }
  }
}
