/**
 * fcp and fcpd run without V8's incremental marking. A command's live heap is small (11-12 MB,
 * most of it the bundle's code), so V8 sets the old generation's limit near twice that, and the
 * room left under it is smaller than the young generation: on each check V8 found the limit
 * "reached" and started marking again as soon as the last full collection ended. A 1 GiB copy
 * over loopback ran 40-85 full collections on each side (one every 50 ms), each marking the whole
 * heap on the main thread and on a helper thread: 0.9-1.2 CPU s per GiB a side, a quarter of what
 * the receiver spends. Without incremental marking the old generation is collected when it is
 * really full (atomically: about 10 ms at this size), and the buffers a transfer allocates for
 * every frame (node:crypto's output, socket reads) die young in scavenges: one full collection
 * per GiB. The flag is read at every allocation-limit check, so setting it at run time works.
 *
 * V8 stamps a code cache with a hash of its flags, and bin/ saves one after the command: a cache
 * made with the flag changed would be rejected by the next start, which would compile everything
 * again. The default is set back before that.
 */
import { setFlagsFromString } from 'node:v8';

/** From now on, full collections only when the old generation is full. */
export function collectOldSpaceWhenFull(): void {
  setFlagsFromString('--no-incremental-marking');
}

/** V8's default back, as the flags a code cache is stamped with must be. */
export function defaultMarking(): void {
  setFlagsFromString('--incremental-marking');
}
