/**
 * A copy between two remote hosts (PROTOCOL.md §9.1), `fcp host1:a host2:b`. fcp starts fcpd
 * --serve on the destination host and `fcpd --connect` on the source host, hands the latter the
 * destination's address and secret on its standard input, and reports the events it prints. The
 * data goes straight from host to host; when host1 cannot reach host2 (or with -3) each of host1's
 * connections comes to this machine over an SSH exec channel (relayChannels.ts, no TCP forwarding
 * needed), which carries it on to host2's fcpd: sealed end to end, streamed, nothing stored here.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { FcpError } from '../errors';
import { ConnectTarget, fromWireError, MAX_ORDER_BYTES, orderLine, parseEventLine, RelayEvent } from '../launch/connectOrder';
import type { LaunchedServer } from '../launch/launcher';
import { serveArgs } from '../launch/launcher';
import { splitLines } from '../launch/lines';
import { launchRemoteFcpd, RemoteProcess } from '../launch/remoteFcpd';
import { execShell, WILDCARDS } from '../launch/sshLauncher';
import { Feature } from '../protocol/constants';
import type { ParamsMessage } from '../protocol/messages';
import { SECRET_SIZE } from '../protocol/keys';
import { connectSsh, SshConnection } from '../ssh/sshClient';
import { timeoutsFor } from '../timeouts';
import type { FileEvent, TransferEvents, TransferSummary } from '../transfer/link';
import { Location, orHome, showLocation } from './location';
import { RelayChannels, Route } from './relayChannels';
import { remoteLauncher, SshOptions, sshLogin } from './remoteLauncher';
import type { PathFilter } from '../sync/filter';

export type { Route } from './relayChannels';

type RemoteLocation = Extract<Location, { kind: 'remote' }>;

export interface BetweenHostsOptions {
  /** The source host, and its paths as PULL would name them. */
  source: RemoteLocation;
  sources: Buffer[];
  destination: RemoteLocation;
  flags: number;
  /** With BACKUP in flags: the suffix for what the copy replaces. */
  backupSuffix?: Buffer;
  offer: ParamsMessage;
  ssh: SshOptions;
  /** -3: always through this machine. */
  throughLocal: boolean;
  bwlimit?: number;
  failFast: boolean;
  /** --exclude, --include, --max-depth: for the source host's walk (in the order) and the destination (FILTER_RULES). */
  filter?: PathFilter;
  timeoutMs?: number;
  /** --partial-dir, for host2's fcpd (the receiver). */
  partialDir?: string;
  events: TransferEvents;
  log(line: string): void;
  notice(line: string): void;
}

export interface BetweenHostsResult {
  summary: TransferSummary;
  connections: number;
  cipher: number;
  installed: boolean;
  between: Route;
}

/** Where host1 may dial host2's fcpd: the address our SSH login reached there, then its bound address. */
function directTargets(dest: LaunchedServer): ConnectTarget[] {
  const listen = dest.listen!;
  const hosts = [listen.reached, WILDCARDS.has(listen.address) ? undefined : listen.address].filter((h): h is string => h !== undefined);
  return [...new Set(hosts)].map((host) => ({ host, port: listen.port }));
}

/** Reads fcpd --connect's event lines into the copy's events; settles on its last word. */
class EventReader {
  readonly result: Promise<{ summary: TransferSummary; connections: number; cipher: number }>;
  private settle!: { resolve: (value: Awaited<EventReader['result']>) => void; reject: (error: FcpError) => void };
  private readonly errors: FcpError[] = [];
  private idle: NodeJS.Timeout | undefined;
  private settled = false;
  /** The totals of the last 'start' event: a later one (a streamed walk) adds what it counts beyond them. */
  private counted: { files: number; bytes: number } | undefined;

  constructor(
    private readonly options: BetweenHostsOptions,
    private readonly where: string,
    private readonly idleMs: number,
    private readonly relays: RelayChannels,
  ) {
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.result.catch(() => undefined);
  }

  follow(stdout: Readable): void {
    this.touch();
    stdout.on('data', splitLines((line) => this.line(line)));
    stdout.on('end', () => this.fail(new FcpError('FCP_ERR_CONNECTION_LOST', `fcpd ${this.where} ended before it said how the copy went`, { hint: 'run with -v to see its messages' })));
  }

