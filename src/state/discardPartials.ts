/**
 * Removing the partial state a cancelled job left (fcp --cancel ID --discard): a part file with
 * its journal and lock (partialFile.ts), and nothing else. A part file whose lock a running
 * process holds (a receiver still writing it) is left and counted as busy.
 */
import * as fs from 'node:fs';
import { partCompanions, PART_SUFFIX, partialPaths } from './partialFile';
import { takePidLock } from './pidLock';

/** What a discard did: files removed, part files left because a running process writes them. */
export interface DiscardTally {
  removed: number;
  busy: number;
}

/** A part file or one of its companions: `.NAME.fcp-part`, `.journal`, `.lock`; group 1 is the part file's name. */
export const PARTIAL_NAME = new RegExp(`^(\\..+${PART_SUFFIX.replace('.', '\\.')})(?:\\.journal|\\.lock)?$`, 's');
/** A tree deeper than this is not searched further. */
const MAX_DEPTH = 64;
/** A part file still locked (the cancelled job's receiver has not let go yet) is tried again for this long. */
const BUSY_WAIT_MS = 5000;
const BUSY_POLL_MS = 250;

export const newTally = (): DiscardTally => ({ removed: 0, busy: 0 });

function isFile(path: Buffer): boolean {
  return fs.lstatSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

/** Removes one part file's state, unless a running process holds its lock. */
export function discardPaths(paths: ReturnType<typeof partCompanions>, tally: DiscardTally): void {
  const present = [paths.part, paths.journal, paths.lock].filter(isFile);
  if (present.length === 0) return;
  if (!takePidLock(paths.lock)) {
    tally.busy++;
    return;
  }
  for (const file of [paths.part, paths.journal, paths.lock]) fs.rmSync(file, { force: true });
  tally.removed += present.length;
}

/** The partial state of destination file `final` (beside it, or in `partialDir` under its directory). */
export function discardPartialOf(final: Buffer, partialDir: Buffer | undefined, tally: DiscardTally): void {
  discardPaths(partialPaths(final, partialDir), tally);
}

/** Every part file's state under directory `dir` (its --partial-dir included), symlinks not followed. */
export function discardPartialsUnder(dir: Buffer, tally: DiscardTally, depth = 0): void {
  let entries: fs.Dirent<Buffer>[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true, encoding: 'buffer' });
  } catch {
    return;
  }
  const parts = new Set<string>();
  for (const entry of entries) {
    const full = Buffer.concat([dir, Buffer.from('/'), entry.name]);
    if (entry.isDirectory() && depth < MAX_DEPTH) discardPartialsUnder(full, tally, depth + 1);
    const match = entry.isFile() ? PARTIAL_NAME.exec(entry.name.toString('latin1')) : null;
    if (match) parts.add(match[1]!);
  }
  for (const part of parts) {
    discardPaths(partCompanions(Buffer.concat([dir, Buffer.from('/'), Buffer.from(part, 'latin1')])), tally);
  }
}

/**
 * Runs `pass` (one of the discards above into the tally it is given) until no part file it met is
 * busy, or for at most BUSY_WAIT_MS: a cancelled job's receiver (fcpd) may outlive its fcp briefly.
 */
export async function discardWhenFree(pass: (tally: DiscardTally) => void): Promise<DiscardTally> {
  const total = newTally();
  for (const deadline = Date.now() + BUSY_WAIT_MS; ; ) {
    const tally = newTally();
    pass(tally);
    total.removed += tally.removed;
    total.busy = tally.busy;
    if (tally.busy === 0 || Date.now() >= deadline) return total;
    await new Promise((resolve) => setTimeout(resolve, BUSY_POLL_MS));
  }
}
