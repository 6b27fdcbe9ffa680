/**
 * fcpd's side of fcp --watch --two-way (PROTOCOL.md §7.12): a PULL preceded by TWO_WAY OPEN opens
 * the directory it names as a side. fcpd keeps the side's record in its own state directory
 * (state/twoWayDb.ts, one per directory and pair), lists the side when asked (TWO_WAY LIST: every
 * file with its version, every record row, then LISTED), writes the rows fcp sends (RECORD,
 * FORGET), and watches the directory: the first change after a listing is reported at once
 * (CHANGED), so that fcp's next round comes without waiting for its --interval. With feature
 * TWO_WAY_MOVES its listing also reports the renames it saw, and it makes the renames fcp asks for
 * (TWO_WAY_MOVE), each only of a file still as listed. With TWO_WAY_TREE its listing holds
 * directories and symlinks too (TWO_WAY_NODE), and it records, makes and removes them
 * (TWO_WAY_NODE_OP, each only where safe: watch/nodeOps.ts). The session has no data connection; it
 * lasts until fcp's DONE.
 */
import * as fs from 'node:fs';
import { asFcpError, codeFromWire, FcpError, wireFromCode } from '../errors';
import { Feature, PacketType, TwoWayMoveKind, TwoWayNodeEvent, TwoWayNodeOp, TwoWayOp, TwoWayScopeEvent, TwoWaySideEvent } from '../protocol/constants';
import type { Message, TwoWayMessage, TwoWayMoveMessage, TwoWayNodeOpMessage, TwoWayScopeMessage } from '../protocol/messages';
import { showName } from '../showName';
import { sideDbFile } from '../state/twoWayDb';
import type { PathFilter } from '../sync/filter';
import type { LinkedConnection, TransferSummary } from '../transfer/link';
import { takeOver } from '../wire/handshake';
import { LocalSide } from '../watch/localSide';
import { MAX_NARROWED_PATHS } from '../watch/constants';
import { agreedScopeParts, clientScopeRefusal, ScopeParts } from '../watch/scopeRules';
import { SideListing, sideFilter } from '../watch/sideListing';
import { isNode } from '../watch/entryKinds';
import type { NodeOp } from '../watch/nodeOps';
import { nodeFields, nodeOf, pathOf, rowOf, sideMessage } from '../watch/sideWire';

/** A two-way side's session: the directory (as the PULL resolved it) and the pair's id. */
export interface SideWork {
  kind: 'side';
  root: Buffer;
  pair: Buffer;
  filter?: PathFilter;
}

const NOTHING_SENT: TransferSummary = { filesOk: 0, filesFailed: 0, entriesFailed: 0, bytes: 0, bytesSent: 0, bytesResumed: 0, errors: [] };

