/**
 * What a sync asks of the receiver beyond MODE (PROTOCOL.md §7.8): how files are compared, and
 * whether destination entries the source lacks are deleted, all carried by the SYNC message.
 */
import { FcpError } from '../errors';
import { MAX_FILE_SIZE, ModeFlag, PacketType, SyncFlag } from '../protocol/constants';
import type { SizeLimitsMessage, SyncMessage } from '../protocol/messages';
import type { CompareRules } from './compare';

export interface SyncOptions {
  /** --checksum, --size-only, -u, --ignore-existing (-I is MODE's IGNORE_TIMES). */
  checksum: boolean;
  sizeOnly: boolean;
  update: boolean;
  ignoreExisting: boolean;
  /** --existing: nothing new is created at the destination. */
  existing: boolean;
  /** --min-size, --max-size: files smaller or larger are left (SIZE_LIMITS). */
  minSize?: number;
  maxSize?: number;
  /** --delete: destination entries the source lacks are removed, inside the copied tree only. */
  delete: boolean;
  /** --delete-excluded: entries the filters exclude are deleted too. */
  deleteExcluded: boolean;
  /** --max-delete N: at most N deletions, then FCP_ERR_MAX_DELETE. */
  maxDelete: number | undefined;
  /** --dry-run: decide and report, change nothing. */
  dryRun: boolean;
}

export const NO_SYNC: SyncOptions = {
  checksum: false,
  sizeOnly: false,
  update: false,
  ignoreExisting: false,
  existing: false,
  delete: false,
  deleteExcluded: false,
  maxDelete: undefined,
  dryRun: false,
};

/** MAX_DELETE's max_delete when there is no limit (the field is always there). */
const NO_LIMIT = 0xffffffff;

const FLAG_OF: [keyof SyncOptions, number][] = [
  ['checksum', SyncFlag.CHECKSUM],
  ['sizeOnly', SyncFlag.SIZE_ONLY],
  ['update', SyncFlag.UPDATE],
  ['ignoreExisting', SyncFlag.IGNORE_EXISTING],
  ['delete', SyncFlag.DELETE],
  ['deleteExcluded', SyncFlag.DELETE_EXCLUDED],
  ['dryRun', SyncFlag.DRY_RUN],
  ['existing', SyncFlag.EXISTING],
];

export function syncMessage(options: SyncOptions): SyncMessage {
  let flags = 0;
  for (const [key, bit] of FLAG_OF) if (options[key]) flags |= bit;
  return { type: PacketType.SYNC, flags, maxDelete: options.maxDelete ?? NO_LIMIT };
}

/** --min-size and --max-size as SIZE_LIMITS carries them; undefined without either. */
export function sizeLimitsMessage(options: SyncOptions): SizeLimitsMessage | undefined {
  if (options.minSize === undefined && options.maxSize === undefined) return undefined;
  return { type: PacketType.SIZE_LIMITS, minSize: options.minSize ?? 0, maxSize: options.maxSize ?? MAX_FILE_SIZE };
}

/**
 * The options a SYNC message carries, with SIZE_LIMITS' when it came; unknown flag bits or
 * contradictory modes are FCP_ERR_PARAMS.
 */
export function syncOptionsOf(message: SyncMessage, limits?: SizeLimitsMessage): SyncOptions {
  const known = FLAG_OF.reduce((all, [, bit]) => all | bit, 0);
  if ((message.flags & ~known) !== 0) {
    throw new FcpError('FCP_ERR_PARAMS', `SYNC has unknown flag bits 0x${message.flags.toString(16)}`, { hint: 'an option of the sync is newer than this fcpd: update fcp on this host' });
  }
  const options = { ...NO_SYNC, maxDelete: message.maxDelete === NO_LIMIT ? undefined : message.maxDelete };
  for (const [key, bit] of FLAG_OF) (options as Record<string, unknown>)[key] = (message.flags & bit) !== 0;
  if (limits && limits.minSize > 0) options.minSize = limits.minSize;
  if (limits && limits.maxSize < MAX_FILE_SIZE) options.maxSize = limits.maxSize;
  checkSyncOptions(options);
  return options;
}

/** --checksum and --size-only are two answers to one question; --delete-excluded is a kind of --delete. */
export function checkSyncOptions(options: SyncOptions): void {
  if (options.checksum && options.sizeOnly) throw new FcpError('FCP_ERR_USAGE', '--checksum and --size-only both say how files are compared', { hint: 'give one of them' });
}

/** The comparison rules of a request: MODE's IGNORE_TIMES and the sync options. */
export function compareRules(modeFlags: number, options: SyncOptions): CompareRules {
  return {
    ignoreTimes: (modeFlags & ModeFlag.IGNORE_TIMES) !== 0,
    sizeOnly: options.sizeOnly,
    checksum: options.checksum,
    update: options.update,
    ignoreExisting: options.ignoreExisting,
    existing: options.existing,
    minSize: options.minSize,
    maxSize: options.maxSize,
  };
}
