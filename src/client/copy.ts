/**
 * `copy()`, the Node API of fcp and what the fcp command runs: decides the direction from the
 * locations, walks or resolves the local side, starts fcpd through a launcher, runs the session
 * and reports progress events.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { FcpError } from '../errors';
import { Cipher, DEFAULT_CONNECTIONS, Feature, MAX_BACKUP_SUFFIX_BYTES, ModeFlag, PacketType } from '../protocol/constants';
import { hasGlob } from '../protocol/glob';
import { namesContents } from '../protocol/paths';
import { SECRET_SIZE } from '../protocol/keys';
import type * as LocalLauncherModule from '../launch/localLauncher';
import type { Launcher, LaunchedServer } from '../launch/launcher';
import type * as RemoteInstallModule from '../launch/remoteInstall';
import { makeOffer } from '../session/params';
import { firstDials } from '../session/connectionTuner';
import { forcedTuning } from './connectionGrowth';
import { SFTP_INITIAL_SESSIONS } from '../sftp/sessionGrowth';
import { showName, showText } from '../showName';
import { partialDirProblem } from '../state/partialFile';
import { requestScope } from '../session/entryScope';
import { landsOnItself, resolveDestination } from '../transfer/destination';
import type { FileEvent } from '../transfer/link';
import { sourceName, streamSources, WALK_AHEAD, walkNarrowed, WalkStream } from '../transfer/walk';
import { readAhead } from '../transfer/smallFile';
import { narrowedFilter } from '../sync/narrow';
import { listedPath, listedTree } from '../sync/filesFrom';
import { isTimeoutSeconds, MAX_TIMEOUT_S, MIN_TIMEOUT_S } from '../timeouts';
import type * as ClientSessionModule from './clientSession';
import type * as LocalCopyModule from './localCopy';
import type * as DaemonClientModule from './daemonClient';
import type { ParamsMessage, RenameMessage } from '../protocol/messages';
import type { ClientWork } from './clientSession';
import { loadXxhash } from '../protocol/xxhash';
import { Location, orHome, parseLocation } from './location';
import { Progress, ProgressSnapshot } from './progress';
import type * as RemoteLauncherModule from './remoteLauncher';
import type * as RemoteToRemoteModule from './remoteToRemote';
import type { Route } from './remoteToRemote';
import type * as SftpEngineModule from '../sftp/engine';
import type { Verification as SftpVerification } from '../sftp/verification';
import type { TransferEvents, TransferSummary } from '../transfer/link';
import type { SshOptions } from './remoteLauncher';
import type { PathFilter } from '../sync/filter';
import { DELETING_ITEM } from '../sync/compare';
import { isHardlinkItem, listedName, relativeName } from '../sync/itemize';
import { checkSyncOptions, SyncOptions } from '../sync/options';
import type { FollowOptions } from '../follow/followControl';
import { followedSources } from '../follow/followWalk';
import type { FollowedSummary } from '../transfer/link';

export interface CopyOptions {
  /**
   * scp-style locations: local paths, or [user@]host:path. As bytes (Buffer) when a name is not
   * UTF-8: a string cannot hold such a name.
   */
  sources: (string | Buffer)[];
  destination: string | Buffer;
  recursive?: boolean;
  /** -L: copy what symlinks point to. */
  followSymlinks?: boolean;
  /** -H: files linked to each other within the copy are linked to each other at the destination too. */
  hardLinks?: boolean;
  /** -x: a directory on another file system than its source's is copied empty, not entered (rsync -x). */
  oneFileSystem?: boolean;
  /** --mkpath: the receiver first makes the destination's missing directories, as mkdir -p (rsync --mkpath). */
  mkpath?: boolean;
  /** -C: chunk data that deflates smaller crosses the network deflated (feature COMPRESS; not in a copy made in this process). */
  compress?: boolean;
  /**
   * -W/--whole-file (true), --no-whole-file (false): whether a changed file the destination holds
   * an older version of is sent whole or as a delta (feature DELTA). Default as rsync's: whole for
   * a local copy, a delta when a network is crossed.
   */
  wholeFile?: boolean;
  /**
   * --backup: a destination file, symlink or link that the copy replaces is first renamed to its
   * name + backupSuffix (rsync --backup; default suffix `~`, --suffix).
   */
  backup?: boolean;
  backupSuffix?: string | Buffer;
  /**
   * --remove-source-files: each source file, symlink and hard link is removed once it is in place
   * at the destination (verified, or already there), unless it changed since it was read; never a directory.
   */
  removeSourceFiles?: boolean;
  /**
   * --numeric-ids: owners and groups are kept by number, not by name. Owners are kept when the
   * receiving side runs as root (as rsync -a keeps them); otherwise entries belong to whoever writes them.
   */
  numericIds?: boolean;
  /** -I: send every file, even one the destination holds with the same size and mtime (no quick check). */
  ignoreTimes?: boolean;
  /** --checksum: a file of the same size is left when its whole-file digest matches (both sides digest; no data sent). */
  checksum?: boolean;
  /** --size-only: a file of the same size is left as it is, whatever its mtime. */
  sizeOnly?: boolean;
  /** -u/--update: a file that is newer at the destination is left as it is. */
  update?: boolean;
  /** --ignore-existing: anything already at the destination is left as it is. */
  ignoreExisting?: boolean;
  /** --existing (--ignore-non-existing): nothing that is not at the destination yet is created there. */
  existing?: boolean;
  /** --min-size, --max-size (bytes): files smaller or larger are left, as rsync leaves them. */
  minSize?: number;
  maxSize?: number;
  /** --delete: destination entries the source lacks are removed, inside the copied directories only. */
  delete?: boolean;
  /** --delete-excluded: entries the filters exclude are deleted at the destination too (implies delete). */
  deleteExcluded?: boolean;
  /** --max-delete N: at most N deletions; more were due is FCP_ERR_MAX_DELETE. */
  maxDelete?: number;
  /**
   * --files-from: copy only these paths, relative to the one source directory, each to the same
   * relative path under the destination with the directories above it (rsync's --files-from). A
   * listed directory comes with its contents only with `recursive`. No `..` may lead out of the
   * source; not with --delete.
   */
  filesFrom?: (string | Buffer)[];
  /** --dry-run: decide and report what would change (item events), change nothing on either side. */
  dryRun?: boolean;
  /** --itemize-changes: item events for every change (also what any sync option gives). */
  itemizeChanges?: boolean;
  /**
   * --no-resume: partial files an interrupted run left at the destination are discarded and every
   * file is sent whole (by default the chunks they hold are checked and not sent again).
   */
  noResume?: boolean;
  /**
   * --partial-dir: where the receiver keeps partial files and their journals, relative to each
   * destination directory (rsync's option), instead of beside each file. Downloads and local copies.
   */
  partialDir?: string;
  /** Data connections, 1..64; left out, tuned while the transfer runs (in one process one stream a CPU, 2 to 4; 4 between two remote hosts). */
  connections?: number;
  /** Chunk size in bytes, a power of two from 64 KiB to 64 MiB (default 1 MiB). */
  chunkSize?: number;
  /** Sealing on every connection; default on when a network is crossed, off for local copies. */
  encrypt?: boolean;
  /** The cipher when encrypting (default aes256-gcm); giving one encrypts a local copy too. */
  cipher?: CipherName;
  /** At most this many bytes per second, both directions together (scp -l, rsync --bwlimit). */
  bwlimit?: number;
  /**
   * Seconds without progress before giving up with FCP_ERR_TIMEOUT (exit code 7): fcpd's launch,
   * each connection's handshake, a silent peer, a disk write (default 30; fcpd gets the same).
   */
  timeout?: number;
  /** How to reach a remote host (scp's -P, -i, -F, -J, -o; -e; --fcpd-path; --tunnel). */
  ssh?: SshOptions;
  /**
   * How fcpd is started, replacing the default: a local fcpd for local copies, SSH for a
   * remote host. Tests pass localLauncher() to run a "remote" side on this machine.
   */
  launcher?: Launcher;
  /**
   * Stop at the first file or entry that fails (--fail-fast): the files not sent yet are not
   * sent, and copy() rejects with that failure's code. By default a failed file does not stop
   * the others: they are listed in the summary's errors.
   */
  failFast?: boolean;
  /**
   * --exclude, --include (and their -from files), --max-depth: what the sender's walk leaves out,
   * wherever it runs (here, fcpd for a pull, the source host's fcpd between two hosts).
   */
  filter?: PathFilter;
  /** How often progress events come, in ms (default 250). */
  progressIntervalMs?: number;
  /** Diagnostic lines (handshake, parameters, fcpd's messages): fcp -v. */
  log?: (line: string) => void;
  /** Lines the user should see even without -v (e.g. falling back to an SSH tunnel). */
  notice?: (line: string) => void;
  onEvent?: (event: CopyEvent) => void;
  /**
   * false: onEvent gets no 'file' event for each file and no 'progress' records, for a caller that
   * shows only the summary (fcp -q): a copy of many small files then spends nothing on each file's
   * event, on either side (the engines build none). 'start', 'item' and 'entryError' events come
   * as ever, and a failed file's error is in the summary. Default true.
   */
  fileEvents?: boolean;
  /**
   * -3: between two remote hosts, relay the data through this machine even when the source host
   * could reach the destination host itself (fcp does so by itself when it cannot).
   */
  throughLocal?: boolean;
  /**
   * A local copy (no host on either side) through a local fcpd over loopback TCP, as a copy to a
   * remote host runs, instead of in this process (fcp --via-fcpd). Asking for encryption (encrypt,
   * cipher) or a bandwidth limit does the same: both apply to connections.
   */
  viaFcpd?: boolean;
  /**
   * false (--no-verify): a local copy in this process hashes nothing (no per-chunk xxh64, no
   * whole-file digest in file events); a copy over SFTP (sftp: true) checks sizes alone, with no
   * remote shell to hash. Copies through fcpd always verify.
   */
  verify?: boolean;
  /**
   * Copy over SFTP (N SSH sessions) instead of fcpd, as fcp does by itself when the remote host
   * has no Node.js 20+ (fcp --sftp).
   */
  sftp?: boolean;
  /**
   * Internal (fcp --watch's rounds): a sync of one local source narrowed to these paths below it
   * (`/`-separated; a path that no longer exists is deleted at the destination with --delete),
   * instead of the whole tree (src/sync/narrow.ts). Ignored when the narrowing cannot be said in
   * filter rules: the copy is then a whole sync.
   */
  narrowTo?: readonly Buffer[];
  /**
   * Internal (fcp --watch's rounds, with narrowTo): entries below the one local source that moved
   * (`/`-separated, relative to it), renamed at the destination before the listing (RENAME,
   * PROTOCOL.md §7.9), where that can be done.
   */
  renames?: readonly { from: Buffer; to: Buffer }[];
  /**
   * --follow: after the copy, keep sending what the files grow by, files sent again when rewritten,
   * and new files, until `follow.signal` aborts or `follow.idleSeconds` pass without growth
   * (--follow-idle); a source that does not exist yet is waited for (PROTOCOL.md §7.10).
   */
  follow?: FollowOptions;
}

