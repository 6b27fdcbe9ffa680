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
import { showName } from './showName';

/** Int32 slots of the shared state: the main thread's tick, whether it is in a disk operation, the text's length. */
export const TICK = 0;
export const BUSY = 1;
export const TEXT_LENGTH = 2;
/** Where the text starts, after the slots. */
export const TEXT_OFFSET = 3 * Int32Array.BYTES_PER_ELEMENT;
/** Longest text kept ("operation name"), in bytes: a longer one is cut. */
export const MAX_TEXT = 1024;
/** The operation that FCP_TEST_HANG_DISK names never returns: a test's hung disk. */
export const HANG_DISK_ENV = 'FCP_TEST_HANG_DISK';

export interface DiskWatchState {
  slots: Int32Array;
  text: Uint8Array;
}

let shared: DiskWatchState | undefined;
/** What the text holds now: set again only when the operation or the file changes. */
let shownOperation = '';
let shownPath: Buffer | undefined;
let shownName = '';
const encoder = new TextEncoder();
let hangOn: string | undefined;

/** Shared memory for the watchdog, recorded into from now on. */
export function shareDiskWatch(): { buffer: SharedArrayBuffer; state: DiskWatchState } {
  const buffer = new SharedArrayBuffer(TEXT_OFFSET + MAX_TEXT);
  shared = { slots: new Int32Array(buffer, 0, TEXT_OFFSET / Int32Array.BYTES_PER_ELEMENT), text: new Uint8Array(buffer, TEXT_OFFSET, MAX_TEXT) };
  hangOn = process.env[HANG_DISK_ENV] || undefined;
  return { buffer, state: shared };
}

/** Runs `call`, a synchronous file system call: `operation` (as fsError words it) on `path`. */
export function onDisk<T>(operation: string, path: Buffer, call: () => T): T {
  if (!shared) return call();
  if (operation !== shownOperation || path !== shownPath) record(shared, operation, path);
  // Nested in another: that one is still under way when this one returns.
  const outer = Atomics.exchange(shared.slots, BUSY, 1);
  try {
    if (operation === hangOn) hang();
    return call();
  } finally {
    Atomics.store(shared.slots, BUSY, outer);
  }
}

function record(state: DiskWatchState, operation: string, path: Buffer): void {
  // Several operations in turn on one file (create, write, finish) escape its name once.
  if (path !== shownPath) shownName = showName(path);
  shownOperation = operation;
  shownPath = path;
  const { written } = encoder.encodeInto(`${operation} ${shownName}`, state.text);
  Atomics.store(state.slots, TEXT_LENGTH, written);
}

/** Blocks the main thread for good, as a call into a disk that never answers does. */
function hang(): never {
  for (;;) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
