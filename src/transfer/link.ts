/**
 * What a transfer runs over once the handshake is done, and the part the sending and the
 * receiving engine share: taking over every connection, routing their messages, and ending the
 * session once, either completed or failed (every connection closed, the peer told why).
 */
import { asFcpError, FcpError } from '../errors';
import { Feature, PacketType } from '../protocol/constants';
import type { Message, ParamsMessage } from '../protocol/messages';
import type { XXHashAPI } from '../protocol/xxhash';
import { FailAction, peerError } from '../session/actions';
import { singleChunkDigest } from '../session/digest';
import type { CompleteAction } from '../session/transfer';
import type { FramedConnection } from '../wire/framedConnection';
import { Established, takeOver } from '../wire/handshake';
import type { MemoryConnection } from './memoryLink';
import type { ItemReport } from '../sync/receiverSync';
import { DescriptorLine, OpenFileBudget, openFileBudget } from './openFileBudget';
import type { SliceArena } from './sliceArena';

/** A connection over a byte stream (a socket, an SSH channel), or one end of an in-process pair (a local copy). */
export type LinkConnection = FramedConnection | MemoryConnection;

export interface LinkedConnection {
  conn: LinkConnection;
  established: Established;
}

export interface TransferLink {
  control: LinkedConnection;
  /**
   * Data connections by connection index (index 1 at [0]). A run starts once the control
   * connection is established, so this may have holes: later connections come through join().
   */
  data: LinkedConnection[];
  params: ParamsMessage;
  /**
   * The client: data connections it opened (indexes 1..dataOpened). Under feature GROW fewer than
   * params.connections until the tuner adds them; params.connections when unset.
   */
  dataOpened?: number;
  xxh: XXHashAPI;
  /** "server 10.0.0.2:7523", "client 10.0.0.1:51234". */
  peerName: string;
  /** This side's --timeout: connections' idle limit, and the limit on a disk write. */
  idleMs: number;
  log(line: string): void;
  /**
   * Feature RECONNECT, the client: the server gave up data connection index connIndex after its
   * loss; dial a replacement (and join() it) or give the index up (abandonData()).
   */
  reopen?(connIndex: number): void;
  /** Feature RECONNECT, the server: this side gave up data connection index connIndex; a replacement may attach there. */
  release?(connIndex: number): void;
  /**
   * In one process (memoryLink.ts): the receiver is done with a chunk's buffers (written, or
   * refused), which the sender may then fill again. Unset when the bytes came over a connection.
   */
  returnChunk?(data: readonly Buffer[]): void;
  /**
   * In one process: the sender reads small files into slices of this arena, and the receiver
   * gives each back (returnInline) once the file is written or failed, so that its blocks are
   * filled again. Unset over a connection: the sender's own arena, whose slices it gives back once
   * their FILE_INLINE is encoded.
   */
  inlineBuffers?: SliceArena;
  returnInline?(data: Buffer): void;
  /** The open-file budget this run takes descriptors from: the process's unless set (memoryLink.ts sets halves). */
  descriptorBudget?: OpenFileBudget;
  /** The sender's walk ahead of its announcements after its first FILE_COUNT, in entries: WALK_AHEAD unless set (memoryLink.ts sets less). */
  walkAhead?: number;
  /** The sender's bytes of small files read per burst of announcing: the sender's INLINE_BURST unless set (memoryLink.ts sets less). */
  inlineBurst?: number;
  /**
   * The receiver's DEST_STATE is already the sender's: a pulling client's offer of more feature
   * DEST_EMPTY was answered (PROTOCOL.md §7.4), so the receiver sends none.
   */
  destStateKnown?: boolean;
}

export interface FileEvent {
  path: Buffer;
  size: number;
  /** Whole-file digest (hex), when the file ended OK. */
  digest?: string;
  error?: FcpError;
  /** Copied, but something to know: the source grew while it was read and its start was copied. */
  warning?: string;
}

/**
 * A file event whose digest is worked out only when read (and then once). Classes, the getter on
 * the prototype: an object literal with a getter is built by a call into V8's runtime, 2-4 µs a
 * file where this takes a tenth of that.
 */
abstract class DigestOnReadEvent implements FileEvent {
  private hex: string | undefined;
  readonly error: undefined = undefined;
  abstract readonly path: Buffer;

  constructor(
    readonly size: number,
    readonly warning: string | undefined,
  ) {}

  protected abstract digestBytes(): Buffer;

