/**
 * The stall watchdog's thread (src/cli/watchdog.ts), apart from what it watches, so that bin/fcp
 * can start it before it loads fcp's bundle. A worker takes tens of ms to start, and
 * process.exit waits for one that is still starting: started where the watchdog is set up, it
 * was still starting when a 1-byte local copy ended, whose exit then waited about 30 ms for it.
 * Started first, it starts while the bundle loads, on the other core; startWatchdog hands it what
 * to watch, in a message, before the command makes any disk call (a blocked main thread does not
 * keep the message from arriving). Until then it watches nothing.
 *
 * This file is not bundled for bin/fcp, which requires it from dist/src/cli: Node's modules and
 * src/showName.ts (which imports nothing) only. node:worker_threads is loaded when a thread is
 * started: the bundle has this file too, and fcp --version, --help and fcpd until its listen line
 * start none.
 */
import type { Worker } from 'node:worker_threads';
import { escapeNames } from '../showName';

/**
 * The worker: plain JavaScript, so that it runs the same from dist/ bundles and from ts-jest; it
 * escapes the stuck call's file name with the source of escapeNames (src/showName.ts).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { showName } = (${escapeNames.toString()})();
parentPort.once('message', (w) => {
  parentPort.unref();
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
});
`;

/** Starts the watchdog's thread, idle until it is posted what to watch (watchdog.ts); it does not keep the process alive. */
export function spawnWatchdogThread(): Worker {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // A few MB: it holds a timer and a dozen strings.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1 },
    stdout: true,
    stderr: true,
  });
  worker.on('error', () => undefined);
  worker.unref();
  return worker;
}
