/**
 * fcp --watch: a sync, then a round for every batch of changes, over one launched fcpd.
 *
 * A local source is watched with file-system events (@parcel/watcher) and rescanned every
 * --interval against a snapshot (snapshot.ts), which catches what the events missed; each batch
 * (batcher.ts) is a sync narrowed to its paths (CopyOptions.narrowTo). A remote source is only
 * rescanned: every --interval a whole sync, whose quick check sends what changed.
 *
 * One fcpd serves every round (fcpd --serve --reuse: one SSH login). A round that fails on the
 * link (the host unreachable, the connection cut) keeps its changes; fcpd is launched again after
 * 1 s, 2 s, ... up to a minute, and the first round after that is a whole sync: the one-way
 * reconcile, sending what changed meanwhile on this side.
 */
import { randomBytes } from 'node:crypto';
import * as nodePath from 'node:path';
import { CopyOptions, CopySummary, copy, launcherFor, runsInProcess } from '../client/copy';
import { parseLocation } from '../client/location';
import { asFcpError, ExitCode, FcpError } from '../errors';
import type { Launcher, LaunchedServer } from '../launch/launcher';
import { SECRET_SIZE } from '../protocol/keys';
import { showName } from '../showName';
import { ChangeBatcher } from './batcher';
import {
  DEBOUNCE_MS,
  EVENTS_LATE_MS,
  FCPD_IDLE_INTERVALS,
  FIRST_RETRY_MS,
  MAX_BATCH_DELAY_MS,
  MAX_INTERVAL_S,
  MAX_NARROWED_PATHS,
  MAX_RESCAN_SLICES,
  MAX_RETRY_MS,
  MIN_FCPD_IDLE_S,
  MIN_INTERVAL_S,
  RESCAN_SLICE_MS,
  WHOLE_PASS_EVERY,
} from './constants';
import { MoveLedger, Rename } from './renames';
import { PassSchedule } from './passSchedule';
import { TreeSnapshot } from './snapshot';
import { EventSource, watchEvents } from './watcher';

export type RoundKind = 'initial' | 'changes' | 'rescan' | 'reconnect' | 'keepalive';

/** What one round did (fcp --json's `round` event). */
export interface RoundReport {
  round: number;
  kind: RoundKind;
  /** The paths the round was narrowed to (none: a whole sync). */
  paths: number;
  /** Renames seen by inode in the round's changes. */
  renames: Rename[];
  summary?: CopySummary;
  /** The round failed on the link: its changes are kept, and fcpd launched again after retryInMs. */
  error?: FcpError;
  retryInMs?: number;
}

export interface WatchOptions {
  /**
   * The sync each round runs: one source directory and a destination, sync options, filters,
   * events. A launcher given here must start an fcpd that serves several sessions (localLauncher({ reuseS })).
   */
  copy: CopyOptions;
  /** Seconds between rescans (--interval). */
  intervalS: number;
  onRound?(report: RoundReport): void;
  /** Ends the watch once the round under way is over. */
  signal: AbortSignal;
}

/** Exit codes of errors a round may hit because of the link, not the request: kept and retried. */
const LINK_FAILURES: ReadonlySet<number> = new Set([ExitCode.CONNECTION, ExitCode.TIMEOUT, ExitCode.PROTOCOL]);

export function isLinkFailure(error: FcpError): boolean {
  return LINK_FAILURES.has(error.exitCode);
}

/** --interval's check; a usage error otherwise. */
export function checkInterval(intervalS: number): void {
  if (!(Number.isFinite(intervalS) && intervalS >= MIN_INTERVAL_S && intervalS <= MAX_INTERVAL_S)) {
    throw new FcpError('FCP_ERR_USAGE', `--interval ${intervalS}: must be a number of seconds from ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S}`);
  }
}

/** How long the watch's fcpd waits for its next session (fcpd --reuse), for rounds every `intervalS`. */
export function fcpdIdleSeconds(intervalS: number): number {
  return Math.max(MIN_FCPD_IDLE_S, Math.ceil(intervalS * FCPD_IDLE_INTERVALS));
}