/**
 * How a copy ran: fcp's protocol with the fcpd found on the remote host (or the local one), with
 * an fcpd fcp installed there, SFTP, or a local copy in this process (no fcpd).
 */
export type CopyMode = 'fcpd' | 'fcpd-installed' | 'sftp' | 'in-process';

/** The ciphers fcp seals its connections with, by the names the command line and this API take. */
export const CIPHERS = { 'aes256-gcm': Cipher.AES_256_GCM, 'chacha20-poly1305': Cipher.CHACHA20_POLY1305 } as const;
export type CipherName = keyof typeof CIPHERS;

export type CopyEvent =
  | { type: 'start'; files: number; bytes: number; connections: number; encrypted: boolean }
  | ({ type: 'progress' } & ProgressSnapshot)
  | {
      type: 'file';
      /** The entry path as UTF-8 text: a byte that is not UTF-8 shows as U+FFFD. */
      path: string;
      /** The entry path's bytes, as on disk (names need not be UTF-8). */
      pathBytes: Buffer;
      size: number;
      digest?: string;
      error?: { code: string; message: string };
      /** The file was copied, with a caveat: it grew while it was read and its first `size` bytes were copied. */
      warning?: string;
    }
  /** A directory or symlink that could not be created, or a source entry that was skipped (a FIFO, a loop). */
  | { type: 'entryError'; path: string; pathBytes: Buffer; error: { code: string; message: string } }
  /**
   * A sync changed (in a dry run: would change) an entry: rsync's `%i` (`>f.st......`,
   * `*deleting  `), and the name as rsync lists it (relative to the transfer root, a directory
   * with a trailing /), with a symlink's target when this side knows it, or (`hf...`) the name of
   * the file a hard link names.
   */
  | { type: 'item'; item: string; name: string; pathBytes: Buffer; isDir: boolean; target?: string };

