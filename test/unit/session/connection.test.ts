/**
 * The connection handshake machines (PROTOCOL.md §5, §6, §11.1, §11.2) run against each other
 * through the real codec (pump.ts): what each side ends up with, what goes on the wire, and how
 * every refusal reaches both sides.
 */
import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { FcpError, FcpErrorCode, wireFromCode } from '../../../src/errors';
import {
  AuthMessage,
  CHKSUM_OFFSET,
  Cipher,
  clientMac,
  encodePayload,
  GCM_TAG_SIZE,
  HEADER_SIZE,
  keyIdOf,
  LENGTH_OFFSET,
  MAC_SIZE,
  Message,
  MessageOf,
  ModeFlag,
  ModeMessage,
  NONCE_SIZE,
  PacketType,
  PacketTypeValue,
  packetTypeName,
  ParamsMessage,
  SECRET_SIZE,
  SESSION_ID_SIZE,
} from '../../../src/protocol';
import {
  ClientConnection,
  ClientConnectionOptions,
  ServerConnection,
  ServerConnectionOptions,
  SessionEntry,
} from '../../../src/session/connection';
import { makeOffer } from '../../../src/session/params';
import { numRuns } from '../protocol/fuzzRuns';
import {
  changeFrames,
  dropFrame,
  duplicateFrame,
  flipByte,
  peerOf,
  Pump,
  PumpOptions,
  replaceFrame,
  Side,
  sliceBy,
  summaries,
  swapWithNext,
  Tamper,
} from './pump';

const P = PacketType;

const SECRET = Buffer.alloc(SECRET_SIZE, 0x5a);
const WRONG_SECRET = Buffer.alloc(SECRET_SIZE, 0xa5);
const SERVER_NONCE = Buffer.alloc(NONCE_SIZE, 0x01);
const CLIENT_NONCE = Buffer.alloc(NONCE_SIZE, 0x02);
const SESSION_ID = Buffer.alloc(SESSION_ID_SIZE, 0x33);
const CONTROL_SESSION_ID = Buffer.alloc(SESSION_ID_SIZE);
const DEST = Buffer.from('/srv/backup/plaintext-destination');
const MODE: ModeMessage = { type: P.MODE, flags: ModeFlag.RECURSIVE };
const KEEPALIVE: Message = { type: P.KEEPALIVE };

const ENCRYPTED = makeOffer({ encrypt: true });
const PLAIN = makeOffer({ encrypt: false });
/** Sealed frames whose checksum covers the whole frame (no HEADER_CHKSUM). */
const FULL_CHECKSUM: ParamsMessage = { ...ENCRYPTED, features: 0 };

/** A live session with connection 1 already attached. */
const SESSION: SessionEntry = { secret: SECRET, params: ENCRYPTED, attached: new Set([1]) };

type ControlOptions = Extract<ClientConnectionOptions, { role: 'control' }>;
type DataOptions = Extract<ClientConnectionOptions, { role: 'data' }>;

function controlClient(options: Partial<ControlOptions> = {}): ClientConnection {
  return new ClientConnection({
    role: 'control',
    secret: SECRET,
    nonce: CLIENT_NONCE,
    peerName: 'server 10.0.0.2:7523',
    offer: ENCRYPTED,
    mode: MODE,
    request: { type: P.PUSH, path: DEST },
    ...options,
  });
}

function dataClient(options: Partial<DataOptions> = {}): ClientConnection {
  return new ClientConnection({
    role: 'data',
    secret: SECRET,
    nonce: CLIENT_NONCE,
    peerName: 'server 10.0.0.2:7523',
    sessionId: SESSION_ID,
    connIndex: 2,
    params: SESSION.params,
    ...options,
  });
}

function server(options: Partial<ServerConnectionOptions> = {}): ServerConnection {
  return new ServerConnection({
    nonce: SERVER_NONCE,
    peerName: 'client 10.0.0.1:51234',
    launchFor: (keyId) => (keyId.equals(keyIdOf(SECRET)) ? { secret: SECRET } : undefined),
    sessionFor: (sessionId) => (sessionId.equals(SESSION_ID) ? SESSION : undefined),
    ...options,
  });
}

const typesOf = (messages: readonly Message[]): string[] => messages.map((m) => packetTypeName[m.type]!);

/**
 * PROTOCOL.md §6 written out with node:crypto alone: HKDF-SHA256(secret, salt server_nonce ‖
 * client_nonce, info label ‖ session_id ‖ conn_index u16), 32 bytes.
 */
function specFrameKey(label: 'fcp1 c2s' | 'fcp1 s2c', serverNonce: Buffer, sessionId: Buffer, connIndex: number): Buffer {
  const index = Buffer.alloc(2);
  index.writeUInt16BE(connIndex);
  const info = Buffer.concat([Buffer.from(label, 'latin1'), sessionId, index]);
  return Buffer.from(hkdfSync('sha256', SECRET, Buffer.concat([serverNonce, CLIENT_NONCE]), info, 32));
}

