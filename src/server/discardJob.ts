/**
 * fcpd --discard-partials (PROTOCOL.md §9.2): removes the partial state a cancelled job left at
 * this host's destination, found where the job's receiver placed its entries (the same
 * resolveDestination), under the job's top-level names only, and only part files with their
 * journals and locks. The destination is checked against fcpd's policy as a push's is.
 */
import * as fs from 'node:fs';
import type { DiscardOrder } from '../launch/discardOrder';
import { ModeFlag } from '../protocol/constants';
import { DiscardTally, discardPartialOf, discardPartialsUnder, discardWhenFree, newTally } from '../state/discardPartials';
import { Destination, resolveDestination } from '../transfer/destination';
import { AccessPolicy, realPath } from './policy';
import { expandHome } from './userPaths';

function discardOnce(destination: Destination, order: DiscardOrder, partialDir: Buffer | undefined, tally: DiscardTally): void {
  for (const name of order.names) {
    const local = destination.localPath(name);
    if (order.flags & ModeFlag.RECURSIVE && fs.lstatSync(local, { throwIfNoEntry: false })?.isDirectory()) discardPartialsUnder(local, tally);
    else discardPartialOf(local, partialDir, tally);
  }
}

export async function discardJobPartials(order: DiscardOrder, partialDir: Buffer | undefined, access: AccessPolicy): Promise<DiscardTally> {
  const target = expandHome(order.destination);
  const refusal = access.checksPaths ? access.pushRefusal(realPath(target)) : undefined;
  if (refusal) throw refusal;
  let destination: Destination;
  try {
    // Where the job wrote: what --mkpath would have made is not made for a discard.
    destination = resolveDestination(target, order.flags & ~ModeFlag.MKPATH);
  } catch {
    // No destination the job could have written into: nothing of it is there.
    return newTally();
  }
  return discardWhenFree((tally) => discardOnce(destination, order, partialDir, tally));
}
