/**
 * An in-test TCP proxy on 127.0.0.1 between a client and fcpd. It tells connections apart by the
 * client's first frames and can, on ONE chosen connection (or the first data connection to get
 * there), at a chosen byte of one direction:
 * cut it (FIN or RST), stall it (stop forwarding, keep it open), delay the rest of the stream, or
 * corrupt one byte. It can also hold data connections back and record what clients sent.
 * proxyLauncher wraps it round a real local fcpd for copy(); startProxy serves any upstream.
 */
import * as net from 'node:net';
import { Transform, TransformCallback } from 'node:stream';
import type { Duplex } from 'node:stream';
import { localLauncher } from '../../../src';
import type { Launcher, LaunchedServer } from '../../../src';
import { dial } from './run';

export type Direction = 'toServer' | 'toClient';

/** What happens at the chosen byte. */
export type Fault =
  /** FIN: both sides see a clean end; RST: both see a reset. Nothing after the byte goes through. */
  | { kind: 'cut'; how: 'fin' | 'rst' }
  /** Nothing from the byte on is forwarded in that direction; the connection stays open. */
  | { kind: 'stall' }
  /** The stream from the byte on is forwarded ms later, in order. */
  | { kind: 'delay'; ms: number }
  /** The byte goes through XORed with mask (default 0x01). */
  | { kind: 'corrupt'; mask?: number };

export interface FaultPlan {
  /**
   * Which connection: 0 the control connection, n data connection n. The proxy tells them apart
   * by the frame after the client's HELLO (PARAMS, or ATTACH with its connection index), not by
   * the order they were accepted in, which is a race. 'anyData': whichever data connection
   * reaches the byte first (how much each carries is up to the pumps that share the chunks).
   */
  connection: number | 'anyData';
  /** 'toServer': the client→fcpd stream; 'toClient': fcpd→client. */
  direction: Direction;
  /** Byte position in that stream, counted from its first byte: bytes before it pass untouched. */
  at: number;
  fault: Fault;
  /**
   * Apply it to every connection with that index (a replacement of a lost data connection too),
   * not only to the first one that reaches the byte.
   */
  repeat?: boolean;
}

export interface ProxyPlan {
  fault?: FaultPlan;
  /** Holds back every data connection but `except`, once it has said which it is, until `until` settles. */
  hold?: { except: number; until: Promise<unknown> };
  /** Keep every byte each client sent (report.recorded). */
  record?: boolean;
}

export interface ProxyReport {
  connections: number;
  /** Set once the fault was applied (the stream reached its byte). */
  faulted: boolean;
  /** Connections the fault was applied to. */
  faults: number;
  /** Data connections that were held back. */
  held: number;
  /** Bytes each connection carried towards the server and towards the client, by connection index. */
  bytes: { toServer: number; toClient: number }[];
  /** With plan.record: what each client sent, by connection index, in order. */
  recorded: Buffer[][];
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

/** Ends `socket` with a RST (a plain Duplex, which has none, is destroyed). */
function reset(socket: Duplex): void {
  if (socket instanceof net.Socket) socket.resetAndDestroy();
  else socket.destroy();
}

/** One proxied connection: learns its index from the client's first frames, then applies the plan. */
class Tap {
  index: number | undefined;
  /** Set by a cut: nothing more goes through either way. */
  cut = false;
  /** The fault was applied to this connection. */
  faultedHere = false;
  private head = Buffer.alloc(0);

  constructor(
    private readonly plan: ProxyPlan,
    private readonly report: ProxyReport,
    private readonly client: Duplex,
    private readonly upstream: Duplex,
  ) {}

  /** Returns the client's bytes once the index is known (all that was held back), else nothing. */
  learn(chunk: Buffer): Buffer | undefined {
    if (this.index !== undefined) return chunk;
    this.head = Buffer.concat([this.head, chunk]);
    this.index = connectionIndexOf(this.head);
    if (this.index === undefined) return undefined;
    this.report.bytes[this.index] = { toServer: 0, toClient: 0 };
    if (this.plan.record) this.report.recorded[this.index] = [];
    return this.head;
  }

  faultOf(direction: Direction): FaultPlan | undefined {
    const fault = this.plan.fault;
    if (!fault || fault.direction !== direction || this.index === undefined) return undefined;
    if (fault.connection === 'anyData' ? this.index === 0 : fault.connection !== this.index) return undefined;
    return fault.repeat || this.faultedHere || !this.report.faulted ? fault : undefined;
  }

  heldUntil(): Promise<unknown> | undefined {
    const hold = this.plan.hold;
    return hold && this.index !== 0 && this.index !== hold.except ? hold.until : undefined;
  }

  /**
   * Cuts both sockets: from now on nothing more goes through, and once the bytes already handed
   * on are written (a FIN must follow them), both sockets get a FIN or a RST.
   */
  cutOff(how: 'fin' | 'rst'): void {
    this.cut = true;
    setImmediate(() => {
      for (const socket of [this.client, this.upstream]) {
        if (how === 'fin') socket.end();
        else reset(socket);
      }
    });
  }
}

/** One direction of a proxied connection: counts, records and applies the fault. */
class Leg extends Transform {
  private seen = 0;
  private stalled = false;

