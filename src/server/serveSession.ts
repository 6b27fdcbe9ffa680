/** fcpd --serve: one session for the fcp that launched this process, then exit. */
import type { FcpError } from '../errors';
import { loadXxhash } from '../protocol/xxhash';
import type { ServerPolicy } from '../session/params';
import type { TransferSummary } from '../transfer/link';
import { SessionServer } from './sessionServer';

export interface ServeOptions {
  secret: Buffer;
  bind?: string;
  port: number;
  policy?: ServerPolicy;
  log(line: string): void;
  listening(port: number, address: string): void;
}

export async function serveSession(options: ServeOptions): Promise<TransferSummary> {
  const server = new SessionServer({ xxh: await loadXxhash(), bind: options.bind, port: options.port, policy: options.policy, log: options.log });
  const address = await server.listen();
  const ended = server.register(options.secret);
  options.listening(address.port, address.address);
  const outcome = await ended;
  server.close();
  if (!outcome.ok) throw outcome.error as FcpError;
  return outcome.summary;
}
