/**
 * A launcher for copy() that starts a real local fcpd (localLauncher) and puts an in-test TCP
 * proxy on 127.0.0.1 between the client and it. The proxy can flip one byte of one connection's
 * stream, at a position counted from that stream's first byte, cut one connection there (both
 * directions end, as when a peer or the network goes away), and hold data connections back.
 */
import * as net from 'node:net';
import { Transform, TransformCallback, pipeline } from 'node:stream';
import type { Duplex } from 'node:stream';
import { localLauncher } from '../../../src';
import type { Launcher, LaunchedServer } from '../../../src';
import { dial } from './run';

export interface TamperPlan {
  /**
   * Which connection: 0 the control connection, n data connection n. The proxy tells them apart
   * by the frame after the client's HELLO (PARAMS, or ATTACH with its connection index), not by
   * the order they were accepted in, which is a race.
   */
  connection: number;
  /** 'toServer': the client→fcpd stream; 'toClient': fcpd→client. */
  direction: 'toServer' | 'toClient';
  /** Byte position in that stream. */
  position: number;
  /** XOR mask applied to that byte (default 0x01). */
  mask?: number;
}

export interface ProxyPlan {
  tamper?: TamperPlan;
  /** Passes the bytes before `position`, then ends both directions of that connection (its mask is unused). */
  cut?: TamperPlan;
  /** Holds back every data connection but `except`, once it has said which it is, until `until` settles. */
  hold?: { except: number; until: Promise<unknown> };
}

export interface ProxyReport {
  connections: number;
  /** Set once the byte went through the proxy flipped. */
  flipped: boolean;
  /** Set once the connection to cut was cut. */
  cut: boolean;
  /** Data connections that were held back. */
  held: number;
  /** Bytes each connection carried towards the server and towards the client, by connection index. */
  bytes: { toServer: number; toClient: number }[];
}

const HEADER_SIZE = 7;
const PARAMS = 0x10;
const ATTACH = 0x04;

/**
 * The connection index a client stream opens with, once `head` holds enough of it: HELLO, then
 * PARAMS (control: 0) or ATTACH (session id, then the u16 index). undefined: not enough bytes yet.
 */
function connectionIndexOf(head: Buffer): number | undefined {
  if (head.length < HEADER_SIZE) return undefined;
  const next = HEADER_SIZE + head.readUInt16BE(5);
  if (head.length <= next) return undefined;
  if (head[next] === PARAMS) return 0;
  if (head[next] !== ATTACH) throw new Error(`proxy: a client opened with frame type ${head[next]} after HELLO`);
  const at = next + HEADER_SIZE + 16;
  return head.length < at + 2 ? undefined : head.readUInt16BE(at);
}

/** One proxied connection: learns its index from the client's first frames, then applies the plan. */
class Tap {
  index: number | undefined;
  /** Ends both sockets of this connection (set by the proxy). */
  hangUp: () => void = () => undefined;
  private head = Buffer.alloc(0);

  constructor(
    private readonly plan: ProxyPlan,
    private readonly report: ProxyReport,
  ) {}

  /** Returns the client's bytes once the index is known (all that was held back), else nothing. */
  learn(chunk: Buffer): Buffer | undefined {
    if (this.index !== undefined) return chunk;
    this.head = Buffer.concat([this.head, chunk]);
    this.index = connectionIndexOf(this.head);
    if (this.index === undefined) return undefined;
    this.report.bytes[this.index] = { toServer: 0, toClient: 0 };
    return this.head;
  }

  flipAt(direction: TamperPlan['direction']): TamperPlan | undefined {
    return this.planned(this.plan.tamper, direction);
  }

  cutAt(direction: TamperPlan['direction']): TamperPlan | undefined {
    return this.planned(this.plan.cut, direction);
  }

  private planned(plan: TamperPlan | undefined, direction: TamperPlan['direction']): TamperPlan | undefined {
    return plan && plan.connection === this.index && plan.direction === direction ? plan : undefined;
  }

  heldUntil(): Promise<unknown> | undefined {
    const hold = this.plan.hold;
    return hold && this.index !== 0 && this.index !== hold.except ? hold.until : undefined;
  }
}

class Flipper extends Transform {
  private seen = 0;

  constructor(
    private readonly tap: Tap,
    private readonly direction: TamperPlan['direction'],
    private readonly report: ProxyReport,
  ) {
    super();
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const chunk = this.direction === 'toServer' ? this.tap.learn(input) : input;
    if (!chunk) return callback();
    const first = this.seen === 0 && this.direction === 'toServer';
    const start = this.seen;
    this.seen += chunk.length;
    const counts = this.tap.index === undefined ? undefined : this.report.bytes[this.tap.index];
    if (counts) counts[this.direction] += chunk.length;
    const cut = this.tap.cutAt(this.direction);
    if (cut && this.report.cut) return callback();
    if (cut && cut.position < this.seen) {
      this.report.cut = true;
      callback(null, chunk.subarray(0, Math.max(0, cut.position - start)));
      // Once those bytes are on their way: as if the peer had gone away.
      setImmediate(() => this.tap.hangUp());
      return;
    }
    const plan = this.tap.flipAt(this.direction);
    let out = chunk;
    if (plan && plan.position >= start && plan.position < this.seen) {
      out = Buffer.from(chunk);
      out[plan.position - start] ^= plan.mask ?? 1;
      this.report.flipped = true;
    }
    const held = first ? this.tap.heldUntil() : undefined;
    if (!held) return callback(null, out);
    this.report.held++;
    const release = (): void => callback(null, out);
    held.then(release, release);
  }
}

/** A launcher whose connections go through an in-test proxy that applies `plan`. */
export function proxyLauncher(plan: ProxyPlan): { launcher: Launcher; report: ProxyReport } {
  const report: ProxyReport = { connections: 0, flipped: false, cut: false, held: 0, bytes: [] };
  const launcher: Launcher = {
    async launch(secret, log): Promise<LaunchedServer> {
      const inner = await localLauncher().launch(secret, log);
      const sockets = new Set<Duplex>();
      const proxy = net.createServer((client) => {
        report.connections++;
        sockets.add(client);
        client.pause();
        inner.connect().then(
          (upstream) => {
            sockets.add(upstream);
            const tap = new Tap(plan, report);
            tap.hangUp = () => {
              client.end();
              upstream.end();
            };
            // A clean end of one direction is a half-close, passed on; an error tears both down.
            const done = (err: Error | null | undefined): void => {
              if (!err) return;
              client.destroy();
              upstream.destroy();
            };
            pipeline(client, new Flipper(tap, 'toServer', report), upstream, done);
            pipeline(upstream, new Flipper(tap, 'toClient', report), client, done);
            client.resume();
          },
          () => client.destroy(),
        );
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const port = (proxy.address() as net.AddressInfo).port;
      return {
        name: `${inner.name} (through a proxy on 127.0.0.1:${port})`,
        controlNonce: inner.controlNonce,
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
