/**
 * The walk of followed sources (--follow): a source that does not exist yet is waited for, not an
 * error, so the walk covers the sources that exist and names the others; it is run again while
 * following to find what appeared.
 */
import * as fs from 'node:fs';
import { walkSources, WalkOptions, WalkResult } from '../transfer/walk';

export interface FollowedWalk {
  walk: WalkResult;
  /** Sources that do not exist (yet). */
  missing: Buffer[];
}

/** --follow (feature FOLLOW): the sources that did not exist at the walk, and how to walk them all again. */
export interface FollowSources {
  missing: Buffer[];
  rewalk(): FollowedWalk;
}

/** The walk of `sources` for --follow, and how the follower walks them again. */
export function followedSources(sources: readonly Buffer[], options: WalkOptions, check?: (source: Buffer) => void): { walk: WalkResult; follow: FollowSources } {
  const { walk, missing } = walkPresent(sources, options, check);
  return { walk, follow: { missing, rewalk: () => walkPresent(sources, options, check) } };
}

/** Walks the sources that exist; `check` (fcpd's policy on a source's real path) runs on each first. */
export function walkPresent(sources: readonly Buffer[], options: WalkOptions, check?: (source: Buffer) => void): FollowedWalk {
  const present: Buffer[] = [];
  const missing: Buffer[] = [];
  for (const source of sources) {
    if (fs.existsSync(source)) present.push(source);
    else missing.push(source);
  }
  for (const source of present) check?.(source);
  return { walk: walkSources(present, options), missing };
}