/** The keys each side sealed (out) and opened (in) with, by direction of the traffic. */
function sealKeys(pump: Pump): Record<'c2s' | 's2c', Buffer[]> {
  const key = (side: Side, direction: 'in' | 'out'): Buffer[] =>
    pump.actionsOf(side, 'seal').filter((a) => a.direction === direction).map((a) => a.key);
  return { c2s: [...key('client', 'out'), ...key('server', 'in')], s2c: [...key('server', 'out'), ...key('client', 'in')] };
}

/** A rewrite hook changing the messages of one type that `from` sends. */
function rewriting<T extends Message['type']>(
  from: Side,
  type: T,
  change: (message: MessageOf<T>) => MessageOf<T>,
): PumpOptions['rewrite'] {
  return (message, sender) => (sender === from && message.type === type ? change(message as MessageOf<T>) : message);
}

/**
 * `detector` refused with `code` and said so in an ERROR frame; its peer failed with the same
 * code because of that frame, and did not echo an ERROR back.
 */
function expectRefused(pump: Pump, detector: Side, code: FcpErrorCode): void {
  const found = pump.endpoint(detector);
  const peer = pump.endpoint(peerOf(detector));
  expect(found.failure?.code).toBe(code);
  expect(found.sent.at(-1)).toMatchObject({ type: P.ERROR, code: wireFromCode(code) });
  expect(peer.received.at(-1)?.type).toBe(P.ERROR);
  expect(peer.failure?.code).toBe(code);
  expect(peer.actions.at(-1)).toMatchObject({ type: 'fail', notifyPeer: false });
  expect(peer.sent.filter((m) => m.type === P.ERROR)).toEqual([]);
}

const neitherAuthenticated = (pump: Pump): void =>
  expect([...pump.actionsOf('client', 'authenticated'), ...pump.actionsOf('server', 'authenticated')]).toEqual([]);

// ---------------------------------------------------------------------------------------------

describe('control connection', () => {
  it.each([
    ['encrypted', ENCRYPTED],
    ['plain', PLAIN],
  ])('%s: both sides authenticate; SESSION comes only after the owner accepts', async (_name, offer) => {
    const sealed = offer.cipher === Cipher.AES_256_GCM;
    const ifSealed = (...actions: string[]): string[] => (sealed ? actions : []);
    const pump = await Pump.handshake(controlClient({ offer }), server());

    expect(summaries(pump.client.actions)).toEqual([
      'send HELLO', 'send PARAMS', 'send AUTH', ...ifSealed('seal out'), 'send MODE', 'send PUSH',
      ...ifSealed('seal in'), 'authenticated control',
    ]);
    expect(summaries(pump.server.actions)).toEqual([
      'send HELLO', ...ifSealed('seal in'), 'send PARAMS', 'send AUTH_OK', ...ifSealed('seal out'),
      'authenticated control', 'request push',
    ]);
    const authenticated = { type: 'authenticated', role: 'control', params: offer, sessionId: CONTROL_SESSION_ID, connIndex: 0 };
    expect(pump.actionsOf('client', 'authenticated')).toEqual([authenticated]);
    expect(pump.actionsOf('server', 'authenticated')).toEqual([authenticated]);
    expect(pump.actionsOf('server', 'request')).toEqual([{ type: 'request', kind: 'push', paths: [DEST], flags: MODE.flags }]);
    expect(pump.clientMachine.state).toBe('AWAIT_SESSION');

    pump.accept(SESSION_ID);
    expect(pump.actionsOf('client', 'sessionCreated')).toEqual([{ type: 'sessionCreated', sessionId: SESSION_ID }]);
    expect([pump.clientMachine.state, pump.serverMachine.state]).toEqual(['ESTABLISHED', 'ESTABLISHED']);
    expect([pump.client.failure, pump.server.failure]).toEqual([undefined, undefined]);
  });

  it.each([
    ['encrypted', false, ENCRYPTED],
    ['plain', true, PLAIN],
  ])('%s: the destination path is readable on the wire: %s', async (_name, readable, offer) => {
    const pump = await Pump.handshake(controlClient({ offer }), server());
    expect(pump.bytesFrom('client').includes(DEST)).toBe(readable);
    const modeFrame = pump.client.wire[pump.client.sent.findIndex((m) => m.type === P.MODE)]!;
    expect(modeFrame.length).toBe(HEADER_SIZE + 4 + (readable ? 0 : GCM_TAG_SIZE));
    // Sealed or not, the server reads exactly what was sent.
    expect(pump.server.received.slice(3)).toEqual([MODE, { type: P.PUSH, path: DEST }]);
  });

  it('PULL hands every source and the MODE flags to the owner', async () => {
    const sources = ['a', 'dir/b', '/abs/c d', '../up'].map((p) => Buffer.from(p));
    const flags = ModeFlag.RECURSIVE | ModeFlag.DEST_IS_DIR;
    const client = controlClient({ mode: { type: P.MODE, flags }, request: { type: P.PULL, paths: sources } });
    const pump = await Pump.handshake(client, server());
    expect(pump.actionsOf('server', 'request')).toEqual([{ type: 'request', kind: 'pull', paths: sources, flags }]);
  });

  it('a MODE with BACKUP hands its backup suffix to the owner', async () => {
    const flags = ModeFlag.RECURSIVE | ModeFlag.BACKUP;
    const backupSuffix = Buffer.from('.old');
    const client = controlClient({ mode: { type: P.MODE, flags, backupSuffix } });
    const pump = await Pump.handshake(client, server());
    expect(pump.actionsOf('server', 'request')).toEqual([{ type: 'request', kind: 'push', paths: [DEST], flags, backupSuffix }]);
  });

  it.each([
    ['BACKUP without a suffix', { type: P.MODE, flags: ModeFlag.BACKUP }],
    ['a suffix without BACKUP', { type: P.MODE, flags: 0, backupSuffix: Buffer.from('~') }],
  ] as [string, ModeMessage][])('%s is refused with FCP_ERR_PARAMS', async (_name, mode) => {
    const pump = await Pump.handshake(controlClient({ mode }), server());
    expectRefused(pump, 'server', 'FCP_ERR_PARAMS');
    expect(pump.actionsOf('server', 'request')).toEqual([]);
  });

  it("the owner's refusal of the request reaches the client with its code", async () => {
    const refusal = new FcpError('FCP_ERR_NOT_FOUND', 'no such file: /srv/missing');
    const pump = await Pump.handshake(controlClient(), server(), { onRequest: () => refusal });
    expectRefused(pump, 'server', 'FCP_ERR_NOT_FOUND');
    expect(pump.client.failure?.message).toContain('no such file: /srv/missing');
    expect(pump.actionsOf('client', 'sessionCreated')).toEqual([]);
  });

  it('gives the same outcome however the byte streams are sliced', async () => {
    const run = async (options: PumpOptions) =>
      Pump.handshake(controlClient(), server(), { ...options, onRequest: () => SESSION_ID });
    const reference = await run({});
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 8 }), async (lengths) => {
        const pump = await run({ split: sliceBy(lengths) });
        for (const side of ['client', 'server'] as const) {
          expect(summaries(pump.endpoint(side).actions)).toEqual(summaries(reference.endpoint(side).actions));
          expect(pump.endpoint(side).received).toEqual(reference.endpoint(side).received);
        }
      }),
      { numRuns: numRuns(30) },
    );
  });
});

