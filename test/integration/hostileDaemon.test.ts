/**
 * The hostile resume and reconnect cases (CHUNKS_HELD, CHUNK_KEPT, CHUNK_ACK, DATA_LOST,
 * PARTIAL_STALE: helpers/hostileResumeCases.ts) against a standing `fcpd -d` that is serving a
 * real transfer meanwhile (issue 12: "the session closed, the server still serving others").
 * A real fcp pushes a file into the daemon at a limited rate while a lying client logs in to the
 * same daemon and plays every case, one session after another: each hostile session gets the
 * right ERROR and is closed; the daemon stays up; the real transfer completes, identical.
 * Then a flood of connections that never authenticate, from several addresses: bounded per
 * address and in total, closed by the handshake timeout, and the daemon serves again.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PacketType } from '../../src/protocol';
import { PREAUTH_PER_ADDRESS, preAuthTotal } from '../../src/server/admission';
import { parseLoginKey } from '../../src/protocol/tokens';
import { daemonSession, DaemonLogin } from './helpers/hostilePeer';
import { playPull, playPush, PULL_CASES, PUSH_CASES, SIZE } from './helpers/hostileResumeCases';
import { alive, childEnv, expectExit, killAll, runFcp, runFcpd, sha256, tempDir } from './ssh/harness';
import { freePort } from './ssh/sshd';

jest.setTimeout(180_000);

const user = os.userInfo().username;
/** The real transfer: long enough at RATE to outlast every hostile case. */
const REAL_SIZE = 64 * 1024 * 1024;
const RATE = '4M';
/**
 * The daemon's --timeout: its login limit, which closes the flood's held connections. Shorter than
 * the default 30 s (the wait for it ends before 30 s would, so it shows -d honours it), long enough
 * that the excess is closed first even on a loaded machine: 8 s was not (CI: the flood's last
 * connections were still being refused when the first held ones timed out, 31 of 1,024).
 */
const DAEMON_TIMEOUT_S = 20;
/**
 * The daemon's open-file limit, so its bound on unauthenticated connections is half of it (200,
 * not 1,024): the flood that goes over it is a third the size and is answered well inside the
 * timeout on a loaded machine (CI once took over 20 s to refuse a flood of 1,178).
 */
const DAEMON_OPEN_FILES = 400;

let work: string;
let pub: string;
let daemonEnv: NodeJS.ProcessEnv;
let clientEnv: NodeJS.ProcessEnv;
let daemon: DaemonLogin;
const daemonPids = new Set<number>();

beforeAll(async () => {
  work = tempDir('hostile-daemon');
  pub = path.join(work, 'pub');
  fs.mkdirSync(pub);
  const made = await runFcp(['--new-token'], { env: childEnv(work) });
  expectExit(made, 0);
  const token = /^HOST \S+ (fcpt1_\S+)$/m.exec(made.stdout)![1]!;
  const loginKey = /^\S+ (fcpk1_\S+) MODULE/m.exec(made.stdout)![1]!;
  const users = path.join(work, 'fcpd.users');
  fs.writeFileSync(users, `${user} ${loginKey} pub\n`, { mode: 0o600 });
  const config = path.join(work, 'fcpd.toml');
  fs.writeFileSync(config, `users_file = "${users}"\n[modules.pub]\npath = "${pub}"\n`);
  daemonEnv = childEnv(work, { XDG_STATE_HOME: path.join(work, 'state'), XDG_CONFIG_HOME: path.join(work, 'daemon-config') });
  const port = await freePort();
  const start = await runFcpd(['-d', '--port', String(port), '--bind', '127.0.0.1', '--config', config, '--timeout', String(DAEMON_TIMEOUT_S)], { env: daemonEnv, openFiles: DAEMON_OPEN_FILES });
  expectExit(start, 0);
  for (const match of start.stdout.matchAll(/pid (\d+)/g)) daemonPids.add(Number(match[1]));
  expect(daemonPids.size).toBeGreaterThan(0);

  const home = path.join(work, 'client');
  fs.mkdirSync(path.join(home, 'fcp'), { recursive: true });
  fs.writeFileSync(path.join(home, 'fcp', 'secrets'), `127.0.0.1:${port} ${user} ${token}\n`, { mode: 0o600 });
  clientEnv = childEnv(work, { XDG_CONFIG_HOME: home });
  daemon = { port, user, key: parseLoginKey(loginKey)! };
});

