/**
 * The side of fcp --watch --two-way on a host, reached through the watch's fcpd (PROTOCOL.md
 * §7.12): one session whose control connection stays open for as long as the link does. Its
 * PULL, preceded by TWO_WAY OPEN with the pair's id, names the directory; fcpd then lists the side
 * against its own record when asked, writes the rows it is sent, and says when the directory
 * changed (CHANGED), which wakes the watch. With TWO_WAY_MOVES it also reports the renames its
 * listing saw and makes the ones it is asked to (TWO_WAY_MOVE); without, it makes none. With
 * TWO_WAY_TREE its listing holds directories and symlinks too (TWO_WAY_NODE), and it records, makes
 * and removes them (TWO_WAY_NODE_OP); without, the pair syncs regular files only.
 */
import { randomBytes } from 'node:crypto';
import { asFcpError, codeFromWire, FcpError } from '../errors';
import { Feature, MoreFeature, PacketType, TwoWayMoveKind, TwoWayNodeEvent, TwoWayNodeOp, TwoWayOp, TwoWayScopeEvent, TwoWaySideEvent } from '../protocol/constants';
import type { Message, TwoWayMoveMessage, TwoWayNodeMessage, TwoWayNodeOpMessage, TwoWayScopeMessage } from '../protocol/messages';
import { loadXxhash } from '../protocol/xxhash';
import { ClientConnection } from '../session/connection';
import { makeOffer } from '../session/params';
import type { LaunchedServer } from '../launch/launcher';
import type { Recorded } from '../state/twoWayDb';
import type { PathFilter } from '../sync/filter';
import { filterRulesMessage } from '../sync/filterWire';
import { timeoutsFor } from '../timeouts';
import { FramedConnection } from '../wire/framedConnection';
import { runHandshake, takeOver } from '../wire/handshake';
import { DIR_HASH, DIR_MODE, isNode, LINK_MODE } from './entryKinds';
import type { TwoWaySide } from './localSide';
import type { NodeOp } from './nodeOps';
import type { SideListing, SideMove } from './sideListing';
import { MAX_NARROWED_PATHS } from './constants';
import type { Scope } from './scope';
import { agreedScopeParts, ListingAsks, ScopeParts, serverScopeRefusal } from './scopeRules';
import { nodeFields, nodeOf, pathOf, rowOf, twoWayMessage } from './sideWire';

/** A directory or symlink change, as TWO_WAY_NODE_OP asks for it. */
function nodeOpMessage(change: NodeOp): TwoWayNodeOpMessage {
  if (change.op === 'mkdir') return { type: PacketType.TWO_WAY_NODE_OP, op: TwoWayNodeOp.MKDIR, ...nodeFields(change.path, { hash: DIR_HASH, mode: DIR_MODE }) };
  if (change.op === 'symlink') return { type: PacketType.TWO_WAY_NODE_OP, op: TwoWayNodeOp.SYMLINK, ...nodeFields(change.path, { hash: DIR_HASH, mode: LINK_MODE }, change.target) };
  return { type: PacketType.TWO_WAY_NODE_OP, op: TwoWayNodeOp.REMOVE, ...nodeFields(change.path, { hash: change.hash, mode: change.hash === DIR_HASH ? DIR_MODE : LINK_MODE }) };
}

export interface RemoteSideOptions {
  /** The host, for conflict names; the directory there, as a user path. */
  host: string;
  path: Buffer;
  /** The pair's id (32 bytes): fcpd keeps the side's record under it. */
  pair: Buffer;
  filter: PathFilter;
  encrypt: boolean;
  timeoutMs?: number;
  log(line: string): void;
  /** fcpd reported a change in the directory. */
  changed(): void;
}

export class RemoteSide implements TwoWaySide {
  readonly host: string;
  /** The listing under way: ENTRY and RECORDED gather here until LISTED; a narrowed one's scope too (fcpd's PATHs, or WHOLE). */
  private listing: { result: SideListing; scope?: Set<string> | 'whole'; resolve(listing: SideListing): void; reject(error: FcpError): void } | undefined;
  private failure: FcpError | undefined;
  /** The scope of the last narrowed listing, as fcpd's PATHs and WHOLE made it. */
  private listedScope: Scope | undefined;
  /** How listings are asked of this fcpd, as far as it can narrow and sweep. */
  private readonly asks: ListingAsks;
  /** Renames asked for (TWO_WAY_MOVE MAKE), answered in order. */
  private readonly renaming: { move: SideMove; answer(made: boolean): void; reject(error: FcpError): void }[] = [];
  /** Directory and symlink changes asked for (TWO_WAY_NODE_OP), answered in order. */
  private readonly changing: { path: string; answer(made: boolean): void; reject(error: FcpError): void }[] = [];

