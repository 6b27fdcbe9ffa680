/**
 * fcp --cancel ID --discard for a job whose destination is remote (PROTOCOL.md §9.2): the order
 * the job runner hands `fcpd --discard-partials` on its standard input (where the job wrote, and
 * the names it wrote there), and the line fcpd answers with. Checked as the connect order is.
 */
import { FcpError } from '../errors';
import { checkEntryPath } from '../protocol/paths';
import type { DiscardTally } from '../state/discardPartials';
import { count, list, modeFlags, parseJson, pathBytes } from './connectOrder';

export interface DiscardOrder {
  /** The job's destination, as its PUSH named it (~ expanded by fcpd). */
  destination: Buffer;
  /** The job's MODE flags: where its entries were placed (CONTENTS, INTO_DIR, DEST_IS_DIR, RECURSIVE). */
  flags: number;
  /** The job's top-level entry names (its sources' names): only their partial state is removed. */
  names: Buffer[];
}

const ORDER_WORD = 'FCP-DISCARD ';
const DONE_WORD = 'FCP-DISCARDED ';
/** An order names at most this many sources (and must fit one line: MAX_ORDER_BYTES). */
export const MAX_DISCARD_NAMES = 1024;

export function discardOrderLine(order: DiscardOrder): string {
  const json = { destination: order.destination.toString('base64'), flags: order.flags, names: order.names.map((name) => name.toString('base64')) };
  return `${ORDER_WORD}${JSON.stringify(json)}\n`;
}

/** The order on fcpd --discard-partials's standard input; anything else is a usage error (fcp writes it). */
export function parseDiscardOrderLine(line: string): DiscardOrder {
  const json = parseJson(line.trim(), ORDER_WORD, 'discard order');
  if (!json) {
    throw new FcpError('FCP_ERR_USAGE', 'fcpd --discard-partials expected "FCP-DISCARD {...}" on its standard input', {
      hint: 'it is started by fcp --cancel ID --discard',
    });
  }
  const names = list(json.names, MAX_DISCARD_NAMES, 'names').map((value) => {
    const name = pathBytes(value, 'name');
    // One component: a name that is not one could reach beyond the job's own entries.
    checkEntryPath(name);
    if (name.includes(0x2f)) throw new FcpError('FCP_ERR_BAD_PATH', 'a discard order name has a /');
    return name;
  });
  return { destination: pathBytes(json.destination, 'destination'), flags: modeFlags(json.flags), names };
}

export function discardedLine(tally: DiscardTally): string {
  return `${DONE_WORD}${JSON.stringify(tally)}\n`;
}

/** fcpd --discard-partials's answer; undefined for any other line. */
export function parseDiscardedLine(line: string): DiscardTally | undefined {
  const json = parseJson(line.trim(), DONE_WORD, 'answer from fcpd --discard-partials');
  return json && { removed: count(json.removed, 'removed count'), busy: count(json.busy, 'busy count') };
}
