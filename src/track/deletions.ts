/**
 * Deleting files there, through fcp itself: a sync with --delete from a staging directory that
 * holds only the directories above the deleted files, with filter rules that include exactly
 * those directories and files and exclude everything else. The receiver deletes, inside the
 * announced directories, what is not announced and not excluded: the deleted files, nothing
 * else (excluded entries are protected from --delete). The rules are anchored at the transfer
 * root, the staging directory's contents (its source is written `stage/`), on both sides.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { copy, CopyOptions } from '../client/copy';
import { MAX_FILTER_RULES } from '../protocol/constants';
import { FilterRule, PathFilter } from '../sync/filter';
import { stagingDir } from './folder';

const WILDCARD = /[*?[]/;

/** A path as a pattern that matches it alone: with a wildcard byte in it, every special byte escaped (filter.ts). */
function literal(path: string): string {
  return WILDCARD.test(path) ? path.replace(/[*?[\\]/g, (c) => `\\${c}`) : path;
}

function parents(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Deletion batches whose rules (one per directory, one per file, one exclude) fit in one FILTER_RULES. */
function batches(paths: readonly string[]): string[][] {
  const out: string[][] = [];
  let batch: string[] = [];
  let dirs = new Set<string>();
  for (const path of paths) {
    const added = parents(path).filter((d) => !dirs.has(d));
    if (batch.length > 0 && dirs.size + added.length + batch.length + 2 > MAX_FILTER_RULES) {
      out.push(batch);
      batch = [];
      dirs = new Set();
    }
    batch.push(path);
    for (const d of parents(path)) dirs.add(d);
  }
  if (batch.length > 0) out.push(batch);
  return out;
}

async function deleteBatch(root: string, remote: string, paths: readonly string[], options: Pick<CopyOptions, 'ssh' | 'launcher' | 'bwlimit'>): Promise<void> {
  const stage = stagingDir(root);
  try {
    const dirs = [...new Set(paths.flatMap(parents))].sort();
    for (const dir of dirs) {
      const staged = nodePath.join(stage, dir);
      fs.mkdirSync(staged, { recursive: true });
      // The directory's own mode and mtime, which the sync applies there.
      const here = fs.statSync(nodePath.join(root, dir), { throwIfNoEntry: false });
      if (here?.isDirectory()) {
        fs.chmodSync(staged, here.mode & 0o7777);
        fs.utimesSync(staged, here.atime, here.mtime);
      }
    }
    // Children first made their parents' mtime new: set them again, deepest first.
    for (const dir of [...dirs].reverse()) {
      const here = fs.statSync(nodePath.join(root, dir), { throwIfNoEntry: false });
      if (here?.isDirectory()) fs.utimesSync(nodePath.join(stage, dir), here.atime, here.mtime);
    }
    const rules: FilterRule[] = [
      ...dirs.map((d): FilterRule => ({ kind: 'include', pattern: Buffer.from(`/${literal(d)}/`) })),
      ...paths.map((p): FilterRule => ({ kind: 'include', pattern: Buffer.from(`/${literal(p)}`) })),
      { kind: 'exclude', pattern: Buffer.from('*') },
    ];
    const summary = await copy({ sources: [`${stage}/`], destination: remote, recursive: true, delete: true, filter: new PathFilter(rules), ...options });
    if (summary.errors.length > 0) throw summary.errors[0]!;
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** Deletes these files (relative paths) in the remote folder, nothing else. */
export async function deleteThere(root: string, remote: string, paths: readonly string[], options: Pick<CopyOptions, 'ssh' | 'launcher' | 'bwlimit'>): Promise<void> {
  for (const batch of batches(paths)) await deleteBatch(root, remote, batch, options);
}