  private constructor(
    private readonly conn: FramedConnection,
    private readonly options: RemoteSideOptions,
    /** fcpd makes renames and reports those it sees (feature TWO_WAY_MOVES). */
    private readonly moves: boolean,
    /** fcpd lists, records and makes directories and symlinks (feature TWO_WAY_TREE). */
    readonly tree: boolean,
    /** fcpd narrows a listing to the paths either side saw change (more feature TWO_WAY_NARROW), and sweeps its side for one when asked (TWO_WAY_SWEEP). */
    private readonly parts: ScopeParts,
  ) {
    this.host = options.host;
    this.asks = new ListingAsks(parts);
  }

  /** Opens the side's session on `server` (a launched fcpd, proving `secret`). */
  static async open(server: LaunchedServer, secret: Buffer, options: RemoteSideOptions): Promise<RemoteSide> {
    const xxh = await loadXxhash();
    const { idleMs, handshakeMs } = timeoutsFor(options.timeoutMs);
    const conn = new FramedConnection(await server.connect(), xxh, `two-way connection to ${server.name}`, idleMs);
    try {
      const offered = makeOffer({ connections: 1, encrypt: options.encrypt, filters: options.filter.active });
      const established = await runHandshake(
        conn,
        new ClientConnection({
          role: 'control',
          secret: server.secret ?? secret,
          nonce: randomBytes(32),
          peerName: server.name,
          offer: { ...offered, features: offered.features | Feature.TWO_WAY | Feature.TWO_WAY_MOVES | Feature.TWO_WAY_TREE, moreFeatures: MoreFeature.TWO_WAY_NARROW | MoreFeature.TWO_WAY_SWEEP },
          mode: { type: PacketType.MODE, flags: 0 },
          ...(options.filter.active ? { filterRules: filterRulesMessage(options.filter) } : {}),
          twoWay: { ...twoWayMessage(TwoWayOp.OPEN), digest: options.pair },
          request: { type: PacketType.PULL, paths: [options.path] },
          launchNonce: server.controlNonce,
        }),
        { timeoutMs: handshakeMs, log: options.log },
      );
      const { features, moreFeatures } = established.params;
      const side = new RemoteSide(conn, options, (features & Feature.TWO_WAY_MOVES) !== 0, (features & Feature.TWO_WAY_TREE) !== 0, agreedScopeParts(features, moreFeatures));
      takeOver(conn, established, { message: (message) => side.onMessage(message), closed: (error) => side.onClosed(error) });
      return side;
    } catch (err) {
      const error = asFcpError(err);
      conn.close(error);
      throw error;
    }
  }