  get digest(): string {
    return (this.hex ??= this.digestBytes().toString('hex'));
  }
}

/** Its digest from a function (a file of several chunks: its FileDigest). */
class LazyDigestFileEvent extends DigestOnReadEvent {
  constructor(readonly path: Buffer, size: number, private readonly digestOf: () => Buffer, warning: string | undefined) {
    super(size, warning);
  }

  protected digestBytes(): Buffer {
    return this.digestOf();
  }
}

/** A file of one chunk (sent inline): its digest from that chunk's hash, with nothing made for it but the event. */
abstract class OneChunkFileEvent extends DigestOnReadEvent {
  constructor(size: number, private readonly chunkSize: number, private readonly hash: bigint, warning: string | undefined) {
    super(size, warning);
  }

  protected digestBytes(): Buffer {
    return singleChunkDigest(this.size, this.chunkSize, this.hash);
  }
}

class SingleChunkFileEvent extends OneChunkFileEvent {
  constructor(readonly path: Buffer, size: number, chunkSize: number, hash: bigint, warning: string | undefined) {
    super(size, chunkSize, hash, warning);
  }
}

/**
 * The sender's, its path from the entry when read: a file walked in a directory joins it then
 * (walk.ts FileInDirectory), so a file no one asks the path of costs no Buffer for it.
 */
class SentEntryFileEvent extends OneChunkFileEvent {
  constructor(private readonly entry: { readonly path: Buffer }, size: number, chunkSize: number, hash: bigint, warning: string | undefined) {
    super(size, chunkSize, hash, warning);
  }

  get path(): Buffer {
    return this.entry.path;
  }
}

/** A file's event: with a digest (worked out when read) when it ended OK and `digest` says how. */
export function fileEvent(path: Buffer, size: number, error: FcpError | undefined, digest: (() => Buffer) | undefined, warning?: string): FileEvent {
  if (error || !digest) return { path, size, error, warning };
  return new LazyDigestFileEvent(path, size, digest, warning);
}

/** A file of one chunk that ended OK: its digest from the chunk's xxh64 `hash` when read. */
export function singleChunkFileEvent(path: Buffer, size: number, chunkSize: number, hash: bigint, warning?: string): FileEvent {
  return new SingleChunkFileEvent(path, size, chunkSize, hash, warning);
}

/** singleChunkFileEvent of a sent entry: its path read from the entry when the event's is. */
export function sentEntryFileEvent(entry: { readonly path: Buffer }, size: number, chunkSize: number, hash: bigint, warning?: string): FileEvent {
  return new SentEntryFileEvent(entry, size, chunkSize, hash, warning);
}

export interface TransferEvents {
  start?(files: number, bytes: number): void;
  /** More files and bytes to copy than start() said: a walk announced as it goes (feature STREAM), or --follow's new files. */
  counted?(files: number, bytes: number): void;
  /** Bytes done since the last call (sent by a sender, written by a receiver, or found at the destination: FILE_SAME). */
  bytes?(count: number): void;
  file?(event: FileEvent): void;
  /** A directory or symlink that failed, or a source entry the sender skipped (ENTRY_ERROR, either side's). */
  entryFailed?(path: Buffer, error: FcpError): void;
  /** A sync changed (or, in a dry run, would change) an entry at the destination: the receiver's, or a receiving fcpd's ITEM. */
  item?(report: ItemReport): void;
  /** --follow: something to tell the user (a source waited for, a followed file sent again). */
  notice?(text: string): void;
  /** --follow: the transfer grew past start()'s totals (files counted again or new, bytes appended); their bytes and files come as usual. */
  grew?(files: number, bytes: number): void;
}

/**
 * Events that end the session at the first file or entry that fails (--fail-fast), with an error
 * of that failure's code: what was not sent yet is not sent, and the exit code is the failure's.
 */
export function stopAtFirstFailure(events: TransferEvents, run: () => TransferRun | undefined): TransferEvents {
  const stop = (error: FcpError): void =>
    run()?.abort(new FcpError(error.code, `--fail-fast: stopped at the first failure: ${error.message}`, { hint: error.hint, cause: error }));
  return {
    ...events,
    file(event) {
      events.file?.(event);
      if (event.error) stop(event.error);
    },
    entryFailed(path, error) {
      events.entryFailed?.(path, error);
      stop(error);
    },
  };
}

