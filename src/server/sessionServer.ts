/**
 * fcpd's TCP side: listens, authenticates every connection against the launches registered with
 * it (each a secret handed over by an `fcpd --serve`), takes each control connection's request
 * (checked before SESSION is answered), gathers the data connections, and runs each session's
 * transfer as receiver (PUSH) or sender (PULL). Serves one session (fcpd --serve) or many at once
 * (the daemon). Connections that fail to authenticate are refused and logged, nothing more.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { parse as parseUuid, v4 as uuidv4 } from 'uuid';
import { FcpError } from '../errors';
import { Feature, ModeFlag, PacketType } from '../protocol/constants';
import { keyIdOf } from '../protocol/keys';
import type { ParamsMessage } from '../protocol/messages';
import type { XXHashAPI } from '../protocol/xxhash';
import type { RequestAction, SessionEntry } from '../session/connection';
import { ServerConnection } from '../session/connection';
import { CHUNKS_PER_CONNECTION } from '../session/buffering';
import { EntryScope, requestScope } from '../session/entryScope';
import { describeShape, destinationEmptyAgreed, refuseParams, SERVER_MEMORY_BUDGET, ServerPolicy, SESSION_MEMORY_BUDGET, sessionMemory, sizeText } from '../session/params';
import { Timeouts, timeoutsFor } from '../timeouts';
import { Destination, resolveDestination } from '../transfer/destination';
import { SyncOptions, syncOptionsOf } from '../sync/options';
import type { LinkedConnection, TransferRun, TransferSummary } from '../transfer/link';
import { partialDirBytes, ReceiveEngine } from '../transfer/receiver';
import { SendEngine } from '../transfer/sender';
import type { PathFilter } from '../sync/filter';
import { streamSources, WalkStream } from '../transfer/walk';
import { followedSources, FollowSources } from '../follow/followWalk';
import { listedTree } from '../sync/filesFrom';
import { FramedConnection } from '../wire/framedConnection';
import { runHandshake } from '../wire/handshake';
import { Limiters, RateLimiter, throttled } from '../wire/throttle';
import { PreAuthGate } from './admission';
import { listenTcp } from './listener';
import { AccessPolicy, policyRefusal, realPath } from './policy';
import type { DaemonLogins } from './tokenLogin';
import { showName } from '../showName';
import { expandHome, expandSources } from './userPaths';
import { applyRenames } from '../sync/renameEntries';
import { SideWork, TwoWaySideService } from './twoWaySideService';
import { checkSideRoot } from '../watch/localSide';
import { trace } from '../trace';

export interface SessionServerOptions {
  xxh: XXHashAPI;
  /** A server already listening (fcpd --serve listens before loading this module); else listen(). */
  server?: net.Server;
  /** Default: every address ('::', or '0.0.0.0' where IPv6 is off). */
  bind?: string;
  /** 0: an ephemeral port. */
  port: number;
  policy?: ServerPolicy;
  /** fcpd.toml's rules: addresses, paths, limits (none when left out). */
  access?: AccessPolicy;
  /**
   * Bytes of chunk buffers one session, and all live sessions together, may hold (default
   * SESSION_MEMORY_BUDGET and SERVER_MEMORY_BUDGET): a session's PARAMS are lowered to fit.
   */
  memory?: { session: number; server: number };
  /** --timeout in ms: idle, handshake, launch and disk-write limit (default: src/timeouts.ts). */
  timeoutMs?: number;
  /** --partial-dir (fcpd --serve for a local copy): where a push's partial files go, relative to each destination directory. */
  partialDir?: string;
  /**
   * What a checked request becomes (default: the destination or the walk of the sources on this
   * host). Tests put a scripted, hostile sender here to attack the real client.
   */
  prepare?: (request: RequestAction, params: ParamsMessage, access?: AccessPolicy) => SessionWork;
  /** Daemon access (fcp://): the users it takes logins from; none, no logins (fcpd --serve). */
  logins?: DaemonLogins;
  log(line: string): void;
}

/** How one session ended. */
export type SessionOutcome = { ok: true; summary: TransferSummary } | { ok: false; error: FcpError };