/**
 * The fcpd every round uses: launched once, handed to each round's copy() as a launcher whose
 * server is this one (its control nonce only for the first session: fcpd takes it once).
 */
export class SharedFcpd {
  private server: LaunchedServer | undefined;
  private sessions = 0;
  private readonly secret = randomBytes(SECRET_SIZE);

  constructor(
    private readonly launcher: Launcher,
    private readonly log: (line: string) => void,
  ) {}

  get open(): boolean {
    return this.server !== undefined;
  }

  async launch(): Promise<void> {
    this.server = await this.launcher.launch(this.secret, this.log);
    this.sessions = 0;
  }

  /** A launcher for one round's copy(): the shared server, not closed when the round ends. */
  forRound(): Launcher {
    const server = this.server!;
    const first = this.sessions++ === 0;
    const view: LaunchedServer = {
      name: server.name,
      mode: server.mode,
      listen: server.listen,
      login: server.login,
      secret: this.secret,
      controlNonce: first ? server.controlNonce : undefined,
      sameHost: server.sameHost,
      connect: () => server.connect(),
      close: async () => undefined,
    };
    return { launch: async () => view };
  }

  async close(failed: boolean): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close(failed).catch(() => undefined);
  }
}

/** Runs the watch until `signal` aborts; rejects only when the first sync cannot run at all (a usage error, a refused login, ...). */
export async function watch(options: WatchOptions): Promise<void> {
  checkInterval(options.intervalS);
  const base = options.copy;
  const log = base.log ?? (() => undefined);
  if (base.sources.length !== 1) {
    throw new FcpError('FCP_ERR_USAGE', '--watch takes one source directory', { hint: 'watch each source with an fcp --watch of its own' });
  }
  if (base.sftp) throw new FcpError('FCP_ERR_USAGE', '--watch runs over fcpd, not SFTP', { hint: 'leave out --sftp' });
  if (base.follow) throw new FcpError('FCP_ERR_USAGE', '--watch and --follow are two ways of keeping up: give one', { hint: '--follow streams what files grow by; --watch syncs what changes in rounds' });
  const source = parseLocation(base.sources[0]!);
  const destination = parseLocation(base.destination);
  if (source.kind === 'remote' && destination.kind === 'remote') {
    throw new FcpError('FCP_ERR_USAGE', '--watch syncs between this machine and one host', { hint: 'watch from one of the two hosts instead' });
  }
  const remote = source.kind === 'remote' ? source : destination.kind === 'remote' ? destination : undefined;
  // Every round is a sync (item events, the same placement every time), whatever options were given.
  const sync: CopyOptions = { ...base, recursive: true, itemizeChanges: true };
  const timeoutMs = base.timeout === undefined ? undefined : base.timeout * 1000;
  const fcpd = runsInProcess({ remote }, base) ? undefined : new SharedFcpd(base.launcher ?? launcherFor(remote, source.kind === 'local', base, log, timeoutMs, fcpdIdleSeconds(options.intervalS)), log);
  const local = source.kind === 'local' ? new LocalSource(source.path, options.intervalS, base, log) : undefined;
  await local?.start();
  const wake = new Wakeup();
  options.signal.addEventListener('abort', () => wake.now(), { once: true });
  local?.onChange(() => wake.now());
  // Renames go as renames only where the old name would go anyway: with --delete, not in a dry run.
  let sendRenames = (base.delete ?? false) && !base.dryRun;
  let round = 0;
  let retryMs = FIRST_RETRY_MS;
  let retryAt = 0;
  // A local source is rescanned a slice at a time (a pass every interval); a remote one is synced whole every interval.
  const rescanEveryMs = local?.sliceMs ?? options.intervalS * 1000;
  let nextRescan = Date.now() + rescanEveryMs;
  let lastRound = Date.now();
  /** The next round must be a whole sync: the first, and the first after the link came back. */
  let whole: RoundKind | undefined = 'initial';
  try {
    while (!options.signal.aborted) {
      const now = Date.now();
      if (fcpd && !fcpd.open) {
        if (now < retryAt) {
          await wake.until(retryAt);
          continue;
        }
        try {
          await fcpd.launch();
        } catch (err) {
          const error = asFcpError(err);
          if (whole === 'initial' && !isLinkFailure(error)) throw error;
          options.onRound?.({ round, kind: whole ?? 'reconnect', paths: 0, renames: [], error, retryInMs: retryMs });
          log(`launching fcpd failed (${error.message}); trying again in ${retryMs / 1000} s`);
          retryAt = Date.now() + retryMs;
          retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
          continue;
        }
      }
      let kind: RoundKind | undefined = whole;
      let narrowTo: Buffer[] | undefined;
      let renames: Rename[] = [];
      if (!kind && now >= nextRescan) {
        nextRescan = now + rescanEveryMs;
        if (!local) kind = 'rescan';
        else local.rescan();
      }
      if (!kind && local?.dueAt() !== undefined && local.dueAt()! <= now) {
        ({ paths: narrowTo, renames } = local.take());
        // Events that changed nothing (a file written back as it was) make no round.
        if (narrowTo.length > 0) kind = 'changes';
      }
      // fcpd waits a few intervals for its next session: a round with nothing in it keeps it, and tells whether the link is there.
      if (!kind && fcpd && now - lastRound >= options.intervalS * 1000) {
        kind = 'keepalive';
        narrowTo = [];
      }
      // A round with nothing to send needs no data connections beyond one.
      const connections = kind === 'keepalive' ? { connections: 1 } : {};
      if (!kind) {
        await wake.until(Math.min(nextRescan, local?.dueAt() ?? Infinity, fcpd ? lastRound + options.intervalS * 1000 : Infinity));
        continue;
      }
      // A whole sync covers every change made before its walk.
      if (kind === whole) local?.take();
      if (narrowTo && narrowTo.length > MAX_NARROWED_PATHS) narrowTo = undefined;
      round++;
      try {
        const moved = narrowTo && sendRenames ? renames.map(({ from, to }) => ({ from: Buffer.from(from, 'latin1'), to: Buffer.from(to, 'latin1') })) : [];
        const summary = await copy({ ...sync, ...connections, ...(fcpd ? { launcher: fcpd.forRound() } : {}), ...(narrowTo ? { narrowTo } : {}), ...(moved.length > 0 ? { renames: moved } : {}) });
        lastRound = Date.now();
        whole = undefined;
        retryMs = FIRST_RETRY_MS;
        options.onRound?.({ round, kind, paths: narrowTo?.length ?? 0, renames, summary });
      } catch (err) {
        const error = asFcpError(err);
        if (kind === 'initial' && !isLinkFailure(error)) throw error;
        // An fcpd of a release without RENAME refuses the session: renames go as files from then on.
        if (renames.length > 0 && error.exitCode === ExitCode.PROTOCOL && sendRenames) {
          sendRenames = false;
          log(`fcpd refused the renames (${error.message}): renamed files are sent again instead`);
        }
        // The changes stay for the whole sync that follows the link's return.
        whole = 'reconnect';
        options.onRound?.({ round, kind, paths: narrowTo?.length ?? 0, renames, error, retryInMs: retryMs });
        log(`round ${round} failed (${error.message}); fcpd is launched again in ${retryMs / 1000} s`);
        await fcpd?.close(true);
        retryAt = Date.now() + retryMs;
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
        if (!fcpd) await wake.until(retryAt);
      }
    }
  } finally {
    wake.stop();
    await local?.stop();
    await fcpd?.close(false);
  }
}

