/**
 * `fcpd --connect` (PROTOCOL.md §9.1): on the source host of a remote-to-remote copy, fcpd is the
 * client of the destination's fcpd. It pushes its own files there over fcp's connections, sealed
 * and authenticated with the secret fcp handed it, and tells fcp how it goes in event lines.
 */
import type { Duplex } from 'node:stream';
import { asFcpError, FcpError, transferExitCode } from '../errors';
import { ConnectOrder, ConnectTarget, RelayEvent, toWireError } from '../launch/connectOrder';
import { dialTcp } from '../launch/dial';
import type { LaunchedServer } from '../launch/launcher';
import { RelaySocket } from '../launch/execRelay';
import { DIRECT_CONNECT_TIMEOUT_MS } from '../launch/tunnelFallback';
import { Cipher, ModeFlag, SealingCipher } from '../protocol/constants';
import { expandSources } from '../server/userPaths';
import { makeOffer } from '../session/params';
import { timeoutsFor } from '../timeouts';
import type { TransferEvents } from '../transfer/link';
import { streamSources } from '../transfer/walk';
import { runClientSession } from './clientSession';

/** Bytes done are told at most this often, and this often at least (a sign of life for fcp). */
const BYTES_EVERY_MS = 250;

const show = (target: ConnectTarget): string => (target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`);

/**
 * The destination fcpd as a server to connect to: the first connection tries the targets in
 * order and the one that connects carries the others. When none does (or the order names none,
 * -3), every connection comes through fcp instead (execRelay.ts), after an 'unreachable' event
 * when targets were tried.
 */
function destinationServer(order: ConnectOrder, emit: (event: RelayEvent) => void, relayWaitMs: number): LaunchedServer & { relay?: RelaySocket } {
  let chosen: Promise<Route> | undefined;
  const server: LaunchedServer & { relay?: RelaySocket } = {
    name: 'fcpd on the destination host',
    controlNonce: order.nonce,
    async connect() {
      if (chosen) return dial(await chosen);
      const first = choose();
      chosen = first.then((c) => c.route);
      // The first caller gets the failure; later ones only wait on it.
      chosen.catch(() => undefined);
      return (await first).socket;
    },
    close: async () => server.relay?.close(),
  };
  type Route = ConnectTarget | RelaySocket;
  const dial = (route: Route): Promise<Duplex> => {
    if (!(route instanceof RelaySocket)) return dialTcp(route.host, route.port, DIRECT_CONNECT_TIMEOUT_MS);
    emit({ e: 'relay', ...route.command });
    return route.accept(relayWaitMs);
  };
  const choose = async (): Promise<{ route: Route; socket: Duplex }> => {
    const failures: string[] = [];
    for (const target of order.targets) {
      try {
        const socket = await dialTcp(target.host, target.port, DIRECT_CONNECT_TIMEOUT_MS);
        emit({ e: 'connected', target: show(target), relayed: false });
        return { route: target, socket };
      } catch (err) {
        failures.push(`${show(target)} (${(err as FcpError).message})`);
      }
    }
    if (failures.length > 0) emit({ e: 'unreachable', tried: failures.join('; ') });
    server.relay = await RelaySocket.open();
    let socket: Duplex;
    try {
      socket = await dial(server.relay);
    } catch (err) {
      failures.push(`through fcp (${(err as FcpError).message})`);
      throw new FcpError('FCP_ERR_PEER_UNREACHABLE', `this host cannot reach the destination's fcpd: ${failures.join('; ')}`, {
        hint: 'fcp -v shows the relay channels it opened on this host',
      });
    }
    emit({ e: 'connected', target: 'fcp, over SSH', relayed: true });
    return { route: server.relay, socket };
  };
  return server;
}

/** The engine's events as event lines; bytes summed up and told every BYTES_EVERY_MS. */
function relayEvents(emit: (event: RelayEvent) => void): { events: TransferEvents; stop(): void } {
  let bytes = 0;
  const counted = { files: 0, bytes: 0 };
  const flush = (): void => {
    emit({ e: 'bytes', n: bytes });
    bytes = 0;
  };
  const ticker = setInterval(flush, BYTES_EVERY_MS);
  return {
    events: {
      start: (files, total) => {
        counted.files = files;
        counted.bytes = total;
        emit({ e: 'start', files, bytes: total });
      },
      // A streamed walk counts more as it goes: 'start' again, with the totals so far.
      counted: (files, total) => {
        counted.files += files;
        counted.bytes += total;
        emit({ e: 'start', ...counted });
      },
      bytes: (n) => {
        bytes += n;
      },
      file: (event) => {
        if (bytes > 0) flush();
        emit({
          e: 'file',
          path: event.path,
          size: event.size,
          ...(event.digest ? { digest: event.digest } : {}),
          ...(event.error ? { error: toWireError(event.error) } : {}),
          ...(event.warning ? { warning: event.warning } : {}),
        });
      },
      entryFailed: (path, error) => emit({ e: 'entry', path, error: toWireError(error) }),
    },
    stop() {
      clearInterval(ticker);
      if (bytes > 0) flush();
    },
  };
}

/** Runs the order; every outcome ends with an 'end' or a 'fail' event. Resolves with fcpd's exit code. */
export async function runConnectPush(order: ConnectOrder, emit: (event: RelayEvent) => void, log: (line: string) => void, timeoutMs?: number): Promise<number> {
  const relay = relayEvents(emit);
  const server = destinationServer(order, emit, timeoutsFor(timeoutMs).launchMs);
  try {
    const walk = streamSources(expandSources(order.sources), {
      recursive: (order.flags & ModeFlag.RECURSIVE) !== 0,
      followSymlinks: (order.flags & ModeFlag.FOLLOW_SYMLINKS) !== 0,
      oneFileSystem: (order.flags & ModeFlag.ONE_FILE_SYSTEM) !== 0,
      hardLinks: order.hardLinks,
      filter: order.filter,
      keepsInodes: (order.flags & ModeFlag.REMOVE_SOURCE) !== 0,
    });
    const encrypt = order.cipher !== Cipher.NONE;
    const offer = makeOffer({
      chunkSize: order.chunkSize,
      connections: order.connections,
      encrypt,
      ...(encrypt ? { cipher: order.cipher as SealingCipher } : {}),
      hardLinks: order.hardLinks,
      compress: order.compress,
      filters: order.filter?.active,
      delta: order.delta,
      // The destination fcpd keeps owners when it runs as root, which only it knows.
      owners: true,
    });
    const { summary, params } = await runClientSession({
      server,
      secret: order.secret,
      offer,
      flags: order.flags,
      backupSuffix: order.backupSuffix,
      filter: order.filter,
      work: { kind: 'push', destination: order.destination, walk },
      events: relay.events,
      failFast: order.failFast,
      bwlimit: order.bwlimit,
      timeoutMs,
      log,
    });
    relay.stop();
    const { filesOk, filesFailed, entriesFailed, bytes, bytesSent, bytesResumed, bytesSaved } = summary;
    emit({ e: 'end', summary: { filesOk, filesFailed, entriesFailed, bytes, bytesSent, bytesResumed, bytesSaved, connections: params.connections, cipher: params.cipher } });
    return transferExitCode(filesOk, summary.errors);
  } catch (err) {
    relay.stop();
    const error = asFcpError(err);
    emit({ e: 'fail', error: toWireError(error) });
    return error.exitCode;
  } finally {
    await server.close(false);
  }
}
