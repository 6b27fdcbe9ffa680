/**
 * Bounds the connections fcpd holds before they authenticate, per source address and in total,
 * so that a flood of connections that never authenticate (or do so slowly) cannot use up its
 * descriptors or memory: the excess is closed at once, the rest by the handshake timeout, and
 * a client that authenticates is not counted any more (PROTOCOL.md §12).
 */
import * as fs from 'node:fs';
import { MAX_CONNECTIONS } from '../protocol/constants';

/** Two clients starting sessions at once from one address, each with its control and 64 data connections. */
export const PREAUTH_PER_ADDRESS = 2 * (MAX_CONNECTIONS + 1);
export const PREAUTH_TOTAL = 1024;

/**
 * The soft limit on this process's open files (Linux: /proc/self/limits), or undefined where it
 * cannot be read. Node has no getrlimit.
 */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const match = /^Max open files\s+(\d+)/m.exec(fs.readFileSync(limits, 'latin1'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The total bound: PREAUTH_TOTAL, but at most half the open-file limit, so that a flood of
 * unauthenticated connections can never take the descriptors that sessions, their files and the
 * listener need (at `ulimit -n 1024` the flood would otherwise meet EMFILE first).
 */
export function preAuthTotal(limit: number | undefined): number {
  return limit === undefined ? PREAUTH_TOTAL : Math.max(1, Math.min(PREAUTH_TOTAL, Math.floor(limit / 2)));
}

export class PreAuthGate {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly perAddress = PREAUTH_PER_ADDRESS,
    private readonly limit = preAuthTotal(openFileLimit()),
  ) {}

  /** Counts a new connection from `address`; false (not counted) when either bound is reached. */
  admit(address: string): boolean {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress >= this.perAddress || this.total >= this.limit) return false;
    this.byAddress.set(address, fromAddress + 1);
    this.total++;
    return true;
  }

  /** A connection admitted from `address` authenticated, failed or closed. */
  release(address: string): void {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (fromAddress <= 1) this.byAddress.delete(address);
    else this.byAddress.set(address, fromAddress - 1);
    this.total--;
  }
}
