/**
 * Per-connection handshake machines (PROTOCOL.md §5, §11.1, §11.2): HELLO both ways, PARAMS or
 * ATTACH, AUTH/AUTH_OK, then on the control connection MODE and PUSH/PULL answered by SESSION.
 * Nonces and the secret come in through the options, so the machines stay pure and replayable.
 */
import { asFcpError, FcpError, wireFromCode } from '../errors';
import { Cipher, Feature, KNOWN_MODE_FLAGS, MAX_FILES_FROM_PATHS, MAX_RENAMES, ModeFlag, MoreFeature, PacketType, SealingCipher, SESSION_ID_SIZE, TwoWayOp, VERSION_RANGE } from '../protocol/constants';
import { clientMac, frameKeys, keyIdOf, sameMac, serverMac, AuthTranscript } from '../protocol/keys';
import type {
  AttachMessage,
  AuthMessage,
  FilesFromMessage,
  FilterRulesMessage,
  HelloMessage,
  Message,
  ModeMessage,
  ParamsMessage,
  SyncMessage,
  RenameMessage,
  SizeLimitsMessage,
  TwoWayMessage,
} from '../protocol/messages';
import { encodePayload } from '../protocol/serializer';
import type { PathFilter } from '../sync/filter';
import { filterOfMessage } from '../sync/filterWire';
import { pathsOfMessage } from '../sync/filesFrom';
import { showName } from '../showName';
import { AuthenticatedAction, FailAction, SealAction, send, SendAction, unexpected } from './actions';
import { ConnectionMachine } from './machine';
import { answerOffer, checkAnswer, refuseParams, sealedCoverage, ServerPolicy } from './params';
import { commonVersion, VersionRange, versionMismatch } from './version';

const P = PacketType;
const CONTROL_SESSION_ID = Buffer.alloc(SESSION_ID_SIZE);
const EMPTY = Buffer.alloc(0);

export interface SessionCreatedAction { type: 'sessionCreated'; sessionId: Buffer }
/** Server: the client asks for a transfer; answer with accept(sessionId) or refuse(error). */
/** backupSuffix: MODE's, with BACKUP in flags; filter: FILTER_RULES', when the client sent them; sync: SYNC's; sizeLimits: SIZE_LIMITS'; renames: a push's RENAMEs; filesFrom: a pull's FILES_FROM paths; twoWayPair: a pull that opens a two-way side, the pair's id (TWO_WAY OPEN). */
export interface RequestAction { type: 'request'; kind: 'push' | 'pull'; paths: Buffer[]; flags: number; backupSuffix?: Buffer; filter?: PathFilter; sync?: SyncMessage; sizeLimits?: SizeLimitsMessage; renames?: RenameMessage[]; filesFrom?: FilesFromRequest; twoWayPair?: Buffer }

/** --files-from as a pull asks for it: the listed paths (checked), and whether listed directories come with their contents. */
export interface FilesFromRequest { paths: Buffer[]; recursive: boolean }

export type ConnectionAction = SendAction | SealAction | AuthenticatedAction | SessionCreatedAction | RequestAction | FailAction;

function hello(versions: VersionRange, nonce: Buffer, moreFeatures?: number): HelloMessage {
  return { type: P.HELLO, minVersion: versions.min, maxVersion: versions.max, nonce, ...(moreFeatures === undefined ? {} : { moreFeatures }) };
}

function range(message: HelloMessage): VersionRange {
  return { min: message.minVersion, max: message.maxVersion };
}

/**
 * The PARAMS a client sends: its offer without the second feature word, which its HELLO carries.
 * The MACs cover this PARAMS (an older server computes them over what it received); the answer's
 * word is covered by server_mac, and a client takes no bit it did not offer.
 */
function withoutMoreFeatures(offer: ParamsMessage): ParamsMessage {
  const { moreFeatures: _inHello, ...params } = offer;
  return params;
}

/** The two seal actions of a connection once both sides hold the secret: ours out, theirs in. */
function sealing(params: ParamsMessage, direction: 'in' | 'out', key: Buffer): SealAction[] {
  if (params.cipher === Cipher.NONE) return [];
  return [{ type: 'seal', direction, cipher: params.cipher as SealingCipher, key, coverage: sealedCoverage(params) }];
}

