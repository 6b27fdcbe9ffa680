/**
 * --delete's view of the listing, directory by directory. Entries come in pre-order (PROTOCOL.md
 * §7.1), so a directory's entries are all in once an entry outside it comes: its deletions are
 * planned then, and its names forgotten. It holds the names of the directories still open (those
 * above the latest entry), the planned deletions, and one key per directory, never a name per
 * file. The deletions themselves wait for the end of the transfer (receiverSync.ts).
 */
import { FcpError } from '../errors';
import { showName } from '../showName';
import { planDeletions, type Deletion, type DeletionScope } from './deletion';

const SLASH = 0x2f;

interface OpenDirectory {
  /** The entry path, latin1 (a lossless spelling of any bytes). */
  key: string;
  /** Entry paths (latin1) of the entries announced in it so far. */
  names: Set<string>;
  /** A directory --delete goes through (`scan`): where it is, and where its deletions go in `plans`. */
  scanned?: { local: Buffer; entry: Buffer; order: number };
}

export class DeletionListing {
  /** Directories above the latest entry, outermost first. */
  private readonly open: OpenDirectory[] = [];
  /** Directories whose entries are all in, by key. */
  private readonly closed = new Set<string>();
  /** Each directory's deletions, in announcement order. */
  private readonly plans: Deletion[][] = [];
  /** The first directory that could not be read, its error thrown at the end (nothing is deleted then). */
  private failure: unknown;
  /** An entry of a directory already closed: the listing broke pre-order and no plan can be trusted. */
  private misplaced: Buffer | undefined;

  /**
   * `scope` without its directories and listing, which this gives per directory. With its
   * oneFileSystem (-x) a directory announced with nothing in it is not gone through: a mount point
   * the sender did not enter is announced so, and its contents at the destination are not extraneous.
   */
  constructor(private readonly scope: Omit<DeletionScope, 'directories' | 'listed'>) {}

  /** Names held for directories still open: what the listing costs (a test seam). */
  get heldNames(): number {
    return this.open.reduce((sum, dir) => sum + dir.names.size, 0);
  }

  /**
   * An entry as it is announced, in the listing's order (whatever later becomes of it): it closes
   * the directories it is not in, and is listed in its own.
   */
  entry(path: Buffer, isDir: boolean): void {
    const slash = path.lastIndexOf(SLASH);
    const parent = slash < 0 ? '' : path.toString('latin1', 0, slash);
    while (this.open.length > 0 && !within(parent, this.open[this.open.length - 1]!.key)) this.close(this.open.pop()!);
    const key = path.toString('latin1');
    const top = this.open[this.open.length - 1];
    if (top?.key === parent) top.names.add(key);
    if ((top?.key !== parent && this.closed.has(parent)) || this.closed.has(key)) this.misplaced ??= Buffer.from(path);
    if (isDir) this.open.push({ key, names: new Set() });
  }

  /** A directory announced and still open whose extraneous entries --delete removes. */
  scan(path: Buffer, local: Buffer): void {
    const key = path.toString('latin1');
    for (let at = this.open.length - 1; at >= 0; at--) {
      const dir = this.open[at]!;
      if (dir.key !== key) continue;
      dir.scanned ??= { local, entry: Buffer.from(path), order: this.plans.push([]) - 1 };
      return;
    }
  }

  /**
   * Every deletion, directory by directory in announcement order (rsync's within each); throws
   * when a directory could not be read. None when the listing broke pre-order: `misplaced` hears
   * of the entry that did.
   */
  plan(misplaced: (entry: Buffer, error: FcpError) => void): Deletion[] {
    while (this.open.length > 0) this.close(this.open.pop()!);
    if (this.failure !== undefined) throw this.failure;
    if (this.misplaced) {
      misplaced(
        this.misplaced,
        new FcpError('FCP_ERR_PROTOCOL', `--delete: ${showName(this.misplaced)} came after the entries of its directory were over; nothing was deleted`, {
          hint: 'entries come in pre-order (a directory, then all it holds); the sender broke it',
        }),
      );
      return [];
    }
    return this.plans.flat();
  }

  private close(dir: OpenDirectory): void {
    this.closed.add(dir.key);
    const scanned = dir.scanned;
    if (!scanned || this.failure !== undefined || this.misplaced || (this.scope.oneFileSystem && dir.names.size === 0)) return;
    try {
      this.plans[scanned.order] = planDeletions({ ...this.scope, directories: [scanned], listed: (entry) => dir.names.has(entry.toString('latin1')) });
    } catch (err) {
      this.failure = err;
    }
  }
}

/** Whether entry path `path` is `dir` or inside it (latin1 keys). */
function within(path: string, dir: string): boolean {
  return path === dir || (path.startsWith(dir) && path.charCodeAt(dir.length) === SLASH);
}
