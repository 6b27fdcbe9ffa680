/**
 * How many files a transfer may hold open at once in this process: half its descriptor limit
 * (the rest is for sockets, Node and the libuv pool), from /proc/self/limits. Each file in the
 * sender's window is open on both sides until it is acknowledged, so the window and the
 * receiver's open temporaries stay within this.
 */
import * as fs from 'node:fs';

/** Where the limit cannot be read (not Linux): a budget that fits the common soft limit of 1024. */
const FALLBACK = 512;
/** More in flight than this buys nothing measurable (10,000 files over a 50 ms WAN). */
const MOST = 8192;

let cached: number | undefined;

export function openFileBudget(): number {
  cached ??= budgetFrom(readLimits());
  return cached;
}

function readLimits(): string | undefined {
  try {
    return fs.readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return undefined;
  }
}

/** The budget for a /proc/self/limits text: half the soft "Max open files" limit, 256..8192. */
export function budgetFrom(limits: string | undefined): number {
  const soft = limits && /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)?.[1];
  if (!soft) return FALLBACK;
  const limit = soft === 'unlimited' ? Infinity : Number(soft);
  return Math.max(256, Math.min(MOST, Math.floor(limit / 2)));
}