/** A TWO_WAY_NODE_OP's change (MKDIR, SYMLINK with a target, REMOVE of the listed version); any other op is FCP_ERR_UNEXPECTED_MESSAGE. */
function nodeChange(op: number, node: { path: string; hash: string; target?: string }): NodeOp {
  if (op === TwoWayNodeOp.MKDIR) return { op: 'mkdir', path: node.path };
  if (op === TwoWayNodeOp.SYMLINK) {
    if (node.target === undefined) throw new FcpError('FCP_ERR_BAD_FIELD', 'TWO_WAY_NODE_OP SYMLINK names no target');
    return { op: 'symlink', path: node.path, target: node.target };
  }
  if (op === TwoWayNodeOp.REMOVE) return { op: 'remove', path: node.path, hash: node.hash };
  throw new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcp sent TWO_WAY_NODE_OP ${op}, where only RECORD, MKDIR, SYMLINK and REMOVE may come`);
}

export class TwoWaySideService {
  private side: LocalSide | undefined;
  /** A CHANGED may go: nothing was reported since the last listing began. */
  private armed = true;
  /** Requests are handled one after another, in order. */
  private queue: Promise<void> = Promise.resolve();
  private settle!: { resolve(summary: TransferSummary): void; reject(error: FcpError): void };
  private over = false;
  /** The paths fcp sent for its next narrowed listing (TWO_WAY_SCOPE PATH); undefined once more than MAX_NARROWED_PATHS came: that listing is whole. */
  private asked: Set<string> | undefined = new Set();

  constructor(
    private readonly control: LinkedConnection,
    private readonly work: SideWork,
    private readonly log: (line: string) => void,
  ) {}

  run(): Promise<TransferSummary> {
    const done = new Promise<TransferSummary>((resolve, reject) => (this.settle = { resolve, reject }));
    const root = this.work.root;
    const dbFile = sideDbFile(fs.realpathSync(root).toString(), this.work.pair.toString('hex'));
    this.queue = LocalSide.open(root, dbFile, sideFilter(this.work.filter), this.log, () => this.changed()).then(
      (side) => {
        this.side = side;
        this.log(`two-way side ${showName(root)}: record ${dbFile}`);
      },
      (err: unknown) => this.fail(asFcpError(err)),
    );
    takeOver(this.control.conn, this.control.established, {
      message: (message) => this.onMessage(message),
      closed: (error) => this.end(error),
    });
    return done;
  }

  /** A data connection has no part in a side's session. */
  join(linked: LinkedConnection): void {
    linked.conn.close();
  }

  abort(error: FcpError): void {
    this.end(error);
  }

  private changed(): void {
    if (!this.armed || this.over) return;
    this.armed = false;
    this.control.conn.send(sideMessage(TwoWaySideEvent.CHANGED));
  }

  private onMessage(message: Message): void {
    if (message.type === PacketType.KEEPALIVE) return;
    // fcp is done with the side.
    if (message.type === PacketType.DONE) return this.end(undefined);
    if (message.type === PacketType.TWO_WAY_MOVE && this.moves()) return this.onMove(message);
    if (message.type === PacketType.TWO_WAY_NODE_OP && this.tree()) return this.onNodeOp(message);
    if (message.type === PacketType.TWO_WAY_SCOPE) return this.onScope(message);
    if (message.type === PacketType.ERROR) return this.end(new FcpError(codeFromWire(message.code), `fcp's two-way watch failed: ${message.message}`));
    if (message.type !== PacketType.TWO_WAY) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcp sent ${message.type} in a two-way side's session`));
    // A copy: the message's buffers are views into a received frame.
    const request: TwoWayMessage = { ...message, digest: Buffer.from(message.digest), path: Buffer.from(message.path) };
    this.queue = this.queue.then(() => this.handle(request)).catch((err: unknown) => this.fail(asFcpError(err)));
  }

  /** fcp negotiated TWO_WAY_MOVES: renames are reported and made. */
  private moves(): boolean {
    return (this.control.established.params.features & Feature.TWO_WAY_MOVES) !== 0;
  }

  /** What fcp agreed on: narrowed listings (TWO_WAY_NARROW, with TWO_WAY_TREE), and sweeps in them (TWO_WAY_SWEEP). */
  private scopeParts(): ScopeParts {
    const { features, moreFeatures } = this.control.established.params;
    return agreedScopeParts(features, moreFeatures);
  }

  /** PATH: one more path for the next narrowed listing; LIST (SWEEP): that listing (with a sweep), in order behind what came before. */
  private onScope(message: TwoWayScopeMessage): void {
    try {
      const refusal = clientScopeRefusal(message.event, message.path.length > 0, this.scopeParts());
      if (refusal) throw refusal;
      if (message.event === TwoWayScopeEvent.PATH) {
        const path = pathOf(message, 'TWO_WAY_SCOPE PATH');
        this.asked?.add(path);
        if (this.asked && this.asked.size > MAX_NARROWED_PATHS) this.asked = undefined;
        return;
      }
    } catch (err) {
      return this.fail(asFcpError(err));
    }
    const asked = this.asked;
    this.asked = new Set();
    const sweep = message.event === TwoWayScopeEvent.SWEEP;
    this.queue = this.queue.then(() => this.listNarrowed(asked, sweep)).catch((err: unknown) => this.fail(asFcpError(err)));
  }

  /** A narrowed listing (`sweep`: with a sweep of the side): WHOLE and the whole listing, or this side's own PATHs and the listing over them and fcp's. */
  private async listNarrowed(asked: Set<string> | undefined, sweep: boolean): Promise<void> {
    const side = this.side;
    if (this.over || !side) return;
    this.armed = true;
    const { listing, scope } = await side.listNarrowed(true, asked ?? 'whole', sweep);
    const send = this.control.conn;
    if (scope === 'whole' || !asked) send.send({ type: PacketType.TWO_WAY_SCOPE, event: TwoWayScopeEvent.WHOLE, path: Buffer.alloc(0) });
    else for (const path of scope) if (!asked.has(path)) send.send({ type: PacketType.TWO_WAY_SCOPE, event: TwoWayScopeEvent.PATH, path: Buffer.from(path, 'latin1') });
    this.sendListing(listing);
  }

  /** fcp negotiated TWO_WAY_TREE: directories and symlinks are listed, recorded and made. */
  private tree(): boolean {
    return (this.control.established.params.features & Feature.TWO_WAY_TREE) !== 0;
  }

  /** RECORD: the row written; MKDIR, SYMLINK, REMOVE: the change made where safe, answered in order. */
  private onNodeOp(message: TwoWayNodeOpMessage): void {
    const request = { ...message, digest: Buffer.from(message.digest), path: Buffer.from(message.path), target: Buffer.from(message.target) };
    this.queue = this.queue
      .then(async () => {
        const side = this.side;
        if (this.over || !side) return;
        const node = nodeOf(request);
        if (request.op === TwoWayNodeOp.RECORD) return side.record([{ path: node.path, hash: node.hash, mode: node.mode, size: 0, mtimeUs: 0 }], []);
        const change = nodeChange(request.op, node);
        const [made] = await side.nodes([change]);
        this.control.conn.send({ ...request, type: PacketType.TWO_WAY_NODE_OP, op: made ? TwoWayNodeOp.MADE : TwoWayNodeOp.NOT_MADE, target: Buffer.alloc(0) });
      })
      .catch((err: unknown) => this.fail(asFcpError(err)));
  }

  /** MAKE: the rename made (if the file is still as listed and the name free), answered in order. */
  private onMove(message: TwoWayMoveMessage): void {
    if (message.kind !== TwoWayMoveKind.MAKE) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcp sent TWO_WAY_MOVE ${message.kind}, where only MAKE may come`));
    // Copies: the paths are views into a received frame.
    const from = Buffer.from(message.from);
    const to = Buffer.from(message.to);
    this.queue = this.queue
      .then(async () => {
        if (this.over || !this.side) return;
        const [made] = await this.side.rename([{ from: from.toString('latin1'), to: to.toString('latin1') }]);
        this.control.conn.send({ type: PacketType.TWO_WAY_MOVE, kind: made ? TwoWayMoveKind.MADE : TwoWayMoveKind.NOT_MADE, from, to });
      })
      .catch((err: unknown) => this.fail(asFcpError(err)));
  }

  private async handle(request: TwoWayMessage): Promise<void> {
    const side = this.side;
    if (this.over || !side) return;
    switch (request.op) {
      case TwoWayOp.LIST: {
        // Changes from now on are news to the next listing.
        this.armed = true;
        this.sendListing(await side.list(this.tree()));
        return;
      }
      case TwoWayOp.RECORD:
        return side.record([rowOf(request, 'TWO_WAY RECORD')], []);
      case TwoWayOp.FORGET:
        return side.record([], [pathOf(request, 'TWO_WAY FORGET')]);
      default:
        throw new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcp sent TWO_WAY ${request.op} in a side's session, where OPEN came already`);
    }
  }

  /** A listing's rows, entries and renames seen, then LISTED. */
  private sendListing(listing: SideListing): void {
    const send = this.control.conn;
    for (const row of listing.records.values()) {
      send.send(isNode(row.mode) ? { type: PacketType.TWO_WAY_NODE, event: TwoWayNodeEvent.RECORDED, ...nodeFields(row.path, row) } : sideMessage(TwoWaySideEvent.RECORDED, row));
    }
    for (const [path, file] of listing.files) {
      send.send(isNode(file.mode) ? { type: PacketType.TWO_WAY_NODE, event: TwoWayNodeEvent.ENTRY, ...nodeFields(path, file, file.target) } : sideMessage(TwoWaySideEvent.ENTRY, { path, ...file }));
    }
    if (this.moves()) {
      for (const { from, to } of listing.moved) send.send({ type: PacketType.TWO_WAY_MOVE, kind: TwoWayMoveKind.SEEN, from: Buffer.from(from, 'latin1'), to: Buffer.from(to, 'latin1') });
    }
    send.send(sideMessage(TwoWaySideEvent.LISTED, undefined, listing.complete ? 1 : 0));
  }

  private fail(error: FcpError): void {
    if (this.over) return;
    this.control.conn.send({ type: PacketType.ERROR, code: wireFromCode(error.code), message: error.message });
    this.end(error);
  }

  /** The session is over: fcp closed it (no error), or it failed. */
  private end(error: FcpError | undefined): void {
    if (this.over) return;
    this.over = true;
    this.control.conn.close(error);
    void this.queue.then(() => this.side?.close()).finally(() => (error ? this.settle.reject(error) : this.settle.resolve(NOTHING_SENT)));
  }
}
