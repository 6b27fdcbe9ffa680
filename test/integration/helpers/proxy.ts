/**
 * A launcher for copy() that starts a real local fcpd (localLauncher) and puts an in-test TCP
 * proxy on 127.0.0.1 between the client and it. The proxy can flip one byte of one connection's
 * stream, at a position counted from that stream's first byte.
 */
import * as net from 'node:net';
import { Transform, TransformCallback, pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';
import { localLauncher } from '../../../src';
import type { Launcher, LaunchedServer } from '../../../src';
import { dial } from './run';

export interface TamperPlan {
  /** Which accepted connection: 0 is the control connection, 1.. the data connections in accept order. */
  connection: number;
  /** 'toServer': the client→fcpd stream; 'toClient': fcpd→client. */
  direction: 'toServer' | 'toClient';
  /** Byte position in that stream. */
  position: number;
  /** XOR mask applied to that byte (default 0x01). */
  mask?: number;
}

export interface TamperReport {
  connections: number;
  /** Set once the byte went through the proxy flipped. */
  flipped: boolean;
  /** Bytes each accepted connection carried towards the server and towards the client. */
  bytes: { toServer: number; toClient: number }[];
}

class Flipper extends Transform {
  private seen = 0;

  constructor(
    private readonly position: number | undefined,
    private readonly mask: number,
    private readonly onFlip: () => void,
    private readonly count: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const start = this.seen;
    this.seen += chunk.length;
    this.count(chunk.length);
    if (this.position !== undefined && this.position >= start && this.position < this.seen) {
      const copy = Buffer.from(chunk);
      copy[this.position - start] ^= this.mask;
      this.onFlip();
      return callback(null, copy);
    }
    callback(null, chunk);
  }
}

export function tamperingLauncher(plan: TamperPlan | undefined): { launcher: Launcher; report: TamperReport } {
  const report: TamperReport = { connections: 0, flipped: false, bytes: [] };
  const launcher: Launcher = {
    async launch(secret, log): Promise<LaunchedServer> {
      const inner = await localLauncher().launch(secret, log);
      const sockets = new Set<Duplex>();
      const proxy = net.createServer((client) => {
        const index = report.connections++;
        const counts = { toServer: 0, toClient: 0 };
        report.bytes[index] = counts;
        sockets.add(client);
        client.pause();
        inner.connect().then(
          (upstream) => {
            sockets.add(upstream);
            const target = plan && plan.connection === index ? plan : undefined;
            const flip = (): void => {
              report.flipped = true;
            };
            const up = new Flipper(target?.direction === 'toServer' ? target.position : undefined, target?.mask ?? 1, flip, (n) => (counts.toServer += n));
            const down = new Flipper(target?.direction === 'toClient' ? target.position : undefined, target?.mask ?? 1, flip, (n) => (counts.toClient += n));
            // A clean end of one direction is a half-close, passed on; an error tears both down.
            const done = (err: Error | null | undefined): void => {
              if (!err) return;
              client.destroy();
              upstream.destroy();
            };
            pipeline(client, up, upstream, done);
            pipeline(upstream, down, client, done);
            client.resume();
          },
          () => client.destroy(),
        );
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const port = (proxy.address() as net.AddressInfo).port;
      return {
        name: `${inner.name} (through a proxy on 127.0.0.1:${port})`,
        connect: () => dial(port),
        async close(failed: boolean): Promise<void> {
          try {
            await inner.close(failed);
          } finally {
            for (const s of sockets) s.destroy();
            await new Promise<void>((resolve) => proxy.close(() => resolve()));
          }
        },
      };
    },
  };
  return { launcher, report };
}
