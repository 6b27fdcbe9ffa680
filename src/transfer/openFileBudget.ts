/**
 * The descriptors this process may hold open for files: one budget, shared by every transfer
 * the process runs (a standing fcpd serves many at once), so that together they stay under the
 * soft open-file limit with room left for what is not a file. A receiver's temporary file, a
 * sender's open source and a momentary open of a small file each take one descriptor from it,
 * and give it back when they close. Transfers that wait take turns (DescriptorLine).
 *
 * An open that fails anyway for want of descriptors (EMFILE, ENFILE: the reserve was not enough)
 * is a wait, not a failure: no more descriptors are granted until one is given back, or, when
 * this process holds none, after a short backoff; only if nothing frees up for IDLE_TIMEOUT_MS
 * do the waiting transfers fail, with an error that names the limit.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { FcpError } from '../errors';
import { IDLE_TIMEOUT_MS } from '../timeouts';

/** Where the limit cannot be read (not Linux): macOS's default soft limit, the lowest common one. */
const FALLBACK_LIMIT = 256;
/** More files in flight than this buys nothing measurable (10,000 files over a 50 ms WAN). */
const MOST = 8192;
/**
 * Descriptors kept for what is opened later and is not a file: a session's 2 to 9 sockets
 * (control and data connections), fcpd's listening socket, the daemon's log and control socket,
 * fcp's SSH connection, a walk's directories; a daemon's concurrent sessions need more, hence an
 * eighth of the limit, at least 40. What is open when the budget is sized (Node's own 20 or so:
 * epoll, eventfds, signal pipe, stdio, the watchdog's thread; and whatever the parent left open
 * to this process) is counted, not guessed. Under a tiny limit the reserve is half of what is
 * left, so files still get some.
 */
const RESERVE_MIN = 40;
const RESERVE_SHARE = 8;
/** Waits before another open is tried when an open failed for want of descriptors and none is held. */
const BACKOFF_MIN_MS = 10;
const BACKOFF_MAX_MS = 1000;

/** The soft "Max open files" limit in a /proc/self/limits text: Infinity when unlimited, undefined when absent. */
export function softLimitFrom(limits: string | undefined): number | undefined {
  const soft = limits && /^Max open files\s+(\d+|unlimited)\s/m.exec(limits)?.[1];
  if (!soft) return undefined;
  return soft === 'unlimited' ? Infinity : Number(soft);
}

/**
 * Descriptors for files under a soft limit with `open` descriptors open already: what is left less
 * the reserve, at least 1, at most MOST.
 */
export function budgetFor(limit: number, open = 0): number {
  if (limit === Infinity) return MOST;
  const left = limit - open;
  const reserve = Math.min(Math.ceil(left / 2), Math.max(RESERVE_MIN, Math.ceil(limit / RESERVE_SHARE)));
  return Math.max(1, Math.min(MOST, left - reserve));
}

/** What a user out of descriptors can do. */
const RAISE_LIMIT_HINT = 'raise the open-file limit (ulimit -n) of fcp and fcpd, or run fewer copies at once';

/** The error of `what`, which failed for want of descriptors (EMFILE, ENFILE): said so, with what to do. */
export function noDescriptorsError(what: string, err: NodeJS.ErrnoException): FcpError {
  return new FcpError('FCP_ERR_IO', `${what}: out of file descriptors (${err.code})`, { hint: RAISE_LIMIT_HINT, cause: err });
}

/** True for an error (or an FcpError caused by one) that says the process or system is out of descriptors. */
export function outOfDescriptors(err: unknown): boolean {
  return isOutOfDescriptors((err as NodeJS.ErrnoException)?.code) || isOutOfDescriptors((err as { cause?: NodeJS.ErrnoException })?.cause?.code);
}

function isOutOfDescriptors(code: string | undefined): boolean {
  return code === 'EMFILE' || code === 'ENFILE';
}

export interface Waiter {
  /** One descriptor is now held for this waiter. */
  granted(): void;
  /** No descriptor freed up in time: this waiter gets none. */
  failed(error: FcpError): void;
}

export class OpenFileBudget {
  private held = 0;
  /** Descriptors that may be held now: the size, or fewer while the process is out of descriptors. */
  private room: number;
  private readonly waiters: Waiter[] = [];
  private granting = false;
  private backoffMs = BACKOFF_MIN_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  /** When opens began to fail for want of descriptors, until a descriptor is given back. */
  private starvedSince: number | undefined;

  constructor(
    readonly size: number,
    /** The soft limit, for messages. */
    readonly limit: number,
    private readonly stallTimeoutMs = IDLE_TIMEOUT_MS,
  ) {
    this.room = size;
  }

  /** Descriptors held now. */
  get inUse(): number {
    return this.held;
  }

  /** Takes a descriptor if one is free and nobody waits for one (waiters go first). */
  tryTake(): boolean {
    if (this.waiters.length > 0 || this.held >= this.room) return false;
    this.held++;
    return true;
  }

  /** Grants the waiter a descriptor once one is free, after every waiter that came before it. */
  wait(waiter: Waiter): void {
    this.waiters.push(waiter);
    this.grant();
  }

  /** The waiter waits no more. */
  cancel(waiter: Waiter): void {
    const at = this.waiters.indexOf(waiter);
    if (at >= 0) this.waiters.splice(at, 1);
  }

  /** A descriptor taken from this budget was closed (or not needed after all). */
  release(): void {
    this.held--;
    this.room = this.size;
    this.starvedSince = undefined;
    this.backoffMs = BACKOFF_MIN_MS;
    // Once per file: the loop and its guard only when someone waits.
    if (this.waiters.length > 0) this.grant();
  }