export interface CopySummary {
  /** Bytes of the files copied, those the destination already held included. */
  bytes: number;
  /** File bytes that crossed the wire in this run (resent chunks included). */
  bytesSent: number;
  /** Bytes not sent because the destination already held them (same size and mtime: PROTOCOL.md §7.5). */
  bytesResumed: number;
  /** Bytes not sent because the destination's old version of a changed file held them (the delta: PROTOCOL.md §7.7). */
  bytesSaved: number;
  files: number;
  filesFailed: number;
  /** Files not sent: the destination held them, or -u/--ignore-existing left them (all of them in a dry run). */
  filesSkipped: number;
  /** Destination entries --delete removed (in a dry run: would remove). */
  filesDeleted: number;
  /** Directories, symlinks and skipped source entries that are not in the copy. */
  entriesFailed: number;
  seconds: number;
  /** Average bytes per second. */
  rate: number;
  connections: number;
  encrypted: boolean;
  /** Files and entries that failed or were skipped: the copy is partial when this is not empty. */
  errors: FcpError[];
  mode: CopyMode;
  /**
   * What was checked of each file: 'chunks' (fcpd: every chunk's digest, then the whole file's),
   * for SFTP 'size', 'size+crc', 'size+blake2b', 'size+sha256' or 'size+md5' (a hash when the
   * server can run one and --no-verify is not given), or 'none' (a local copy with --no-verify).
   */
  verification: 'chunks' | 'none' | SftpVerification;
  /**
   * Between two remote hosts only: whether the data went straight from one to the other or
   * through this machine (-3, or because the source host could not reach the destination), and
   * how many bytes crossed this machine.
   */
  between?: Route;
  /** --follow: what was sent after the copy (APPENDs, their bytes, files sent again, new files). */
  followed?: FollowedSummary;
}

type RemoteLocation = Extract<Location, { kind: 'remote' }>;

interface Plan {
  work: ClientWork;
  flags: number;
  remote: RemoteLocation | undefined;
}

/** Both sides remote: the source host's fcpd pushes to the destination host's (remoteToRemote.ts). */
interface BetweenPlan {
  between: { source: RemoteLocation; sources: Buffer[]; destination: RemoteLocation };
  flags: number;
}

const SLASH = 0x2f;
/** rsync's default --suffix (without --backup-dir). */
export const DEFAULT_BACKUP_SUFFIX = '~';

/** The backup suffix MODE carries, or undefined without --backup; a suffix that is not part of one name is a usage error. */
function backupSuffixOf(options: CopyOptions): Buffer | undefined {
  if (!options.backup) return undefined;
  const suffix = Buffer.from(options.backupSuffix ?? DEFAULT_BACKUP_SUFFIX);
  if (suffix.length === 0 || suffix.length > MAX_BACKUP_SUFFIX_BYTES || suffix.includes(SLASH) || suffix.includes(0)) {
    throw new FcpError('FCP_ERR_USAGE', `backup suffix ${JSON.stringify(suffix.toString())}: must be 1 to ${MAX_BACKUP_SUFFIX_BYTES} bytes, without / or NUL`, {
      hint: 'it is appended to the name of each file a copy replaces (as rsync --suffix)',
    });
  }
  return suffix;
}


/**
 * Where sources go (PROTOCOL.md §7.2), rsync's rule: given with a trailing slash (or as `dir/.`,
 * namesContents), a directory's contents go into the destination (CONTENTS); without, a recursive copy places the directory
 * under the destination, created if missing (INTO_DIR). Either form run again converges on the
 * same tree (scp's rule, a missing destination becoming the copy, nests `dst/src` on the second
 * run). One form per run: mixing them is a usage error.
 */
function placementFlags(sources: Location[], recursive: boolean): number {
  const slashed = sources.filter((source) => namesContents(source.path)).length;
  if (slashed > 0 && slashed < sources.length) {
    throw new FcpError('FCP_ERR_USAGE', 'some sources end with / or /. (copy their contents) and some do not (copy the directory itself)', {
      hint: 'copy the two kinds in separate runs',
    });
  }
  return (recursive ? ModeFlag.INTO_DIR : 0) | (slashed > 0 ? ModeFlag.CONTENTS : 0);
}

/** MODE's flags that say where the receiver places a copy's entries (RECURSIVE, DEST_IS_DIR, CONTENTS, INTO_DIR). */
export function placementOf(options: Pick<CopyOptions, 'sources' | 'recursive'>): number {
  const sources = options.sources.map(parseLocation);
  // A remote pattern may match several names: like several sources, it needs a directory to go into.
  const severalSources = sources.length > 1 || sources.some((s) => s.kind === 'remote' && hasGlob(s.path));
  return (options.recursive ? ModeFlag.RECURSIVE : 0) | (severalSources ? ModeFlag.DEST_IS_DIR : 0) | placementFlags(sources, options.recursive ?? false);
}

