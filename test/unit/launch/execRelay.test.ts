/** The exec-channel relay's two ends on the source host (execRelay.ts): fcpd --connect's socket and fcpd --relay-pipe. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Duplex } from 'node:stream';
import { pipeCommandLine, pipeStdioToSocket, RelaySocket } from '../../../src/launch/execRelay';
import { FcpError } from '../../../src/errors';

const read = (stream: NodeJS.ReadableStream, bytes: number): Promise<Buffer> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length >= bytes) {
        stream.off('data', onData);
        resolve(all);
      }
    };
    stream.on('data', onData);
  });

describe('the relay socket and the pipe', () => {
  let relay: RelaySocket;
  beforeEach(async () => {
    relay = await RelaySocket.open();
  });
  afterEach(() => relay.close());

  it('listens in a private directory that close removes', () => {
    const dir = path.dirname(relay.command.socket);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(relay.command.socket).isSocket()).toBe(true);
    expect(relay.command.node).toBe(process.execPath);
    relay.close();
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('joins a pipe\'s stdin and stdout to the connection fcpd --connect accepts, both ways, and the pipe ends with it', async () => {
    const accepted = relay.accept(5000);
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    const piped = pipeStdioToSocket(relay.command.socket, stdin, stdout);
    const socket: Duplex = await accepted;
    const up = Buffer.from([0, 1, 2, 255, 10, 13]);
    stdin.write(up);
    expect(await read(socket, up.length)).toEqual(up);
    const down = Buffer.alloc(100_000, 0xab);
    socket.write(down);
    expect(await read(stdout, down.length)).toEqual(down);
    socket.end();
    stdin.end();
    await expect(piped).resolves.toBe(0);
  });

  it('a connection that arrives before anyone waits is kept for the next accept', async () => {
    const piped = pipeStdioToSocket(relay.command.socket, new PassThrough(), new PassThrough());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const socket = await relay.accept(5000);
    socket.end();
    await expect(piped).resolves.toBe(0);
  });

  it('a wait with no connection ends in FCP_ERR_TIMEOUT; a pipe to no socket is FCP_ERR_CONNECT', async () => {
    await expect(relay.accept(50)).rejects.toMatchObject({ code: 'FCP_ERR_TIMEOUT' });
    const err = await pipeStdioToSocket(path.join(path.dirname(relay.command.socket), 'none'), new PassThrough(), new PassThrough()).catch((e: FcpError) => e);
    expect(err).toMatchObject({ code: 'FCP_ERR_CONNECT' });
  });

  it('the command line quotes every path for the shell', () => {
    expect(pipeCommandLine({ node: '/n o/node', script: "/it's/fcpd.js", socket: '/tmp/$(x)/s' })).toBe(
      `'/n o/node' '/it'\\''s/fcpd.js' --relay-pipe '/tmp/$(x)/s'`,
    );
  });
});
