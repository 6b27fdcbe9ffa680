/**
 * Scripted hostile peers built from fcp's own code, so that they speak the protocol correctly and
 * only lie about what they send: a server whose sender announces whatever entries a test scripts
 * (to attack the real client's receiver), and a client that pushes whatever entries a test
 * scripts (to attack the real fcpd's receiver). Entries are written as PROTOCOL.md's tables
 * write them: `dir a`, `file a/b`, `symlink a/l`, `hardlink a/c a/b` (a/c names a/b's file).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Launcher } from '../../../src';
import { runClientSession } from '../../../src/client/clientSession';
import { localLauncher } from '../../../src/launch/localLauncher';
import { loadXxhash } from '../../../src/protocol/xxhash';
import { SessionServer } from '../../../src/server/sessionServer';
import type { RequestAction } from '../../../src/session/connection';
import { ClientConnection } from '../../../src/session/connection';
import { Feature, PacketType } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { makeOffer } from '../../../src/session/params';
import { FramedConnection } from '../../../src/wire/framedConnection';
import { Established, runHandshake } from '../../../src/wire/handshake';
import type { TransferSummary } from '../../../src/transfer/link';
import { WalkStream, type Entry, type WalkResult } from '../../../src/transfer/walk';
import { codeFromWire } from '../../../src/errors';
import { dial, StartedFcpd, startFcpd, within } from './run';

/** What a scripted file holds: its own entry path, so a planted file is recognised wherever it lands. */
export const scriptedContent = (entryPath: string): string => `planted by a hostile peer as ${entryPath}\n`;

/**
 * A sender's walk that announces `entries` ("dir a", "file a/b", "symlink a/l") in order; files
 * read their content from files made in `scratch`, symlinks point at "target".
 */
export function scriptedWalk(entries: readonly string[], scratch: string): WalkResult {
  const walk: WalkResult = { entries: [], fileCount: 0, totalBytes: 0, skipped: [] };
  entries.forEach((line, i) => {
    const [kind, entryPath, linkTarget] = line.split(' ') as [string, string, string | undefined];
    const pathBytes = Buffer.from(entryPath);
    const mtimeNs = 1_700_000_000_000_000_000n;
    let entry: Entry;
    if (kind === 'dir') entry = { kind: 'dir', path: pathBytes, perm: 0o755, mtimeNs };
    else if (kind === 'symlink') entry = { kind: 'symlink', path: pathBytes, source: Buffer.from(path.join(scratch, 'no-source')), target: Buffer.from('target'), mtimeNs };
    else if (kind === 'hardlink') {
      entry = { kind: 'hardlink', path: pathBytes, source: Buffer.from(path.join(scratch, 'no-source')), target: Buffer.from(linkTarget!), size: 0, mtimeNs };
    }
    else if (kind === 'file') {
      const source = path.join(scratch, `source-${i}`);
      fs.writeFileSync(source, scriptedContent(entryPath));
      const size = fs.statSync(source).size;
      entry = { kind: 'file', path: pathBytes, source: Buffer.from(source), perm: 0o644, size, mtimeNs };
      walk.fileCount++;
      walk.totalBytes += size;
    } else throw new Error(`unknown entry kind in ${JSON.stringify(line)}`);
    walk.entries.push(entry);
  });
  return walk;
}

/**
 * A Launcher for copy() whose "fcpd" is fcp's own session server in this process, sending
 * `script(request)` as its answer to any PULL.
 */
export function hostileServer(script: (request: RequestAction) => WalkResult): Launcher {
  return {
    async launch(secret) {
      const server = new SessionServer({
        xxh: await loadXxhash(),
        bind: '127.0.0.1',
        port: 0,
        log: () => undefined,
        prepare: (request) => ({ kind: 'pull', walk: WalkStream.listing(script(request)) }),
      });
      const { port } = await server.listen();
      const nonce = randomBytes(32);
      const ended = server.register(secret, nonce, 15_000);
      return {
        name: `hostile fcpd on 127.0.0.1:${port}`,
        controlNonce: nonce,
        connect: () => dial(port),
        async close() {
          await within(ended, 15_000, 'hostile session end').catch(() => undefined);
          server.close();
        },
      };
    },
  };
}

/**
 * Pushes `walk` to a real fcpd (a child process) as fcp would, with MODE `flags`, into
 * `destination`; a walk with hard links offers HARD_LINKS, as fcp -H does.
 */
export async function hostilePush(walk: WalkResult, destination: string, flags: number): Promise<TransferSummary> {
  const secret = randomBytes(32);
  const server = await localLauncher().launch(secret, () => undefined);
  let failed = true;
  try {
    const { summary } = await runClientSession({
      server,
      secret,
      offer: makeOffer({ encrypt: true, hardLinks: walk.entries.some((entry) => entry.kind === 'hardlink') }),
      flags,
      work: { kind: 'push', destination: Buffer.from(destination), walk: WalkStream.listing(walk) },
      log: () => undefined,
    });
    failed = false;
    return summary;
  } finally {
    await server.close(failed);
  }
}