describe('data connection', () => {
  it('attaches to a known session; both sides agree on it and on the frame keys', async () => {
    const pump = await Pump.handshake(dataClient(), server());
    const authenticated = { type: 'authenticated', role: 'data', params: SESSION.params, sessionId: SESSION_ID, connIndex: 2 };
    expect(pump.actionsOf('client', 'authenticated')).toEqual([authenticated]);
    expect(pump.actionsOf('server', 'authenticated')).toEqual([authenticated]);
    expect(typesOf(pump.client.sent)).toEqual(['HELLO', 'ATTACH', 'AUTH']);
    expect([pump.clientMachine.state, pump.serverMachine.state]).toEqual(['ESTABLISHED', 'ESTABLISHED']);

    // Sealed frames now open on the other side: both derived the same keys.
    pump.inject('client', KEEPALIVE).inject('server', KEEPALIVE).run();
    expect([pump.client.received.at(-1), pump.server.received.at(-1)]).toEqual([KEEPALIVE, KEEPALIVE]);
    expect([pump.client.failure, pump.server.failure]).toEqual([undefined, undefined]);
  });

  it('its frame keys are derived from the HELLO nonces, the session id and its conn_index (§6)', async () => {
    const pump = await Pump.handshake(dataClient(), server());
    expect(sealKeys(pump)).toEqual({
      c2s: Array(2).fill(specFrameKey('fcp1 c2s', SERVER_NONCE, SESSION_ID, 2)),
      s2c: Array(2).fill(specFrameKey('fcp1 s2c', SERVER_NONCE, SESSION_ID, 2)),
    });
  });

  it('an unknown session is refused with FCP_ERR_UNKNOWN_SESSION before AUTH is read', async () => {
    const pump = await Pump.handshake(dataClient({ sessionId: Buffer.alloc(SESSION_ID_SIZE, 0x44) }), server());
    expectRefused(pump, 'server', 'FCP_ERR_UNKNOWN_SESSION');
    expect(typesOf(pump.server.received)).toEqual(['HELLO', 'ATTACH']);
    neitherAuthenticated(pump);
  });

  it('a session that failed lately is refused with the code it failed with, naming only that code (its late data connection reports the first cause)', async () => {
    const cause = new FcpError('FCP_ERR_BAD_CHECKSUM', 'control connection: frame checksum mismatch in /secret/name');
    const gone = Buffer.alloc(SESSION_ID_SIZE, 0x44);
    const pump = await Pump.handshake(dataClient({ sessionId: gone }), server({ failedSession: (id) => (id.equals(gone) ? cause : undefined) }));
    expectRefused(pump, 'server', 'FCP_ERR_BAD_CHECKSUM');
    expect(pump.server.failure?.message).toBe(`session ${gone.toString('hex')} has already ended: it failed with FCP_ERR_BAD_CHECKSUM`);
    neitherAuthenticated(pump);
  });

  it('a session that ended between ATTACH and AUTH is refused as unknown (or with its failure), not as an authentication failure', () => {
    let live = true;
    const machine = server({ sessionFor: (id) => (live && id.equals(SESSION_ID) ? SESSION : undefined) });
    const hello = machine.start().find((a) => a.type === 'send')!;
    const [clientHello, attach, auth] = dataClient().receive((hello as { message: Message }).message).flatMap((a) => (a.type === 'send' ? [a.message] : []));
    expect([...machine.receive(clientHello!), ...machine.receive(attach!)]).toEqual([]);
    live = false;
    expect(machine.receive(auth!)).toEqual([{ type: 'fail', error: expect.objectContaining({ code: 'FCP_ERR_UNKNOWN_SESSION' }), notifyPeer: true }]);
  });

  it.each([
    ['already attached', 1],
    ['beyond the connections of the session', ENCRYPTED.connections + 1],
  ])('a connection index %s is FCP_ERR_PROTOCOL', async (_name, connIndex) => {
    const pump = await Pump.handshake(dataClient({ connIndex }), server());
    expectRefused(pump, 'server', 'FCP_ERR_PROTOCOL');
    neitherAuthenticated(pump);
  });

  it('an index taken by another connection between ATTACH and AUTH is refused after AUTH, with FCP_ERR_PROTOCOL', () => {
    const session: SessionEntry = { ...SESSION, attached: new Set([1]) };
    const machine = server({ sessionFor: (id) => (id.equals(SESSION_ID) ? session : undefined) });
    const client = dataClient({ connIndex: 2 });
    const hello = machine.start().find((a) => a.type === 'send')!;
    const [clientHello, attach, auth] = client.receive((hello as { message: Message }).message).flatMap((a) => (a.type === 'send' ? [a.message] : []));
    expect(typesOf([clientHello!, attach!, auth!])).toEqual(['HELLO', 'ATTACH', 'AUTH']);
    expect([...machine.receive(clientHello!), ...machine.receive(attach!)]).toEqual([]);
    // Another connection with index 2 authenticated meanwhile.
    (session.attached as Set<number>).add(2);
    const actions = machine.receive(auth!);
    expect(actions).toEqual([{ type: 'fail', error: expect.objectContaining({ code: 'FCP_ERR_PROTOCOL' }), notifyPeer: true }]);
    expect(machine.failure?.message).toMatch(/attached as connection 2, which is taken or outside 1\.\.4/);
  });
});