/**
 * A daemon login refused (PROTOCOL.md §5.4): the same words for an unknown user and a wrong token,
 * so the peer cannot tell which users exist; fcpd's log says which it was.
 */
export function loginFailure(user: Buffer): FcpError {
  return new FcpError('FCP_ERR_AUTH', `login as ${showName(user)} refused: unknown user or wrong token`, {
    hint: "check this host's token in fcp's secrets file and this user's line in fcpd's users file",
  });
}

/** An authentication refusal: the peer learns only that it failed; the log gets why. */
function authFailure(peerName: string, why: string): FcpError {
  return new FcpError('FCP_ERR_AUTH', `authentication of ${peerName} failed: ${why}`, {
    hint: 'the connection did not come from the fcp that launched this session; it was closed',
  });
}

// ---------------------------------------------------------------------------------------------
// Client

interface ClientCommon {
  secret: Buffer;
  /** 32 random bytes from a cryptographic generator, fresh for this connection. */
  nonce: Buffer;
  versions?: VersionRange;
  peerName: string;
}
export type ClientConnectionOptions = ClientCommon &
  (
    | {
        role: 'control';
        offer: ParamsMessage;
        mode: ModeMessage;
        /** Sent between MODE and the request; the session must then have FILTERS. */
        filterRules?: FilterRulesMessage;
        /** A sync's options (feature SYNC), sent between MODE and the request. */
        sync?: SyncMessage;
        /** --min-size, --max-size (more feature SIZE_LIMITS), sent after SYNC. */
        sizeLimits?: SizeLimitsMessage;
        /** A push's renames (feature RENAME, fcp --watch), sent between SYNC and the request. */
        renames?: RenameMessage[];
        /** A pull's --files-from (feature FILES_FROM), sent between MODE and the request. */
        filesFrom?: FilesFromMessage[];
        /** fcp --watch --two-way: TWO_WAY OPEN (feature TWO_WAY) before a PULL of the side's directory. */
        twoWay?: TwoWayMessage;
        request: Message;
        /** The server nonce from the listen line: the client then opens without waiting for HELLO. */
        launchNonce?: Buffer;
        /** Daemon access: log in as this user (LOGIN before PARAMS); `secret` is the user's login key. */
        login?: Buffer;
      }
    | { role: 'data'; sessionId: Buffer; connIndex: number; params: ParamsMessage }
  );

type ClientState = 'AWAIT_HELLO' | 'AWAIT_PARAMS' | 'AWAIT_AUTH_OK' | 'AWAIT_SESSION' | 'ESTABLISHED';

const CLIENT_ALLOWED: Record<ClientState, readonly Message['type'][]> = {
  AWAIT_HELLO: [P.HELLO],
  AWAIT_PARAMS: [P.PARAMS],
  AWAIT_AUTH_OK: [P.AUTH_OK],
  AWAIT_SESSION: [P.SESSION],
  ESTABLISHED: [],
};

export class ClientConnection extends ConnectionMachine<ClientState, ConnectionAction> {
  private readonly versions: VersionRange;
  private transcript: AuthTranscript | undefined;
  private accepted: ParamsMessage | undefined;

  constructor(private readonly options: ClientConnectionOptions) {
    super('AWAIT_HELLO', CLIENT_ALLOWED, ['AWAIT_SESSION', 'ESTABLISHED'], options.peerName);
    this.versions = options.versions ?? VERSION_RANGE;
  }

  /** The accepted session parameters, once the server has answered. */
  get params(): ParamsMessage | undefined {
    return this.accepted;
  }

  /**
   * The connection is open. With the launch's nonce the control connection speaks first: HELLO,
   * PARAMS, AUTH, MODE and the request go out at once, and the server's HELLO, when it comes, is
   * only checked for a common version. Otherwise the client waits for that HELLO.
   */
  start(): ConnectionAction[] {
    const o = this.options;
    if (o.role !== 'control' || !o.launchNonce || this.transcript) return [];
    const actions = this.open(o.launchNonce);
    this.state = 'AWAIT_HELLO';
    return actions;
  }

