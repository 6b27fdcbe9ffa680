/**
 * Model-based tests of the connection machines (PROTOCOL.md §5, §11.1, §11.2). Random sequences
 * of legal and illegal messages (and owner calls) go straight into a machine; a model written
 * from the spec predicts, for every step, the state and the exact list of actions, including
 * each fail action and its code. MACs and frame keys are checked against an independent
 * implementation of the §5/§6 formulas below, not against src/protocol/keys.ts.
 */
import { createHash, createHmac, hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { codeFromWire, FcpError, FcpErrorCode } from '../../../src/errors';
import {
  ChksumCoverage,
  encodePayload,
  Message,
  MIN_CHUNK_SIZE,
  PacketType,
  PacketTypeValue,
  packetTypeName,
  ParamsMessage,
  SESSION_ID_SIZE,
} from '../../../src/protocol';
import {
  ClientConnection,
  ConnectionAction,
  ServerConnection,
  SessionEntry,
} from '../../../src/session/connection';
import { arbMessage, fixedBytes, u16 } from '../protocol/arbitraries';
import { numRuns } from '../protocol/fuzzRuns';
import { summaries, summary } from './pump';

const P = PacketType;

// --- the spec, written out independently -----------------------------------------------------

const SPEC_VERSIONS = { min: 1, max: 1 };
const SPEC_MODE_FLAGS = 0x1f;
const CONTROL_SESSION_ID = Buffer.alloc(SESSION_ID_SIZE);
const EMPTY = Buffer.alloc(0);

interface Transcript {
  serverNonce: Buffer;
  clientNonce: Buffer;
  sessionId: Buffer;
  connIndex: number;
  offer: Buffer;
  accepted: Buffer;
}

const hmac = (key: Buffer, ...parts: (Buffer | string)[]): Buffer =>
  parts.reduce((h, part) => h.update(part), createHmac('sha256', key)).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();
const be16 = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
const specKeyId = (secret: Buffer): Buffer => hmac(secret, 'fcp1 key id').subarray(0, 16);
const bound = (t: Transcript): Buffer => Buffer.concat([t.serverNonce, t.clientNonce, t.sessionId, be16(t.connIndex)]);
const specClientMac = (secret: Buffer, t: Transcript): Buffer => hmac(secret, 'fcp1 client', bound(t), sha256(t.offer));
const specServerMac = (secret: Buffer, t: Transcript): Buffer =>
  hmac(secret, 'fcp1 server', bound(t), sha256(t.offer), sha256(t.accepted));
function specKey(secret: Buffer, t: Transcript, direction: 'c2s' | 's2c'): Buffer {
  const info = Buffer.concat([Buffer.from(`fcp1 ${direction}`), t.sessionId, be16(t.connIndex)]);
  return Buffer.from(hkdfSync('sha256', secret, Buffer.concat([t.serverNonce, t.clientNonce]), info, 32));
}

const compatible = (a: { min: number; max: number }, b: { min: number; max: number }): boolean =>
  Math.min(a.max, b.max) >= Math.max(a.min, b.min);
const rangeOf = (hello: Extract<Message, { type: typeof P.HELLO }>) => ({ min: hello.minVersion, max: hello.maxVersion });
const isChunkSize = (n: number): boolean => n >= 2 ** 16 && n <= 2 ** 26 && Number.isInteger(Math.log2(n));
const isSingleBit = (n: number): boolean => n > 0 && Number.isInteger(Math.log2(n));

/** §5.2, left column, plus "no hash the server knows" and "unknown framing feature bits" (24..31; 3..23 are optional). */
const offerAcceptable = (o: ParamsMessage): boolean =>
  isChunkSize(o.chunkSize) && o.connections >= 1 && o.connections <= 64 && (o.hashAlgs & 1) !== 0 &&
  o.cipher >= 0 && o.cipher <= 2 && (o.features & ~0x00ffffff) === 0;
/** Framing feature bits: accepted exactly as offered. */
const FRAMING = ~0x00fffff8;

/** §5.2, right column. */
const answerAcceptable = (o: ParamsMessage, a: ParamsMessage): boolean =>
  isChunkSize(a.chunkSize) && a.chunkSize <= o.chunkSize && a.connections >= 1 && a.connections <= o.connections &&
  isSingleBit(a.hashAlgs) && (a.hashAlgs & o.hashAlgs) !== 0 && a.cipher === o.cipher &&
  (a.features & FRAMING) === (o.features & FRAMING) && (a.features & ~o.features) === 0;

const coverageOf = (params: ParamsMessage) => (params.features & 1 ? ChksumCoverage.HEADER : ChksumCoverage.FULL);

// --- what the model predicts -----------------------------------------------------------------

/** The predicted result of one step: next state, action summaries, and finer checks of the actions. */
interface Outcome<S> {
  state: S;
  actions: string[];
  verify?: (actions: ConnectionAction[]) => void;
  update?: () => void;
}

const failed = (code: FcpErrorCode, notifyPeer = true): Outcome<'FAILED'> => ({
  state: 'FAILED',
  actions: [`fail ${code}${notifyPeer ? ' notify' : ''}`],
});

/** §11: what every state does with ERROR, KEEPALIVE and types it does not allow. */
function receiving<S extends string>(
  state: S | 'FAILED',
  message: Message,
  allowed: Record<S, readonly PacketTypeValue[]>,
  authenticated: readonly S[],
  handle: () => Outcome<S | 'FAILED'>,
): Outcome<S | 'FAILED'> {
  if (state === 'FAILED') return { state, actions: [] };
  if (message.type === P.ERROR) return failed(codeFromWire(message.code), false);
  if (message.type === P.KEEPALIVE && authenticated.includes(state)) return { state, actions: [] };
  if (!allowed[state].includes(message.type)) return failed('FCP_ERR_UNEXPECTED_MESSAGE');
  return handle();
}

/** The action whose summary is `line` (the summaries were already compared, so it exists). */
function pick<T extends ConnectionAction['type']>(actions: ConnectionAction[], line: string): Extract<ConnectionAction, { type: T }> {
  return actions.find((a) => summary(a) === line) as Extract<ConnectionAction, { type: T }>;
}

const sealedIf = (params: ParamsMessage, line: string): string[] => (params.cipher !== 0 ? [line] : []);

interface Model { state: string }
interface Machine { state: string; receive(message: Message): ConnectionAction[] }
/** What the model expects of one step, and how to make the machine take it. */
interface Prediction<M extends Model, R extends Machine> {
  outcome: Outcome<M['state']>;
  act: (real: R) => ConnectionAction[];
}

/** One step of a run: the model says what must happen, the machine does it, they are compared. */
class Step<M extends Model, R extends Machine> implements fc.Command<M, R> {
  constructor(
    private readonly label: string,
    private readonly predict: (model: M) => Prediction<M, R>,
  ) {}
  /** Every step runs in every state: illegal ones are the point. */
  check(): boolean {
    return true;
  }
  run(model: M, real: R): void {
    const { outcome, act } = this.predict(model);
    const actions = act(real);
    expect(summaries(actions)).toEqual(outcome.actions);
    expect(real.state).toBe(outcome.state);
    outcome.verify?.(actions);
    outcome.update?.();
    model.state = outcome.state;
  }
  toString(): string {
    return this.label;
  }
}

// --- fixtures and generators -----------------------------------------------------------------

const SECRET = Buffer.alloc(32, 0x5a);
const SESSION_SECRET = Buffer.alloc(32, 0x6b);
const WRONG_SECRET = Buffer.alloc(32, 0xa5);
const SERVER_NONCE = Buffer.alloc(32, 0x01);
const CLIENT_NONCE = Buffer.alloc(32, 0x02);
const SESSION_ID = Buffer.alloc(SESSION_ID_SIZE, 0x33);
/** The live sessions data connections may attach to: one sealed, one plain. */
const SESSIONS = new Map<string, SessionEntry>([
  [SESSION_ID.toString('hex'), {
    secret: SESSION_SECRET,
    params: { type: P.PARAMS, chunkSize: 1 << 20, connections: 4, hashAlgs: 1, cipher: 1, features: 1 },
    attached: new Set([1, 3]),
  }],
  [Buffer.alloc(SESSION_ID_SIZE, 0x44).toString('hex'), {
    secret: SECRET,
    params: { type: P.PARAMS, chunkSize: 1 << 16, connections: 2, hashAlgs: 1, cipher: 0, features: 0 },
    attached: new Set(),
  }],
]);
const sessionOf = (id: Buffer): SessionEntry | undefined => SESSIONS.get(id.toString('hex'));
const SESSION_IDS = [...SESSIONS.keys()].map((hex) => Buffer.from(hex, 'hex'));
/** Connection indexes of a session still free to attach. */
const freeIndexes = (session: SessionEntry): number[] =>
  Array.from({ length: session.params.connections }, (_, i) => i + 1).filter((i) => !session.attached.has(i));

const nonce = fixedBytes(32);
const validOffer: fc.Arbitrary<ParamsMessage> = fc.record({
  type: fc.constant(P.PARAMS),
  chunkSize: fc.integer({ min: 16, max: 26 }).map((e) => 2 ** e),
  connections: fc.integer({ min: 1, max: 64 }),
  hashAlgs: u16.map((h) => h | 1),
  cipher: fc.constantFrom(0, 1, 2),
  features: fc.integer({ min: 0, max: 15 }),
});

/** What a legal next step is made of; each state uses the parts it needs. */
interface Choices {
  maxVersion: number;
  nonce: Buffer;
  role: 'control' | 'data';
  offer: ParamsMessage;
  /** Which live session to attach to, and which of its free indexes. */
  session: number;
  slot: number;
  flags: number;
  request: Message;
  sessionId: Buffer;
  /** Client side: how far the server lowers chunk size and connections. */
  lowerChunk: number;
  lowerConnections: number;
}

const choices: fc.Arbitrary<Choices> = fc.record({
  maxVersion: fc.integer({ min: 1, max: 3 }),
  nonce,
  role: fc.constantFrom('control', 'data'),
  offer: validOffer,
  session: fc.nat(SESSIONS.size - 1),
  slot: fc.nat(),
  flags: fc.integer({ min: 0, max: SPEC_MODE_FLAGS }),
  request: fc.oneof(
    fc.constant<Message>({ type: P.PUSH, path: Buffer.from('/dest') }),
    fc.constant<Message>({ type: P.PULL, paths: [Buffer.from('a'), Buffer.from('b/c')] }),
  ),
  sessionId: fixedBytes(SESSION_ID_SIZE),
  lowerChunk: fc.integer({ min: 0, max: 3 }),
  lowerConnections: fc.nat(),
});

const DONE: Message = { type: P.DONE };

/** The legal message with one field broken; DONE (never allowed here) for types with nothing to break. */
function mutate(message: Message, which: number): Message {
  const one = <T>(options: T[]): T => options[which % options.length]!;
  const flip = (b: Buffer): Buffer => Buffer.from(b.map((x, i) => (i === which % b.length ? x ^ 0x01 : x)));
  switch (message.type) {
    case P.HELLO:
      return { ...message, ...one([{ minVersion: 2, maxVersion: 3 }, { minVersion: 3, maxVersion: 2 }]) };
    case P.PARAMS:
      return {
        ...message,
        ...one<Partial<ParamsMessage>>([
          { chunkSize: message.chunkSize * 2 },
          { chunkSize: message.chunkSize + 1 },
          { chunkSize: MIN_CHUNK_SIZE / 2 },
          { connections: 0 },
          { connections: message.connections + 1 },
          { connections: 65 },
          { hashAlgs: 0 },
          { hashAlgs: 0x6 },
          { cipher: message.cipher ^ 1 },
          { cipher: 3 },
          { features: message.features ^ 1 },
          { features: 0x10000 },
        ]),
      };
    case P.ATTACH:
      return {
        ...message,
        ...one<Partial<typeof message>>([{ sessionId: flip(message.sessionId) }, { connIndex: 1 }, { connIndex: 3 }, { connIndex: 5 }, { connIndex: 0 }]),
      };
    case P.AUTH:
      return { ...message, ...one([{ mac: flip(message.mac) }, { keyId: flip(message.keyId) }, { keyId: specKeyId(WRONG_SECRET) }]) };
    case P.AUTH_OK:
      return { mac: flip(message.mac), type: P.AUTH_OK };
    case P.MODE:
      return { ...message, flags: message.flags | one([0x20, 0x4000_0000, 0x8000_0000]) };
    default:
      return DONE;
  }
}

/** Any message but ERROR, which has a command of its own. */
const stray = arbMessage.filter((m) => m.type !== P.ERROR);

/** A message delivered to the machine, with what `predict` says the model expects of it. */
const delivery =
  <M extends Model, R extends Machine>(predict: (m: M, message: Message) => Outcome<M['state']>) =>
  (m: M, message: Message): Prediction<M, R> => ({ outcome: predict(m, message), act: (real) => real.receive(message) });

/**
 * The commands both machines get. `next` is the legal next step in the model's state: a message,
 * or (server) an owner call. Mostly legal steps, so that runs get deep; then broken legal
 * messages, any message at all, KEEPALIVE and ERROR.
 */
function messageCommands<M extends Model, R extends Machine>(
  receive: (m: M, message: Message) => Prediction<M, R>,
  next: (m: M, c: Choices) => Message | Prediction<M, R>,
) {
  const step = (label: string, predict: (m: M) => Prediction<M, R>) => new Step<M, R>(label, predict);
  const advance = (c: Choices) =>
    step('advance', (m) => {
      const legal = next(m, c);
      return 'outcome' in legal ? legal : receive(m, legal);
    });
  const mutant = ([c, which]: [Choices, number]) =>
    step(`mutant ${which}`, (m) => {
      const legal = next(m, c);
      return receive(m, 'outcome' in legal ? DONE : mutate(legal, which));
    });
  return {
    advance,
    step,
    arbitraries: [
      { weight: 6, arbitrary: choices.map(advance) },
      { weight: 3, arbitrary: fc.tuple(choices, fc.nat()).map(mutant) },
      { weight: 2, arbitrary: stray.map((message) => step(`stray ${packetTypeName[message.type]}`, (m) => receive(m, message))) },
      { weight: 1, arbitrary: fc.constant(step('keepalive', (m) => receive(m, { type: P.KEEPALIVE }))) },
      { weight: 1, arbitrary: u16.map((code) => step(`error ${code}`, (m) => receive(m, { type: P.ERROR, code, message: 'peer' }))) },
    ],
  };
}

// --- server ----------------------------------------------------------------------------------

type ServerState = ServerConnection['state'];
interface ServerModel {
  state: ServerState;
  clientNonce: Buffer;
  offer: ParamsMessage | undefined;
  attach: Extract<Message, { type: typeof P.ATTACH }> | undefined;
  flags: number;
}

/** §11.1 */
const SERVER_ALLOWED = {
  AWAIT_HELLO: [P.HELLO],
  AWAIT_OPEN: [P.PARAMS, P.ATTACH, P.LOGIN],
  AWAIT_PARAMS: [P.PARAMS],
  AWAIT_AUTH: [P.AUTH],
  AWAIT_MODE: [P.MODE],
  AWAIT_REQUEST: [P.PUSH, P.PULL],
  AWAIT_ACCEPT: [],
  ESTABLISHED: [],
} as const satisfies Record<Exclude<ServerState, 'FAILED'>, readonly PacketTypeValue[]>;
const SERVER_AUTHENTICATED = ['AWAIT_MODE', 'AWAIT_REQUEST', 'AWAIT_ACCEPT', 'ESTABLISHED'] as const;

function serverTranscript(m: ServerModel): { secret: Buffer | undefined; params: ParamsMessage | undefined; t: Transcript } {
  const base = { serverNonce: SERVER_NONCE, clientNonce: m.clientNonce, accepted: EMPTY };
  if (m.offer) {
    return { secret: SECRET, params: m.offer, t: { ...base, sessionId: CONTROL_SESSION_ID, connIndex: 0, offer: encodePayload(m.offer) } };
  }
  const attach = m.attach!;
  const session = sessionOf(attach.sessionId);
  return { secret: session?.secret, params: session?.params, t: { ...base, sessionId: attach.sessionId, connIndex: attach.connIndex, offer: EMPTY } };
}

function serverAuth(m: ServerModel, auth: Extract<Message, { type: typeof P.AUTH }>): Outcome<ServerState> {
  const { secret, params, t } = serverTranscript(m);
  if (!secret || !auth.keyId.equals(specKeyId(secret)) || !auth.mac.equals(specClientMac(secret, t))) return failed('FCP_ERR_AUTH');
  const control = m.offer !== undefined;
  if (control && !offerAcceptable(m.offer!)) return failed('FCP_ERR_PARAMS');
  const answerLine = control ? ['send PARAMS'] : [];
  return {
    state: control ? 'AWAIT_MODE' : 'ESTABLISHED',
    actions: [...sealedIf(params!, 'seal in'), ...answerLine, 'send AUTH_OK', ...sealedIf(params!, 'seal out'), `authenticated ${control ? 'control' : 'data'}`],
    verify: (actions) => {
      const answer = control ? (pick<'send'>(actions, 'send PARAMS').message as ParamsMessage) : params!;
      if (control) expect(answerAcceptable(m.offer!, answer)).toBe(true);
      const final = { ...t, accepted: control ? encodePayload(answer) : EMPTY };
      expect(pick<'send'>(actions, 'send AUTH_OK').message).toEqual({ type: P.AUTH_OK, mac: specServerMac(secret, final) });
      if (params!.cipher !== 0) {
        const coverage = coverageOf(params!);
        expect(pick<'seal'>(actions, 'seal in')).toMatchObject({ key: specKey(secret, t, 'c2s'), coverage });
        expect(pick<'seal'>(actions, 'seal out')).toMatchObject({ key: specKey(secret, t, 's2c'), coverage });
      }
      expect(pick<'authenticated'>(actions, `authenticated ${control ? 'control' : 'data'}`)).toMatchObject({
        params: answer,
        sessionId: t.sessionId,
        connIndex: t.connIndex,
      });
    },
  };
}

/** §5.1 and §11.1 for a message the state allows. */
function serverHandles(m: ServerModel, message: Message): Outcome<ServerState> {
  switch (message.type) {
    case P.HELLO:
      if (!compatible(rangeOf(message), SPEC_VERSIONS)) return failed('FCP_ERR_VERSION');
      return { state: 'AWAIT_OPEN', actions: [], update: () => (m.clientNonce = message.nonce) };
    case P.PARAMS:
      // §5.2: the second feature word is offered in the client's HELLO, never in PARAMS.
      if (message.moreFeatures !== undefined) return failed('FCP_ERR_PARAMS');
      return { state: 'AWAIT_AUTH', actions: [], update: () => (m.offer = message) };
    case P.ATTACH: {
      const session = sessionOf(message.sessionId);
      if (!session) return failed('FCP_ERR_UNKNOWN_SESSION');
      if (!freeIndexes(session).includes(message.connIndex)) return failed('FCP_ERR_PROTOCOL');
      return { state: 'AWAIT_AUTH', actions: [], update: () => (m.attach = message) };
    }
    case P.LOGIN:
      // §5.5: a server that takes no logins (this model's: no users) refuses one by policy.
      return failed('FCP_ERR_POLICY');
    case P.AUTH:
      return serverAuth(m, message);
    case P.MODE:
      if ((message.flags & ~SPEC_MODE_FLAGS) !== 0) return failed('FCP_ERR_PARAMS');
      return { state: 'AWAIT_REQUEST', actions: [], update: () => (m.flags = message.flags) };
    case P.PUSH:
    case P.PULL: {
      const kind = message.type === P.PUSH ? 'push' : 'pull';
      const paths = message.type === P.PUSH ? [message.path] : message.paths;
      return {
        state: 'AWAIT_ACCEPT',
        actions: [`request ${kind}`],
        verify: (actions) => expect(actions[0]).toEqual({ type: 'request', kind, paths, flags: m.flags }),
      };
    }
    default:
      throw new Error(`model: no rule for allowed type ${message.type}`);
  }
}

const serverReceives = delivery<ServerModel, ServerConnection>((m, message) =>
  receiving(m.state, message, SERVER_ALLOWED, SERVER_AUTHENTICATED, () => serverHandles(m, message)),
);

function serverAccepts(m: ServerModel, sessionId: Buffer): Prediction<ServerModel, ServerConnection> {
  const outcome: Outcome<ServerState> =
    m.state === 'AWAIT_ACCEPT'
      ? { state: 'ESTABLISHED', actions: ['send SESSION'], verify: (a) => expect(a[0]).toMatchObject({ message: { sessionId } }) }
      : { state: m.state, actions: [] };
  return { outcome, act: (real: ServerConnection) => real.accept(sessionId) };
}

/** The legal next step in the model's state (the owner's accept in AWAIT_ACCEPT). */
function serverNext(m: ServerModel, c: Choices): Message | Prediction<ServerModel, ServerConnection> {
  switch (m.state) {
    case 'AWAIT_HELLO':
      return { type: P.HELLO, minVersion: 1, maxVersion: c.maxVersion, nonce: c.nonce };
    case 'AWAIT_OPEN': {
      if (c.role === 'control') return c.offer;
      const sessionId = SESSION_IDS[c.session]!;
      const free = freeIndexes(sessionOf(sessionId)!);
      return { type: P.ATTACH, sessionId, connIndex: free[c.slot % free.length]! };
    }
    case 'AWAIT_AUTH': {
      const { secret, t } = serverTranscript(m);
      return { type: P.AUTH, keyId: specKeyId(secret!), mac: specClientMac(secret!, t) };
    }
    case 'AWAIT_MODE':
      return { type: P.MODE, flags: c.flags };
    case 'AWAIT_REQUEST':
      return c.request;
    case 'AWAIT_ACCEPT':
      return serverAccepts(m, c.sessionId);
    default:
      return { type: P.KEEPALIVE };
  }
}

const server = messageCommands(serverReceives, serverNext);
const serverCommands = fc.oneof(
  ...server.arbitraries,
  { weight: 1, arbitrary: fixedBytes(SESSION_ID_SIZE).map((id) => server.step('accept', (m) => serverAccepts(m, id))) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<FcpErrorCode>('FCP_ERR_NOT_FOUND', 'FCP_ERR_PERMISSION').map((code) =>
      server.step(`refuse ${code}`, (m) => ({
        outcome: m.state === 'FAILED' ? { state: m.state, actions: [] } : failed(code),
        act: (real) => real.refuse(new FcpError(code, 'refused by the owner')),
      })),
    ),
  },
);

// --- client ----------------------------------------------------------------------------------

type ClientState = ClientConnection['state'];
interface ClientModel {
  state: ClientState;
  role: 'control' | 'data';
  /** Control: the offer; data: the session's parameters. */
  params: ParamsMessage;
  request: Message;
  connIndex: number;
  serverNonce: Buffer;
  answer: ParamsMessage | undefined;
}

/** §11.2, with AWAIT_AUTH_OK split at the PARAMS answer as the machine names it. */
const CLIENT_ALLOWED = {
  AWAIT_HELLO: [P.HELLO],
  AWAIT_PARAMS: [P.PARAMS],
  AWAIT_AUTH_OK: [P.AUTH_OK],
  AWAIT_SESSION: [P.SESSION],
  ESTABLISHED: [],
} as const satisfies Record<Exclude<ClientState, 'FAILED'>, readonly PacketTypeValue[]>;
const CLIENT_AUTHENTICATED = ['AWAIT_SESSION', 'ESTABLISHED'] as const;

function clientTranscript(m: ClientModel): Transcript {
  const control = m.role === 'control';
  return {
    serverNonce: m.serverNonce,
    clientNonce: CLIENT_NONCE,
    sessionId: control ? CONTROL_SESSION_ID : SESSION_ID,
    connIndex: control ? 0 : m.connIndex,
    offer: control ? encodePayload(m.params) : EMPTY,
    accepted: control && m.answer ? encodePayload(m.answer) : EMPTY,
  };
}

function clientHello(m: ClientModel, hello: Extract<Message, { type: typeof P.HELLO }>): Outcome<ClientState> {
  const ours = 'send HELLO';
  if (!compatible(SPEC_VERSIONS, rangeOf(hello))) {
    return {
      ...failed('FCP_ERR_VERSION', false),
      actions: [ours, 'send ERROR', 'fail FCP_ERR_VERSION'],
      verify: (actions) => expect(pick<'send'>(actions, 'send ERROR').message).toMatchObject({ code: 11 }),
    };
  }
  const control = m.role === 'control';
  const t = { ...clientTranscript(m), serverNonce: hello.nonce };
  const opening = control ? ['send PARAMS'] : ['send ATTACH'];
  const request = control ? ['send MODE', `send ${m.request.type === P.PUSH ? 'PUSH' : 'PULL'}`] : [];
  return {
    state: control ? 'AWAIT_PARAMS' : 'AWAIT_AUTH_OK',
    actions: [ours, ...opening, 'send AUTH', ...sealedIf(m.params, 'seal out'), ...request],
    verify: (actions) => {
      expect(pick<'send'>(actions, ours).message).toEqual({ type: P.HELLO, minVersion: SPEC_VERSIONS.min, maxVersion: SPEC_VERSIONS.max, nonce: CLIENT_NONCE });
      expect(pick<'send'>(actions, 'send AUTH').message).toEqual({ type: P.AUTH, keyId: specKeyId(SECRET), mac: specClientMac(SECRET, t) });
      if (m.params.cipher !== 0) {
        expect(pick<'seal'>(actions, 'seal out')).toMatchObject({ key: specKey(SECRET, t, 'c2s'), coverage: coverageOf(m.params) });
      }
    },
    update: () => (m.serverNonce = hello.nonce),
  };
}

function clientAuthOk(m: ClientModel, mac: Buffer): Outcome<ClientState> {
  const t = clientTranscript(m);
  if (!mac.equals(specServerMac(SECRET, t))) return failed('FCP_ERR_AUTH');
  const control = m.role === 'control';
  const params = control ? m.answer! : m.params;
  return {
    state: control ? 'AWAIT_SESSION' : 'ESTABLISHED',
    actions: [...sealedIf(params, 'seal in'), `authenticated ${m.role}`],
    verify: (actions) => {
      if (params.cipher !== 0) {
        expect(pick<'seal'>(actions, 'seal in')).toMatchObject({ key: specKey(SECRET, t, 's2c'), coverage: coverageOf(params) });
      }
      expect(actions.at(-1)).toMatchObject({ params, sessionId: t.sessionId, connIndex: t.connIndex });
    },
  };
}

function clientHandles(m: ClientModel, message: Message): Outcome<ClientState> {
  switch (message.type) {
    case P.HELLO:
      return clientHello(m, message);
    case P.PARAMS:
      if (!answerAcceptable(m.params, message)) return failed('FCP_ERR_PARAMS');
      return { state: 'AWAIT_AUTH_OK', actions: [], update: () => (m.answer = message) };
    case P.AUTH_OK:
      return clientAuthOk(m, message.mac);
    case P.SESSION:
      return {
        state: 'ESTABLISHED',
        actions: ['sessionCreated'],
        verify: (actions) => expect(actions[0]).toEqual({ type: 'sessionCreated', sessionId: message.sessionId }),
      };
    default:
      throw new Error(`model: no rule for allowed type ${message.type}`);
  }
}

const clientReceives = delivery<ClientModel, ClientConnection>((m, message) =>
  receiving(m.state, message, CLIENT_ALLOWED, CLIENT_AUTHENTICATED, () => clientHandles(m, message)),
);

function clientNext(m: ClientModel, c: Choices): Message {
  switch (m.state) {
    case 'AWAIT_HELLO':
      return { type: P.HELLO, minVersion: 1, maxVersion: c.maxVersion, nonce: c.nonce };
    case 'AWAIT_PARAMS': {
      const offer = m.params;
      return {
        ...offer,
        chunkSize: Math.max(MIN_CHUNK_SIZE, offer.chunkSize >> c.lowerChunk),
        connections: 1 + (c.lowerConnections % offer.connections),
        hashAlgs: 1,
      };
    }
    case 'AWAIT_AUTH_OK':
      return { type: P.AUTH_OK, mac: specServerMac(SECRET, clientTranscript(m)) };
    case 'AWAIT_SESSION':
      return { type: P.SESSION, sessionId: c.sessionId };
    default:
      return { type: P.KEEPALIVE };
  }
}

const client = messageCommands(clientReceives, clientNext);
const clientCommands = fc.oneof(...client.arbitraries);

const clientSetup = fc.record({
  role: fc.constantFrom<'control' | 'data'>('control', 'data'),
  offer: validOffer.map((o) => ({ ...o, hashAlgs: 1 })),
  connIndex: fc.integer({ min: 1, max: 64 }),
  request: choices.map((c) => c.request),
});

// --- properties ------------------------------------------------------------------------------

/**
 * Each run starts with up to 7 legal steps (deep enough for every state), then goes on with
 * random commands, mostly legal ones, so that illegal messages arrive in every state.
 */
const legalPrefix = fc.array(choices, { maxLength: 7 });
const RUN = { maxCommands: 12 };

describe('ServerConnection against its model', () => {
  it('follows §11.1 for random legal and illegal sequences', () => {
    fc.assert(
      // Strict owners look the secret up by key id; lenient ones return it for any id, so the
      // machine's own key-id check is exercised too.
      fc.property(fc.boolean(), legalPrefix, fc.commands([serverCommands], RUN), (strict, legal, commands) => {
        const real = new ServerConnection({
          nonce: SERVER_NONCE,
          peerName: 'client test',
          launchFor: (keyId) => (!strict || keyId.equals(specKeyId(SECRET)) ? { secret: SECRET } : undefined),
          sessionFor: sessionOf,
        });
        const model: ServerModel = { state: 'AWAIT_HELLO', clientNonce: EMPTY, offer: undefined, attach: undefined, flags: 0 };
        fc.modelRun(() => ({ model, real }), [...legal.map(server.advance), ...commands]);
      }),
      { numRuns: numRuns(300) },
    );
  });
});

describe('ClientConnection against its model', () => {
  it('follows §11.2 for random legal and illegal sequences', () => {
    fc.assert(
      fc.property(clientSetup, legalPrefix, fc.commands([clientCommands], RUN), (setup, legal, commands) => {
        const common = { secret: SECRET, nonce: CLIENT_NONCE, peerName: 'server test' };
        const real =
          setup.role === 'control'
            ? new ClientConnection({ ...common, role: 'control', offer: setup.offer, mode: { type: P.MODE, flags: 1 }, request: setup.request })
            : new ClientConnection({ ...common, role: 'data', sessionId: SESSION_ID, connIndex: setup.connIndex, params: setup.offer });
        const model: ClientModel = {
          state: 'AWAIT_HELLO',
          role: setup.role,
          params: setup.offer,
          request: setup.request,
          connIndex: setup.connIndex,
          serverNonce: EMPTY,
          answer: undefined,
        };
        fc.modelRun(() => ({ model, real }), [...legal.map(client.advance), ...commands]);
      }),
      { numRuns: numRuns(300) },
    );
  });
});
