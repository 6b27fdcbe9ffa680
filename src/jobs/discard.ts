/**
 * fcp --cancel ID --discard: the partial files (.NAME.fcp-part and its .journal and .lock) that a
 * cancelled job left at a local destination are removed, so nothing of it stays behind. A remote
 * destination's are left (the runner has no session on that host once the job is cancelled).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseLocation } from '../client/location';
import { PART_SUFFIX, partialPaths } from '../state/partialFile';
import { JobSpec, specDestination } from './jobSpec';

/** A partial file or one of its companions: `.NAME.fcp-part`, `.journal`, `.lock`. */
const PARTIAL_NAME = new RegExp(`^\\..+${PART_SUFFIX.replace('.', '\\.')}(\\.journal|\\.lock)?$`, 's');
/** A tree deeper than this is not searched further. */
const MAX_DEPTH = 64;

function removeUnder(dir: string, depth: number, removed: { count: number }): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && depth < MAX_DEPTH) removeUnder(full, depth + 1, removed);
    else if (entry.isFile() && PARTIAL_NAME.test(entry.name)) {
      fs.rmSync(full, { force: true });
      removed.count++;
    }
  }
}

/** Removes the job's partial files at a local destination; notes for the log. */
export function discardPartials(spec: JobSpec): string[] {
  const destination = parseLocation(specDestination(spec));
  if (destination.kind === 'remote') return ['--discard: the partial files on the remote host are kept'];
  const where = path.resolve(spec.cwd, destination.path.toString());
  let isDirectory = false;
  try {
    isDirectory = fs.statSync(where).isDirectory();
  } catch {
    /* a file destination not created yet: its directory holds the partial files */
  }
  const removed = { count: 0 };
  if (isDirectory) removeUnder(where, 0, removed);
  else {
    const partial = partialPaths(Buffer.from(where), spec.options.partialDir === undefined ? undefined : Buffer.from(spec.options.partialDir));
    for (const file of [partial.part, partial.journal, partial.lock]) {
      if (fs.existsSync(file)) removed.count++;
      fs.rmSync(file, { force: true });
    }
  }
  return [`--discard: removed ${removed.count} partial files`];
}