interface Launch {
  secret: Buffer;
  /** The control connection's server nonce, announced in the listen line. */
  nonce: Buffer | undefined;
  /** A launch whose client never came is forgotten after this (none for a daemon login). */
  expiry?: NodeJS.Timeout;
  /** Settles when the session started with this launch ends (each session's end, for a reusable launch). */
  ended: (outcome: SessionOutcome) => void;
  /**
   * fcp --watch (fcpd --serve --reuse): the secret starts one session after another. Only the
   * first control connection may use the announced nonce: later ones answer a fresh HELLO, so
   * that a recorded AUTH cannot be played again.
   */
  reusable?: boolean;
}

interface Session {
  id: Buffer;
  entry: SessionEntry;
  launch: Launch;
  control?: LinkedConnection;
  data: LinkedConnection[];
  work: SessionWork;
  /** Bytes of the server's memory budget reserved for its buffers, released when it ends. */
  memory: number;
  /** Fails the session if its data connections do not all arrive in time. */
  gatherTimer: NodeJS.Timeout;
  /** Set once the control connection is established and the transfer (or a two-way side's session) runs. */
  engine?: SessionRun;
  /** The transfer ended well while data connections were still on their way. */
  finished?: SessionOutcome;
  /** bwlimit: the session's connections draw from it. */
  limiter?: RateLimiter;
}

/** What a session does: receive a push into a destination, within the request's scope, send a pull's walk, or serve a two-way side. */
export type SessionWork =
  | { kind: 'push'; destination: Destination; scope: EntryScope; flags: number; backupSuffix?: Buffer; filter?: PathFilter; sync?: SyncOptions; reportItems?: boolean }
  | { kind: 'pull'; walk: WalkStream; removeSources?: boolean; filter?: PathFilter; sync?: SyncOptions; follow?: FollowSources }
  | SideWork;

/** What runs a session once its control connection is in: a transfer engine, or a two-way side's service. */
type SessionRun = Pick<TransferRun, 'join' | 'abort'>;

/** The session's client may open fewer data connections than PARAMS accepted, and add them as it goes (feature GROW). */
const grows = (params: ParamsMessage): boolean => (params.features & Feature.GROW) !== 0;

function peerOf(socket: net.Socket): string {
  const host = socket.remoteAddress?.includes(':') ? `[${socket.remoteAddress}]` : socket.remoteAddress;
  return `client ${host}:${socket.remotePort}`;
}

/**
 * Checks a request and prepares its work, so that a bad path is refused before SESSION: with a
 * policy, the destination or every source on its real path, before anything is created or read.
 */
function prepare(request: RequestAction, params: ParamsMessage, access?: AccessPolicy): SessionWork {
  const paths = access?.checksPaths ? access : undefined;
  const sync = request.sync && syncOptionsOf(request.sync, request.sizeLimits);
  if (request.kind === 'push') {
    const target = expandHome(request.paths[0]!);
    const refusal = paths?.pushRefusal(realPath(target));
    if (refusal) throw refusal;
    const destination = { ...resolveDestination(target, request.flags, sync?.dryRun), refusal: paths?.entryRefusal };
    const { flags, backupSuffix, filter } = request;
    if (request.renames && !sync?.dryRun) applyRenames(destination, request.renames, () => undefined);
    // The client hears of every change this side makes (ITEM): it is the one that prints them.
    return { kind: 'push', destination, scope: requestScope(flags, destination.isDirectory), flags, backupSuffix, filter, sync, reportItems: sync !== undefined };
  }
  const recursive = (request.flags & ModeFlag.RECURSIVE) !== 0;
  const followSymlinks = (request.flags & ModeFlag.FOLLOW_SYMLINKS) !== 0;
  const oneFileSystem = (request.flags & ModeFlag.ONE_FILE_SYSTEM) !== 0;
  const hardLinks = (params.features & Feature.HARD_LINKS) !== 0;
  const removeSources = (request.flags & ModeFlag.REMOVE_SOURCE) !== 0;
  const sources = expandSources(request.paths);
  const check = (source: Buffer): void => {
    const refusal = paths?.pathRefusal(realPath(source));
    if (refusal) throw refusal;
  };
  const { filter, filesFrom } = request;
  // --files-from: MODE's RECURSIVE admits the directories above listed paths; FILES_FROM says whether listed ones come whole.
  const walkOptions = { recursive: filesFrom ? filesFrom.recursive : recursive, followSymlinks, oneFileSystem, hardLinks, refuse: paths?.walkRefusal, filter, listed: filesFrom && listedTree(filesFrom.paths), keepsInodes: removeSources };
  // --follow (with the feature): a source that does not exist yet is waited for, and checked when it appears.
  if ((request.flags & ModeFlag.FOLLOW) !== 0 && (params.features & Feature.FOLLOW) !== 0) {
    const { walk, follow } = followedSources(sources, walkOptions, check);
    return { kind: 'pull', walk: WalkStream.listing(walk), follow, removeSources, filter, sync };
  }
  sources.forEach(check);
  if (request.twoWayPair) return sideWork(sources, request.twoWayPair, filter);
  return { kind: 'pull', walk: streamSources(sources, walkOptions), removeSources, filter, sync };
}

