/**
 * Runs of FILE_OK (more feature FILES_OK, PROTOCOL.md §7.4): a receiver that answers many small
 * files at once sends the FILE_OKs of consecutive file_ids as one FILES_OK, so that each run costs
 * one message on both sides rather than one a file.
 */
import { MAX_FILES_OK_RUN, PacketType } from './constants';
import type { FilesOkMessage, Message } from './messages';

/**
 * How many of messages[start..] are FILE_OKs of file_ids that go up by one from messages[start]'s,
 * at most MAX_FILES_OK_RUN: 0 when messages[start] is no FILE_OK.
 */
export function okRunLength(messages: readonly Message[], start: number): number {
  const first = messages[start]!;
  if (first.type !== PacketType.FILE_OK) return 0;
  const end = Math.min(messages.length, start + MAX_FILES_OK_RUN);
  let next = start + 1;
  for (let fileId = first.fileId + 1; next < end; next++, fileId++) {
    const message = messages[next]!;
    if (message.type !== PacketType.FILE_OK || message.fileId !== fileId) break;
  }
  return next - start;
}

/** The one message that says files firstFileId .. firstFileId + count - 1 are each OK. */
export function filesOk(firstFileId: number, count: number): FilesOkMessage {
  return { type: PacketType.FILES_OK, firstFileId, count };
}
