/**
 * The delay before fcpd answers a failed daemon login (unknown user, wrong token, module not
 * allowed): it doubles with each failure from one address, up to a cap, and an address that has
 * not failed for a quiet period starts again from the first delay. With the pre-login caps of
 * admission.ts (connections held before they authenticate, per address), it bounds how fast one
 * address can guess. Pure: the clock comes in.
 */

export const LOGIN_DELAY_FIRST_MS = 500;
export const LOGIN_DELAY_CAP_MS = 8_000;
/** An address without failures for this long is forgotten. */
export const LOGIN_DELAY_QUIET_MS = 10 * 60_000;
/** Addresses remembered at most (a flood from many addresses does not grow the table without bound). */
export const LOGIN_DELAY_ADDRESSES = 10_000;

interface Failures {
  count: number;
  last: number;
}

export class LoginDelay {
  private readonly byAddress = new Map<string, Failures>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limits = { firstMs: LOGIN_DELAY_FIRST_MS, capMs: LOGIN_DELAY_CAP_MS, quietMs: LOGIN_DELAY_QUIET_MS, addresses: LOGIN_DELAY_ADDRESSES },
  ) {}

  /** A login from `address` failed: how long to wait before answering it. */
  failed(address: string): number {
    const now = this.now();
    const known = this.byAddress.get(address);
    const count = known && now - known.last < this.limits.quietMs ? known.count + 1 : 1;
    // Re-inserted, so the map stays ordered by last failure: the oldest go first when it is full.
    this.byAddress.delete(address);
    this.byAddress.set(address, { count, last: now });
    for (const [oldest] of this.byAddress) {
      if (this.byAddress.size <= this.limits.addresses) break;
      this.byAddress.delete(oldest);
    }
    return Math.min(this.limits.capMs, this.limits.firstMs * 2 ** Math.min(count - 1, 30));
  }
}