describe('authentication', () => {
  const badMac = (): Buffer => Buffer.alloc(MAC_SIZE, 0xee);

  it.each<[string, () => ClientConnection, () => ServerConnection, PumpOptions['rewrite']]>([
    ['a control client without the secret', () => controlClient({ secret: WRONG_SECRET }), server, undefined],
    ['a data client without the secret', () => dataClient({ secret: WRONG_SECRET }), server, undefined],
    // An owner that returns its secret for any key id: the machine checks the key id itself.
    ['a client naming another key id', () => controlClient({ secret: WRONG_SECRET }), () => server({ launchFor: () => ({ secret: SECRET }) }), undefined],
    ['an AUTH whose MAC was changed on the way', controlClient, server, rewriting('client', P.AUTH, (m) => ({ ...m, mac: badMac() }))],
    // The client MAC covers the offer, so a man in the middle cannot weaken it.
    ['an offer changed on the way', controlClient, server, rewriting('client', P.PARAMS, (m) => ({ ...m, connections: 1 }))],
  ])('the server refuses %s with FCP_ERR_AUTH', async (_name, client, makeServer, rewrite) => {
    const pump = await Pump.handshake(client(), makeServer(), { rewrite, onRequest: () => SESSION_ID });
    expectRefused(pump, 'server', 'FCP_ERR_AUTH');
    neitherAuthenticated(pump);
    expect(pump.actionsOf('server', 'request')).toEqual([]);
  });

  it.each<[string, PumpOptions['rewrite']]>([
    // Stands in for a server that does not know the secret: it cannot compute the MAC.
    ['a forged AUTH_OK', rewriting('server', P.AUTH_OK, (m) => ({ ...m, mac: badMac() }))],
    // Still within the rules of §5.2, but the server MAC covers the answer it really sent.
    ['an answer lowered on the way', rewriting('server', P.PARAMS, (m) => ({ ...m, chunkSize: m.chunkSize / 2 }))],
  ])('the client refuses %s with FCP_ERR_AUTH', async (_name, rewrite) => {
    const pump = await Pump.handshake(controlClient(), server(), { rewrite, onRequest: () => SESSION_ID });
    expectRefused(pump, 'client', 'FCP_ERR_AUTH');
    expect(pump.actionsOf('client', 'authenticated')).toEqual([]);
    expect(pump.actionsOf('client', 'sessionCreated')).toEqual([]);
  });
});