  constructor(
    private readonly tap: Tap,
    private readonly direction: Direction,
    private readonly report: ProxyReport,
  ) {
    super();
  }

  override _transform(input: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const chunk = this.direction === 'toServer' ? this.tap.learn(input) : input;
    if (!chunk || this.tap.cut || this.stalled) return callback();
    const first = this.seen === 0 && this.direction === 'toServer';
    const start = this.seen;
    this.seen += chunk.length;
    const index = this.tap.index;
    if (index !== undefined) {
      this.report.bytes[index]![this.direction] += chunk.length;
      if (this.direction === 'toServer') this.report.recorded[index]?.push(Buffer.from(chunk));
    }
    const held = first ? this.tap.heldUntil() : undefined;
    const forward = (): void => this.applyFault(chunk, start, callback);
    if (!held) return forward();
    this.report.held++;
    held.then(forward, forward);
  }

  /** A stalled direction passes on no end either: the connection stays open. */
  override _flush(callback: TransformCallback): void {
    if (!this.stalled) callback();
  }

  private applyFault(chunk: Buffer, start: number, callback: TransformCallback): void {
    const plan = this.tap.faultOf(this.direction);
    if (!plan || plan.at < start || plan.at >= this.seen) return callback(null, chunk);
    this.report.faulted = true;
    this.report.faults++;
    this.tap.faultedHere = true;
    const split = plan.at - start;
    const fault = plan.fault;
    switch (fault.kind) {
      case 'corrupt': {
        const out = Buffer.from(chunk);
        out[split] ^= fault.mask ?? 1;
        return callback(null, out);
      }
      case 'stall':
        this.stalled = true;
        return callback(null, chunk.subarray(0, split));
      case 'delay':
        this.push(chunk.subarray(0, split));
        setTimeout(() => callback(null, chunk.subarray(split)), fault.ms);
        return;
      case 'cut':
        this.tap.cutOff(fault.how);
        return callback(null, chunk.subarray(0, split));
    }
  }
}

export interface Proxy {
  port: number;
  report: ProxyReport;
  /** A lost network: every connection, control and data, is reset now, and each new one at once. */
  sever(): void;
  close(): Promise<void>;
}

const emptyReport = (): ProxyReport => ({ connections: 0, faulted: false, faults: 0, held: 0, bytes: [], recorded: [] });

/** A proxy on 127.0.0.1 (any free port) to what connectUpstream opens, applying `plan`. */
export async function startProxy(connectUpstream: () => Promise<Duplex>, plan: ProxyPlan, report = emptyReport()): Promise<Proxy> {
  const sockets = new Set<Duplex>();
  let severed = false;
  // allowHalfOpen: a client's FIN is passed on as one, and fcpd's answer still comes back.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    if (severed) return reset(client);
    report.connections++;
    sockets.add(client);
    client.pause();
    client.on('error', () => client.destroy());
    connectUpstream().then(
      (upstream) => {
        sockets.add(upstream);
        const tap = new Tap(plan, report, client, upstream);
        // pipe(), not pipeline(): the end of one direction is a half-close, passed on, where
        // pipeline() would destroy the other direction's sockets; an error tears both down.
        const tearDown = (): void => {
          client.destroy();
          upstream.destroy();
        };
        // A Leg fails when a client opens with frames the proxy cannot place (not fcp's).
        client.on('error', tearDown).pipe(new Leg(tap, 'toServer', report).on('error', tearDown)).pipe(upstream);
        upstream.on('error', tearDown).pipe(new Leg(tap, 'toClient', report).on('error', tearDown)).pipe(client);
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    report,
    sever(): void {
      severed = true;
      for (const socket of sockets) reset(socket);
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A launcher whose connections go through an in-test proxy that applies `plan`; fcpd gets
 * `timeoutMs` as its --timeout. sever() cuts the network of the session launched last (Proxy.sever).
 */
export function proxyLauncher(plan: ProxyPlan, timeoutMs?: number): { launcher: Launcher; report: ProxyReport; sever(): void } {
  const report = emptyReport();
  let latest: Proxy | undefined;
  const launcher: Launcher = {
    async launch(secret, log): Promise<LaunchedServer> {
      const inner = await localLauncher({ timeoutMs }).launch(secret, log);
      const proxy = await startProxy(() => inner.connect(), plan, report);
      latest = proxy;
      return {
        name: `${inner.name} (through a proxy on 127.0.0.1:${proxy.port})`,
        controlNonce: inner.controlNonce,
        connect: () => dial(proxy.port),
        async close(failed: boolean): Promise<void> {
          try {
            await inner.close(failed);
          } finally {
            await proxy.close();
          }
        },
      };
    },
  };
  return { launcher, report, sever: () => latest?.sever() };
}
