/**
 * fcp --cancel ID --discard: the partial files (.NAME.fcp-part and its .journal and .lock) that a
 * cancelled job left at its destination are removed, so nothing of it stays behind: here for a
 * local destination, by fcpd --discard-partials over SSH for a remote one (remoteDiscard.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseLocation } from '../client/location';
import { discardPartialOf, discardPartialsUnder, discardWhenFree } from '../state/discardPartials';
import { JobSpec, specDestination } from './jobSpec';
import { discardRemotePartials } from './remoteDiscard';

/** Removes the job's partial files; a note for the log. */
export async function discardPartials(spec: JobSpec, log: (line: string) => void): Promise<string> {
  const destination = parseLocation(specDestination(spec));
  if (destination.kind === 'remote') return discardRemotePartials(spec, destination, log);
  const where = Buffer.from(path.resolve(spec.cwd, destination.path.toString()));
  const partialDir = spec.options.partialDir === undefined ? undefined : Buffer.from(spec.options.partialDir);
  const tally = await discardWhenFree((pass) => {
    if (fs.statSync(where, { throwIfNoEntry: false })?.isDirectory()) discardPartialsUnder(where, pass);
    // A file destination (or one not created yet): its directory holds the partial files.
    else discardPartialOf(where, partialDir, pass);
  });
  return `--discard: removed ${tally.removed} partial files${tally.busy > 0 ? `; ${tally.busy} kept, still being written` : ''}`;
}
