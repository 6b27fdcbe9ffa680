/**
 * What the client side of a copy does, whichever engine carries it (fcpd's protocol or SFTP):
 * send a walked local tree to a destination path on the other side, or receive the named sources
 * into a resolved local destination, accepting only what the request's scope allows.
 */
import type { FilesFromRequest } from '../session/connection';
import type { EntryScope } from '../session/entryScope';
import type { Destination } from './destination';
import type { WalkStream } from './walk';
import type { FollowSources } from '../follow/followWalk';

export type ClientWork =
  /** follow: --follow, the sources to walk again (and those missing at the walk). */
  | { kind: 'push'; destination: Buffer; walk: WalkStream; follow?: FollowSources }
  /** filesFrom: --files-from, for the sender to walk (FILES_FROM). */
  | { kind: 'pull'; sources: Buffer[]; destination: Destination; scope: EntryScope; filesFrom?: FilesFromRequest };