describe('launch nonce (the control connection authenticates in its first packet)', () => {
  const LAUNCH_NONCE = Buffer.alloc(NONCE_SIZE, 0x03);
  const launchServer = (): ServerConnection =>
    server({ launchFor: (keyId) => (keyId.equals(keyIdOf(SECRET)) ? { secret: SECRET, nonce: LAUNCH_NONCE } : undefined) });

  it.each([
    ['encrypted', ENCRYPTED],
    ['plain', PLAIN],
  ])('%s: the client sends everything before HELLO arrives, and both sides agree on keys', async (_name, offer) => {
    const sealed = offer.cipher === Cipher.AES_256_GCM;
    const client = controlClient({ offer, launchNonce: LAUNCH_NONCE });
    expect(summaries(client.start())).toEqual([
      'send HELLO', 'send PARAMS', 'send AUTH', ...(sealed ? ['seal out'] : []), 'send MODE', 'send PUSH',
    ]);
    // Started again (a second start() call) it sends nothing more.
    expect(client.start()).toEqual([]);
    expect(client.state).toBe('AWAIT_HELLO');

    const pump = await Pump.handshake(controlClient({ offer, launchNonce: LAUNCH_NONCE }), launchServer());
    pump.accept(SESSION_ID);
    expect([pump.clientMachine.state, pump.serverMachine.state]).toEqual(['ESTABLISHED', 'ESTABLISHED']);
    expect([pump.client.failure, pump.server.failure]).toEqual([undefined, undefined]);
    expect(pump.server.received.slice(3)).toEqual([MODE, { type: P.PUSH, path: DEST }]);
    // The MAC is over the launch's nonce, not the one in the server's HELLO.
    const auth = pump.client.sent.find((m) => m.type === P.AUTH) as AuthMessage;
    const transcript = { serverNonce: LAUNCH_NONCE, clientNonce: CLIENT_NONCE, sessionId: CONTROL_SESSION_ID, connIndex: 0, offer: encodePayload(offer), accepted: Buffer.alloc(0) };
    expect(auth.mac.equals(clientMac(SECRET, transcript))).toBe(true);
  });

  it.each([
    ['the launch nonce, when the client used it', true, LAUNCH_NONCE],
    ["the server HELLO's nonce, when the client waited for it", false, SERVER_NONCE],
  ])('control frame keys: 16 zero bytes as session_id, conn_index 0, and %s (§6)', async (_name, useLaunchNonce, serverNonce) => {
    const pump = await Pump.handshake(controlClient(useLaunchNonce ? { launchNonce: LAUNCH_NONCE } : {}), launchServer());
    pump.accept(SESSION_ID);
    expect(sealKeys(pump)).toEqual({
      c2s: Array(2).fill(specFrameKey('fcp1 c2s', serverNonce, CONTROL_SESSION_ID, 0)),
      s2c: Array(2).fill(specFrameKey('fcp1 s2c', serverNonce, CONTROL_SESSION_ID, 0)),
    });
  });

  it('a server with a launch nonce still accepts a client that waited for HELLO', async () => {
    const pump = await Pump.handshake(controlClient(), launchServer());
    pump.accept(SESSION_ID);
    expect([pump.clientMachine.state, pump.serverMachine.state]).toEqual(['ESTABLISHED', 'ESTABLISHED']);
  });

  it('a MAC over any other nonce is refused with FCP_ERR_AUTH', async () => {
    const pump = await Pump.handshake(controlClient({ launchNonce: Buffer.alloc(NONCE_SIZE, 0x04) }), launchServer());
    expectRefused(pump, 'server', 'FCP_ERR_AUTH');
    neitherAuthenticated(pump);
  });

  it('a server without the launch nonce refuses a client that used one', async () => {
    const pump = await Pump.handshake(controlClient({ launchNonce: LAUNCH_NONCE }), server());
    expectRefused(pump, 'server', 'FCP_ERR_AUTH');
  });

  it('on a version mismatch the client, having sent its HELLO already, sends only ERROR', async () => {
    const pump = await Pump.handshake(controlClient({ launchNonce: LAUNCH_NONCE }), server({ versions: { min: 2, max: 3 } }));
    expect(pump.client.failure?.code).toBe('FCP_ERR_VERSION');
    expect(typesOf(pump.client.sent).filter((t) => t === 'HELLO')).toEqual(['HELLO']);
    expect(typesOf(pump.client.sent).at(-1)).toBe('ERROR');
    neitherAuthenticated(pump);
  });

  it('data connections ignore it: they wait for HELLO as before', () => {
    expect(dataClient().start()).toEqual([]);
  });
});