/** The sync a copy asks for, or undefined for a plain copy (no sync option given). */
export function syncOf(options: CopyOptions): SyncOptions | undefined {
  const asked = [options.checksum, options.sizeOnly, options.update, options.ignoreExisting, options.existing, options.minSize !== undefined, options.maxSize !== undefined, options.delete, options.deleteExcluded, options.dryRun, options.itemizeChanges];
  if (!asked.some(Boolean) && options.maxDelete === undefined) return undefined;
  if (options.maxDelete !== undefined && !(Number.isInteger(options.maxDelete) && options.maxDelete >= 0 && options.maxDelete < 0xffffffff)) {
    throw new FcpError('FCP_ERR_USAGE', `--max-delete ${options.maxDelete}: must be a whole number from 0 to ${0xffffffff - 1}`);
  }
  const sync: SyncOptions = {
    checksum: options.checksum ?? false,
    sizeOnly: options.sizeOnly ?? false,
    update: options.update ?? false,
    ignoreExisting: options.ignoreExisting ?? false,
    existing: options.existing ?? false,
    minSize: options.minSize,
    maxSize: options.maxSize,
    delete: (options.delete ?? false) || (options.deleteExcluded ?? false),
    deleteExcluded: options.deleteExcluded ?? false,
    maxDelete: options.maxDelete,
    dryRun: options.dryRun ?? false,
  };
  checkSyncOptions(sync);
  return sync;
}

/** --files-from's paths, checked; undefined without it. */
function listedPaths(options: CopyOptions): Buffer[] | undefined {
  if (options.filesFrom === undefined) return undefined;
  if (options.sources.length !== 1) throw new FcpError('FCP_ERR_USAGE', '--files-from takes one source directory', { hint: 'usage: fcp --files-from FILE SOURCE_DIR DEST' });
  if (options.delete || options.deleteExcluded) {
    throw new FcpError('FCP_ERR_USAGE', '--files-from and --delete were both given', { hint: 'a --files-from copy deletes nothing: sync the directory itself to delete' });
  }
  return options.filesFrom.map((path) => listedPath(Buffer.from(path)));
}

function plan(options: CopyOptions): Plan | BetweenPlan {
  if (options.sources.length === 0) throw new FcpError('FCP_ERR_USAGE', 'no source given', { hint: 'usage: fcp [options] SOURCE... DEST' });
  const listed = listedPaths(options);
  const sources = options.sources.map(parseLocation);
  const dest = parseLocation(options.destination);
  const flags =
    placementOf(options) |
    (options.followSymlinks ? ModeFlag.FOLLOW_SYMLINKS : 0) |
    (options.oneFileSystem ? ModeFlag.ONE_FILE_SYSTEM : 0) |
    (options.mkpath ? ModeFlag.MKPATH : 0) |
    (options.ignoreTimes ? ModeFlag.IGNORE_TIMES : 0) |
    (options.backup ? ModeFlag.BACKUP : 0) |
    // A dry run removes no source: the peer is not asked to.
    (options.removeSourceFiles && !options.dryRun ? ModeFlag.REMOVE_SOURCE : 0) |
    (options.numericIds ? ModeFlag.NUMERIC_IDS : 0) |
    (options.noResume ? ModeFlag.NO_RESUME : 0) |
    (options.follow ? ModeFlag.FOLLOW : 0) |
    // rsync's placement of listed paths: relative to the source directory, under the destination, with the directories above them.
    (listed ? ModeFlag.CONTENTS | ModeFlag.RECURSIVE : 0);
  const remoteSources = sources.filter((s): s is RemoteLocation => s.kind === 'remote');
  if (remoteSources.length > 0) {
    if (remoteSources.length !== sources.length) {
      throw new FcpError('FCP_ERR_USAGE', 'sources mix local and remote paths', { hint: 'copy local and remote sources in separate runs' });
    }
    const first = remoteSources[0]!;
    if (remoteSources.some((s) => s.host !== first.host || s.user !== first.user || s.daemon?.port !== first.daemon?.port)) {
      throw new FcpError('FCP_ERR_USAGE', 'remote sources must all be on one host');
    }
    if (dest.kind === 'remote' && listed) throw new FcpError('FCP_ERR_USAGE', '--files-from copies to or from this machine, not between two remote hosts');
    if (dest.kind === 'remote') return { between: { source: first, sources: remoteSources.map((s) => orHome(s.path)), destination: dest }, flags };
    const destination = resolveDestination(dest.path, flags, options.dryRun);
    const pulled = remoteSources.map((s) => orHome(s.path));
    // The server's entries are checked against what was asked for: it names nothing else (PROTOCOL.md §7.2).
    const scope = requestScope(flags, destination.isDirectory, pulled);
    const filesFrom = listed && { paths: listed, recursive: options.recursive ?? false };
    return { work: { kind: 'pull', sources: pulled, destination, scope, filesFrom }, flags, remote: first };
  }
  const walkOptions = {
    recursive: options.recursive ?? false,
    followSymlinks: options.followSymlinks ?? false,
    hardLinks: options.hardLinks ?? false,
    oneFileSystem: options.oneFileSystem ?? false,
    filter: options.filter,
    listed: listed && listedTree(listed),
    keepsInodes: options.removeSourceFiles ?? false,
  };
  const paths = sources.map((s) => s.path);
  if (dest.kind === 'local' && options.removeSourceFiles) refuseLandingOnItself(paths, dest.path, flags);
  // --follow waits for a source that does not exist yet instead of failing on it.
  const followed = options.follow ? followedSources(paths, walkOptions) : undefined;
  // The walk goes on as the transfer announces; --follow and a watch's narrowed round walk first.
  const walk = followed ? WalkStream.listing(followed.walk) : options.narrowTo ? WalkStream.listing(walkNarrowed(sources[0]!.path, options.narrowTo, walkOptions)) : streamSources(paths, walkOptions);
  const follow = followed?.follow;
  if (dest.kind === 'remote') return { work: { kind: 'push', destination: orHome(dest.path), walk, follow }, flags, remote: dest };
  // A local copy: the local fcpd resolves the destination the same way a remote one would, from
  // an absolute path (joined as bytes, so that a trailing slash and a name that is not UTF-8 survive).
  const local = dest.path[0] === SLASH ? dest.path : Buffer.concat([Buffer.from(`${process.cwd()}/`), dest.path]);
  return { work: { kind: 'push', destination: local, walk, follow }, flags, remote: undefined };
}

