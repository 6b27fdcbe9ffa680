/**
 * The receiving side of a local copy on a thread of its own (src/client/localCopy.ts starts it):
 * the ReceiveEngine, its file writer, journals and disk calls, joined to the sending engine on the
 * main thread by a ThreadBridge (threadLink.ts). Run as a worker's script; what it is to receive
 * comes as the worker's data.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FilterRulesMessage, ParamsMessage } from '../protocol/messages';
import { loadXxhash } from '../protocol/xxhash';
import { requestScope } from '../session/entryScope';
import { filterOfMessage } from '../sync/filterWire';
import type { SyncOptions } from '../sync/options';
import type { ItemReport } from '../sync/receiverSync';
import { resolveDestination } from './destination';
import { memoryCarrier, receiverLink, unhashed } from './memoryLink';
import { partialDirBytes, ReceiveEngine } from './receiver';
import { PostPort, ThreadBridge, withBuffers } from './threadLink';

/** The worker's data: what ReceiveEngine is made with in one thread, as values that cross. */
export interface ReceiveThreadSetup {
  params: ParamsMessage;
  idleMs: number;
  verify: boolean;
  destination: Buffer;
  flags: number;
  backupSuffix: Buffer | undefined;
  filterRules: FilterRulesMessage | undefined;
  sync: SyncOptions | undefined;
  partialDir: string | undefined;
  /** By connection index: ThreadBridge's windows. */
  windows: number[];
}

/** What the receiving thread tells the main thread besides messages. */
export type ReceiveThreadNote = { item: ItemReport } | { log: string } | { end: true };

async function receive(port: PostPort & { close(): void }, setup: ReceiveThreadSetup): Promise<void> {
  const carrier = memoryCarrier(setup.params);
  const bridge = new ThreadBridge({ port, ends: carrier.pairs.map((pair) => pair[0]), windows: setup.windows, sent: carrier.sent });
  const note = (value: ReceiveThreadNote): void => bridge.note(value);
  const xxh = await loadXxhash();
  const link = {
    ...receiverLink(carrier, setup.verify ? xxh : unhashed(xxh), setup.idleMs, (line) => note({ log: line })),
    returnChunk: (data: readonly Buffer[]) => bridge.giveBack(data),
    returnInline: (data: Buffer) => bridge.giveBack([data]),
  };
  const destination = resolveDestination(setup.destination, setup.flags);
  const scope = requestScope(setup.flags, destination.isDirectory);
  const mode = { flags: setup.flags, backupSuffix: setup.backupSuffix, filter: setup.filterRules && filterOfMessage(setup.filterRules), sync: setup.sync };
  const receiver = new ReceiveEngine(link, destination, scope, mode, { item: (item) => note({ item }) }, partialDirBytes(setup.partialDir));
  await receiver.run().catch(() => undefined);
  // The engine's last messages and its closes reach the bridge's ends on later turns: the end goes after them.
  await Promise.all(carrier.pairs.map((pair) => pair[0].whenClosed()));
  note({ end: true });
  bridge.flush();
  port.close();
}

if (parentPort) {
  const setup = withBuffers(workerData as ReceiveThreadSetup);
  if (setup.filterRules) withBuffers(setup.filterRules);
  void receive(parentPort as unknown as PostPort & { close(): void }, setup);
}
