/**
 * The client's session: control connection (handshake, MODE, PUSH or PULL, SESSION), then the
 * N data connections in parallel, then the transfer engine for our role: sender for a push,
 * receiver for a pull.
 */
import { sizeLimitsMessage, SyncOptions, syncMessage } from '../sync/options';
import { randomBytes } from 'node:crypto';
import { asFcpError, FcpError } from '../errors';
import { Cipher, Feature, ModeFlag, PacketType, SESSION_ID_SIZE } from '../protocol/constants';
import type { Message, ParamsMessage, RenameMessage } from '../protocol/messages';
import { cipherLabel } from '../protocol/frameCipher';
import { loadXxhash } from '../protocol/xxhash';
import { ClientConnection } from '../session/connection';
import { ReopenBudget } from '../session/dataLoss';
import { firstDials, initialConnections } from '../session/connectionTuner';
import { destinationEmptyAgreed, transferOffer } from '../session/params';
import { forcedTuning, growConnections } from './connectionGrowth';
import type { LaunchedServer } from '../launch/launcher';
import type { PathFilter } from '../sync/filter';
import { filterRulesMessage } from '../sync/filterWire';
import { filesFromMessages } from '../sync/filesFrom';
import { CAUSE_WAIT_MS, timeoutsFor } from '../timeouts';
import { stopAtFirstFailure } from '../transfer/link';
import type { TransferEvents, TransferLink, TransferRun, TransferSummary } from '../transfer/link';
import { holdsEntries } from '../transfer/destination';
import { partialDirBytes, ReceiveEngine } from '../transfer/receiver';
import { SendEngine } from '../transfer/sender';
import type { ClientWork } from '../transfer/work';
import type { LinkedConnection } from '../transfer/link';
import { FramedConnection } from '../wire/framedConnection';
import { trace } from '../trace';
import { runHandshake } from '../wire/handshake';
import { RateLimiter, throttled } from '../wire/throttle';
import { FollowOptions, followControl } from '../follow/followControl';

const NO_SESSION = Buffer.alloc(SESSION_ID_SIZE);

export type { ClientWork };

export interface ClientSessionOptions {
  server: LaunchedServer;
  secret: Buffer;
  offer: ParamsMessage;
  /** MODE flags. */
  flags: number;
  /** MODE's backup suffix, with BACKUP in flags (--backup, --suffix). */
  backupSuffix?: Buffer;
  work: ClientWork;
  events?: TransferEvents;
  /** End the session at the first file or entry that fails (--fail-fast). */
  failFast?: boolean;
  log(line: string): void;
  /** Bytes per second, both directions of all connections together (scp -l, rsync --bwlimit). */
  bwlimit?: number;
  /** --timeout in ms: idle, handshake and disk-write limit (default: src/timeouts.ts). */
  timeoutMs?: number;
  /** --partial-dir, for a pull (this side receives). */
  partialDir?: string;
  /**
   * --exclude, --include, --max-depth: fcpd gets them in FILTER_RULES (the offer must have
   * FILTERS), to walk a pull's sources with, or as a push's receiver; a push's walk is already filtered.
   */
  filter?: PathFilter;
  /** A sync (PROTOCOL.md §7.8): its options go to fcpd as SYNC, and this side's engine applies them too. */
  sync?: SyncOptions;
  /** A push's RENAMEs (fcp --watch; the offer must have RENAME). */
  renames?: RenameMessage[];
  /** --follow (the offer has FOLLOW, flags MODE's FOLLOW): when following stops. */
  follow?: FollowOptions;
}

export interface ClientSessionResult {
  summary: TransferSummary;
  params: ParamsMessage;
  /** Data connections the session opened: params.connections, or fewer when the tuner (feature GROW) did not need them all. */
  connections: number;
}