  protected handle(message: Message): ConnectionAction[] {
    switch (message.type) {
      case P.HELLO:
        return this.onHello(message);
      case P.PARAMS:
        return this.onParams(message);
      case P.AUTH_OK:
        return this.onAuthOk(message.mac);
      case P.SESSION:
        this.state = 'ESTABLISHED';
        return [{ type: 'sessionCreated', sessionId: message.sessionId }];
      default:
        return [];
    }
  }

  private onHello(message: HelloMessage): ConnectionAction[] {
    const opened = this.transcript !== undefined;
    if (commonVersion(this.versions, range(message)) === undefined) {
      const error = versionMismatch(this.versions, range(message));
      const ourHello = opened ? [] : [send(hello(this.versions, this.options.nonce))];
      return [...ourHello, send({ type: P.ERROR, code: wireFromCode(error.code), message: error.message }), ...this.fail(error, false)];
    }
    if (opened) {
      this.state = 'AWAIT_PARAMS';
      return [];
    }
    return this.open(message.nonce);
  }

  /** HELLO, PARAMS or ATTACH, AUTH (and on the control connection MODE and the request). */
  private open(serverNonce: Buffer): ConnectionAction[] {
    const o = this.options;
    const control = o.role === 'control';
    // The offer's second feature word goes in the HELLO: an older server refuses a PARAMS longer than it knows, and ignores a HELLO's extension.
    const ourHello = send(hello(this.versions, o.nonce, control ? o.offer.moreFeatures : undefined));
    this.transcript = {
      serverNonce,
      clientNonce: o.nonce,
      sessionId: control ? CONTROL_SESSION_ID : o.sessionId,
      connIndex: control ? 0 : o.connIndex,
      offer: control ? encodePayload(withoutMoreFeatures(o.offer)) : EMPTY,
      accepted: EMPTY,
    };
    const opening: Message = control ? withoutMoreFeatures(o.offer) : { type: P.ATTACH, sessionId: o.sessionId, connIndex: o.connIndex };
    const auth: AuthMessage = { type: P.AUTH, keyId: keyIdOf(o.secret), mac: clientMac(o.secret, this.transcript) };
    const login: SendAction[] = control && o.login ? [send({ type: P.LOGIN, user: o.login })] : [];
    const actions: ConnectionAction[] = [ourHello, ...login, send(opening), send(auth)];
    // The client seals what follows AUTH with the cipher it offered: the server accepts it as
    // offered or refuses the session, so nothing is lost by not waiting for the answer.
    const params = control ? o.offer : o.params;
    actions.push(...sealing(params, 'out', frameKeys(o.secret, this.transcript).clientToServer));
    if (control) {
      actions.push(send(o.mode), ...(o.filterRules ? [send(o.filterRules)] : []), ...(o.sync ? [send(o.sync)] : []), ...(o.sizeLimits ? [send(o.sizeLimits)] : []), ...(o.renames ?? []).map(send), ...(o.filesFrom ?? []).map(send), ...(o.twoWay ? [send(o.twoWay)] : []), send(o.request));
      this.state = 'AWAIT_PARAMS';
    } else {
      this.accepted = o.params;
      this.state = 'AWAIT_AUTH_OK';
    }
    return actions;
  }

  private onParams(answer: ParamsMessage): ConnectionAction[] {
    const o = this.options as Extract<ClientConnectionOptions, { role: 'control' }>;
    const problem = checkAnswer(o.offer, answer);
    if (problem) return this.fail(problem);
    // Before the server's refusal of the FILTER_RULES it does not know can arrive: PARAMS come first.
    if (o.filterRules && (answer.features & Feature.FILTERS) === 0) {
      return this.fail(
        new FcpError('FCP_ERR_PARAMS', `${this.peerName} does not support --exclude, --include or --max-depth (feature FILTERS): it would send everything`, {
          hint: 'let fcp install its own fcpd there (leave out --fcpd-path), or copy without filters',
        }),
      );
    }
    if (o.sizeLimits && ((answer.moreFeatures ?? 0) & MoreFeature.SIZE_LIMITS) === 0) {
      return this.fail(
        new FcpError('FCP_ERR_PARAMS', `${this.peerName} does not support --min-size or --max-size (more feature SIZE_LIMITS): it would copy every size`, {
          hint: 'let fcp install its own fcpd there (leave out --fcpd-path), or sync without them',
        }),
      );
    }
    if (o.filesFrom && (answer.features & Feature.FILES_FROM) === 0) {
      return this.fail(
        new FcpError('FCP_ERR_PARAMS', `${this.peerName} does not support --files-from on a pull (feature FILES_FROM): it would send everything`, {
          hint: 'let fcp install its own fcpd there (leave out --fcpd-path), or pull without --files-from',
        }),
      );
    }
    if (o.twoWay && (answer.features & Feature.TWO_WAY) === 0) {
      return this.fail(
        new FcpError('FCP_ERR_PARAMS', `${this.peerName} does not support --two-way (feature TWO_WAY): its fcpd keeps no record of its side`, {
          hint: 'let fcp install its own fcpd there (leave out --fcpd-path)',
        }),
      );
    }
    this.accepted = answer;
    this.transcript!.accepted = encodePayload(answer);
    this.state = 'AWAIT_AUTH_OK';
    return [];
  }

