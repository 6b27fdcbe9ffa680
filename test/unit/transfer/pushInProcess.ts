/**
 * `fcp -r work/src work/dst` in this process (dst/src, rsync's placement), plaintext, for tests of
 * the two engines together; and a record of every message they send each other.
 */
import * as path from 'node:path';
import { copyInProcess, LocalCopyOptions } from '../../../src/client/localCopy';
import { ModeFlag } from '../../../src/protocol/constants';
import type { Message } from '../../../src/protocol/messages';
import { makeOffer } from '../../../src/session/params';
import { MemoryConnection } from '../../../src/transfer/memoryLink';
import { streamSources } from '../../../src/transfer/walk';

/** The push of `sources` (below work) into work/dst; `extra`: more of copyInProcess's options (an offer, a sync, events). */
export function pushInProcess(work: string, extra: Partial<LocalCopyOptions> = {}, sources = ['src']): ReturnType<typeof copyInProcess> {
  const walk = streamSources(sources.map((source) => Buffer.from(path.join(work, source))), { recursive: true, followSymlinks: false });
  return copyInProcess({
    work: { kind: 'push', destination: Buffer.from(path.join(work, 'dst')), walk },
    flags: ModeFlag.RECURSIVE | ModeFlag.INTO_DIR,
    offer: makeOffer({ encrypt: false }),
    verify: true,
    log: () => undefined,
    ...extra,
  });
}

/** Every message the in-process engines send from now on, in order (until jest's mocks are restored). */
export function recordSent(): Message[] {
  const sent: Message[] = [];
  const send = MemoryConnection.prototype.send;
  jest.spyOn(MemoryConnection.prototype, 'send').mockImplementation(function (this: MemoryConnection, message: Message) {
    sent.push(message);
    return send.call(this, message);
  });
  return sent;
}
