/**
 * The main thread's side of a local copy's receiving thread (src/transfer/receiveThread.ts): starts
 * the worker, joins its engine to the carrier's receiving ends, gives back the buffers it is done
 * with, and passes on its item events and log lines. Its end, or its failure, settles `ended`.
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { packageRoot } from '../launch/packageRoot';
import type { ItemReport } from '../sync/receiverSync';
import type { MemoryCarrier } from '../transfer/memoryLink';
import type { ReceiveThreadNote, ReceiveThreadSetup } from '../transfer/receiveThread';
import { PostPort, SharedBuffers, ThreadBridge, withBuffers } from '../transfer/threadLink';

export interface ReceiveThread {
  /** Settles once the receiving engine's run has ended and its last messages were handed over, or the thread failed. */
  ended: Promise<void>;
}

export function startReceiveThread(
  setup: ReceiveThreadSetup,
  carrier: MemoryCarrier,
  shared: SharedBuffers,
  item: ((item: ItemReport) => void) | undefined,
  log: (line: string) => void,
): ReceiveThread {
  const worker = new Worker(path.join(packageRoot(), 'dist', 'src', 'transfer', 'receiveThread.js'), { workerData: setup });
  let done = false;
  let settle!: () => void;
  const ended = new Promise<void>((resolve) => (settle = resolve));
  const bridge = new ThreadBridge({
    port: worker as unknown as PostPort,
    ends: carrier.pairs.map((pair) => pair[1]),
    windows: setup.windows,
    sent: carrier.sent,
    shared,
    returned: (id) => {
      const view = shared.viewOf(id);
      if (!view) return;
      carrier.buffers.give([view]);
      carrier.inlineBuffers.give(view);
    },
    note: (value) => {
      const note = value as ReceiveThreadNote;
      if ('item' in note) item?.(withBuffers(note.item));
      else if ('log' in note) log(note.log);
      else {
        done = true;
        settle();
      }
    },
  });
  const lost = (why: string): void => {
    if (done) return;
    done = true;
    bridge.failAll(new FcpError('FCP_ERR_INTERNAL', `the receiving thread ${why}`));
    settle();
  };
  worker.on('error', (error) => lost(`failed: ${error.message}`));
  worker.on('exit', (code) => lost(`ended (exit code ${code}) before the copy did`));
  return { ended };
}