/** fcp --watch --two-way opens the one directory its PULL names as a side (PROTOCOL.md §7.12). */
function sideWork(sources: Buffer[], pair: Buffer, filter: PathFilter | undefined): SideWork {
  if (sources.length !== 1) {
    throw new FcpError('FCP_ERR_NOT_DIRECTORY', `a two-way side is one directory: ${sources.map((source) => showName(source)).join(', ')} is not`);
  }
  checkSideRoot(sources[0]!);
  return { kind: 'side', root: sources[0]!, pair, filter };
}

export class SessionServer {
  private readonly server: net.Server;
  /** Registered launches by key id (hex). */
  private readonly launches = new Map<string, Launch>();
  /** Live sessions by id (hex). */
  private readonly sessions = new Map<string, Session>();
  private readonly timeouts: Timeouts;
  private readonly memory: { session: number; server: number };
  /** Why sessions failed, by id (hex), kept for a handshake timeout so that their late data connections get the cause. */
  private readonly failedSessions = new Map<string, FcpError>();
  /** Bytes of memory.server the live sessions reserved. */
  private reservedMemory = 0;
  /** Connections still in their handshake, bounded per source address and in total. */
  private readonly preAuth = new PreAuthGate();
  /** Open connections by client address, for max_connections_per_address. */
  private readonly connectionsFrom = new Map<string, number>();
  /** bwlimit_total: every connection draws from it. */
  private readonly totalLimiter: RateLimiter | undefined;