afterAll(async () => {
  killAll();
  await runFcpd(['--stop'], { env: daemonEnv });
  for (const pid of daemonPids) if (pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

test('every hostile resume case against fcpd -d while it serves a real push: each closed with its ERROR, the daemon alive, the real copy identical', async () => {
  const real = path.join(work, 'real.bin');
  fs.writeFileSync(real, randomBytes(REAL_SIZE));
  const source = path.join(pub, 'source');
  fs.writeFileSync(source, randomBytes(SIZE));
  const copying = runFcp(['--bwlimit', RATE, real, `fcp://127.0.0.1:${daemon.port}/pub/`], { env: clientEnv, timeoutMs: 150_000 });
  // Hostile sessions only once the real one is under way (its part file is there).
  const realPart = path.join(pub, '.real.bin.fcp-part');
  for (const end = Date.now() + 30_000; !fs.existsSync(realPart) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  expect(fs.existsSync(realPart)).toBe(true);

  const outcomes: string[] = [];
  for (const [name, messages, expected] of PUSH_CASES) {
    const live = await daemonSession(daemon, { type: PacketType.PUSH, path: Buffer.from('pub/') }, 1);
    outcomes.push(`push, ${name}: ${(await playPush(live, messages, 'hostile')).join(',')} (expected ${expected})`);
  }
  for (const [name, script, expected] of PULL_CASES) {
    const live = await daemonSession(daemon, { type: PacketType.PULL, paths: [Buffer.from('pub/source')] }, 1);
    outcomes.push(`pull, ${name}: ${(await playPull(live, script)).join(',')} (expected ${expected})`);
  }
  const expectedOutcomes = [
    ...PUSH_CASES.map(([name, , expected]) => `push, ${name}: ${expected} (expected ${expected})`),
    ...PULL_CASES.map(([name, , expected]) => `pull, ${name}: ${expected} (expected ${expected})`),
  ];
  expect(outcomes).toEqual(expectedOutcomes);
  // All of it happened while the real copy was under way.
  expect(fs.existsSync(realPart)).toBe(true);
  expect([...daemonPids].filter(alive)).toEqual([...daemonPids]);

  const copied = await copying;
  expectExit(copied, 0);
  expect(sha256(path.join(pub, 'real.bin'))).toBe(sha256(real));
  // Nothing of the hostile pushes is left (nothing of them was verified), nor of the real one.
  expect(fs.readdirSync(pub).sort()).toEqual(['real.bin', 'source']);
});

/** A silent connection: the address it came from, when it was dialled, heard from (fcpd's HELLO) and closed. */
interface SilentConnection {
  socket: net.Socket;
  from: string;
  dialledAt: number;
  heardAt?: number;
  closedAt?: number;
}

/** Connections that never say a word, `count` from each loopback address given. */
function silentConnections(port: number, counts: [string, number][]): SilentConnection[] {
  const connections: SilentConnection[] = [];
  for (const [localAddress, count] of counts) {
    for (let i = 0; i < count; i++) {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      const connection: SilentConnection = { socket, from: localAddress, dialledAt: Date.now() };
      socket.on('error', () => undefined);
      // What fcpd says (HELLO, then ERROR) is read and dropped, so that its end is seen.
      socket.on('data', () => (connection.heardAt ??= Date.now()));
      socket.on('close', () => (connection.closedAt = Date.now()));
      connections.push(connection);
    }
  }
  return connections;
}

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  for (const end = Date.now() + ms; !done(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > end) throw new Error(`${what} within ${ms / 1000} s`);
  }
}

/** The daemon's bound on connections held before they authenticate, from its open-file limit. */
const PREAUTH_TOTAL = preAuthTotal(DAEMON_OPEN_FILES);

test(`a flood that never authenticates, from several addresses: at most ${PREAUTH_PER_ADDRESS} held from one and ${PREAUTH_TOTAL} in all, the rest closed at once, the held ones by the handshake timeout; fcpd -d then serves a real copy`, async () => {
  // One address over its bound, the others at it: together over the total bound.
  const atBound = Math.ceil(PREAUTH_TOTAL / PREAUTH_PER_ADDRESS);
  const counts: [string, number][] = [
    ['127.0.0.2', PREAUTH_PER_ADDRESS + 70],
    ...Array.from({ length: atBound }, (_, n): [string, number] => [`127.0.0.${n + 3}`, PREAUTH_PER_ADDRESS]),
  ];
  const sent = counts.reduce((sum, [, count]) => sum + count, 0);
  expect(sent - 70).toBeGreaterThan(PREAUTH_TOTAL);
  const flood = silentConnections(daemon.port, counts);
  try {
    await until('the daemon to close every connection', () => flood.every((c) => c.closedAt !== undefined), 120_000);
  } finally {
    for (const { socket } of flood) socket.destroy();
  }
  // fcpd says HELLO on a connection it holds; one over a bound is closed before a byte is sent.
  const held = flood.filter((c) => c.heardAt !== undefined);
  const refused = flood.filter((c) => c.heardAt === undefined);
  expect(held).toHaveLength(PREAUTH_TOTAL);
  expect(refused).toHaveLength(sent - PREAUTH_TOTAL);
  for (const [from] of counts) expect(held.filter((c) => c.from === from).length).toBeLessThanOrEqual(PREAUTH_PER_ADDRESS);
  // Each judged by its own times: the refused ones closed at once, the held ones by the handshake
  // timeout (counted from the dial, which is before fcpd accepted; a second's slack for timers) and
  // before the default 30 s would have (counted from the HELLO, which is after).
  const timeoutMs = DAEMON_TIMEOUT_S * 1000;
  expect(Math.max(...refused.map((c) => c.closedAt! - c.dialledAt))).toBeLessThan(timeoutMs / 2);
  expect(Math.min(...held.map((c) => c.closedAt! - c.dialledAt))).toBeGreaterThan(timeoutMs - 1000);
  expect(Math.max(...held.map((c) => c.closedAt! - c.heardAt!))).toBeLessThan(30_000);
  expect([...daemonPids].filter(alive)).toEqual([...daemonPids]);
  const file = path.join(work, 'after-flood.bin');
  fs.writeFileSync(file, randomBytes(1024 * 1024));
  const copied = await runFcp([file, `fcp://127.0.0.1:${daemon.port}/pub/`], { env: clientEnv });
  expectExit(copied, 0);
  expect(sha256(path.join(pub, 'after-flood.bin'))).toBe(sha256(file));
});