describe('version negotiation', () => {
  it.each([
    [{ min: 2, max: 3 }, { min: 1, max: 1 }],
    [{ min: 1, max: 1 }, { min: 2, max: 3 }],
  ])('client %o and server %o: both fail with FCP_ERR_VERSION naming both ranges', async (clientRange, serverRange) => {
    const pump = await Pump.handshake(controlClient({ versions: clientRange }), server({ versions: serverRange }));
    const ranges = `client speaks protocol versions ${clientRange.min}..${clientRange.max}, server speaks ${serverRange.min}..${serverRange.max}`;
    for (const side of [pump.client, pump.server]) {
      expect(side.failure?.code).toBe('FCP_ERR_VERSION');
      expect(side.failure?.message).toContain(ranges);
    }
    // Each side sends its HELLO before the ERROR, so the peer learns its range too.
    expect(typesOf(pump.client.sent)).toEqual(['HELLO', 'ERROR']);
    expect(typesOf(pump.server.sent)).toEqual(['HELLO', 'ERROR']);
    neitherAuthenticated(pump);
  });
});

describe('parameters', () => {
  it('a server that requires encryption refuses a plain offer with FCP_ERR_PARAMS', async () => {
    const pump = await Pump.handshake(controlClient({ offer: PLAIN }), server({ policy: () => ({ requireEncryption: true }) }));
    expectRefused(pump, 'server', 'FCP_ERR_PARAMS');
    expect(pump.client.failure?.message).toContain('requires encryption');
    neitherAuthenticated(pump);
  });

  it('a server that requires encryption accepts an encrypted offer', async () => {
    const pump = await Pump.handshake(controlClient(), server({ policy: () => ({ requireEncryption: true }) }));
    expect(pump.actionsOf('client', 'authenticated')).toHaveLength(1);
  });

  it('server policy lowers connections and chunk size, and both sides use the lowered values', async () => {
    const offer = makeOffer({ encrypt: true, connections: 16, chunkSize: 4 << 20 });
    const policy = { maxConnections: 3, maxChunkSize: 256 << 10 };
    const pump = await Pump.handshake(controlClient({ offer }), server({ policy: () => policy }));
    const lowered = { ...offer, connections: 3, chunkSize: 256 << 10 };
    expect(pump.actionsOf('client', 'authenticated').map((a) => a.params)).toEqual([lowered]);
    expect(pump.actionsOf('server', 'authenticated').map((a) => a.params)).toEqual([lowered]);
  });

  it('the policy is asked when PARAMS are answered: a memory budget spent since the connection opened refuses it', async () => {
    let memoryBudget = 1 << 30;
    const machine = server({ policy: () => ({ memoryBudget }) });
    memoryBudget = 0;
    const pump = await Pump.handshake(controlClient(), machine);
    expectRefused(pump, 'server', 'FCP_ERR_PARAMS');
    expect(pump.client.failure?.message).toMatch(/buffer memory left for a new session/);
    neitherAuthenticated(pump);
  });

  it.each<[string, (answer: ParamsMessage) => ParamsMessage]>([
    ['more connections than offered', (a) => ({ ...a, connections: a.connections + 1 })],
    ['a larger chunk size than offered', (a) => ({ ...a, chunkSize: a.chunkSize * 2 })],
    ['another cipher', (a) => ({ ...a, cipher: Cipher.NONE })],
    ['other features', (a) => ({ ...a, features: 0 })],
    ['no hash', (a) => ({ ...a, hashAlgs: 0 })],
  ])('the client refuses an answer with %s (FCP_ERR_PARAMS)', async (_name, change) => {
    const pump = await Pump.handshake(controlClient(), server(), { rewrite: rewriting('server', P.PARAMS, change) });
    expectRefused(pump, 'client', 'FCP_ERR_PARAMS');
    expect(pump.actionsOf('client', 'authenticated')).toEqual([]);
  });
});