export async function runClientSession(options: ClientSessionOptions): Promise<ClientSessionResult> {
  const xxh = await loadXxhash();
  const forced = forcedTuning();
  const { server, work } = options;
  // A pull into a destination that holds nothing says so in its offer (more feature DEST_EMPTY):
  // fcpd then sends small files inline right behind SESSION, a round trip before a DEST_STATE would
  // reach it. One that removes its sources asks to hear when fcpd is done removing (SOURCES_REMOVED).
  const removeSources = (options.flags & ModeFlag.REMOVE_SOURCE) !== 0;
  const pull = work.kind === 'pull';
  const sizeLimits = options.sync && sizeLimitsMessage(options.sync);
  const offer = transferOffer(options.offer, { pull, intoEmpty: pull && !holdsEntries(work.destination.root), removesSources: removeSources, sizeLimits: sizeLimits !== undefined });
  const secret = server.login?.key ?? server.secret ?? options.secret;
  const { idleMs, handshakeMs } = timeoutsFor(options.timeoutMs);
  const opened: FramedConnection[] = [];
  const limiter = options.bwlimit ? new RateLimiter(options.bwlimit) : undefined;
  const open = async (name: string): Promise<FramedConnection> => {
    const socket = await server.connect();
    const conn = new FramedConnection(limiter ? throttled(socket, limiter) : socket, xxh, name, idleMs);
    opened.push(conn);
    return conn;
  };
  // Data connections are dialled together with the control connection (its SYN first): their TCP
  // handshakes and the server's HELLO overlap the control handshake (its HELLO waits in the socket
  // until the session id is known), saving a round trip and a half on a long link. A tuned
  // session (feature GROW) dials a few; the time the control connection takes to connect is the
  // round trip that sizes the rest.
  const dialStarted = Date.now();
  const controlOpening = open(`control connection to ${server.name}`);
  const rttMs = controlOpening.then(() => Date.now() - dialStarted, () => 0);
  const dialled = Array.from({ length: firstDials(options.offer, server.sameHost) }, (_, i) => open(`data connection ${i + 1} to ${server.name}`));
  dialled.forEach((conn) => conn.catch(() => undefined));
  let following: ReturnType<typeof followControl> | undefined;

  try {
    const request: Message =
      work.kind === 'push' ? { type: PacketType.PUSH, path: work.destination } : { type: PacketType.PULL, paths: work.sources };
    const controlConn = await controlOpening;
    trace('control connection connected');
    const handshake = runHandshake(
      controlConn,
      new ClientConnection({
        role: 'control',
        secret,
        nonce: randomBytes(32),
        peerName: server.name,
        offer,
        mode: { type: PacketType.MODE, flags: options.flags, ...(options.backupSuffix ? { backupSuffix: options.backupSuffix } : {}) },
        ...(options.filter?.active ? { filterRules: filterRulesMessage(options.filter) } : {}),
        sync: options.sync && syncMessage(options.sync),
        sizeLimits,
        renames: options.renames,
        filesFrom: work.kind === 'pull' && work.filesFrom ? filesFromMessages(work.filesFrom.paths, work.filesFrom.recursive) : undefined,
        request,
        launchNonce: server.controlNonce,
        login: server.login?.user,
      }),
      { timeoutMs: handshakeMs, log: options.log },
    );
    // Until the server answers, the link holds what was offered and an empty handshake result.
    const link: TransferLink = {
      control: { conn: controlConn, established: { role: 'control', params: offer, sessionId: NO_SESSION, connIndex: 0, early: [] } },
      data: [],
      params: offer,
      xxh,
      peerName: server.name,
      idleMs,
      log: options.log,
    };
    // A sealed push whose HELLO, AUTH and request are already out (launch nonce) sends its first
    // transfer flight right behind them: a round trip less (PROTOCOL.md §5.3).
    let running: TransferRun | undefined;
    following = options.follow && followControl(options.follow, options.events ?? {});
    const reported = following ? following.events : options.events;
    const events = options.failFast ? stopAtFirstFailure(reported ?? {}, () => running) : reported;
    let sender: SendEngine | undefined;
    if (work.kind === 'push' && server.controlNonce && offer.cipher !== Cipher.NONE) {
      sender = running = new SendEngine(link, work.walk, events, removeSources, options.sync, work.follow);
      sender.prime();
    }
    const control = await handshake;
    trace('control handshake done');
    const params = control.params;
    link.control.established = control;
    link.params = params;
    link.destStateKnown = work.kind === 'pull' && destinationEmptyAgreed(params);
    const lowered = params.chunkSize < offer.chunkSize || params.connections < offer.connections;
    // Without GROW (-n, or an fcpd that predates it) the server waits for every accepted data connection.
    const grows = (params.features & Feature.GROW) !== 0;
    options.log(
      `session ${control.sessionId.toString('hex')}: ${grows ? `up to ${params.connections} connections (tuned)` : `${params.connections} connections`}, chunk ${params.chunkSize} bytes, ` +
        `${cipherLabel(params.cipher) ?? 'no encryption'}` +
        (lowered ? ` (offered ${offer.connections} connections, chunk ${offer.chunkSize} bytes, lowered by fcpd, which bounds its memory)` : ''),
    );

    // The server may have accepted fewer connections than offered: the extra ones go.
    for (const extra of dialled.slice(params.connections)) void extra.then((conn) => conn.close(), () => undefined);
    if (options.follow && (params.features & Feature.FOLLOW) === 0) {
      throw new FcpError('FCP_ERR_PARAMS', `${server.name} does not support --follow`, { hint: 'update fcp on the remote host, or copy without --follow' });
    }
    const engine = (running = sender ?? (work.kind === 'push' ? new SendEngine(link, work.walk, events, removeSources, options.sync, work.follow) : new ReceiveEngine(link, work.destination, work.scope, options, events, partialDirBytes(options.partialDir))));
    following?.attach(() => engine.stopFollowing());
    const attach = async (dial: Promise<FramedConnection>, connIndex: number): Promise<LinkedConnection> => {
      const conn = await dial;
      const machine = new ClientConnection({
        role: 'data',
        secret,
        nonce: randomBytes(32),
        peerName: server.name,
        sessionId: control.sessionId,
        connIndex,
        params,
      });
      const established = await runHandshake(conn, machine, { timeoutMs: handshakeMs, log: options.log });
      trace(`data connection ${connIndex} up`);
      return { conn, established };
    };
    const reopens = new ReopenBudget(params.connections);
    link.reopen = (connIndex) => {
      if (!reopens.lost(connIndex)) {
        return engine.abandonData(connIndex, new FcpError('FCP_ERR_CONNECTION_LOST', `data connection ${connIndex} to ${server.name} was lost too often`));
      }
      void reopen(connIndex, () => attach(open(`data connection ${connIndex} to ${server.name}`), connIndex), reopens, engine, options.log);
    };
    // The transfer starts on the control connection now; each data connection joins once its
    // handshake is done (a round trip after SESSION), so the file list is already under way.
    const join = (dial: Promise<FramedConnection>, connIndex: number): void => {
      attach(dial, connIndex).then((linked) => engine.join(linked)).catch(async (err: unknown) => {
        // A session that failed on the server refuses its late data connections by code only; the
        // cause, with its detail, comes on the control connection: give it a moment to arrive first.
        await Promise.race([controlConn.whenClosed(), new Promise((resolve) => setTimeout(resolve, CAUSE_WAIT_MS).unref())]);
        if (engine.isOver) return;
        // One the tuner added is one the session can do without (a policy's connection limit, say).
        if (connIndex > first) return engine.abandonData(connIndex, asFcpError(err));
        engine.abort(asFcpError(err));
      });
    };
    const dialMore = (count: number): void => {
      for (let i = 0; i < count; i++) {
        const connIndex = ++link.dataOpened!;
        join(open(`data connection ${connIndex} to ${server.name}`), connIndex);
      }
    };
    // A tuned session's round trip sizes its start.
    const rtt = await rttMs;
    const first = grows ? initialConnections(rtt, params.connections, server.sameHost) : params.connections;
    dialled.slice(0, params.connections).forEach((dial, i) => join(dial, i + 1));
    link.dataOpened = Math.min(dialled.length, params.connections);
    dialMore(first - link.dataOpened);
    const stopGrowing = grows
      ? growConnections({
          connections: first,
          max: params.connections,
          rttMs: rtt,
          sameHost: server.sameHost === true,
          bytesMoved: () => opened.reduce((sum, conn) => (conn === controlConn ? sum : sum + conn.bytesMoved), 0),
          add: dialMore,
          log: options.log,
          forced,
        })
      : undefined;
    const summary = await engine.run().finally(stopGrowing);
    trace('transfer done');
    // A data connection still in its handshake when the transfer ended is not needed any more.
    for (const conn of opened) conn.close();
    return { summary, params, connections: link.dataOpened };
  } catch (err) {
    const error = asFcpError(err);
    for (const conn of opened) conn.close(error);
    // Dials still under way are closed as they complete.
    for (const dial of dialled) void dial.then((conn) => conn.close(error), () => undefined);
    throw error;
  } finally {
    following?.dispose();
  }
}

/**
 * Dials a replacement for data connection connIndex, a few times with a growing delay within the
 * session's budget; gives the index up when none can be opened.
 */
async function reopen(
  connIndex: number,
  connect: () => Promise<LinkedConnection>,
  budget: ReopenBudget,
  engine: TransferRun,
  log: (line: string) => void,
): Promise<void> {
  let failure: FcpError | undefined;
  for (let attempt = 0; ; attempt++) {
    const delayMs = budget.nextDial(attempt);
    if (delayMs === undefined) return engine.abandonData(connIndex, failure ?? new FcpError('FCP_ERR_CONNECTION_LOST', 'the session allows no more replacements'));
    await new Promise((resolve) => setTimeout(resolve, delayMs).unref());
    if (engine.isOver) return;
    try {
      return engine.join(await connect());
    } catch (err) {
      failure = asFcpError(err);
      log(`reopening data connection ${connIndex} failed: ${failure.message}`);
    }
  }
}