/** Sleeps until a time or until woken (an event came, the watch was stopped). */
export class Wakeup {
  private wakeAll: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  now(): void {
    this.wakeAll?.();
  }

  until(time: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wakeAll = resolve;
      this.timer = setTimeout(resolve, Math.max(0, Math.min(time, Date.now() + 2 ** 31 - 1) - Date.now()));
    }).then(() => {
      clearTimeout(this.timer);
      this.wakeAll = undefined;
    });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.wakeAll?.();
  }
}

/** A watched local source directory: its snapshot, its events, its pending changes. */
class LocalSource {
  private readonly root: Buffer;
  private snapshot!: TreeSnapshot;
  /** Slices of a rescan pass, one every sliceMs: a pass takes one --interval. */
  private readonly slices: number;
  readonly sliceMs: number;
  private readonly batcher = new ChangeBatcher(DEBOUNCE_MS, MAX_BATCH_DELAY_MS);
  /** Paths named by events, looked at when the batch is taken. */
  private readonly named = new ChangeBatcher(DEBOUNCE_MS, MAX_BATCH_DELAY_MS);
  private events: EventSource | undefined;
  private changed: () => void = () => undefined;
  /** What vanished and appeared since the last batch was taken, for its renames. */
  private readonly moves = new MoveLedger();
  /** Which slices are rescanned whole. */
  private readonly passes: PassSchedule;