  /**
   * An open made with a descriptor of this budget failed for want of descriptors: that
   * descriptor is given back, and no more are granted until one held is released, or, when none
   * is held, until a backoff has passed.
   */
  starved(): void {
    this.held--;
    this.room = this.held;
    this.starvedSince ??= Date.now();
    if (this.held === 0) this.retryLater();
  }

  private retryLater(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.starvedSince === undefined) return;
      if (Date.now() - this.starvedSince >= this.stallTimeoutMs) return this.failWaiters();
      this.backoffMs = Math.min(BACKOFF_MAX_MS, this.backoffMs * 2);
      // One open is tried: it succeeds and holds (room is then restored on release), or starves again.
      this.room = Math.max(this.room, 1);
      this.grant();
    }, this.backoffMs);
    this.retryTimer.unref();
  }

  private failWaiters(): void {
    const seconds = Math.round(this.stallTimeoutMs / 1000);
    const error = new FcpError('FCP_ERR_IO', `out of file descriptors: no file could be opened for ${seconds} s (open-file limit ${this.limit})`, { hint: RAISE_LIMIT_HINT });
    this.room = this.size;
    this.starvedSince = undefined;
    this.backoffMs = BACKOFF_MIN_MS;
    for (const waiter of this.waiters.splice(0)) waiter.failed(error);
  }

  /** Grants free descriptors to waiters in order; not re-entered by what a grant does. */
  private grant(): void {
    if (this.granting) return;
    this.granting = true;
    try {
      while (this.waiters.length > 0 && this.held < this.room) {
        this.held++;
        this.waiters.shift()!.granted();
      }
    } finally {
      this.granting = false;
    }
  }
}

/**
 * One transfer's place in the budget: its uses of a descriptor run in order, each holding one;
 * transfers that wait take turns (one descriptor, then to the back of the line), so a transfer
 * with thousands of files announced does not keep another waiting until it is done.
 */
export class DescriptorLine {
  private readonly uses: (() => void)[] = [];
  private waiting = false;
  private closed = false;
  private readonly waiter: Waiter;

  /** `run` runs a use (guarded: a throw fails the transfer); `fail` ends the transfer. */
  constructor(
    readonly budget: OpenFileBudget,
    run: (use: () => void) => void,
    fail: (error: FcpError) => void,
  ) {
    this.waiter = {
      granted: () => {
        this.waiting = false;
        const use = this.uses.shift();
        if (this.closed || !use) return this.budget.release();
        this.queue();
        run(use);
      },
      failed: (error) => {
        this.waiting = false;
        this.uses.length = 0;
        fail(error);
      },
    };
  }

  /**
   * Runs use with one descriptor taken for it: at once when one is free and nobody waits, else in
   * turn. The use gives it back (budget.release()) when it closes what it opened, or at once if
   * it opened nothing; one whose open found no descriptor calls retry() instead.
   */
  take(use: () => void): void {
    if (this.takeNow()) return use();
    this.uses.push(use);
    this.queue();
  }

  /**
   * One descriptor taken now, when one is free and nobody waits (then true: the caller uses it
   * and gives it back as take's use does); false leaves the line as it was. For a use made for
   * every small file, which needs no function made for it when a descriptor is free.
   */
  takeNow(): boolean {
    return this.uses.length === 0 && !this.waiting && this.budget.tryTake();
  }

  /** The use's open failed for want of descriptors: its descriptor goes back, and it runs again first. */
  retry(use: () => void): void {
    this.budget.starved();
    this.uses.unshift(use);
    this.queue();
  }

  /** The transfer is over: nothing more of it runs, and it waits no more. */
  close(): void {
    this.closed = true;
    this.uses.length = 0;
    if (this.waiting) this.budget.cancel(this.waiter);
    this.waiting = false;
  }

  private queue(): void {
    if (this.waiting || this.closed || this.uses.length === 0) return;
    this.waiting = true;
    this.budget.wait(this.waiter);
  }
}

let processBudget: OpenFileBudget | undefined;

/**
 * This process's budget, sized once from its soft limit (/proc/self/limits) and the descriptors
 * it holds then (/proc/self/fd): a parent that leaves 30 of its own open to fcp under a limit of
 * 64 left too few for a budget sized from the limit alone, and the two engines of a copy in one
 * process each held half of descriptors that were not there (a 30 s stall, then FCP_ERR_IO).
 */
export function openFileBudget(): OpenFileBudget {
  if (!processBudget) {
    const limit = softLimitFrom(readLimits()) ?? FALLBACK_LIMIT;
    processBudget = new OpenFileBudget(budgetFor(limit, openDescriptors()), limit);
  }
  return processBudget;
}

/**
 * This process's budget as two halves, for the two engines of a local copy in one process: each
 * in-flight file holds a descriptor on both sides, so neither engine may take the descriptors
 * the other needs to finish the files it holds.
 */
export function halvesOfProcessBudget(): [OpenFileBudget, OpenFileBudget] {
  const whole = openFileBudget();
  const half = (): OpenFileBudget => new OpenFileBudget(Math.max(1, Math.floor(whole.size / 2)), whole.limit);
  return [half(), half()];
}

/** Descriptors this process holds now, 0 where /proc/self/fd cannot be read (not Linux). */
function openDescriptors(): number {
  try {
    // Less the one readdirSync holds on /proc/self/fd while it reads it.
    return Math.max(0, readdirSync('/proc/self/fd').length - 1);
  } catch {
    return 0;
  }
}

function readLimits(): string | undefined {
  try {
    return readFileSync('/proc/self/limits', 'latin1');
  } catch {
    return undefined;
  }
}