  private onAuthOk(mac: Buffer): ConnectionAction[] {
    const o = this.options;
    const transcript = this.transcript!;
    if (!sameMac(mac, serverMac(o.secret, transcript))) {
      const login = o.role === 'control' && o.login !== undefined;
      return this.fail(authFailure(this.peerName, login ? "the server does not know this user's login key" : 'the server does not know the session secret'));
    }
    const params = this.accepted!;
    const control = o.role === 'control';
    this.state = control ? 'AWAIT_SESSION' : 'ESTABLISHED';
    return [
      ...sealing(params, 'in', frameKeys(o.secret, transcript).serverToClient),
      { type: 'authenticated', role: o.role, params, sessionId: transcript.sessionId, connIndex: transcript.connIndex },
    ];
  }
}

// ---------------------------------------------------------------------------------------------
// Server

/** What a launch handed the server: the session secret and, when announced, the control nonce. */
export interface LaunchKeys {
  secret: Buffer;
  /**
   * The server nonce of the control connection, announced in the listen line (PROTOCOL.md §9);
   * a client that had it did not wait for our HELLO, so its HELLO's nonce is not the one it used.
   */
  nonce?: Buffer;
}

/** What the server knows of a live session, for ATTACH. */
export interface SessionEntry {
  secret: Buffer;
  params: ParamsMessage;
  /**
   * Connection indexes of the data connections that authenticated. The owner adds an index as
   * soon as its connection authenticated, before it handles another connection's message.
   */
  attached: ReadonlySet<number>;
}

export interface ServerConnectionOptions {
  nonce: Buffer;
  versions?: VersionRange;
  peerName: string;
  /** A launch by its key id (control connections). */
  launchFor(keyId: Buffer): LaunchKeys | undefined;
  /** A live session by id (data connections). */
  sessionFor(sessionId: Buffer): SessionEntry | undefined;
  /**
   * Why a session that is no longer live failed, for a while after it did: a data connection of
   * its client that arrives late is refused with that cause, not as an unknown session (which
   * its client could read before the cause and report as an authentication failure).
   */
  failedSession?(sessionId: Buffer): FcpError | undefined;
  /** The server's policy, asked when PARAMS are answered: its memory budget depends on the sessions live then. */
  policy?(): ServerPolicy;
  /** The server refuses this connection (fcpd's policy on the client's address): HELLO, then ERROR with it. */
  refusal?: FcpError;
  /**
   * Daemon access (PROTOCOL.md §5.4): the login key of `user`, undefined for a user it does not
   * know. Left out where logins are not taken (fcpd --serve, a daemon without users_file).
   */
  loginFor?(user: Buffer): Buffer | undefined;
}

type ServerState =
  | 'AWAIT_HELLO'
  | 'AWAIT_OPEN'
  | 'AWAIT_PARAMS'
  | 'AWAIT_AUTH'
  | 'AWAIT_MODE'
  | 'AWAIT_REQUEST'
  | 'AWAIT_ACCEPT'
  | 'ESTABLISHED';

const SERVER_ALLOWED: Record<ServerState, readonly Message['type'][]> = {
  AWAIT_HELLO: [P.HELLO],
  AWAIT_OPEN: [P.PARAMS, P.ATTACH, P.LOGIN],
  AWAIT_PARAMS: [P.PARAMS],
  AWAIT_AUTH: [P.AUTH],
  AWAIT_MODE: [P.MODE],
  AWAIT_REQUEST: [P.FILTER_RULES, P.SYNC, P.SIZE_LIMITS, P.RENAME, P.FILES_FROM, P.TWO_WAY, P.PUSH, P.PULL],
  AWAIT_ACCEPT: [],
  ESTABLISHED: [],
};

