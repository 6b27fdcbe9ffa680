/** What fcp shows for a FOLLOW notice (PROTOCOL.md §7.10), on whichever side reads the files. */
import { FollowEvent } from '../protocol/constants';
import { showName } from '../showName';

const WHAT: Readonly<Record<number, string>> = {
  [FollowEvent.WAITING]: 'does not exist yet; waiting for it',
  [FollowEvent.TRUNCATED]: 'was truncated; sending it again',
  [FollowEvent.REWRITTEN]: 'was rewritten; sending it again',
  [FollowEvent.REPLACED]: 'was replaced; sending it again',
};

/** `name` (a source or an entry path, escaped for a terminal) and what happened to it; `where`: whose file, when not this side's. */
export function followNoticeText(event: number, name: Buffer, where?: string): string {
  return `${showName(name)}${where ? ` on ${where}` : ''} ${WHAT[event] ?? `: follow event ${event}`}`;
}
