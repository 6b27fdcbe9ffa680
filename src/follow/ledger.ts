/**
 * The receiver's account of followed files (feature FOLLOW, PROTOCOL.md §7.10): which file_ids may
 * grow by APPEND, and how long each is, so that an APPEND is checked before any byte of it is
 * written. A file may grow once it is OK (in place under its final name); a file announced again
 * under the same entry path (re-sent after a rewrite) replaces the earlier file_id, which may then
 * grow no more.
 */
import { MAX_FILE_SIZE } from '../protocol/constants';

interface FollowedFile {
  readonly path: Buffer;
  size: number;
}

export class FollowLedger {
  /** Files announced and not settled yet: their entry paths (copies). */
  private readonly announced = new Map<number, Buffer>();
  private readonly followed = new Map<number, FollowedFile>();
  /** The file_id that may grow, by entry path (latin1). */
  private readonly byPath = new Map<string, number>();

  /** A file was announced (FILE_INFO or FILE_INLINE). */
  announce(fileId: number, path: Buffer): void {
    const key = path.toString('latin1');
    const earlier = this.byPath.get(key);
    if (earlier !== undefined) {
      this.followed.delete(earlier);
      this.byPath.delete(key);
    }
    this.announced.set(fileId, Buffer.from(path));
  }

  /** A file ended: OK (`size` bytes in place) or failed (undefined). */
  settled(fileId: number, size: number | undefined): void {
    const path = this.announced.get(fileId);
    this.announced.delete(fileId);
    if (path === undefined || size === undefined) return;
    this.followed.set(fileId, { path, size });
    this.byPath.set(path.toString('latin1'), fileId);
  }

  /** Takes `length` bytes at `offset` of `fileId`: its entry path, or why the APPEND is refused. */
  append(fileId: number, offset: number, length: number): Buffer | string {
    const file = this.followed.get(fileId);
    if (file === undefined) {
      const why = this.announced.has(fileId) ? 'is not in place yet' : 'is not a file of this session that is in place, or was sent again since';
      return `APPEND for file_id ${fileId}, which ${why}`;
    }
    if (offset !== file.size) return `APPEND at offset ${offset} of file_id ${fileId}, which is ${file.size} bytes long`;
    if (offset + length > MAX_FILE_SIZE) return `APPEND of ${length} bytes at offset ${offset} takes file_id ${fileId} over ${MAX_FILE_SIZE} bytes`;
    file.size += length;
    return file.path;
  }
}