describe('tampering with sealed frames', () => {
  const afterAuth = { client: ['HELLO', 'PARAMS', 'AUTH'], server: ['HELLO', 'PARAMS', 'AUTH_OK'] };

  it.each<[string, ParamsMessage, Tamper, Side, FcpErrorCode, string[]]>([
    ['a flipped payload byte (header checksum)', ENCRYPTED, flipByte('client', P.MODE, HEADER_SIZE), 'server', 'FCP_ERR_DECRYPT', []],
    ['a flipped payload byte (full checksum)', FULL_CHECKSUM, flipByte('client', P.MODE, HEADER_SIZE), 'server', 'FCP_ERR_BAD_CHECKSUM', []],
    // xxh32 is no secret: whoever alters a frame can fix its checksum, never its tag.
    ['a flipped byte with its checksum fixed', FULL_CHECKSUM, flipByte('client', P.MODE, HEADER_SIZE, 0x80, true), 'server', 'FCP_ERR_DECRYPT', []],
    ['a flipped tag byte', ENCRYPTED, flipByte('client', P.MODE, HEADER_SIZE + 4), 'server', 'FCP_ERR_DECRYPT', []],
    ['a replayed frame', ENCRYPTED, duplicateFrame('client', P.MODE), 'server', 'FCP_ERR_DECRYPT', ['MODE']],
    ['two frames swapped', ENCRYPTED, swapWithNext('client', P.MODE), 'server', 'FCP_ERR_DECRYPT', []],
    ['a dropped frame', ENCRYPTED, dropFrame('client', P.MODE), 'server', 'FCP_ERR_DECRYPT', []],
    ['a flipped SESSION byte', ENCRYPTED, flipByte('server', P.SESSION, HEADER_SIZE + 3), 'client', 'FCP_ERR_DECRYPT', []],
  ])('%s is refused by the codec and never delivered', async (_name, offer, tamper, detector, code, delivered) => {
    const pump = await Pump.handshake(controlClient({ offer }), server(), { tamper, onRequest: () => SESSION_ID });
    expect(pump.endpoint(detector).failedIn).toBe('codec');
    expectRefused(pump, detector, code);
    const sender = peerOf(detector);
    expect(typesOf(pump.endpoint(detector).received)).toEqual([...afterAuth[sender], ...delivered]);
  });

  it('a sealed frame moved from another connection fails its tag', async () => {
    const other = await Pump.handshake(controlClient({ nonce: Buffer.alloc(NONCE_SIZE, 9) }), server());
    const foreignMode = other.client.wire[other.client.sent.findIndex((m) => m.type === P.MODE)]!;
    const pump = await Pump.handshake(controlClient(), server(), { tamper: replaceFrame('client', P.MODE, foreignMode) });
    expectRefused(pump, 'server', 'FCP_ERR_DECRYPT');
  });

  it('any change to one byte of a sealed frame is caught before the machine sees it', async () => {
    // Header bytes may be refused by the type or length check before the checksum; a length
    // that grows with a fixed-up checksum leaves the receiver waiting until the stream ends.
    const caught: FcpErrorCode[] = ['FCP_ERR_DECRYPT', 'FCP_ERR_BAD_CHECKSUM', 'FCP_ERR_UNKNOWN_TYPE', 'FCP_ERR_BAD_LENGTH', 'FCP_ERR_TRUNCATED'];
    const targets: [Side, PacketTypeValue][] = [['client', P.MODE], ['client', P.PUSH], ['server', P.SESSION]];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...targets),
        fc.constantFrom(ENCRYPTED, FULL_CHECKSUM),
        fc.nat(),
        fc.integer({ min: 1, max: 0xff }),
        fc.boolean(),
        async ([from, type], offer, position, mask, fixChecksum) => {
          const tamper = changeFrames(from, type, (frame) => {
            // With the checksum fixed up, a change to the checksum field itself would be undone.
            const offsets = [...frame.bytes.keys()].filter((i) => !fixChecksum || i < CHKSUM_OFFSET || i >= LENGTH_OFFSET);
            const bytes = Buffer.from(frame.bytes);
            bytes[offsets[position % offsets.length]!]! ^= mask;
            return [fixChecksum ? frame.rechecksum(bytes) : bytes];
          });
          const pump = (await Pump.handshake(controlClient({ offer }), server(), { tamper, onRequest: () => SESSION_ID })).end();
          const receiver = pump.endpoint(peerOf(from));
          expect(receiver.failedIn).toBe('codec');
          expect(caught).toContain(receiver.failure?.code);
          expect(receiver.received.map((m) => m.type)).not.toContain(type);
        },
      ),
      { numRuns: numRuns(100) },
    );
  });
});