export interface TransferSummary {
  filesOk: number;
  filesFailed: number;
  /** Directories, symlinks and skipped source entries that are not in the copy (ENTRY_ERROR). */
  entriesFailed: number;
  /** Bytes of the files that ended OK. */
  bytes: number;
  /** File bytes that crossed the wire in this run: DATA (resent chunks included) and FILE_INLINE data. */
  bytesSent: number;
  /** Bytes of files not sent because the destination already held them (FILE_SAME). */
  bytesResumed: number;
  /** Bytes not sent because the destination's old version of a file held them (feature DELTA: DELTA_COPY). */
  bytesSaved?: number;
  /** Files not sent because the destination held them or a sync left them (FILE_SAME); a relayed summary (fcpd --connect) has none. */
  filesSame?: number;
  /** Why files failed or were skipped; the transfer is partial when this is not empty. */
  errors: FcpError[];
  /** --follow: what following sent after the copy (APPENDs and their bytes, files sent again, new files). */
  followed?: FollowedSummary;
}

export interface FollowedSummary {
  appends: number;
  appendedBytes: number;
  resent: number;
  newFiles: number;
}

/** The tallies of a machine's complete action, as a summary carries them. */
export function counts(action: CompleteAction): Omit<TransferSummary, 'bytesSent' | 'errors'> {
  const { filesOk, filesFailed, entriesFailed, bytes, bytesResumed, filesSame } = action;
  return { filesOk, filesFailed, entriesFailed, bytes, bytesResumed, filesSame };
}

/** A run's summary: the machine's tallies, the bytes this side counted, and (--follow) what following sent. */
export function runSummary(action: CompleteAction, bytesSent: number, bytesSaved: number, errors: FcpError[], followed?: FollowedSummary): TransferSummary {
  return { ...counts(action), bytesSent, bytesSaved, errors, ...(followed ? { followed } : {}) };
}

export abstract class TransferRun {
  readonly done: Promise<TransferSummary>;
  protected over = false;
  /** The session negotiated RECONNECT: a lost data connection costs its chunks in flight, not the session. */
  protected readonly reconnect: boolean;
  /** Data connections counted as lost: their close events, late or caused by this side, are not news. */
  private readonly lostConnections = new WeakSet<LinkConnection>();
  /** Data connection indexes the client gave up reopening. */
  private readonly abandoned = new Set<number>();
  private attached = false;
  private settle!: { resolve: (summary: TransferSummary) => void; reject: (error: FcpError) => void };
  /** This run's turn at the process's open-file budget, shared with every other run in it. */
  protected readonly descriptors: DescriptorLine;

  protected constructor(protected readonly link: TransferLink) {
    this.reconnect = (link.params.features & Feature.RECONNECT) !== 0;
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.descriptors = new DescriptorLine(
      link.descriptorBudget ?? openFileBudget(),
      (use) => this.guard(use),
      (error) => this.fail(error),
    );
  }

  /** The run has completed or failed. */
  get isOver(): boolean {
    return this.over;
  }

  /** Hands every connection established so far to this run. Call once the run can take messages. */
  protected attach(): void {
    const { control, data, params } = this.link;
    this.attached = true;
    if (params.features & Feature.BATCH) control.conn.batchSends();
    takeOver(control.conn, control.established, {
      message: (message) => this.guardedMessage(undefined, message),
      closed: (error) => this.onClosed(control.conn, error),
    });
    data.forEach((linked) => this.takeOverData(linked));
  }

  /**
   * A data connection whose handshake finished after the run was created: files start moving
   * on the control connection and the connections already there instead of waiting a round
   * trip for the last one. One that arrives after the end is closed.
   */
  join(linked: LinkedConnection): void {
    if (this.over) return linked.conn.close();
    this.link.data[linked.established.connIndex - 1] = linked;
    if (this.attached) this.takeOverData(linked);
  }

  /** Ends the session with `error`, told to the peer: a data connection could not be established, the server's session ended, --fail-fast. */
  abort(error: FcpError): void {
    this.fail(error, true);
  }

  /**
   * The client could not open a replacement for data connection connIndex and will not try
   * again: the transfer goes on over the others, and fails when none is left.
   */
  abandonData(connIndex: number, why: FcpError): void {
    this.abandoned.add(connIndex);
    this.link.log(`data connection ${connIndex} is not opened again: ${why.message}`);
    const opened = this.link.dataOpened ?? this.link.params.connections;
    if (this.abandoned.size < opened) return;
    this.fail(new FcpError('FCP_ERR_CONNECTION_LOST', `all ${opened} data connections to ${this.link.peerName} were lost and could not be opened again: ${why.message}`, {
      hint: 'the network or the remote host keeps dropping connections; run again to resume',
    }));
  }

