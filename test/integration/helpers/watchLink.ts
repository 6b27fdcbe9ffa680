/**
 * What the watch tests share: a poll with a deadline, a local fcpd for several sessions that
 * counts its launches, and a TCP proxy in front of it that can take the link away (offline) and
 * give it back.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { localLauncher } from '../../../src';
import type { Launcher, LaunchedServer } from '../../../src/launch/launcher';
import { dial } from './run';

/**
 * Polls `check` until it holds; fails with `what` after `ms`. A check that reads a tree while a
 * sync is changing it can meet a name removed between its listing and its read (ENOENT, ENOTDIR):
 * that is "not yet", not a failure.
 */
export async function waitFor(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  const holds = (): boolean => {
    try {
      return check();
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
      throw err;
    }
  };
  while (!holds()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A local fcpd for several sessions, counting launches; connections through `via` when given. */
export function countingLauncher(via?: () => ToggleProxy): { launcher: Launcher; launches: () => number } {
  let launches = 0;
  const launcher: Launcher = {
    async launch(secret, log): Promise<LaunchedServer> {
      launches++;
      const inner = await localLauncher({ reuseS: 60 }).launch(secret, log);
      const proxy = via?.();
      if (proxy) proxy.upstream = () => inner.connect();
      return proxy ? { ...innerView(inner), connect: () => dial(proxy.port) } : inner;
    },
  };
  return { launcher, launches: () => launches };
}

/** The launched server's fields as a plain object (its methods bound to it). */
function innerView(inner: LaunchedServer): LaunchedServer {
  return { name: inner.name, controlNonce: inner.controlNonce, connect: () => inner.connect(), close: (failed) => inner.close(failed) };
}

/** A TCP proxy that can drop every connection and refuse new ones (offline) until put back online. */
export interface ToggleProxy {
  port: number;
  upstream: () => Promise<Duplex>;
  offline(): void;
  online(): void;
  close(): Promise<void>;
}

export async function toggleProxy(): Promise<ToggleProxy> {
  const open = new Set<Duplex>();
  let up = true;
  const proxy: ToggleProxy = {
    port: 0,
    upstream: () => Promise.reject(new Error('no fcpd yet')),
    offline() {
      up = false;
      for (const socket of open) socket.destroy();
    },
    online() {
      up = true;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = net.createServer((client) => {
    if (!up) return client.destroy();
    open.add(client);
    client.on('close', () => open.delete(client)).on('error', () => client.destroy());
    proxy.upstream().then(
      (upstream) => {
        open.add(upstream);
        upstream.on('close', () => open.delete(upstream)).on('error', () => client.destroy());
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as net.AddressInfo).port;
  return proxy;
}