  /** fcpd lists directories and symlinks exactly when TWO_WAY_TREE was agreed: `tree` is this side's own. */
  list(): Promise<SideListing> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.listing) return Promise.reject(new FcpError('FCP_ERR_INTERNAL', 'a two-way side was listed twice at once'));
    return new Promise((resolve, reject) => {
      this.listing = { result: { files: new Map(), records: new Map(), moved: [], complete: true }, resolve, reject };
      this.conn.send(twoWayMessage(TwoWayOp.LIST));
    });
  }

  /**
   * fcpd's listing over `asked` and the paths its events named (TWO_WAY_SCOPE LIST), with `sweep`
   * also those the sweep of its next slice found (SWEEP); whole from an fcpd that cannot narrow or
   * says WHOLE. An fcpd that cannot sweep is listed whole at every SWEEP_SLICES-th sweep asked
   * of it (so its paths are looked at as often), narrowed otherwise (ListingAsks).
   */
  async listNarrowed(_tree: boolean, asked: ReadonlySet<string>, sweep: boolean): Promise<{ listing: SideListing; scope: Scope }> {
    const ask = this.asks.next(sweep);
    if (ask === 'whole') return { listing: await this.list(), scope: 'whole' };
    if (this.failure) throw this.failure;
    if (this.listing) throw new FcpError('FCP_ERR_INTERNAL', 'a two-way side was listed twice at once');
    const scope = new Set(asked);
    const listing = await new Promise<SideListing>((resolve, reject) => {
      this.listing = { result: { files: new Map(), records: new Map(), moved: [], complete: true }, scope, resolve, reject };
      for (const path of asked) this.conn.send({ type: PacketType.TWO_WAY_SCOPE, event: TwoWayScopeEvent.PATH, path: Buffer.from(path, 'latin1') });
      this.conn.send({ type: PacketType.TWO_WAY_SCOPE, event: ask === 'swept' ? TwoWayScopeEvent.SWEEP : TwoWayScopeEvent.LIST, path: Buffer.alloc(0) });
    });
    return { listing, scope: this.listedScope ?? 'whole' };
  }

  /** Sent in order behind anything else; a row fcpd did not write (the link cut) leaves its record behind, which a round settles. */
  async record(put: readonly Recorded[], forget: readonly string[]): Promise<void> {
    if (this.failure) throw this.failure;
    for (const row of put) {
      this.conn.send(isNode(row.mode) ? { type: PacketType.TWO_WAY_NODE_OP, op: TwoWayNodeOp.RECORD, ...nodeFields(row.path, row) } : twoWayMessage(TwoWayOp.RECORD, row));
    }
    for (const path of forget) this.conn.send(twoWayMessage(TwoWayOp.FORGET, path));
    await this.conn.drain();
  }

  /** Each asked of fcpd in order (TWO_WAY_MOVE MAKE) and answered (MADE, NOT_MADE); none made by an fcpd without TWO_WAY_MOVES. */
  async rename(moves: readonly SideMove[]): Promise<boolean[]> {
    if (this.failure) throw this.failure;
    if (!this.moves) return moves.map(() => false);
    const answers = moves.map(
      (move) =>
        new Promise<boolean>((answer, reject) => {
          this.renaming.push({ move, answer, reject });
          this.conn.send({ type: PacketType.TWO_WAY_MOVE, kind: TwoWayMoveKind.MAKE, from: Buffer.from(move.from, 'latin1'), to: Buffer.from(move.to, 'latin1') });
        }),
    );
    return Promise.all(answers);
  }

  /** Each asked of fcpd in order (TWO_WAY_NODE_OP) and answered (MADE, NOT_MADE); none asked of an fcpd without TWO_WAY_TREE. */
  async nodes(changes: readonly NodeOp[]): Promise<boolean[]> {
    if (this.failure) throw this.failure;
    if (!this.tree) return changes.map(() => false);
    const answers = changes.map(
      (change) =>
        new Promise<boolean>((answer, reject) => {
          this.changing.push({ path: change.path, answer, reject });
          this.conn.send(nodeOpMessage(change));
        }),
    );
    return Promise.all(answers);
  }

  async close(): Promise<void> {
    if (!this.failure) this.conn.send({ type: PacketType.DONE });
    this.failure ??= new FcpError('FCP_ERR_INTERNAL', 'the two-way side was closed');
    this.conn.close();
    await this.conn.whenClosed();
  }

  private onMessage(message: Message): void {
    if (message.type === PacketType.KEEPALIVE) return;
    if (message.type === PacketType.ERROR) return this.fail(new FcpError(codeFromWire(message.code), `${this.options.host}: ${message.message}`));
    if (message.type === PacketType.TWO_WAY_MOVE && this.moves) return this.onMove(message);
    if (message.type === PacketType.TWO_WAY_NODE && this.tree) return this.onNode(message);
    if (message.type === PacketType.TWO_WAY_NODE_OP && this.tree) return this.onNodeAnswer(message);
    if (message.type === PacketType.TWO_WAY_SCOPE && this.parts.narrow) return this.onScope(message);
    if (message.type !== PacketType.TWO_WAY_SIDE) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcpd sent ${message.type} in a two-way side's session`));
    if (message.event === TwoWaySideEvent.CHANGED) return this.options.changed();
    const listing = this.listing;
    if (!listing) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcpd sent a listing (TWO_WAY_SIDE ${message.event}) no LIST asked for`));
    try {
      if (message.event === TwoWaySideEvent.LISTED) {
        this.listing = undefined;
        this.listedScope = listing.scope;
        listing.result.complete = message.mode === 1;
        return listing.resolve(listing.result);
      }
      const row = rowOf(message, `TWO_WAY_SIDE ${message.event}`);
      if (message.event === TwoWaySideEvent.RECORDED) listing.result.records.set(row.path, row);
      else listing.result.files.set(row.path, row);
    } catch (err) {
      this.fail(asFcpError(err));
    }
  }

  /** Before a narrowed listing's entries: a path fcpd's events named (PATH, added to the scope), or WHOLE. */
  private onScope(message: TwoWayScopeMessage): void {
    const refusal = serverScopeRefusal(message.event, this.listing?.scope !== undefined);
    if (refusal) return this.fail(refusal);
    const listing = this.listing as { scope: Set<string> | 'whole' };
    if (message.event === TwoWayScopeEvent.WHOLE) {
      listing.scope = 'whole';
      return;
    }
    if (listing.scope === 'whole') return;
    try {
      listing.scope.add(pathOf(message, 'TWO_WAY_SCOPE PATH'));
      if (listing.scope.size > MAX_NARROWED_PATHS) throw new FcpError('FCP_ERR_BAD_FIELD', `fcpd sent more than ${MAX_NARROWED_PATHS} paths for a narrowed listing, where it lists whole`);
    } catch (err) {
      this.fail(asFcpError(err));
    }
  }

  /** A rename the listing saw (SEEN), or fcpd's answer to the oldest MAKE. */
  private onMove(message: TwoWayMoveMessage): void {
    const move = { from: message.from.toString('latin1'), to: message.to.toString('latin1') };
    if (message.kind === TwoWayMoveKind.SEEN) {
      if (!this.listing) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', 'fcpd sent a rename (TWO_WAY_MOVE SEEN) outside a listing'));
      this.listing.result.moved.push(move);
      return;
    }
    const asked = this.renaming[0];
    if ((message.kind !== TwoWayMoveKind.MADE && message.kind !== TwoWayMoveKind.NOT_MADE) || !asked || asked.move.from !== move.from || asked.move.to !== move.to) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcpd sent TWO_WAY_MOVE ${message.kind} that answers no rename asked for`));
    }
    this.renaming.shift();
    asked.answer(message.kind === TwoWayMoveKind.MADE);
  }

  /** A directory or symlink in the listing under way: held (ENTRY) or recorded (RECORDED). */
  private onNode(message: TwoWayNodeMessage): void {
    if (!this.listing) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', 'fcpd sent a directory or symlink (TWO_WAY_NODE) outside a listing'));
    try {
      const node = nodeOf(message);
      if (message.event === TwoWayNodeEvent.RECORDED) this.listing.result.records.set(node.path, { path: node.path, hash: node.hash, mode: node.mode, size: 0, mtimeUs: 0 });
      else this.listing.result.files.set(node.path, node);
    } catch (err) {
      this.fail(asFcpError(err));
    }
  }

  /** fcpd's answer to the oldest TWO_WAY_NODE_OP change. */
  private onNodeAnswer(message: TwoWayNodeOpMessage): void {
    const asked = this.changing[0];
    if ((message.op !== TwoWayNodeOp.MADE && message.op !== TwoWayNodeOp.NOT_MADE) || !asked || asked.path !== message.path.toString('latin1')) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `fcpd sent TWO_WAY_NODE_OP ${message.op} that answers no change asked for`));
    }
    this.changing.shift();
    asked.answer(message.op === TwoWayNodeOp.MADE);
  }

  private onClosed(error: FcpError | undefined): void {
    this.fail(error ?? new FcpError('FCP_ERR_CONNECTION_LOST', `fcpd on ${this.options.host} ended the two-way session`));
  }

  private fail(error: FcpError): void {
    if (this.failure) return;
    this.failure = error;
    this.conn.close(error);
    this.listing?.reject(error);
    this.listing = undefined;
    for (const asked of [...this.renaming.splice(0), ...this.changing.splice(0)]) asked.reject(error);
  }
}