describe('unexpected messages', () => {
  type Moment = 'first' | 'authenticated' | 'established';

  /**
   * A control handshake with `message` put on the wire by `from` at a moment: before anything
   * else ('first'), with the request pending ('authenticated'), or after SESSION ('established').
   */
  async function injectAt(moment: Moment, from: Side, message: Message): Promise<Pump> {
    const pump = await Pump.create(controlClient(), server());
    if (moment === 'first') return pump.inject(from, message).start().run();
    pump.start().run();
    if (moment === 'established') pump.accept(SESSION_ID);
    return pump.inject(from, message).run();
  }

  const data: Message = { type: P.DATA, fileId: 0, seq: 0, data: Buffer.from('x') };

  it.each<[string, Moment, Side, Message]>([
    ['AUTH before HELLO', 'first', 'client', { type: P.AUTH, keyId: keyIdOf(SECRET), mac: Buffer.alloc(MAC_SIZE) }],
    ['DATA during the handshake', 'first', 'client', data],
    ['KEEPALIVE from the client before authentication', 'first', 'client', KEEPALIVE],
    ['KEEPALIVE from the server before authentication', 'first', 'server', KEEPALIVE],
    ['SESSION sent to a server', 'authenticated', 'client', { type: P.SESSION, sessionId: SESSION_ID }],
    ['a second HELLO', 'authenticated', 'server', { type: P.HELLO, minVersion: 1, maxVersion: 1, nonce: SERVER_NONCE }],
    ['DATA before SESSION', 'authenticated', 'server', data],
    ['PARAMS after SESSION', 'established', 'client', ENCRYPTED],
  ])('%s is FCP_ERR_UNEXPECTED_MESSAGE', async (_name, moment, from, message) => {
    const pump = await injectAt(moment, from, message);
    const receiver = peerOf(from);
    expect(pump.endpoint(receiver).failedIn).toBe('machine');
    expectRefused(pump, receiver, 'FCP_ERR_UNEXPECTED_MESSAGE');
  });

  it.each<Side>(['client', 'server'])('KEEPALIVE from the %s after authentication is accepted silently', async (from) => {
    const pump = await injectAt('authenticated', from, KEEPALIVE);
    expect(pump.endpoint(peerOf(from)).received.at(-1)).toEqual(KEEPALIVE);
    expect([pump.clientMachine.state, pump.serverMachine.state]).toEqual(['AWAIT_SESSION', 'AWAIT_ACCEPT']);
    pump.accept(SESSION_ID);
    expect(pump.actionsOf('client', 'sessionCreated')).toHaveLength(1);
    expect([pump.client.failure, pump.server.failure]).toEqual([undefined, undefined]);
  });

  const moments: Moment[] = ['first', 'authenticated', 'established'];
  it.each(moments.flatMap((moment) => (['client', 'server'] as const).map((from) => [moment, from] as const)))(
    'ERROR (%s, from the %s) ends the other side with the peer code and no ERROR back',
    async (moment, from) => {
      const error: Message = { type: P.ERROR, code: wireFromCode('FCP_ERR_NO_SPACE'), message: 'disk\nfull\u0007' };
      const receiver = (await injectAt(moment, from, error)).endpoint(peerOf(from));
      expect(receiver.actions.at(-1)).toMatchObject({ type: 'fail', notifyPeer: false });
      expect(receiver.failure?.code).toBe('FCP_ERR_NO_SPACE');
      // The peer's text is shown without its control characters.
      expect(receiver.failure?.message).toBe(`${from === 'client' ? 'client 10.0.0.1:51234' : 'server 10.0.0.2:7523'} reported: disk full `);
      expect(receiver.sent.filter((m) => m.type === P.ERROR)).toEqual([]);
    },
  );
  it('an ERROR with a wire number this build does not know is FCP_ERR_PROTOCOL', async () => {
    const pump = await injectAt('authenticated', 'server', { type: P.ERROR, code: 0xbeef, message: 'new' });
    expect(pump.client.failure?.code).toBe('FCP_ERR_PROTOCOL');
  });
});

describe('determinism', () => {
  it('the same secret and nonces put the same bytes on the wire', async () => {
    const run = async (clientNonce: Buffer) =>
      Pump.handshake(controlClient({ nonce: clientNonce }), server(), { onRequest: () => SESSION_ID });
    const [first, second, fresh] = await Promise.all([run(CLIENT_NONCE), run(CLIENT_NONCE), run(Buffer.alloc(NONCE_SIZE, 7))]);
    expect(first.bytesFrom('client')).toEqual(second.bytesFrom('client'));
    expect(first.bytesFrom('server')).toEqual(second.bytesFrom('server'));
    // A fresh nonce changes MACs and keys, so the comparison above is not vacuous.
    expect(fresh.bytesFrom('client')).not.toEqual(first.bytesFrom('client'));
    expect(fresh.bytesFrom('server')).not.toEqual(first.bytesFrom('server'));
  });
});

describe('daemon login (PROTOCOL.md §5.4)', () => {
  const USER = Buffer.from('alice');
  const loginServer = (keys: Record<string, Buffer>): ServerConnection =>
    server({ launchFor: () => undefined, loginFor: (user) => keys[user.toString()] });

  it('LOGIN goes between HELLO and PARAMS; the login key authenticates both sides', async () => {
    const pump = await Pump.handshake(controlClient({ login: USER }), loginServer({ alice: SECRET }));
    expect(typesOf(pump.client.sent).slice(0, 4)).toEqual(['HELLO', 'LOGIN', 'PARAMS', 'AUTH']);
    expect(pump.client.sent[1]).toEqual({ type: P.LOGIN, user: USER });
    expect(pump.actionsOf('server', 'authenticated')).toHaveLength(1);
    expect(pump.actionsOf('client', 'authenticated')).toHaveLength(1);
    expect(pump.serverMachine.loggedInUser).toEqual(USER);
  });

  it('a wrong key and an unknown user are refused with the same words', async () => {
    const wrong = await Pump.handshake(controlClient({ login: USER, secret: WRONG_SECRET }), loginServer({ alice: SECRET }));
    const unknown = await Pump.handshake(controlClient({ login: USER }), loginServer({}));
    for (const pump of [wrong, unknown]) {
      expectRefused(pump, 'server', 'FCP_ERR_AUTH');
      neitherAuthenticated(pump);
      expect(pump.serverMachine.loggedInUser).toBeUndefined();
    }
    expect(wrong.server.failure!.message).toBe(unknown.server.failure!.message);
    expect(wrong.server.failure!.message).toBe('login as alice refused: unknown user or wrong token');
  });

  it('a server that takes no logins refuses LOGIN by policy', async () => {
    const pump = await Pump.handshake(controlClient({ login: USER }), server());
    expectRefused(pump, 'server', 'FCP_ERR_POLICY');
    neitherAuthenticated(pump);
  });
});