/** --remove-source-files on this machine: a source that lands on itself would lose its one copy. */
function refuseLandingOnItself(sources: readonly Buffer[], dest: Buffer, flags: number): void {
  const itself = sources.find((source) => landsOnItself(source, dest, flags));
  if (itself === undefined) return;
  throw new FcpError('FCP_ERR_USAGE', `--remove-source-files: ${showName(itself)} would be copied onto itself at ${showName(dest)}, and then removed`, {
    hint: 'give a destination other than where the source already is',
  });
}

/** How fcpd is started for a copy to or from `remote` (a local fcpd without one); `reuseS`: for fcp --watch, fcpd --serve --reuse. */
export function launcherFor(remote: Plan['remote'], receivesThere: boolean, options: CopyOptions, log: (line: string) => void, timeoutMs: number | undefined, reuseS?: number): Launcher {
  if (options.launcher) return options.launcher;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (remote?.daemon) return (require('./daemonClient') as typeof DaemonClientModule).daemonLauncher({ ...remote, daemon: remote.daemon }, timeoutMs);
  // Loaded only when used: a local copy made in this process starts no fcpd.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (!remote) return (require('../launch/localLauncher') as typeof LocalLauncherModule).localLauncher({ timeoutMs, partialDir: options.partialDir, reuseS });
  // The SSH stack (ssh2 and friends) takes a tenth of a second to load: only when it is used.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { remoteLauncher } = require('./remoteLauncher') as typeof RemoteLauncherModule;
  // An upload's receiver is the remote fcpd: it takes --partial-dir (a download's is this process).
  return remoteLauncher(remote, options.ssh ?? {}, log, options.notice ?? log, timeoutMs, receivesThere ? options.partialDir : undefined, reuseS);
}

/**
 * A file's event for onEvent. Its text path and its digest are worked out when read, and fcp's
 * reporter reads neither unless -v or --json asks: made for every file, they were a UTF-8 decoding
 * and a SHA-256 (a small file's digest, singleChunkDigest) a file, 4 % of fcp's profile receiving a
 * pull of 200,000 tiny files. Getters of a class, not of an object literal (which V8 builds
 * through its runtime, 2-4 us a file). A spread or structured clone of it leaves the getters out
 * (fcp's reporter writes --json's record field by field); JSON.stringify has them (toJSON).
 */
class CopiedFileEvent {
  readonly type = 'file' as const;
  readonly pathBytes: Buffer;
  readonly size: number;
  readonly error: { code: string; message: string } | undefined;
  readonly warning: string | undefined;
  private text: string | undefined;

  constructor(private readonly event: FileEvent) {
    this.pathBytes = event.path;
    this.size = event.size;
    this.error = event.error && { code: event.error.code, message: event.error.message };
    this.warning = event.warning;
  }

  get path(): string {
    return (this.text ??= this.pathBytes.toString('utf8'));
  }

  get digest(): string | undefined {
    return this.event.digest;
  }

  /** JSON.stringify of the event has every field, as when it was a plain object. */
  toJSON(): object {
    return { type: this.type, path: this.path, pathBytes: this.pathBytes, size: this.size, digest: this.digest, error: this.error, warning: this.warning };
  }
}

/**
 * A push's first entries, walked while the login waits on the network, and with `reads` their
 * small files read until the launch settles (smallFile.ts); the rest is walked as the transfer
 * announces. A sync or --follow announces every file with FILE_INFO: nothing is read ahead for it.
 */
async function walkAhead(walk: WalkStream, reads: boolean, launch: Promise<unknown>): Promise<void> {
  if (reads) {
    let launched = false;
    const settled = (): void => {
      launched = true;
    };
    launch.then(settled, settled);
    await readAhead(walk, () => launched);
  } else {
    await new Promise((resolve) => setImmediate(resolve));
  }
  walk.fill(WALK_AHEAD);
}

/** The engine's modules and hash, loaded while the launch's first packets are on their way. */
async function loadEngine(): Promise<typeof ClientSessionModule> {
  loadXxhash().catch(() => undefined);
  // The launch's first packets go out on the next ticks: only then load.
  await new Promise((resolve) => setImmediate(resolve));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./clientSession') as typeof ClientSessionModule;
}

/** An engine's counts as copy()'s summary; the rest says how it ran. */
function summarize(
  counts: Pick<TransferSummary, 'bytes' | 'bytesSent' | 'bytesResumed' | 'bytesSaved' | 'filesOk' | 'filesFailed' | 'entriesFailed' | 'errors' | 'filesSame' | 'followed'>,
  started: number,
  how: Pick<CopySummary, 'connections' | 'encrypted' | 'mode' | 'verification'>,
  filesDeleted = 0,
): CopySummary {
  const seconds = (Date.now() - started) / 1000;
  return {
    bytes: counts.bytes,
    bytesSent: counts.bytesSent,
    bytesResumed: counts.bytesResumed,
    bytesSaved: counts.bytesSaved ?? 0,
    files: counts.filesOk,
    filesFailed: counts.filesFailed,
    filesSkipped: counts.filesSame ?? 0,
    filesDeleted,
    entriesFailed: counts.entriesFailed,
    seconds,
    rate: seconds > 0 ? counts.bytes / seconds : 0,
    errors: counts.errors,
    ...how,
    ...(counts.followed ? { followed: counts.followed } : {}),
  };
}

