/**
 * Which disk operation the main thread is in, shared with the stall watchdog (src/cli/watchdog.ts).
 *
 * The receiver's metadata calls and small writes are synchronous (fileWriter.ts says why), so a
 * disk that stops answering (an NFS hard mount, a stuck USB device) blocks the main thread in the
 * kernel, where no timer can fire. The watchdog, on its own thread, notices that the main thread
 * stopped ticking and ends the process with FCP_ERR_TIMEOUT; what it names comes from here: the
 * operation and file the main thread entered last and has not left.
 *
 * A process without a watchdog (the Node API, tests) runs the calls and records nothing.
 */
/**
 * Int32 slots of the shared state: the main thread's tick, whether it is in a disk operation, the
 * lengths of the operation's text and of the file's name.
 */
export const TICK = 0;
export const BUSY = 1;
export const OPERATION_LENGTH = 2;
export const NAME_LENGTH = 3;
const SLOTS = 4;
/** Where the operation's text starts, after the slots, and its longest (ours: a few words). */
export const OPERATION_OFFSET = SLOTS * Int32Array.BYTES_PER_ELEMENT;
export const MAX_OPERATION = 64;
/**
 * Where the file's name starts, and its longest: a longer one is cut. The name is kept as the raw
 * bytes of the path (a copy, two per file): the watchdog escapes it (showName) only when it
 * reports, rather than the main thread for every file in case a call sticks.
 */
export const NAME_OFFSET = OPERATION_OFFSET + MAX_OPERATION;
export const MAX_NAME = 1024;
/** The operation that FCP_TEST_HANG_DISK names never returns: a test's hung disk. */
export const HANG_DISK_ENV = 'FCP_TEST_HANG_DISK';

export interface DiskWatchState {
  slots: Int32Array;
  /** The operation's text (UTF-8), and the name's bytes. */
  operation: Buffer;
  name: Uint8Array;
}

let shared: DiskWatchState | undefined;
/** What the text holds now: set again only when the operation or the file changes. */
let shownOperation = '';
let shownPath: Buffer | undefined;
/** A test's hung disk hangs whether or not a watchdog watches yet (fcpd starts its own late). */
const hangOn = process.env[HANG_DISK_ENV] || undefined;

/** Shared memory for the watchdog, recorded into from now on. */
export function shareDiskWatch(): { buffer: SharedArrayBuffer; state: DiskWatchState } {
  const buffer = new SharedArrayBuffer(NAME_OFFSET + MAX_NAME);
  shared = {
    slots: new Int32Array(buffer, 0, SLOTS),
    operation: Buffer.from(buffer, OPERATION_OFFSET, MAX_OPERATION),
    name: new Uint8Array(buffer, NAME_OFFSET, MAX_NAME),
  };
  return { buffer, state: shared };
}

/** Runs `call`, a synchronous file system call: `operation` (as fsError words it) on `path`. */
export function onDisk<T>(operation: string, path: Buffer, call: () => T): T {
  const outer = enterDisk(operation, path);
  try {
    return call();
  } finally {
    leaveDisk(outer);
  }
}

/**
 * onDisk without a function to call, for a path taken by every small file (no closure a call):
 * the calls that follow are `operation` on `path` until leaveDisk, given what this returned, in a
 * `finally`.
 */
export function enterDisk(operation: string, path: Buffer): number {
  if (!shared) {
    if (operation === hangOn) hang();
    return 0;
  }
  if (operation !== shownOperation) recordOperation(shared, operation);
  if (path !== shownPath) recordName(shared, path);
  // Nested in another: that one is still under way when this one returns.
  const outer = Atomics.exchange(shared.slots, BUSY, 1);
  if (operation === hangOn) hang();
  return outer;
}

/** The disk operation enterDisk began is over; `outer` is what enterDisk returned. */
export function leaveDisk(outer: number): void {
  if (shared) Atomics.store(shared.slots, BUSY, outer);
}

/** Each operation's text as UTF-8, cut to MAX_OPERATION (a few dozen fixed strings). */
const operationBytes = new Map<string, Buffer>();

function recordOperation(state: DiskWatchState, operation: string): void {
  shownOperation = operation;
  let bytes = operationBytes.get(operation);
  if (!bytes) operationBytes.set(operation, (bytes = Buffer.from(operation).subarray(0, MAX_OPERATION)));
  state.operation.set(bytes);
  Atomics.store(state.slots, OPERATION_LENGTH, bytes.length);
}

function recordName(state: DiskWatchState, path: Buffer): void {
  shownPath = path;
  const length = Math.min(path.length, MAX_NAME);
  state.name.set(length === path.length ? path : path.subarray(0, length));
  Atomics.store(state.slots, NAME_LENGTH, length);
}

/** Blocks the main thread for good, as a call into a disk that never answers does. */
function hang(): never {
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
