/**
 * fcp --watch --two-way A B: both directories kept the same, changes on either side going to the
 * other, deletions too, a conflict keeping both versions. One of A and B is on this machine
 * ("here"), the other here too or on a host ("there"). Each side keeps its own record of what was
 * last synced, on its own host (localSide.ts; fcpd's through remoteSide.ts, PROTOCOL.md §7.12);
 * a round (twoWayRound.ts) lists both and carries out what they call for.
 *
 * Rounds come after changes (debounced): file-system events here, and for a side on a host its
 * fcpd's word that its directory changed; every --interval (a rescan, which sweeps a slice of
 * each side for what events missed: sweep.ts); and after the link came back (fcpd launched again
 * after 1 s, 2 s, ... a minute). A round that is not whole lists only the paths either side's
 * events named since its last listing (scope.ts), and with a sweep those where a side differs
 * from its record, where both sides can.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { CopyOptions, launcherFor } from '../client/copy';
import { asFcpError } from '../errors';
import { sideDbFile, twoWayDbFile } from '../state/twoWayDb';
import { withoutTrailingSlashes } from '../transfer/walk';
import { ChangeBatcher } from './batcher';
import { DEBOUNCE_MS, FIRST_RETRY_MS, MAX_BATCH_DELAY_MS, MAX_RETRY_MS } from './constants';
import { checkSideRoot, LocalSide, TwoWaySide } from './localSide';
import { RemoteSide } from './remoteSide';
import { sideFilter } from './sideListing';
import { twoWaySides } from './twoWayArgs';
import { Moves } from './twoWayMoves';
import { NOTHING_DONE, RoundListing, runRound, TwoWayRoundKind, TwoWayRoundReport } from './twoWayRound';
import { checkInterval, fcpdIdleSeconds, isLinkFailure, SharedFcpd, Wakeup } from './watch';

export type { ConflictReport, TwoWayRoundKind, TwoWayRoundReport } from './twoWayRound';

export interface TwoWayOptions {
  /** sources: [A], destination: B; connection options, filters (applied on both sides), log, notice, onEvent. */
  copy: CopyOptions;
  intervalS: number;
  /** The record of the directory here; by default one per pair under $XDG_STATE_HOME/fcp/two-way (twoWayDbFile). */
  stateFile?: string;
  onRound?(report: TwoWayRoundReport): void;
  signal: AbortSignal;
}

/** Runs the two-way watch until `signal` aborts; rejects only when the first round cannot run at all (a usage error, a refused login, ...). */
export async function twoWay(options: TwoWayOptions): Promise<void> {
  checkInterval(options.intervalS);
  const base: CopyOptions = { ...options.copy, itemizeChanges: true };
  const log = base.log ?? (() => undefined);
  const { here, there, thereSpec } = twoWaySides(base);
  const thereRoot = there.kind === 'local' ? withoutTrailingSlashes(there.path) : undefined;
  // Both local roots are checked before either record is opened; a remote one by its fcpd.
  checkSideRoot(here);
  if (thereRoot) checkSideRoot(thereRoot);
  const timeoutMs = base.timeout === undefined ? undefined : base.timeout * 1000;
  const fcpd = there.kind === 'remote' ? new SharedFcpd(base.launcher ?? launcherFor(there, true, base, log, timeoutMs, fcpdIdleSeconds(options.intervalS)), log) : undefined;
  const filter = sideFilter(base.filter);
  const moves = new Moves(here, thereSpec, thereRoot, base, fcpd);
  const wake = new Wakeup();
  const changes = new ChangeBatcher(DEBOUNCE_MS, MAX_BATCH_DELAY_MS);
  const changed = (path: Buffer): void => {
    changes.add(path, Date.now());
    wake.now();
  };
  options.signal.addEventListener('abort', () => wake.now(), { once: true });
  const stateFile = options.stateFile ?? twoWayDbFile(nodePath.resolve(here.toString('latin1')), thereRoot ? nodePath.resolve(thereRoot.toString('latin1')) : thereSpec.toString('latin1'));
  const hereSide = await LocalSide.open(here, stateFile, filter, log, changed);
  const pair = hereSide.pairId();
  let localThere: LocalSide | undefined;
  let remoteThere: RemoteSide | undefined;
  /** The side there, opened (again, after the link was lost) when a round needs it. */
  const thereSide = async (): Promise<TwoWaySide> => {
    if (thereRoot) return (localThere ??= await LocalSide.open(thereRoot, sideDbFile(fs.realpathSync(thereRoot).toString(), pair), filter, log, changed));
    if (remoteThere) return remoteThere;
    if (!fcpd!.open) await fcpd!.launch();
    const server = await fcpd!.forRound().launch(Buffer.alloc(0), log);
    return (remoteThere = await RemoteSide.open(server, server.secret!, {
      host: there.kind === 'remote' ? there.host : '',
      path: there.path,
      pair: Buffer.from(pair, 'hex'),
      filter,
      encrypt: base.encrypt ?? true,
      timeoutMs,
      log,
      changed: () => changed(Buffer.alloc(0)),
    }));
  };
  let round = 0;
  let retryMs = FIRST_RETRY_MS;
  let nextRescan = Date.now() + options.intervalS * 1000;
  /** The next round runs at once: the first, and the first after the link came back. */
  let pending: TwoWayRoundKind | undefined = 'initial';
  try {
    while (!options.signal.aborted) {
      const now = Date.now();
      const due = changes.dueAt();
      const kind: TwoWayRoundKind | undefined = pending ?? (due !== undefined && due <= now ? 'changes' : now >= nextRescan ? 'rescan' : undefined);
      if (!kind) {
        await wake.until(Math.min(nextRescan, due ?? Infinity));
        continue;
      }
      // A round covers every change its listings' events named (all of them, when whole).
      changes.take();
      if (kind === 'rescan' || pending) nextRescan = now + options.intervalS * 1000;
      round++;
      // Whole: the first round and the first after the link came back (the records may disagree); a rescan sweeps the next slice of each side (for a change whose event was lost).
      const how: RoundListing = kind === 'initial' || kind === 'reconnect' ? 'whole' : kind === 'rescan' ? 'swept' : 'narrowed';
      const listed = { whole: how === 'whole', swept: how === 'swept' };
      try {
        const done = await runRound({ here: hereSide, there: await thereSide(), moves }, new Date(), how);
        pending = undefined;
        retryMs = FIRST_RETRY_MS;
        options.onRound?.({ round, kind, ...listed, ...done });
      } catch (err) {
        const error = asFcpError(err);
        if (kind === 'initial' && !isLinkFailure(error)) throw error;
        pending = 'reconnect';
        options.onRound?.({ round, kind, ...listed, ...NOTHING_DONE, conflicts: [], error, retryInMs: retryMs });
        log(`round ${round} failed (${error.message}); trying again in ${retryMs / 1000} s`);
        await dropLink();
        await wake.until(Date.now() + retryMs);
        retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
      }
    }
  } finally {
    wake.stop();
    await hereSide.close();
    await localThere?.close();
    await dropLink(false);
  }

  /** Lets go of the side there and its fcpd: after a failure, both are opened again for the next round. */
  async function dropLink(failed = true): Promise<void> {
    const side = remoteThere;
    remoteThere = undefined;
    await side?.close().catch(() => undefined);
    await fcpd?.close(failed);
  }
}