/** The transfer events of either engine as copy()'s events, and the progress ticker they start. */
function reporting(
  progress: Progress,
  options: CopyOptions,
  connections: number,
  encrypted: boolean,
  /** MODE's flags: with CONTENTS, items are named relative to the source directories. */
  flags = 0,
): { events: TransferEvents; stop(final: boolean): void; deleted(): number } {
  const emit = options.onEvent ?? (() => undefined);
  const fileEvents = options.fileEvents !== false;
  let deleted = 0;
  // Progress events come only once the session has said how much there is (after 'start').
  let ticker: NodeJS.Timeout | undefined;
  return {
    events: {
      start(files, bytes) {
        progress.filesTotal = files;
        progress.bytesTotal = bytes;
        emit({ type: 'start', files, bytes, connections, encrypted });
        if (ticker || !fileEvents) return;
        // A first progress record at once, as scp draws its meter from the start: a copy shorter than one interval still shows one.
        const tick = (): void => emit({ type: 'progress', ...progress.snapshot() });
        tick();
        ticker = setInterval(tick, options.progressIntervalMs ?? 250).unref();
      },
      counted(files, bytes) {
        progress.filesTotal += files;
        progress.bytesTotal += bytes;
      },
      bytes(count) {
        progress.bytesDone += count;
      },
      // --follow: what following adds to the totals, so that the progress never passes 100 %.
      grew(files, bytes) {
        progress.filesTotal += files;
        progress.bytesTotal += bytes;
      },
      // None at all, rather than one that does nothing: the engines build a file's event only for a handler.
      file: fileEvents
        ? (event) => {
            progress.filesDone++;
            progress.lastFile = event;
            if (options.onEvent) emit(new CopiedFileEvent(event));
          }
        : undefined,
      notice(text) {
        (options.notice ?? options.log)?.(text);
      },
      entryFailed(path, error) {
        emit({ type: 'entryError', path: path.toString('utf8'), pathBytes: Buffer.from(path), error: { code: error.code, message: error.message } });
      },
      item({ item, path, isDir, target }) {
        if (item === DELETING_ITEM) deleted++;
        const contents = (flags & ModeFlag.CONTENTS) !== 0;
        const name = listedName(path, contents, isDir);
        // A hard link's target is the entry path of its file: named as the link is.
        const shown = target && isHardlinkItem(item) ? relativeName(target, contents) : target;
        emit({ type: 'item', item, name, pathBytes: path, isDir, ...(shown ? { target: shown.toString('utf8') } : {}) });
      },
    },
    deleted: () => deleted,
    /** Stops the ticker; after a copy that ended (`final`), with a last progress event. */
    stop(final: boolean) {
      if (ticker && final) emit({ type: 'progress', ...progress.snapshot() });
      clearInterval(ticker);
      ticker = undefined;
    },
  };
}

/** The copy over SFTP, for a remote location reached with the built-in SSH client. */
async function copyOverSftp(planned: Plan, options: CopyOptions, why: string, log: (line: string) => void): Promise<CopySummary> {
  const { remote, work, flags } = planned;
  if (!remote) throw new FcpError('FCP_ERR_USAGE', '--sftp copies to or from a remote host, and no location is remote');
  if (options.ssh?.program || options.launcher) {
    throw new FcpError('FCP_ERR_USAGE', `${why}: SFTP mode needs fcp's built-in SSH client`, { hint: 'leave out -e/-S to copy over SFTP' });
  }
  // Left out, the count is tuned while the copy runs, from one session (src/sftp/sessionGrowth.ts).
  const pinned = options.connections;
  (options.notice ?? log)(`${why}: copying over SFTP (${pinned === undefined ? `sessions tuned from ${SFTP_INITIAL_SESSIONS}` : `${pinned} sessions`})`);
  if (options.bwlimit !== undefined) log('sftp: the bandwidth limit applies only to fcpd connections');
  if (options.hardLinks) log('sftp: hard links are copied as separate files (-H needs fcpd)');
  if (work.kind === 'pull' && work.filesFrom) throw new FcpError('FCP_ERR_USAGE', `${why}: a pull with --files-from needs fcpd on the remote host`, { hint: 'it needs Node.js 20+ there' });
  // SFTP tells no device numbers: where one file system ends cannot be seen from here.
  if (work.kind === 'pull' && options.oneFileSystem) throw new FcpError('FCP_ERR_USAGE', `${why}: a pull with -x needs fcpd on the remote host`, { hint: 'it needs Node.js 20+ there' });
  const needsFcpd = options.backup ? '--backup' : options.removeSourceFiles ? '--remove-source-files' : undefined;
  if (needsFcpd) throw new FcpError('FCP_ERR_USAGE', `${why}: ${needsFcpd} is not available over SFTP`, { hint: 'it needs fcpd (Node.js 20+) on the remote host' });
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { sshLogin } = require('./remoteLauncher') as typeof RemoteLauncherModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sftp = require('../sftp/engine') as typeof SftpEngineModule;
  const { host, context } = sshLogin(remote, options.ssh ?? {}, log);
  const progress = new Progress();
  const started = Date.now();
  const report = reporting(progress, options, pinned ?? SFTP_INITIAL_SESSIONS, true);
  try {
    const result = await sftp.copyOverSftp({
      host,
      context,
      sessions: pinned,
      forcedTuning: forcedTuning(),
      work,
      flags,
      walk: { recursive: options.recursive ?? false, followSymlinks: options.followSymlinks ?? false, filter: options.filter },
      verify: options.verify !== false,
      events: report.events,
      log,
    });
    report.stop(true);
    // Verification asked for and not had is said without -v: the copy is not what the user expects.
    if (options.verify !== false && result.verification === 'size') {
      (options.notice ?? log)(`sftp: no hash tool answered on ${remote.host}: only sizes were checked (-v says why)`);
    }
    return summarize(result, started, { connections: result.sessions, encrypted: true, mode: 'sftp', verification: result.verification });
  } finally {
    report.stop(false);
  }
}

/** The copy between two remote hosts: their two fcpds, this machine only reporting (or relaying). */
async function copyBetween(
  planned: BetweenPlan,
  options: CopyOptions,
  backupSuffix: Buffer | undefined,
  log: (line: string) => void,
  timeoutMs: number | undefined,
): Promise<CopySummary> {
  if (options.sftp || options.launcher) {
    throw new FcpError('FCP_ERR_USAGE', `a copy between two remote hosts runs fcpd on both${options.sftp ? ', not SFTP' : ''}`, {
      hint: 'copy to this machine first for anything else',
    });
  }
  const encrypt = options.encrypt ?? true;
  const offer = offerFor(options, encrypt, false, true);
  const progress = new Progress();
  const started = Date.now();
  const report = reporting(progress, options, offer.connections, encrypt);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { copyBetweenHosts } = require('./remoteToRemote') as typeof RemoteToRemoteModule;
  try {
    const result = await copyBetweenHosts({
      ...planned.between,
      flags: planned.flags,
      backupSuffix,
      offer,
      ssh: options.ssh ?? {},
      throughLocal: options.throughLocal ?? false,
      bwlimit: options.bwlimit,
      failFast: options.failFast ?? false,
      filter: options.filter,
      timeoutMs,
      partialDir: options.partialDir,
      events: report.events,
      log,
      notice: options.notice ?? log,
    });
    report.stop(true);
    const how = { connections: result.connections, encrypted: result.cipher !== 0, mode: result.installed ? 'fcpd-installed' : 'fcpd', verification: 'chunks' } as const;
    return { ...summarize(result.summary, started, how), between: result.between };
  } finally {
    report.stop(false);
  }
}

