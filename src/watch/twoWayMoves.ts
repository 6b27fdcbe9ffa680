/**
 * How files move between the two directories of fcp --watch --two-way: copy() sessions with
 * --files-from (over the watch's fcpd when there is a host), a conflict's version brought under
 * its conflict name, deletions. A deletion on this machine is made only when the file is still
 * as listed (a change since is the next round's).
 */
import * as fs from 'node:fs';
import { copy, CopyOptions } from '../client/copy';
import { deleteThere } from '../track/deletions';
import { FileState, sameState, stateOf, under } from './sideListing';
import type { SharedFcpd } from './watch';

/** Deletes files of a directory on this machine, each only if it is still as listed; the paths deleted. */
export function deleteUnchanged(root: Buffer, paths: readonly string[], listed: ReadonlyMap<string, FileState>): string[] {
  const deleted: string[] = [];
  for (const path of paths) {
    const file = under(root, path);
    if (!sameState(stateOf(file), listed.get(path))) continue;
    fs.rmSync(file, { force: true });
    deleted.push(path);
  }
  return deleted;
}

export class Moves {
  constructor(
    readonly here: Buffer,
    /** The other directory as fcp names it (`host:path`, or a path), without trailing slashes. */
    private readonly thereSpec: Buffer,
    /** The other directory when it is on this machine too. */
    readonly thereRoot: Buffer | undefined,
    private readonly base: CopyOptions,
    private readonly fcpd: SharedFcpd | undefined,
  ) {}

  private session(): CopyOptions {
    return { ...this.base, ...(this.fcpd ? { launcher: this.fcpd.forRound() } : {}) };
  }

  /** Sends these files (latin1 paths) there, or brings them here; false when any of them failed. */
  async send(paths: readonly string[], toThere: boolean): Promise<boolean> {
    const summary = await copy({
      ...this.session(),
      sources: [toThere ? this.here : this.thereSpec],
      destination: toThere ? this.thereSpec : this.here,
      filesFrom: paths.map((path) => Buffer.from(path, 'latin1')),
      // Known to differ: no quick check (a change within the same mtime tick and size would pass it).
      ignoreTimes: true,
    });
    return summary.errors.length === 0;
  }

  /** The version there of `path`, brought here as `name`. */
  async bringAs(path: string, name: string): Promise<void> {
    await copy({ ...this.session(), sources: [Buffer.concat([this.thereSpec, Buffer.from('/'), Buffer.from(path, 'latin1')])], destination: under(this.here, name) });
  }

  /** Deletes these files there; the paths deleted (on this machine, a file changed since the listing is left). */
  async deleteThere(paths: readonly string[], listed: ReadonlyMap<string, FileState>): Promise<string[]> {
    if (this.thereRoot) return deleteUnchanged(this.thereRoot, paths, listed);
    const { ssh, bwlimit } = this.base;
    await deleteThere(this.here.toString('utf8'), this.thereSpec.toString('utf8'), paths.map((p) => Buffer.from(p, 'latin1').toString('utf8')), {
      ...(ssh ? { ssh } : {}),
      ...(bwlimit ? { bwlimit } : {}),
      launcher: this.session().launcher!,
    });
    return [...paths];
  }
}