  fail(error: FcpError): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idle);
    this.settle.reject(error);
  }

  private touch(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(
      () => this.fail(new FcpError('FCP_ERR_TIMEOUT', `fcpd ${this.where} said nothing for ${Math.round(this.idleMs / 1000)} s`)),
      this.idleMs,
    );
  }

  private line(line: string): void {
    if (this.settled) return;
    let event: RelayEvent | undefined;
    try {
      event = parseEventLine(line);
    } catch (err) {
      return this.fail(new FcpError('FCP_ERR_PROTOCOL', `fcpd ${this.where}: ${(err as FcpError).message}`));
    }
    if (!event) return;
    this.touch();
    this.event(event);
  }

  private event(event: RelayEvent): void {
    const { events, log, notice, destination } = this.options;
    switch (event.e) {
      case 'connected':
        return log(`fcpd ${this.where} connected to ${showLocation({ ...destination, path: Buffer.alloc(0) })} fcpd ${event.relayed ? 'through this machine' : `at ${event.target}`}`);
      case 'unreachable':
        return notice(`fcpd ${this.where} cannot reach ${destination.host} (${event.tried}): relaying the copy through this machine`);
      case 'relay':
        return void this.relays.relay({ node: event.node, script: event.script, socket: event.socket });
      case 'start': {
        const before = this.counted;
        if (before && (event.files < before.files || event.bytes < before.bytes)) {
          return this.fail(new FcpError('FCP_ERR_PROTOCOL', `fcpd ${this.where}: 'start' lowered the totals from ${before.files} files, ${before.bytes} bytes`));
        }
        this.counted = { files: event.files, bytes: event.bytes };
        if (!before) return events.start?.(event.files, event.bytes);
        return events.counted?.(event.files - before.files, event.bytes - before.bytes);
      }
      case 'bytes':
        return events.bytes?.(event.n);
      case 'file': {
        const error = event.error && fromWireError(event.error);
        if (error) this.errors.push(error);
        const file: FileEvent = { path: event.path, size: event.size, error, digest: event.digest, warning: event.warning };
        return events.file?.(file);
      }
      case 'entry': {
        const error = fromWireError(event.error);
        this.errors.push(error);
        return events.entryFailed?.(event.path, error);
      }
      case 'end': {
        this.settled = true;
        clearTimeout(this.idle);
        const { connections, cipher, ...counts } = event.summary;
        return this.settle.resolve({ summary: { ...counts, errors: this.errors }, connections, cipher });
      }
      case 'fail':
        return this.fail(fromWireError(event.error));
    }
  }
}

async function settledBoth<A, B>(a: Promise<A>, b: Promise<B>, undo: { a(value: A): void; b(value: B): void }): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'fulfilled' && rb.status === 'fulfilled') return [ra.value, rb.value];
  if (ra.status === 'fulfilled') undo.a(ra.value);
  if (rb.status === 'fulfilled') undo.b(rb.value);
  throw ra.status === 'rejected' ? ra.reason : (rb as PromiseRejectedResult).reason;
}

export async function copyBetweenHosts(options: BetweenHostsOptions): Promise<BetweenHostsResult> {
  const { ssh, log, notice, timeoutMs, source } = options;
  if (ssh.program) {
    throw new FcpError('FCP_ERR_USAGE', 'a copy between two remote hosts needs fcp\'s built-in SSH client', { hint: 'leave out -e/-S' });
  }
  const secret = randomBytes(SECRET_SIZE);
  const login = sshLogin(source, ssh, log);
  const sourceLogin = (): Promise<SshConnection> => connectSsh(login.host, login.context);
  // The destination's fcpd starts while the source's SSH connection is set up.
  const [launched, sourceConn] = await settledBoth(remoteLauncher(options.destination, ssh, log, notice, timeoutMs, options.partialDir).launch(secret, log), sourceLogin(), {
    a: (server) => void server.close(true),
    b: (conn) => conn.close(),
  });
  const relays = new RelayChannels(sourceConn, sourceLogin, launched, { route: 'direct', bytesRelayed: 0 }, log);
  let failed = true;
  let connecting: RemoteProcess | undefined;
  try {
    if (!launched.listen) throw new FcpError('FCP_ERR_INTERNAL', 'the destination launcher gave no listen line');
    const order = orderLine({
      targets: options.throughLocal ? [] : directTargets(launched),
      secret,
      nonce: launched.controlNonce,
      sources: options.sources,
      destination: orHome(options.destination.path),
      flags: options.flags,
      backupSuffix: options.backupSuffix,
      hardLinks: (options.offer.features & Feature.HARD_LINKS) !== 0,
      compress: (options.offer.features & Feature.COMPRESS) !== 0,
      delta: (options.offer.features & Feature.DELTA) !== 0,
      chunkSize: options.offer.chunkSize,
      connections: options.offer.connections,
      cipher: options.offer.cipher,
      bwlimit: options.bwlimit,
      failFast: options.failFast,
      filter: options.filter,
    });
    if (Buffer.byteLength(order) > MAX_ORDER_BYTES) {
      throw new FcpError('FCP_ERR_USAGE', `too many or too long sources or filter rules for a copy between two remote hosts (${Buffer.byteLength(order)} bytes, at most ${MAX_ORDER_BYTES})`, {
        hint: 'copy a directory that holds them, with -r',
      });
    }
    const where = `on ${sourceConn.name}`;
    const reader = new EventReader(options, where, timeoutsFor(timeoutMs).idleMs, relays);
    const started = await launchRemoteFcpd(
      execShell(sourceConn),
      serveArgs(timeoutMs, '--connect'),
      { firstLine: order, ready: parseEventLine, what: 'first event', ownReleaseOnly: true, follow: (stdout) => reader.follow(stdout) },
      { fcpdPath: ssh.fcpdPath, install: ssh.install ?? true, timeoutMs, log, notice },
    );
    connecting = started.process;
    const { summary, connections, cipher } = await reader.result;
    failed = false;
    return { summary, connections, cipher, installed: started.mode === 'fcpd-installed' || launched.mode === 'fcpd-installed', between: relays.route };
  } finally {
    connecting?.stop();
    relays.close();
    sourceConn.close();
    await launched.close(failed);
  }
}