/** A local copy in this process: the same engines as through fcpd, joined in memory (localCopy.ts). */
async function copyLocally(
  planned: Plan,
  options: CopyOptions,
  offer: ParamsMessage,
  backupSuffix: Buffer | undefined,
  log: (line: string) => void,
  timeoutMs: number | undefined,
  sync: SyncOptions | undefined,
): Promise<CopySummary> {
  if (planned.work.kind !== 'push') throw new FcpError('FCP_ERR_INTERNAL', 'a local copy is planned as a push');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { copyInProcess } = require('./localCopy') as typeof LocalCopyModule;
  const verify = options.verify ?? true;
  const progress = new Progress();
  const started = Date.now();
  const report = reporting(progress, options, offer.connections, false, planned.flags);
  try {
    const { summary, params } = await copyInProcess({
      sync,
      renames: renameMessages(options, planned),
      work: planned.work,
      flags: planned.flags,
      backupSuffix,
      partialDir: options.partialDir,
      filter: options.filter,
      offer,
      verify, events: report.events, failFast: options.failFast, timeoutMs, log, follow: options.follow });
    report.stop(true);
    return summarize(summary, started, { connections: params.connections, encrypted: false, mode: 'in-process', verification: verify ? 'chunks' : 'none' }, report.deleted());
  } finally {
    report.stop(false);
  }
}

/**
 * A local copy runs in this process unless it asks for what applies to connections: sealing
 * (encrypt, cipher), a bandwidth limit, fcpd itself (--via-fcpd, a launcher) or SFTP.
 */
export function runsInProcess(planned: Pick<Plan, 'remote'>, options: CopyOptions): boolean {
  const encrypt = options.encrypt ?? options.cipher !== undefined;
  return !planned.remote && !options.launcher && !options.viaFcpd && !encrypt && options.bwlimit === undefined && !options.sftp;
}

/** fcp:// copies between this machine and a daemon, with fcp's protocol: not between two hosts, nor over SFTP. */
function refuseDaemonMix(planned: Plan | BetweenPlan, options: CopyOptions): void {
  const daemon = 'between' in planned ? planned.between.source.daemon ?? planned.between.destination.daemon : planned.remote?.daemon;
  if (daemon && ('between' in planned || options.sftp)) {
    throw new FcpError('FCP_ERR_USAGE', `an fcp:// location is copied to or from this machine${options.sftp ? ', not over SFTP' : ''}`, {
      hint: 'copy from the daemon to this machine first, then on',
    });
  }
}

/**
 * The streams of a copy in this process that -n does not pin: one a CPU, from 2 to
 * DEFAULT_CONNECTIONS. Each is a read and a write in libuv's pool beside the main thread's hashing,
 * so on two cores four of them contend: 1 GiB on tmpfs took 0.60 s with 2 streams against 0.64 with
 * 4 (8 rounds, docs/BENCHMARKS.md "Local copies", eleventh round); 1,000 files of 16-200 KiB the same.
 */
const streamsInProcess = (): number => Math.min(DEFAULT_CONNECTIONS, Math.max(2, availableParallelism()));

/**
 * receivesHere: this process is the receiver (a pull, a local copy in one process), not an fcpd.
 * crossesNetwork: a host is involved, so changed files go as a delta unless -W says otherwise.
 */
function offerFor(options: CopyOptions, encrypt: boolean, receivesHere: boolean, crossesNetwork: boolean, sync = false, filesFrom = false, tune = false): ParamsMessage {
  return makeOffer({
    chunkSize: options.chunkSize,
    connections: options.connections,
    tune,
    encrypt,
    cipher: CIPHERS[options.cipher ?? 'aes256-gcm'],
    hardLinks: options.hardLinks,
    compress: options.compress,
    filters: options.filter?.active,
    delta: !(options.wholeFile ?? !crossesNetwork),
    // The receiver keeps owners only as root: which an fcpd is only it knows; this process knows.
    owners: !receivesHere || process.getuid?.() === 0,
    sync,
    follow: options.follow !== undefined,
    filesFrom,
  });
}

/** --follow follows files between this machine and one other (fcpd's protocol, or in this process). */
function refuseFollowMix(planned: Plan | BetweenPlan, options: CopyOptions, sync: SyncOptions | undefined): void {
  if (!options.follow) return;
  const conflict =
    'between' in planned ? 'a copy between two remote hosts'
      : options.sftp ? '--sftp'
        : options.removeSourceFiles ? '--remove-source-files'
          : sync?.dryRun ? '--dry-run'
            // Following checks what was sent by its hashes, which --no-verify leaves out.
            : options.verify === false ? '--no-verify'
              : undefined;
  if (conflict) {
    throw new FcpError('FCP_ERR_USAGE', `--follow does not go with ${conflict}`, {
      hint: '--follow keeps a session to fcpd (or a copy in this process) open and sends what the sources grow by',
    });
  }
}

/** --partial-dir must name a directory under each destination directory (the receiver, local or remote, takes it there). */
function checkPartialDir(dir: string): void {
  const problem = partialDirProblem(dir);
  if (problem) {
    throw new FcpError('FCP_ERR_USAGE', `--partial-dir ${showText(dir)}: ${problem}`, {
      hint: 'it is taken relative to the directory of each destination file, as rsync does',
    });
  }
}

/**
 * A narrowed sync (narrowTo, one local source): the filter that says so to the receiver (and to
 * this side's, in one process), with the paths as it names entries; undefined when it cannot be
 * said (then the copy is a whole sync).
 */
