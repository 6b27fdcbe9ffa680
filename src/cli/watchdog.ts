/**
 * The stall watchdog of fcp and fcpd: every wait has a timeout, disk calls included.
 *
 * The receiver's metadata calls and small writes run on the main thread (fileWriter.ts says why:
 * through libuv's thread pool they cost more than the calls). A disk that stops answering blocks
 * such a call in the kernel, where no timer of the main thread can fire. So a worker thread
 * watches a tick the main thread bumps every HEARTBEAT_MS: when it has not moved for the idle
 * timeout and STALL_GRACE_MS, the worker writes FCP_ERR_TIMEOUT (naming the operation and file the
 * main thread is in, from src/diskWatch.ts, and this host) and ends the process with exit 7.
 *
 * Ending the process from a worker: a worker's process.exit ends only the worker, and a signal
 * would give its own exit status (a handler would run on the blocked main thread). WASI's
 * proc_exit with returnOnExit false calls the C library's exit(), which ends the whole process
 * with the code given, from any thread; it is the only way Node offers. Should WASI be missing,
 * SIGKILL ends the process all the same (exit status 137), after the message.
 *
 * Like kill -9, this leaves the part files and journals as they are on disk: a rerun resumes
 * what the journals vouch for (at most a flush interval less than was written).
 *
 * The commands start it; the library does not (it must never end the program that uses it).
 */
import * as os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { FcpError, exitCodeFor } from '../errors';
import { BUSY, MAX_NAME, MAX_OPERATION, NAME_LENGTH, NAME_OFFSET, OPERATION_LENGTH, OPERATION_OFFSET, shareDiskWatch, TICK } from '../diskWatch';
import { showText } from '../showName';
import { HEARTBEAT_MS, STALL_GRACE_MS, timeoutsFor } from '../timeouts';
import { errorText } from './lastResort';
import { errorRecord } from './reporter';
import { spawnWatchdogThread } from './watchdogThread';

/** Stands in the prepared message for "operation file", which only the worker knows. */
const PLACEHOLDER = '@OPERATION@';

/**
 * A WebAssembly module whose _start calls WASI's proc_exit(code): (import
 * "wasi_snapshot_preview1" "proc_exit"), a memory (WASI wants one), _start = i32.const code; call 0.
 */
function exitModule(code: number): Buffer {
  if (code < 0 || code > 63) throw new Error(`exit code ${code} does not fit one signed LEB128 byte`);
  const section = (id: number, body: Buffer): Buffer => Buffer.concat([Buffer.of(id, body.length), body]);
  const name = (text: string): Buffer => Buffer.concat([Buffer.of(text.length), Buffer.from(text, 'latin1')]);
  const FUNC = 0x60;
  const I32 = 0x7f;
  return Buffer.concat([
    Buffer.from('\0asm\x01\0\0\0', 'latin1'),
    section(1, Buffer.of(2, FUNC, 1, I32, 0, FUNC, 0, 0)),
    section(2, Buffer.concat([Buffer.of(1), name('wasi_snapshot_preview1'), name('proc_exit'), Buffer.of(0, 0)])),
    section(3, Buffer.of(1, 1)),
    section(5, Buffer.of(1, 0, 1)),
    section(7, Buffer.concat([Buffer.of(2), name('memory'), Buffer.of(2, 0), name('_start'), Buffer.of(0, 1)])),
    section(10, Buffer.of(1, 6, 0, 0x41, code, 0x10, 0, 0x0b)),
  ]);
}

export interface WatchdogOptions {
  program: 'fcp' | 'fcpd';
  /** --timeout in milliseconds (undefined: the default). */
  timeoutMs: number | undefined;
  /** fcp --json: the error is a JSON record on stdout. */
  json: boolean;
}

let started = false;
/** The thread bin/fcp started before it loaded the bundle (watchdogThread.ts), not yet watching. */
let early: Worker | undefined;

/** Takes the watchdog's thread started early; startWatchdog uses it instead of starting one. */
export function adoptWatchdogThread(thread: Worker): void {
  early = thread;
}

/** Starts the watchdog (once per process). */
export function startWatchdog(options: WatchdogOptions): void {
  if (started) return;
  started = true;
  const { idleMs } = timeoutsFor(options.timeoutMs);
  const host = showText(os.hostname());
  const seconds = idleMs / 1000;
  const hint = 'the disk stopped answering (a hung mount or a failing device): check it, then copy again; what was received is kept for the rerun to resume';
  const render = (message: string): string => {
    const error = new FcpError('FCP_ERR_TIMEOUT', message, { hint });
    return options.json ? `${JSON.stringify(errorRecord(error))}\n` : errorText(options.program, error, false);
  };
  const { buffer, state } = shareDiskWatch();
  const heartbeat = setInterval(() => Atomics.add(state.slots, TICK, 1), HEARTBEAT_MS);
  heartbeat.unref();
  const worker = early ?? spawnWatchdogThread();
  early = undefined;
  // Delivered to the thread even when this one is blocked from here on.
  worker.postMessage({
    buffer,
    slots: OPERATION_OFFSET / Int32Array.BYTES_PER_ELEMENT,
    operationOffset: OPERATION_OFFSET,
    maxOperation: MAX_OPERATION,
    nameOffset: NAME_OFFSET,
    maxName: MAX_NAME,
    tick: TICK,
    busy: BUSY,
    operationLength: OPERATION_LENGTH,
    nameLength: NAME_LENGTH,
    checkMs: HEARTBEAT_MS,
    quietChecks: Math.ceil((idleMs + STALL_GRACE_MS) / HEARTBEAT_MS),
    json: options.json,
    fd: options.json ? 1 : 2,
    placeholder: PLACEHOLDER,
    inOperation: render(`cannot ${PLACEHOLDER} on ${host}: the disk did not answer within ${seconds} s`),
    stuck: render(`no progress for ${seconds} s on ${host}: a system call did not return`),
    exitModule: exitModule(exitCodeFor('FCP_ERR_TIMEOUT')).toString('base64'),
  });
}