export class ServerConnection extends ConnectionMachine<ServerState, ConnectionAction> {
  private readonly versions: VersionRange;
  private clientHello: HelloMessage | undefined;
  private offer: ParamsMessage | undefined;
  private attach: AttachMessage | undefined;
  private flags = 0;
  private backupSuffix: Buffer | undefined;
  /** The features of the PARAMS answer, and the filter of the client's FILTER_RULES. */
  private features = 0;
  private filter: PathFilter | undefined;
  /** Daemon access: who logs in, and that user's login key (undefined: no such user). */
  private login: { user: Buffer; key: Buffer | undefined } | undefined;
  private sync: SyncMessage | undefined;
  private sizeLimits: SizeLimitsMessage | undefined;
  private readonly renames: RenameMessage[] = [];
  private filesFrom: FilesFromRequest | undefined;
  private twoWayPair: Buffer | undefined;
  /** Set once the client proved it knows the secret. */
  authenticatedRole: 'control' | 'data' | undefined;

  constructor(private readonly options: ServerConnectionOptions) {
    super(
      'AWAIT_HELLO',
      SERVER_ALLOWED,
      ['AWAIT_MODE', 'AWAIT_REQUEST', 'AWAIT_ACCEPT', 'ESTABLISHED'],
      options.peerName,
    );
    this.versions = options.versions ?? VERSION_RANGE;
  }

  /** The connection is open: the server speaks first (and, refusing the client, last). */
  start(): ConnectionAction[] {
    const ourHello = send(hello(this.versions, this.options.nonce));
    return this.options.refusal ? [ourHello, ...this.fail(this.options.refusal)] : [ourHello];
  }

  /** The client's PARAMS on a control connection, for the owner's log of what it lowered. */
  get offered(): ParamsMessage | undefined {
    return this.offer;
  }

  /** The request passed the owner's checks: the session exists under this id. */
  accept(sessionId: Buffer): ConnectionAction[] {
    if (this.state !== 'AWAIT_ACCEPT') return [];
    this.state = 'ESTABLISHED';
    return [send({ type: P.SESSION, sessionId })];
  }

  /** The request cannot be served (missing source, unwritable destination, policy). */
  refuse(error: FcpError): ConnectionAction[] {
    return this.state === 'FAILED' ? [] : this.fail(error);
  }