function narrowing(options: CopyOptions): PathFilter | undefined {
  if (!options.narrowTo || options.deleteExcluded || options.sources.length !== 1) return undefined;
  const source = parseLocation(options.sources[0]!);
  if (source.kind !== 'local') return undefined;
  // A source `src/` stands for the transfer root; `src` is the directory src in it.
  return narrowedFilter(options.filter, namesContents(source.path) ? Buffer.alloc(0) : sourceName(source.path), options.narrowTo);
}

/** A narrowed push's renames as RENAMEs: entry paths under the walk's top-level entry. */
function renameMessages(options: CopyOptions, planned: Plan): RenameMessage[] | undefined {
  const top = planned.work.kind === 'push' ? planned.work.walk.peek()?.path : undefined;
  if (!options.narrowTo || !options.renames?.length || !top) return undefined;
  const entry = (rel: Buffer): Buffer => Buffer.concat([top, Buffer.of(SLASH), rel]);
  return options.renames.map(({ from, to }) => ({ type: PacketType.RENAME, from: entry(from), to: entry(to) }));
}

export async function copy(given: CopyOptions): Promise<CopySummary> {
  const log = given.log ?? (() => undefined);
  const narrowed = given.narrowTo && narrowing(given);
  const planned = plan(narrowed ? given : { ...given, narrowTo: undefined });
  // From here on the filter is what the receiver hears (narrowed for a watch's round); the walk took the user's.
  const options: CopyOptions = narrowed ? { ...given, filter: narrowed } : { ...given, narrowTo: undefined };
  const backupSuffix = backupSuffixOf(options);
  const sync = syncOf(options);
  if (sync && ('between' in planned || options.sftp)) {
    throw new FcpError('FCP_ERR_USAGE', `sync options (--delete, --checksum, --dry-run, ...) need fcpd on one side and this machine on the other${options.sftp ? ', not SFTP' : ''}`, {
      hint: 'between two remote hosts, or over SFTP, copy without them',
    });
  }
  if (options.timeout !== undefined && !isTimeoutSeconds(options.timeout)) {
    throw new FcpError('FCP_ERR_USAGE', `timeout ${options.timeout}: must be a number of seconds from ${MIN_TIMEOUT_S} to ${MAX_TIMEOUT_S}`);
  }
  const timeoutMs = options.timeout === undefined ? undefined : options.timeout * 1000;
  if (options.cipher !== undefined && options.encrypt === false) {
    throw new FcpError('FCP_ERR_USAGE', `cipher ${options.cipher} and no encryption were both asked for`, { hint: 'give one of -c and --no-encrypt' });
  }
  if (options.partialDir !== undefined) checkPartialDir(options.partialDir);
  if (options.verify === false && ('between' in planned || !(runsInProcess(planned, options) || options.sftp))) {
    throw new FcpError('FCP_ERR_USAGE', '--no-verify applies only to local copies made in this process and to copies over SFTP (--sftp)', {
      hint: 'leave out --no-verify (copies through fcpd always verify), or --via-fcpd and --encrypt; with --sftp it checks sizes alone',
    });
  }
  refuseDaemonMix(planned, options);
  refuseFollowMix(planned, options, sync);
  if ('between' in planned) return copyBetween(planned, options, backupSuffix, log, timeoutMs);
  const { work, flags, remote } = planned;
  if (options.sftp) return copyOverSftp(planned, options, '--sftp', log);
  const encrypt = options.encrypt ?? (remote !== undefined || options.cipher !== undefined);
  const inProcess = runsInProcess(planned, options);
  const renames = renameMessages(options, planned);
  // Connections are tuned where there are connections: not in one process, whose streams follow the CPUs.
  const offered = offerFor(inProcess ? { ...options, connections: options.connections ?? streamsInProcess() } : options, encrypt, work.kind === 'pull' || inProcess, remote !== undefined, sync !== undefined, work.kind === 'pull' && work.filesFrom !== undefined, !inProcess);
  const offer = renames ? { ...offered, features: offered.features | Feature.RENAME } : offered;
  if (inProcess) return copyLocally(planned, options, offer, backupSuffix, log, timeoutMs, sync);
  const secret = randomBytes(SECRET_SIZE);
  const progress = new Progress();
  const started = Date.now();

  // While the launch waits on the network (SSH handshakes, fcpd starting), the engine's modules
  // load and the hash module compiles: on a long link that start-up time is otherwise added.
  // The launch is awaited from the start (Promise.all): a launch that fails while the engine
  // loads (a refused connection fails within a tick) must not be an unhandled rejection.
  let launched: [LaunchedServer, typeof ClientSessionModule];
  try {
    const launch = Promise.all([launcherFor(remote, work.kind === 'push', options, log, timeoutMs).launch(secret, log), loadEngine()]);
    [launched] = await Promise.all([launch, work.kind === 'push' ? walkAhead(work.walk, sync === undefined && !options.follow, launch) : undefined]);
  } catch (err) {
    // A host that cannot run fcpd is still reachable over SFTP, unless the user chose the launch.
    // --follow needs fcpd: over SFTP nothing would follow.
    if ((err as FcpError).code !== 'FCP_ERR_NO_REMOTE_NODE' || !remote || options.launcher || options.ssh?.program || options.follow) throw err;
    log((err as FcpError).message);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { MIN_NODE_MAJOR } = require('../launch/remoteInstall') as typeof RemoteInstallModule;
    return copyOverSftp(planned, options, `no Node.js ${MIN_NODE_MAJOR}+ on ${remote.host}`, log);
  }
  const [server, { runClientSession }] = launched;
  log(`launched ${server.name}`);
  const report = reporting(progress, options, firstDials(offer, server.sameHost), encrypt, flags);
  let failed = true;
  try {
    const { summary, params, connections } = await runClientSession({
      server,
      secret,
      offer,
      bwlimit: options.bwlimit,
      flags,
      backupSuffix,
      work,
      log,
      failFast: options.failFast,
      timeoutMs,
      events: report.events,
      partialDir: options.partialDir,
      filter: options.filter,
      sync,
      renames,
      follow: options.follow,
    });
    report.stop(true);
    failed = false;
    return summarize(summary, started, { connections, encrypted: params.cipher !== 0, mode: server.mode ?? 'fcpd', verification: 'chunks' }, report.deleted());
  } finally {
    report.stop(false);
    await server.close(failed);
  }
}