  constructor(private readonly options: SessionServerOptions) {
    this.timeouts = timeoutsFor(options.timeoutMs);
    this.memory = options.memory ?? { session: SESSION_MEMORY_BUDGET, server: SERVER_MEMORY_BUDGET };
    this.server = options.server ?? net.createServer();
    const total = options.access?.rules.bwlimitTotal;
    this.totalLimiter = total === undefined ? undefined : new RateLimiter(total);
    this.server.on('connection', (socket) => this.accept(socket));
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Listens; resolves with the bound port and address. */
  listen(): Promise<net.AddressInfo> {
    return listenTcp(this.server, this.options.bind, this.options.port, this.options.log);
  }

  /**
   * Registers a launch's secret; resolves when the session it starts ends, or fails when no
   * client used it within `timeoutMs`.
   */
  register(secret: Buffer, nonce: Buffer | undefined, timeoutMs = this.timeouts.launchMs): Promise<SessionOutcome> {
    const key = keyIdOf(secret).toString('hex');
    return new Promise((resolve) => {
      const expiry = setTimeout(() => {
        this.launches.delete(key);
        resolve({
          ok: false,
          error: new FcpError('FCP_ERR_TIMEOUT', `no client started a session within ${timeoutMs / 1000} s`, {
            hint: 'fcpd --serve is started by fcp and waits for it; check that the client can reach this port',
          }),
        });
      }, timeoutMs);
      expiry.unref();
      this.launches.set(key, { secret, nonce, expiry, ended: resolve });
    });
  }

  /**
   * Registers a launch whose secret starts any number of sessions, one after another or at once
   * (fcp --watch); `ended` hears of each. It stays until close().
   */
  registerReusable(secret: Buffer, nonce: Buffer | undefined, ended: (outcome: SessionOutcome) => void): void {
    this.launches.set(keyIdOf(secret).toString('hex'), { secret, nonce, ended, reusable: true });
  }

  close(): void {
    this.server.close();
    for (const launch of this.launches.values()) clearTimeout(launch.expiry);
  }

  private accept(socket: net.Socket): void {
    const peerName = peerOf(socket);
    trace(`accepted ${peerName}`);
    const { xxh, log } = this.options;
    const address = socket.remoteAddress ?? '';
    if (!this.preAuth.admit(address)) {
      // Nothing is read from it: closed before it costs more than its descriptor did.
      socket.destroy();
      return log(`refused ${peerName}: too many connections from it, or in all, have not authenticated yet`);
    }
    socket.setNoDelay(true);
    // Until it authenticates, a connection does not keep fcpd --serve alive after its session.
    socket.unref();
    const refusal = this.options.access?.addressRefusal(address) ?? this.countConnection(socket, address);
    const limiters = this.limited ? new Limiters() : undefined;
    limiters?.add(this.totalLimiter);
    const conn = new FramedConnection(limiters ? throttled(socket, limiters) : socket, xxh, peerName, this.timeouts.idleMs);
    let launch: Launch | undefined;
    /** Daemon access: the user a LOGIN named. */
    let loginUser: Buffer | undefined;
    const logins = this.options.logins;
    /** The policy the session's PARAMS were answered under. */
    let policy: ServerPolicy | undefined;
    const machine = new ServerConnection({
      nonce: randomBytes(32),
      peerName,
      launchFor: (keyId) => {
        launch = this.launches.get(keyId.toString('hex'));
        return launch;
      },
      sessionFor: (id) => this.sessions.get(id.toString('hex'))?.entry,
      failedSession: (id) => this.failedSessions.get(id.toString('hex')),
      policy: () => (policy = this.policyNow()),
      refusal,
      loginFor:
        logins &&
        ((user) => {
          loginUser = user;
          return logins.keyFor(user);
        }),
    });
    const decide = async (request: RequestAction, params: ParamsMessage): Promise<Buffer> => {
      const user = machine.loggedInUser;
      // A daemon login starts a session of its own; a launch starts one, its key spent once a control connection authenticated.
      const owner: Launch = user ? { secret: logins!.keyFor(user)!, nonce: undefined, ended: () => undefined } : launch!;
      if (owner.reusable) owner.nonce = undefined;
      else this.launches.delete(keyIdOf(owner.secret).toString('hex'));
      clearTimeout(owner.expiry);
      try {
        const maxSessions = this.options.access?.rules.maxSessions;
        if (maxSessions !== undefined && this.sessions.size >= maxSessions) {
          throw policyRefusal('max_sessions', `fcpd serves at most ${maxSessions} sessions at once; try again when one has ended`);
        }
        const scoped = user ? logins!.moduleRequest(user, request) : { request, access: this.options.access };
        const session = this.createSession(owner, (this.options.prepare ?? prepare)(scoped.request, params, scoped.access), params);
        this.logLowered(session, machine.offered!, policy!);
        return session.id;
      } catch (err) {
        owner.ended({ ok: false, error: err as FcpError });
        throw err;
      }
    };
    /** A refused daemon login (unknown user, wrong token, a module it may not use) is answered late, the later the more often its address failed. */
    const holdRefusal = (error: FcpError): number => {
      if (!logins || !loginUser || !logins.isLoginRefusal(error)) return 0;
      const why = error.code === 'FCP_ERR_POLICY' ? error.message : logins.keyFor(loginUser) ? 'wrong token' : 'unknown user';
      const delayMs = logins.delay.failed(address);
      log(`login of ${showName(loginUser)} from ${peerName} refused (${why}); answered after ${delayMs / 1000} s`);
      return delayMs;
    };
    const handshake = runHandshake(conn, machine, { timeoutMs: this.timeouts.handshakeMs, decide, log, holdRefusal });
    handshake.then(
      () => {
        socket.ref();
        this.preAuth.release(address);
      },
      () => this.preAuth.release(address),
    );
    handshake.then(
      (established) => {
        const session = this.sessions.get(established.sessionId.toString('hex'));
        if (!session) return conn.close();
        limiters?.add(session.limiter);
        const linked = { conn, established };
        if (established.role === 'control') {
          session.control = linked;
          // The transfer starts now, data connections joining it as they arrive; but on the next
          // tick, behind the write of SESSION (held for this tick, framedConnection.ts): a pull's
          // engine walks up to 4,096 entries before its first message, and SESSION went out only
          // after that walk (60-90 ms at the 10,000-file tree), holding back the client's data
          // connections and, from an older client, its DEST_STATE.
          process.nextTick(() => this.startTransfer(session));
          return;
        }
        // Taken now, before another connection's AUTH is read (this runs as a microtask), so a
        // second connection with the same index is refused at its AUTH (PROTOCOL.md §5.1).
        (session.entry.attached as Set<number>).add(established.connIndex);
        if (session.engine) session.engine.join(linked);
        else session.data[established.connIndex - 1] = linked;
        if (this.gathered(session)) clearTimeout(session.gatherTimer);
        if (session.finished && this.allAttached(session)) this.endSession(session, session.finished);
      },
      (error: FcpError) => log(`refused ${peerName}: ${error.message}`),
    );
  }

  /** The policy for PARAMS answered now: a session gets its share of the memory budget, or what is left of it. */
  private policyNow(): ServerPolicy {
    const perSession = this.options.access?.rules.maxConnectionsPerSession;
    const maxConnections = Math.min(this.options.policy?.maxConnections ?? Infinity, perSession ?? Infinity);
    return {
      ...this.options.policy,
      ...(Number.isFinite(maxConnections) ? { maxConnections } : {}),
      memoryBudget: Math.min(this.memory.session, this.memory.server - this.reservedMemory),
    };
  }

  /** Whether connections are throttled (bwlimit, bwlimit_total). */
  private get limited(): boolean {
    const rules = this.options.access?.rules;
    return rules?.bwlimit !== undefined || rules?.bwlimitTotal !== undefined;
  }

  /** Counts an open connection from `address` until it closes; max_connections_per_address refuses one beyond the limit. */
  private countConnection(socket: net.Socket, address: string): FcpError | undefined {
    const limit = this.options.access?.rules.maxConnectionsPerAddress;
    if (limit === undefined) return undefined;
    const open = this.connectionsFrom.get(address) ?? 0;
    if (open >= limit) return policyRefusal('max_connections_per_address', `${address} has ${open} connections open, the most fcpd allows one address`);
    this.connectionsFrom.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.connectionsFrom.get(address) ?? 1) - 1;
      if (left === 0) this.connectionsFrom.delete(address);
      else this.connectionsFrom.set(address, left);
    });
    return undefined;
  }

  /** Says why a session runs with less than its client offered. */
  private logLowered(session: Session, offer: ParamsMessage, policy: ServerPolicy): void {
    const accepted = session.entry.params;
    if (accepted.chunkSize === offer.chunkSize && accepted.connections === offer.connections) return;
    const left = policy.memoryBudget! < this.memory.session ? `, what is left of the ${sizeText(this.memory.server)} all its sessions may use` : '';
    const perSession = this.options.access?.rules.maxConnectionsPerSession;
    const capped = perSession !== undefined && offer.connections > perSession ? `max_connections_per_session is ${perSession}; ` : '';
    this.options.log(
      `session ${session.id.toString('hex')}: offered ${describeShape(offer)}, accepted ${describeShape(accepted)}: ` +
        `${capped}fcpd keeps a session's buffers (${CHUNKS_PER_CONNECTION} chunks a connection) within ${sizeText(policy.memoryBudget!)}${left}`,
    );
  }

  private createSession(launch: Launch, work: Session['work'], params: ParamsMessage): Session {
    const memory = sessionMemory(params);
    // Another session may have reserved memory since these PARAMS were answered.
    if (this.reservedMemory + memory > this.memory.server) {
      throw refuseParams(`fcpd's other sessions took its buffer memory while this one started; try again when one of them has ended`);
    }
    this.reservedMemory += memory;
    const id = Buffer.from(parseUuid(uuidv4()));
    const bwlimit = this.options.access?.rules.bwlimit;
    const session: Session = {
      id,
      limiter: bwlimit === undefined ? undefined : new RateLimiter(bwlimit),
      entry: { secret: launch.secret, params, attached: new Set() },
      launch,
      memory,
      data: [],
      work,
      gatherTimer: setTimeout(
        () =>
          this.endSession(
            session,
            session.finished ?? {
              ok: false,
              error: new FcpError(
                'FCP_ERR_TIMEOUT',
                `session ${id.toString('hex')}: ${grows(params) ? 'no data connection' : `not all ${params.connections} data connections`} arrived within ${this.timeouts.handshakeMs / 1000} s`,
              ),
            },
          ),
        this.timeouts.handshakeMs,
      ),
    };
    session.gatherTimer.unref();
    this.sessions.set(id.toString('hex'), session);
    return session;
  }

  private startTransfer(session: Session): void {
    const link = {
      control: session.control!,
      data: session.data,
      params: session.entry.params,
      xxh: this.options.xxh,
      peerName: session.control!.conn.name,
      idleMs: this.timeouts.idleMs,
      log: this.options.log,
      // A lost data connection's index is taken again by the client's replacement (feature RECONNECT).
      release: (connIndex: number) => (session.entry.attached as Set<number>).delete(connIndex),
    };
    this.options.log(`session ${session.id.toString('hex')}: ${session.work.kind}, ${describeShape(session.entry.params)}`);
    const work = session.work;
    if (work.kind === 'side') {
      // No data connection comes: the session runs on its control connection alone.
      clearTimeout(session.gatherTimer);
      const service = new TwoWaySideService(session.control!, work, this.options.log);
      session.engine = service;
      service.run().then(
        (summary) => this.endSession(session, { ok: true, summary }),
        (error: FcpError) => this.endSession(session, { ok: false, error }),
      );
      return;
    }
    // More feature DEST_EMPTY: a pulling client sends no DEST_STATE; its offer said what it would have.
    if (work.kind !== 'push' && destinationEmptyAgreed(link.params)) session.control!.established.early.unshift({ type: PacketType.DEST_STATE, holds: 0 });
    const engine = work.kind === 'push' ? new ReceiveEngine(link, work.destination, work.scope, work, {}, partialDirBytes(this.options.partialDir)) : new SendEngine(link, work.walk, {}, work.removeSources, work.sync, work.follow);
    session.engine = engine;
    engine.run().then(
      (summary) => this.endSession(session, { ok: true, summary }),
      (error: FcpError) => this.endSession(session, { ok: false, error }),
    );
  }

  /** The data connections the gather timeout waits for have joined: all of them, or under GROW the first (the client adds the others as it goes). */
  private gathered(session: Session): boolean {
    const { attached, params } = session.entry;
    return attached.size >= (grows(params) ? 1 : params.connections);
  }

  /** Every data connection the client will open has joined: never known under GROW, where a finished session ends when the client closes control. */
  private allAttached(session: Session): boolean {
    const { attached, params } = session.entry;
    return !grows(params) && attached.size === params.connections;
  }

  private rememberFailure(id: string, error: FcpError): void {
    this.failedSessions.set(id, error);
    setTimeout(() => this.failedSessions.delete(id), this.timeouts.handshakeMs).unref();
  }

  /**
   * A session that ended well stays known until all its data connections have arrived (or the
   * handshake timeout passed): one still on its way then completes its handshake and is closed,
   * rather than being refused as unknown, which its client could read before our DONE. Once the
   * client has closed the control connection too, it has read our DONE and waits for nothing:
   * a transfer over before its data connections joined (small files) ends then.
   */
  private endSession(session: Session, outcome: SessionOutcome): void {
    if (outcome.ok && !this.allAttached(session) && session.finished === undefined) {
      session.finished = outcome;
      void session.control?.conn.whenClosed().then(() => this.endSession(session, outcome));
      return;
    }
    if (!this.sessions.delete(session.id.toString('hex'))) return;
    this.reservedMemory -= session.memory;
    clearTimeout(session.gatherTimer);
    if (!outcome.ok) {
      this.rememberFailure(session.id.toString('hex'), outcome.error);
      session.engine?.abort(outcome.error);
      for (const linked of [session.control, ...session.data]) linked?.conn.close(outcome.error);
    }
    this.options.log(`session ${session.id.toString('hex')}: ${outcome.ok ? 'done' : `failed: ${outcome.error.message}`}`);
    session.launch.ended(outcome);
  }
}
