/**
 * A local copy in one process (`fcp a b`, `fcp -r dir1 dir2`: no host on either side). The
 * sending engine that a push runs and the receiving engine that fcpd runs are both started here,
 * joined by memory links (src/transfer/memoryLink.ts) instead of loopback TCP: no fcpd, no
 * sockets, no frames, no sealing, while the walk, the quick check, chunking, verification,
 * metadata, errors and events are those of every other copy. `--via-fcpd` keeps the old shape.
 */
import type { SyncOptions } from '../sync/options';
import { FcpError } from '../errors';
import { Feature, ModeFlag } from '../protocol/constants';
import type { ParamsMessage } from '../protocol/messages';
import { loadXxhash, XXHashAPI } from '../protocol/xxhash';
import { requestScope } from '../session/entryScope';
import { answerOffer, transferOffer } from '../session/params';
import { timeoutsFor } from '../timeouts';
import { trace } from '../trace';
import { resolveDestination } from '../transfer/destination';
import { applyRenames } from '../sync/renameEntries';
import type { RenameMessage } from '../protocol/messages';
import { fileEvent, stopAtFirstFailure, TransferEvents, TransferSummary } from '../transfer/link';
import { memoryLinks } from '../transfer/memoryLink';
import { partialDirBytes, ReceiveEngine } from '../transfer/receiver';
import { SendEngine } from '../transfer/sender';
import type { ClientWork } from '../transfer/work';
import type { PathFilter } from '../sync/filter';
import { FollowOptions, followControl } from '../follow/followControl';

export interface LocalCopyOptions {
  work: Extract<ClientWork, { kind: 'push' }>;
  /** MODE flags, as a push would send them. */
  flags: number;
  /** With BACKUP in flags: the suffix for what the copy replaces (--suffix). */
  backupSuffix?: Buffer;
  /** --partial-dir, relative to each destination directory. */
  partialDir?: string;
  /** The filter the walk applied, for the receiver (ReceiveMode.filter). */
  filter?: PathFilter;
  offer: ParamsMessage;
  /** false (--no-verify): chunks are not hashed, and file events carry no digest. */
  verify: boolean;
  events?: TransferEvents;
  failFast?: boolean;
  timeoutMs?: number;
  log(line: string): void;
  /** A sync (PROTOCOL.md §7.8): the receiver decides with these options and reports its changes as item events. */
  sync?: SyncOptions;
  /** Entries to rename at the destination first (fcp --watch; as RENAME, PROTOCOL.md §7.9). */
  renames?: readonly RenameMessage[];
  /** --follow (the work has its sources to follow, MODE's FOLLOW is in flags): when following stops. */
  follow?: FollowOptions;
}

const KEEP_ALIVE_MS = 60_000;

/** libuv's thread pool for one process that both reads and writes: a read and a write per stream. */
const threadsFor = (streams: number): number => Math.max(4, 2 * streams);

/**
 * Hashes that are all zero, for --no-verify: the engines still compare them (and agree), so the
 * copy takes the one code path, minus the cost of hashing every byte twice.
 */
function unhashed(xxh: XXHashAPI): XXHashAPI {
  const zero: ReturnType<XXHashAPI['create64']> = {
    update: () => zero,
    digest: () => 0n,
  };
  return { ...xxh, h64: () => 0n, h64Raw: () => 0n, create64: () => zero };
}

/** File events without a digest: with --no-verify there is none worth showing. */
function withoutDigests(events: TransferEvents): TransferEvents {
  return { ...events, file: events.file && ((event) => events.file!(fileEvent(event.path, event.size, event.error, undefined, event.warning))) };
}

export async function copyInProcess(options: LocalCopyOptions): Promise<{ summary: TransferSummary; params: ParamsMessage }> {
  const { work, flags } = options;
  trace('local copy started');
  // Sized before the first request reaches the pool, which starts with the first one (the fcp
  // command makes none before this; an embedding program that did keeps its own size).
  // Connections in memory are never lost: no chunk acknowledgements to keep (feature RECONNECT).
  const offer = transferOffer(options.offer);
  const answer = answerOffer({ ...offer, features: offer.features & ~Feature.RECONNECT });
  if (answer instanceof FcpError) throw answer;
  process.env.UV_THREADPOOL_SIZE ??= String(threadsFor(answer.connections));
  const xxh = await loadXxhash();
  const destination = resolveDestination(work.destination, flags, options.sync?.dryRun);
  const scope = requestScope(flags, destination.isDirectory);
  if (options.renames && !options.sync?.dryRun) applyRenames(destination, options.renames, options.log);
  const links = memoryLinks(answer, options.verify ? xxh : unhashed(xxh), timeoutsFor(options.timeoutMs).idleMs, options.log);
  options.log(`copying in this process: ${answer.connections} streams of ${answer.chunkSize} byte chunks${options.verify ? '' : ', not verified'}`);

  const mode = { flags, backupSuffix: options.backupSuffix, filter: options.filter, sync: options.sync };
  const receiver = new ReceiveEngine(links.receiver, destination, scope, mode, { item: options.events?.item }, partialDirBytes(options.partialDir));
  const following = options.follow && followControl(options.follow, options.events ?? {});
  const reported = following ? following.events : (options.events ?? {});
  const events = options.verify ? reported : withoutDigests(reported);
  const sender: SendEngine = new SendEngine(
    links.sender,
    work.walk,
    options.failFast ? stopAtFirstFailure(events, () => sender) : events,
    (flags & ModeFlag.REMOVE_SOURCE) !== 0,
    options.sync,
    work.follow,
  );
  following?.attach(() => sender.stopFollowing());
  // The sender's outcome is the copy's (as for a push); the receiver's run is awaited so that its
  // temporaries are gone and its files settled before copy() returns.
  trace('local copy: engines set up');
  const received = receiver.run().catch(() => undefined);
  // No socket keeps the event loop alive here, and the engines' own deadlines (a descriptor that
  // never frees up, a disk write that never ends) are unreferenced timers: this one holds the
  // process until the copy settles, so a wait ends in its timeout error rather than an exit 0.
  const alive = setInterval(() => undefined, KEEP_ALIVE_MS);
  try {
    return { summary: await sender.run(), params: links.sender.params };
  } finally {
    following?.dispose();
    await received;
    clearInterval(alive);
    trace('local copy: transfer done');
  }
}