  protected handle(message: Message): ConnectionAction[] {
    switch (message.type) {
      case P.HELLO:
        return this.onHello(message);
      case P.PARAMS:
        return this.onParams(message);
      case P.ATTACH:
        return this.onAttach(message);
      case P.LOGIN:
        return this.onLogin(message.user);
      case P.AUTH:
        if (this.login) return this.authLogin(message);
        return this.offer ? this.authControl(message) : this.authData(message);
      case P.MODE:
        return this.onMode(message);
      case P.FILTER_RULES:
        return this.onFilterRules(message);
      case P.SYNC:
        // Once, and only in a session that negotiated SYNC (the offer has it; fcpd always accepts it).
        if (this.sync || !this.offer || (this.offer.features & Feature.SYNC) === 0) return this.fail(unexpected(message, 'AWAIT_REQUEST'));
        this.sync = message;
        return [];
      case P.SIZE_LIMITS:
        // Once, after SYNC, in a session that agreed SIZE_LIMITS (fcpd answers every bit it knows).
        if (!this.sync || this.sizeLimits || ((this.offer?.moreFeatures ?? 0) & MoreFeature.SIZE_LIMITS) === 0) return this.fail(unexpected(message, 'AWAIT_REQUEST'));
        this.sizeLimits = message;
        return [];
      case P.RENAME:
        return this.onRename(message);
      case P.FILES_FROM:
        return this.onFilesFrom(message);
      case P.TWO_WAY:
        return this.onTwoWay(message);
      case P.PUSH:
        if (this.twoWayPair) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent TWO_WAY before a PUSH: a two-way side is opened by a PULL`));
        if (this.filesFrom) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent FILES_FROM before a PUSH: the client walks its own list`));
        this.state = 'AWAIT_ACCEPT';
        return [{ type: 'request', kind: 'push', paths: [message.path], flags: this.flags, backupSuffix: this.backupSuffix, filter: this.filter, sync: this.sync, sizeLimits: this.sizeLimits, ...(this.renames.length > 0 ? { renames: this.renames } : {}) }];
      case P.PULL:
        // Renames are the receiver's to make: in a pull that is the client itself.
        if (this.renames.length > 0) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent RENAME before a PULL`));
        this.state = 'AWAIT_ACCEPT';
        return [{ type: 'request', kind: 'pull', paths: message.paths, flags: this.flags, backupSuffix: this.backupSuffix, filter: this.filter, sync: this.sync, sizeLimits: this.sizeLimits, filesFrom: this.filesFrom, ...(this.twoWayPair ? { twoWayPair: this.twoWayPair } : {}) }];
      default:
        return [];
    }
  }

  private onHello(message: HelloMessage): ConnectionAction[] {
    if (commonVersion(range(message), this.versions) === undefined) {
      return this.fail(versionMismatch(range(message), this.versions));
    }
    this.clientHello = message;
    this.state = 'AWAIT_OPEN';
    return [];
  }

  private onLogin(user: Buffer): ConnectionAction[] {
    const loginFor = this.options.loginFor;
    if (!loginFor) {
      return this.fail(new FcpError('FCP_ERR_POLICY', 'this fcpd takes no fcp:// logins', { hint: 'its administrator turns daemon access on with users_file in fcpd.toml' }));
    }
    // A copy: the name is a view into a received frame.
    this.login = { user: Buffer.from(user), key: loginFor(user) };
    this.state = 'AWAIT_PARAMS';
    return [];
  }

  private onAttach(message: AttachMessage): ConnectionAction[] {
    const session = this.options.sessionFor(message.sessionId);
    if (!session) return this.noSession(message.sessionId);
    const taken = this.indexTaken(message.connIndex, session);
    if (taken) return taken;
    this.attach = message;
    this.state = 'AWAIT_AUTH';
    return [];
  }

  /** ATTACH (or its AUTH) for a session that is not live: refused with the cause it failed with, if it failed lately. */
  private noSession(sessionId: Buffer): FailAction[] {
    const id = sessionId.toString('hex');
    const failed = this.options.failedSession?.(sessionId);
    // The code only: the cause's message may name files, and this peer has not authenticated.
    if (failed) return this.fail(new FcpError(failed.code, `session ${id} has already ended: it failed with ${failed.code}`));
    return this.fail(new FcpError('FCP_ERR_UNKNOWN_SESSION', `${this.peerName} tried to attach to an unknown session ${id}`));
  }

  /**
   * A conn_index outside 1..connections, or held by an authenticated connection of the session,
   * is refused (PROTOCOL.md §5.1). Indexes are taken only by connections that authenticated, so
   * a peer without the secret cannot hold one; two that raced with the same index are checked
   * again at AUTH, where the later one is refused.
   */
  private indexTaken(connIndex: number, session: SessionEntry): FailAction[] | undefined {
    if (connIndex >= 1 && connIndex <= session.params.connections && !session.attached.has(connIndex)) return undefined;
    return this.fail(
      new FcpError(
        'FCP_ERR_PROTOCOL',
        `${this.peerName} attached as connection ${connIndex}, which is taken or outside 1..${session.params.connections}`,
      ),
    );
  }

  /** The offer: the PARAMS with the second feature word of the client's HELLO, when it had one (PROTOCOL.md §5.2). */
  private onParams(message: ParamsMessage): ConnectionAction[] {
    if (message.moreFeatures !== undefined) return this.fail(refuseParams('more_features came in PARAMS; a client offers it in its HELLO'));
    const more = this.clientHello?.moreFeatures;
    this.offer = more === undefined ? message : { ...message, moreFeatures: more };
    this.state = 'AWAIT_AUTH';
    return [];
  }

  /** The offer as the MACs cover it: the PARAMS payload as sent, without the HELLO's word (an older server cannot know of it). */
  private offerPayload(): Buffer {
    return encodePayload(withoutMoreFeatures(this.offer!));
  }

  private transcript(sessionId: Buffer, connIndex: number, offer: Buffer, serverNonce = this.options.nonce): AuthTranscript {
    return { serverNonce, clientNonce: this.clientHello!.nonce, sessionId, connIndex, offer, accepted: EMPTY };
  }

  /** Checks key id and MAC; returns the failure, or undefined when the client knows the secret. */
  private verify(auth: AuthMessage, secret: Buffer | undefined, transcript: AuthTranscript): FailAction[] | undefined {
    if (!secret || !sameMac(auth.keyId, keyIdOf(secret))) {
      return this.fail(authFailure(this.peerName, 'it named no session secret this server holds'));
    }
    if (!sameMac(auth.mac, clientMac(secret, transcript))) {
      return this.fail(authFailure(this.peerName, 'its MAC does not match the session secret'));
    }
    return undefined;
  }

  private authControl(auth: AuthMessage): ConnectionAction[] {
    const offer = this.offerPayload();
    const launch = this.options.launchFor(auth.keyId);
    const secret = launch?.secret;
    // A client that read the launch's nonce used it; one that waited for our HELLO used that one.
    const announced = launch?.nonce && this.transcript(CONTROL_SESSION_ID, 0, offer, launch.nonce);
    const useAnnounced = announced !== undefined && secret !== undefined && sameMac(auth.mac, clientMac(secret, announced));
    const transcript = useAnnounced ? announced : this.transcript(CONTROL_SESSION_ID, 0, offer);
    const refused = this.verify(auth, secret, transcript);
    if (refused) return refused;
    return this.controlAuthenticated(secret!, transcript);
  }

  /** A daemon login's AUTH: the MAC proves the user's login key; unknown user and wrong key fail alike. */
  private authLogin(auth: AuthMessage): ConnectionAction[] {
    const { user, key } = this.login!;
    const transcript = this.transcript(CONTROL_SESSION_ID, 0, this.offerPayload());
    if (!key || !sameMac(auth.keyId, keyIdOf(key)) || !sameMac(auth.mac, clientMac(key, transcript))) return this.fail(loginFailure(user));
    return this.controlAuthenticated(key, transcript);
  }

  /** The client of a control connection proved the secret: PARAMS answered, then AUTH_OK. */
  private controlAuthenticated(secret: Buffer, transcript: AuthTranscript): ConnectionAction[] {
    const answer = answerOffer(this.offer!, this.options.policy?.());
    if (answer instanceof FcpError) return this.fail(answer);
    transcript.accepted = encodePayload(answer);
    this.features = answer.features;
    this.state = 'AWAIT_MODE';
    return this.authenticated(secret, answer, transcript, [send(answer)]);
  }

  /** Daemon access: the user this control connection logged in as, once authenticated. */
  get loggedInUser(): Buffer | undefined {
    return this.authenticatedRole && this.login?.user;
  }

  private authData(auth: AuthMessage): ConnectionAction[] {
    const attach = this.attach!;
    // The session may have ended between ATTACH and AUTH.
    const session = this.options.sessionFor(attach.sessionId);
    if (!session) return this.noSession(attach.sessionId);
    const transcript = this.transcript(attach.sessionId, attach.connIndex, EMPTY);
    const refused = this.verify(auth, session.secret, transcript) ?? this.indexTaken(attach.connIndex, session);
    if (refused) return refused;
    this.state = 'ESTABLISHED';
    return this.authenticated(session.secret, session.params, transcript, []);
  }

  /** Opens incoming sealing, sends what precedes AUTH_OK, AUTH_OK itself, then seals outgoing. */
  private authenticated(secret: Buffer, params: ParamsMessage, transcript: AuthTranscript, before: SendAction[]): ConnectionAction[] {
    const keys = frameKeys(secret, transcript);
    this.authenticatedRole = this.offer ? 'control' : 'data';
    return [
      ...sealing(params, 'in', keys.clientToServer),
      ...before,
      send({ type: P.AUTH_OK, mac: serverMac(secret, transcript) }),
      ...sealing(params, 'out', keys.serverToClient),
      {
        type: 'authenticated',
        role: this.offer ? 'control' : 'data',
        params,
        sessionId: transcript.sessionId,
        connIndex: transcript.connIndex,
      },
    ];
  }

  private onMode(message: ModeMessage): ConnectionAction[] {
    if ((message.flags & ~KNOWN_MODE_FLAGS) !== 0) {
      return this.fail(new FcpError('FCP_ERR_PARAMS', `MODE has unknown flag bits 0x${message.flags.toString(16)}`));
    }
    if (((message.flags & ModeFlag.BACKUP) !== 0) !== (message.backupSuffix !== undefined)) {
      return this.fail(new FcpError('FCP_ERR_PARAMS', 'MODE has a backup suffix without BACKUP, or BACKUP without a suffix'));
    }
    this.flags = message.flags;
    // A copy: the suffix is a view into a received frame.
    this.backupSuffix = message.backupSuffix && Buffer.from(message.backupSuffix);
    this.state = 'AWAIT_REQUEST';
    return [];
  }

  /** FILTER_RULES (feature FILTERS): once, between MODE and the request (PROTOCOL.md §7.6). */
  /** RENAME (feature RENAME): any number up to MAX_RENAMES, between MODE and a PUSH (PROTOCOL.md §7.9). */
  private onRename(message: RenameMessage): ConnectionAction[] {
    if ((this.features & Feature.RENAME) === 0) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent RENAME in a session without RENAME`));
    }
    if (this.renames.length >= MAX_RENAMES) return this.fail(new FcpError('FCP_ERR_BAD_FIELD', `${this.peerName} sent more than ${MAX_RENAMES} RENAMEs`));
    // Copies: the paths are views into a received frame.
    this.renames.push({ type: P.RENAME, from: Buffer.from(message.from), to: Buffer.from(message.to) });
    return [];
  }

  private onFilterRules(message: FilterRulesMessage): ConnectionAction[] {
    if ((this.features & Feature.FILTERS) === 0) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent FILTER_RULES in a session without FILTERS`));
    }
    if (this.filter) return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent FILTER_RULES twice`));
    try {
      this.filter = filterOfMessage(message);
    } catch (err) {
      return this.fail(asFcpError(err));
    }
    return [];
  }

  /** TWO_WAY (feature TWO_WAY): one OPEN, between MODE and a PULL of the side's directory (PROTOCOL.md §7.12). */
  private onTwoWay(message: TwoWayMessage): ConnectionAction[] {
    if ((this.features & Feature.TWO_WAY) === 0) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent TWO_WAY in a session without TWO_WAY`));
    }
    if (this.twoWayPair || message.op !== TwoWayOp.OPEN) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent TWO_WAY ${message.op} before its request, where only one OPEN may come`));
    }
    if (message.path.length > 0) return this.fail(new FcpError('FCP_ERR_BAD_FIELD', `${this.peerName} sent TWO_WAY OPEN with a path: the PULL names the directory`));
    // A copy: the id is a view into a received frame.
    this.twoWayPair = Buffer.from(message.digest);
    return [];
  }

  /** FILES_FROM (feature FILES_FROM): one or more, between MODE and a PULL, adding up to MAX_FILES_FROM_PATHS paths (PROTOCOL.md §7.11). */
  private onFilesFrom(message: FilesFromMessage): ConnectionAction[] {
    if ((this.features & Feature.FILES_FROM) === 0) {
      return this.fail(new FcpError('FCP_ERR_UNEXPECTED_MESSAGE', `${this.peerName} sent FILES_FROM in a session without FILES_FROM`));
    }
    const recursive = message.recursive === 1;
    if (this.filesFrom && this.filesFrom.recursive !== recursive) {
      return this.fail(new FcpError('FCP_ERR_BAD_FIELD', `${this.peerName} sent FILES_FROM messages that disagree on recursive`));
    }
    let paths: Buffer[];
    try {
      paths = pathsOfMessage(message);
    } catch (err) {
      return this.fail(asFcpError(err));
    }
    this.filesFrom ??= { paths: [], recursive };
    if (this.filesFrom.paths.length + paths.length > MAX_FILES_FROM_PATHS) {
      return this.fail(new FcpError('FCP_ERR_BAD_FIELD', `${this.peerName} sent more than ${MAX_FILES_FROM_PATHS} FILES_FROM paths`));
    }
    for (const path of paths) this.filesFrom.paths.push(path);
    return [];
  }
}
