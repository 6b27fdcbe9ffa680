/**
 * File-system events for a watched tree (@parcel/watcher: recursive, inotify on Linux, FSEvents,
 * ReadDirectoryChangesW), as paths relative to the root. Without it (no prebuilt binary for this
 * platform, too few inotify watches) the watch runs on rescans alone, and says so.
 */
import * as nodePath from 'node:path';
import type * as ParcelWatcher from '@parcel/watcher';

export interface EventSource {
  stop(): Promise<void>;
}

/**
 * Calls `changed` with each path (relative to `root`, bytes) an event names; the root itself is
 * left out. `lost`: the watcher failed, so events may have been lost.
 */
export async function watchEvents(root: Buffer, changed: (path: Buffer) => void, log: (line: string) => void, lost?: () => void): Promise<EventSource | undefined> {
  const dir = root.toString('utf8');
  let watcher: typeof ParcelWatcher;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    watcher = require('@parcel/watcher') as typeof ParcelWatcher;
    const subscription = await watcher.subscribe(dir, (err, events) => {
      if (err) {
        lost?.();
        return log(`watch: ${err.message}; rescans still catch every change`);
      }
      for (const event of events) {
        const rel = nodePath.relative(dir, event.path);
        if (rel.length > 0 && rel !== '..' && !rel.startsWith(`..${nodePath.sep}`)) changed(Buffer.from(rel.split(nodePath.sep).join('/')));
      }
    });
    return { stop: () => subscription.unsubscribe() };
  } catch (err) {
    log(`watch: no file-system events for ${dir} (${(err as Error).message}); changes are found by the rescans at --interval only`);
    return undefined;
  }
}