/**
 * A real fcpd (started by hand, -v) with a push session into `destination` whose control
 * connection this process established, encrypted, offering `connections`: the start of a
 * client that then sends what a test scripts; `features` are offered too.
 */
export async function livePushSession(
  destination: string,
  connections: number,
  features: { compress?: boolean; delta?: boolean; deltaEarly?: boolean } = {},
): Promise<LiveSession> {
  const fcpd = await startFcpd({ secret: randomBytes(32), verbose: true });
  return { fcpd, ...(await openSession({ port: fcpd.port, secret: fcpd.secret }, { type: PacketType.PUSH, path: Buffer.from(destination) }, connections, features)) };
}

/** As livePushSession, a pull of `source`: fcpd sends, and the client receives as a test scripts. */
export async function livePullSession(source: string, connections: number): Promise<LiveSession> {
  const fcpd = await startFcpd({ secret: randomBytes(32), verbose: true });
  return { fcpd, ...(await openSession({ port: fcpd.port, secret: fcpd.secret }, { type: PacketType.PULL, paths: [Buffer.from(source)] }, connections, {})) };
}

/** A standing `fcpd -d` to log in to (fcp://, PROTOCOL.md §5.4): its port, a user and that user's login key. */
export interface DaemonLogin { port: number; user: string; key: Buffer }

/** As livePushSession and livePullSession, a session logged in to a standing daemon, which serves others meanwhile. */
export function daemonSession(daemon: DaemonLogin, request: Message, connections: number): Promise<PeerSession> {
  return openSession({ port: daemon.port, secret: daemon.key, login: Buffer.from(daemon.user) }, request, connections, {});
}

/** A session whose control connection this process established. */
export interface PeerSession { port: number; secret: Buffer; control: FramedConnection; established: Established }
/** One with an fcpd --serve of its own, which ends with the session. */
export interface LiveSession extends PeerSession { fcpd: StartedFcpd }

/**
 * On a live push session: announces one file `f` of `size` bytes, hands each message fcpd sends
 * on the control connection to `onMessage` (its ERRORs' codes are also collected in `answered`),
 * and waits for fcpd to close the session and exit.
 */
export async function pushOneFile(
  live: LiveSession,
  file: { size: number; mtimeNs: bigint },
  onMessage: (message: Message) => void,
): Promise<{ answered: string[]; ended: Awaited<StartedFcpd['exited']>; stderr: string }> {
  const { fcpd, control } = live;
  const answered: string[] = [];
  const closed = new Promise<void>((resolve) =>
    control.start({
      message: (message) => {
        if (message.type === PacketType.ERROR) answered.push(codeFromWire(message.code));
        onMessage(message);
      },
      closed: () => resolve(),
    }),
  );
  control.resume();
  control.send({ type: PacketType.FILE_COUNT, count: 1, totalBytes: file.size });
  control.send({ type: PacketType.FILE_INFO, fileId: 0, perm: 0o644, size: file.size, mtimeNs: file.mtimeNs, digest: Buffer.alloc(16), path: Buffer.from('f') });
  await within(closed, 30_000, 'fcpd closing the session');
  const ended = await within(fcpd.exited, 15_000, 'fcpd exit');
  return { answered, ended, stderr: fcpd.stderr() };
}

/** Attaches data connection 1 to a live session, reading and dropping what fcpd sends on it. */
export async function attachData(live: PeerSession): Promise<FramedConnection> {
  const { port, secret, established } = live;
  const conn = new FramedConnection(await dial(port), await loadXxhash(), 'hostile data connection', 10_000);
  await runHandshake(
    conn,
    new ClientConnection({ role: 'data', secret, nonce: randomBytes(32), peerName: 'fcpd under test', sessionId: established.sessionId, connIndex: 1, params: established.params }),
    { timeoutMs: 10_000 },
  );
  conn.start({ message: () => undefined, closed: () => undefined });
  conn.resume();
  return conn;
}

async function openSession(
  target: { port: number; secret: Buffer; login?: Buffer },
  request: Message,
  connections: number,
  features: { compress?: boolean; delta?: boolean; deltaEarly?: boolean },
): Promise<PeerSession> {
  const { port, secret, login } = target;
  const offer = makeOffer({ encrypt: true, connections, ...features });
  // An older peer: DELTA without DELTA_EARLY.
  if (features.deltaEarly === false) offer.features &= ~Feature.DELTA_EARLY;
  const control = new FramedConnection(await dial(port), await loadXxhash(), 'control connection to fcpd under test', 30_000);
  const established = await runHandshake(
    control,
    new ClientConnection({
      role: 'control',
      secret,
      nonce: randomBytes(32),
      peerName: 'fcpd under test',
      offer,
      mode: { type: PacketType.MODE, flags: 0 },
      request,
      ...(login ? { login } : {}),
    }),
    { timeoutMs: 10_000 },
  );
  return { port, secret, control, established };
}