  constructor(
    source: Buffer,
    intervalS: number,
    private readonly options: CopyOptions,
    private readonly log: (line: string) => void,
  ) {
    // The directory itself, whether or not given as `dir/`.
    let end = source.length;
    while (end > 1 && source[end - 1] === 0x2f) end--;
    this.root = source.subarray(0, end);
    this.slices = Math.max(1, Math.min(MAX_RESCAN_SLICES, Math.floor((intervalS * 1000) / RESCAN_SLICE_MS)));
    this.sliceMs = (intervalS * 1000) / this.slices;
    this.passes = new PassSchedule(this.slices, WHOLE_PASS_EVERY);
  }

  /** Whether the user's filters leave out a path below the source (as the walk asks: under the source's name). */
  private readonly excluded = (path: Buffer, isDir: boolean): boolean => {
    const filter = this.options.filter;
    if (!filter?.active) return false;
    return filter.excludes(Buffer.concat([Buffer.from(nodePath.basename(this.root.toString('latin1')), 'latin1'), Buffer.from('/'), path]), isDir);
  };

  /** Events first, then the snapshot: a file changed in place while the tree is read is either in the snapshot or named by an event. */
  async start(): Promise<void> {
    this.events = await watchEvents(
      this.root,
      (path) => {
        this.named.add(path, Date.now());
        this.changed();
      },
      this.log,
      () => this.passes.lost(),
    );
    this.snapshot = new TreeSnapshot(this.root, this.excluded, this.slices);
  }

  onChange(changed: () => void): void {
    this.changed = changed;
  }

  /** The next slice of the tree looked at again: what changed since the snapshot joins the batch. */
  rescan(): void {
    // Paths events named are settled first: what they changed is theirs, not something missed.
    this.settleNamed();
    const { changed, vanished, appeared } = this.snapshot.rescan(this.passes.next(this.events !== undefined));
    // Found before its event, maybe: the batch waits for the events still on their way.
    const quietMs = this.events ? EVENTS_LATE_MS : DEBOUNCE_MS;
    for (const path of changed) this.batcher.add(path, Date.now(), quietMs);
    this.moves.note(vanished, appeared);
    if (changed.length > 0) this.log(`rescan: ${changed.length} changes the events did not bring`);
  }

  dueAt(): number | undefined {
    const due = [this.named.dueAt(), this.batcher.dueAt()].filter((time): time is number => time !== undefined);
    return due.length > 0 ? Math.min(...due) : undefined;
  }

  /** The batch: the named paths looked at again, with what rescans found; renames among them. */
  take(): { paths: Buffer[]; renames: Rename[] } {
    this.settleNamed();
    const renames = this.moves.take();
    for (const rename of renames) this.log(`renamed: ${showName(Buffer.from(rename.from, 'latin1'))} -> ${showName(Buffer.from(rename.to, 'latin1'))}`);
    return { paths: this.batcher.take(), renames };
  }

  /** The paths events named, looked at again: what changed there joins the batch. */
  private settleNamed(): void {
    if (this.named.size === 0) return;
    const { changed, vanished, appeared } = this.snapshot.refresh(this.named.take());
    for (const path of changed) this.batcher.add(path, Date.now());
    this.moves.note(vanished, appeared);
  }

  async stop(): Promise<void> {
    await this.events?.stop();
  }
}