  private takeOverData(linked: LinkedConnection): void {
    const { conn, established } = linked;
    takeOver(conn, established, {
      message: (message) => this.guardedMessage(linked, message),
      closed: (error) => this.onDataClosed(linked, error),
    });
    this.dataReady(linked);
  }

  /** A peer closing a data connection is normal now: the DONE that says why is on its way, or (receiver) ours is out. */
  protected abstract peerMayCloseData(): boolean;

  /** A data connection can carry frames now (the sender starts a pump on it). */
  protected dataReady(_linked: LinkedConnection): void {}

  /**
   * Feature RECONNECT: data connection connIndex is lost (this side noticed it; the connection is
   * closed already). The receiver reports what arrived on it, the sender waits for that report.
   */
  protected abstract dataLost(connIndex: number): void;

  /** Closes data connection connIndex as lost (the peer reported it so), unless it is already. */
  protected dropData(connIndex: number): void {
    const conn = this.link.data[connIndex - 1]?.conn;
    if (!conn || this.lostConnections.has(conn)) return;
    this.lostConnections.add(conn);
    conn.close();
  }

  protected abstract onControl(message: Message): void;
  /** A message other than ERROR or KEEPALIVE on data connection `connIndex`. */
  protected abstract onData(connIndex: number, message: Message): void;
  /** Last chance to clean up (temporary files, open descriptors) when the session fails; the run settles after it. */
  protected abstract cleanUp(): Promise<void>;
  /** Resolves when no file of a completed run is half removed: the run settles after it, so the process may exit. */
  protected filesSettled(): Promise<void> {
    return Promise.resolve();
  }

  private onDataMessage({ conn, established }: LinkedConnection, message: Message): void {
    if (message.type === PacketType.KEEPALIVE) return;
    if (message.type === PacketType.ERROR) {
      // With RECONNECT an ERROR on a data connection is about that connection (a frame that failed there).
      if (this.reconnect) return conn.close(peerError(message, `${this.link.peerName} on ${conn.name}`));
      return this.onControl(message);
    }
    this.onData(established.connIndex, message);
  }

  /** A machine's fail action ends the session. */
  protected failed(action: FailAction): void {
    this.fail(action.error, action.notifyPeer);
  }

  protected fail(error: FcpError, notifyPeer = true): void {
    if (this.over) return;
    this.over = true;
    this.descriptors.close();
    this.link.log(`transfer failed: ${error.message}`);
    this.link.control.conn.fail(error, notifyPeer);
    this.link.data.forEach(({ conn }) => conn.close(error));
    void this.cleanUp().finally(() => this.settle.reject(error));
  }

  protected complete(summary: TransferSummary): void {
    if (this.over) return;
    this.over = true;
    this.descriptors.close();
    this.link.control.conn.close();
    this.link.data.forEach(({ conn }) => conn.close());
    void this.filesSettled().then(() => this.settle.resolve(summary));
  }

  private onDataClosed({ conn, established }: LinkedConnection, error: FcpError | undefined): void {
    if (this.over || this.lostConnections.has(conn) || this.peerMayCloseData()) return;
    if (!this.reconnect) return this.onClosed(conn, error);
    this.lostConnections.add(conn);
    this.link.log(`${error?.message ?? `${conn.name} closed`}: its chunks in flight go over the other connections`);
    this.guard(() => this.dataLost(established.connIndex));
  }

  private onClosed(conn: LinkConnection, error: FcpError | undefined): void {
    if (this.over) return;
    this.fail(error ?? new FcpError('FCP_ERR_CONNECTION_LOST', `${conn.name} closed before the transfer ended`), true);
  }

  /**
   * A message of data connection `linked` (undefined: the control connection), run as guard()
   * runs a step, with no function made for it: a session takes several messages a file.
   */
  private guardedMessage(linked: LinkedConnection | undefined, message: Message): void {
    if (this.over) return;
    try {
      if (linked) this.onDataMessage(linked, message);
      else this.onControl(message);
    } catch (err) {
      this.fail(asFcpError(err));
    }
  }

  /** Runs a step; an exception from it (a bug or an unexpected fs error) fails the session. */
  protected guard(step: () => void): void {
    if (this.over) return;
    try {
      step();
    } catch (err) {
      this.fail(asFcpError(err));
    }
  }
}
