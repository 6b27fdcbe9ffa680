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
import { Worker } from 'node:worker_threads';
import { FcpError, exitCodeFor } from '../errors';
import { BUSY, MAX_NAME, MAX_OPERATION, NAME_LENGTH, NAME_OFFSET, OPERATION_LENGTH, OPERATION_OFFSET, shareDiskWatch, TICK } from '../diskWatch';
import { escapeNames, showText } from '../showName';
import { HEARTBEAT_MS, STALL_GRACE_MS, timeoutsFor } from '../timeouts';
import { errorText } from './lastResort';
import { errorRecord } from './reporter';

/** Stands in the prepared message for "operation file", which only the worker knows. */
const PLACEHOLDER = '@OPERATION@';

/**
 * The worker: plain JavaScript, so that it runs the same from dist/ bundles and from ts-jest; it
 * escapes the stuck call's file name with the source of escapeNames (src/showName.ts).
 */
const WORKER_SOURCE = `
const { workerData: w } = require('node:worker_threads');
const fs = require('node:fs');
const { showName } = (${escapeNames.toString()})();
const slots = new Int32Array(w.buffer, 0, w.slots);
const operation = Buffer.from(w.buffer, w.operationOffset, w.maxOperation);
const name = Buffer.from(w.buffer, w.nameOffset, w.maxName);
let last = Atomics.load(slots, w.tick);
let quiet = 0;
setInterval(() => {
  const tick = Atomics.load(slots, w.tick);
  if (tick !== last) {
    last = tick;
    quiet = 0;
    return;
  }
  if (++quiet < w.quietChecks) return;
  let line = w.stuck;
  if (Atomics.load(slots, w.busy) === 1) {
    const file = showName(Buffer.from(name.subarray(0, Atomics.load(slots, w.nameLength))));
    const what = operation.toString('utf8', 0, Atomics.load(slots, w.operationLength)) + ' ' + file;
    line = w.inOperation.replace(w.placeholder, w.json ? JSON.stringify(what).slice(1, -1) : what);
  }
  try {
    fs.writeSync(w.fd, line);
  } catch {}
  try {
    const { WASI } = require('node:wasi');
    const wasi = new WASI({ version: 'preview1', returnOnExit: false });
    wasi.start(new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(w.exitModule, 'base64')), wasi.getImportObject()));
  } catch {}
  process.kill(process.pid, 'SIGKILL');
}, w.checkMs);
`;

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
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
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
    },
    // A few MB: it holds a timer and a dozen strings.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    stdout: true,
    stderr: true,
  });
  worker.on('error', () => undefined);
  worker.unref();
}
