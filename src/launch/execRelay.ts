/**
 * The relay of a copy between two remote hosts (PROTOCOL.md §9.1) over SSH exec channels, so that
 * it needs no TCP forwarding on the source host (scp -3 relays over its channels too).
 * `fcpd --connect` listens on a unix socket in a private (0700) directory; for each connection it
 * needs it asks fcp for one (a `relay` event), and fcp runs `fcpd --relay-pipe SOCKET` in a new exec
 * channel, which joins its standard input and output to that socket, while fcp joins the channel to
 * a connection to the destination's fcpd. Only sealed session bytes cross the pipe.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex, Readable, Writable } from 'node:stream';
import { FcpError } from '../errors';
import { shellWord } from '../ssh/remoteCommand';

/** What fcp runs on the source host for one relayed connection: this fcpd, piped to its socket. */
export interface PipeCommand {
  /** The source host's node, and fcpd's script, both absolute (those `fcpd --connect` runs as). */
  node: string;
  script: string;
  socket: string;
}

/** The remote command for one relayed connection, quoted for the source host's shell. */
export function pipeCommandLine(command: PipeCommand): string {
  return [command.node, command.script, '--relay-pipe', command.socket].map(shellWord).join(' ');
}

/** `fcpd --connect`'s side: connections arrive on the socket and go to whoever waits longest. */
export class RelaySocket {
  private readonly arrived: Duplex[] = [];
  private readonly waiting: Array<{ resolve(socket: Duplex): void; reject(error: FcpError): void; timer: NodeJS.Timeout }> = [];
  private readonly removeDir = (): void => fs.rmSync(this.dir, { recursive: true, force: true });

  private constructor(
    private readonly dir: string,
    private readonly server: net.Server,
    readonly command: PipeCommand,
  ) {
    server.on('connection', (socket) => {
      socket.on('error', () => undefined);
      const waiter = this.waiting.shift();
      if (!waiter) return void this.arrived.push(socket);
      clearTimeout(waiter.timer);
      waiter.resolve(socket);
    });
    // A killed fcpd still takes its directory along.
    process.once('exit', this.removeDir);
  }

  /** Listens in a new 0700 directory under the temporary directory; this process's node and script run the pipes. */
  static async open(): Promise<RelaySocket> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fcp-relay-'));
    const socket = path.join(dir, 's');
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socket, resolve);
      });
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new FcpError('FCP_ERR_IO', `cannot listen on a relay socket in ${dir}: ${(err as Error).message}`, { hint: 'set TMPDIR to a shorter, writable directory on the source host' });
    }
    return new RelaySocket(dir, server, { node: process.execPath, script: path.resolve(process.argv[1] ?? ''), socket });
  }

  /** The next connection to arrive (or one that already did), within `timeoutMs`. */
  accept(timeoutMs: number): Promise<Duplex> {
    const ready = this.arrived.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.findIndex((w) => w.timer === timer), 1);
        reject(new FcpError('FCP_ERR_TIMEOUT', `no relayed connection arrived from fcp within ${Math.round(timeoutMs / 1000)} s`, { hint: 'run with -v to see the relay channels' }));
      }, timeoutMs);
      this.waiting.push({ resolve, reject, timer });
    });
  }

  close(): void {
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new FcpError('FCP_ERR_CANCELLED', 'the relay closed'));
    }
    for (const socket of this.arrived.splice(0)) socket.destroy();
    this.server.close();
    process.off('exit', this.removeDir);
    this.removeDir();
  }
}

/**
 * `fcpd --relay-pipe SOCKET`: standard input to the socket, the socket to standard output, each
 * direction ended when its source ends. Resolves with the exit code once the socket closed.
 */
export function pipeStdioToSocket(socketPath: string, stdin: Readable, stdout: Writable): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    socket.on('error', (err) => reject(new FcpError('FCP_ERR_CONNECT', `cannot reach the relay socket ${socketPath}: ${err.message}`, { hint: 'fcpd --relay-pipe is started by fcp' })));
    socket.once('connect', () => {
      stdin.pipe(socket);
      socket.pipe(stdout);
      socket.once('close', () => {
        stdin.destroy();
        resolve(0);
      });
    });
  });
}
