/**
 * Dead peers and floods with real processes (issue 12): a stopped fcpd is a timeout, not a hang;
 * an fcpd whose fcp was killed exits by itself; connections that never authenticate cannot keep
 * a real client out. `--timeout 2` keeps each case short; the only deadline asserted is jest's.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { copy, isFcpError, Launcher } from '../../src';
import { PREAUTH_PER_ADDRESS } from '../../src/server/admission';
import { compareTrees } from './helpers/compare';
import { FCP_BIN, handLauncher, killAll, StartedFcpd, within } from './helpers/run';
import { useTempDirs } from './helpers/tmp';
import { writeRandomFile } from './helpers/tree';

jest.setTimeout(60_000);
const temp = useTempDirs();
const children: ChildProcess[] = [];
afterAll(() => {
  killAll();
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Many files, so that the transfer is still under way after the first one has arrived. */
function sourceTree(work: string): string {
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  for (let i = 0; i < 64; i++) writeRandomFile(path.join(src, `f${i}`), 2 * 1024 * 1024, { zeros: true });
  return src;
}

/** Whether process `pid` is gone (a zombie no one reaps counts as gone: it runs nothing, holds no port). */
function gone(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
  } catch {
    return true;
  }
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 50));
}

test('fcpd stopped with SIGSTOP mid-transfer: fcp fails with FCP_ERR_TIMEOUT (exit code 7) naming the host; after SIGCONT fcpd ends by itself', async () => {
  const work = temp.make('fcp-stop');
  const src = sourceTree(work);
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);
  const hand = handLauncher({ verbose: true });
  let stopped: StartedFcpd | undefined;
  let fcpdEnded: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  // fcp lets go of its fcpd only after it gave up on it: wake fcpd then, and see how it ends.
  const launcher: Launcher = {
    async launch(secret, log) {
      const server = await hand.launcher.launch(secret, log);
      return {
        ...server,
        async close() {
          stopped?.child.kill('SIGCONT');
          fcpdEnded = await within(hand.started()!.exited, 40_000, 'fcpd exit after SIGCONT');
        },
      };
    },
  };
  const error = await copy({
    sources: [src],
    destination: `localhost:${dst}`,
    recursive: true,
    timeout: 2,
    launcher,
    onEvent: (event) => {
      if (event.type !== 'file' || stopped) return;
      stopped = hand.started()!;
      stopped.child.kill('SIGSTOP');
    },
  }).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(stopped).toBeDefined();
  expect(isFcpError(error)).toBe(true);
  const { code, exitCode, message } = error as { code: string; exitCode: number; message: string };
  expect({ code, exitCode }).toEqual({ code: 'FCP_ERR_TIMEOUT', exitCode: 7 });
  expect(message).toContain(`127.0.0.1:${stopped!.port}`);
  expect(message).toContain('nothing received for 2 s');
  // Woken, fcpd reads fcp's ERROR(FCP_ERR_TIMEOUT) and the close, and ends the session on that.
  expect({ ended: fcpdEnded, log: stopped!.stderr() }).toMatchObject({ ended: { code: 7, signal: null }, log: expect.stringMatching(/session [0-9a-f]+: failed: .*nothing received for 2 s/) });
  // What fcpd left is resume state (a part file beside its journal) or nothing: never an orphaned temporary.
  const left = (fs.readdirSync(dst, { recursive: true }) as string[]).filter((name) => name.includes('.fcp-'));
  expect(left.filter((name) => !name.endsWith('.fcp-part') && !name.endsWith('.fcp-part.journal'))).toEqual([]);
  expect(left.filter((name) => name.endsWith('.fcp-part') && !left.includes(`${name}.journal`))).toEqual([]);
});

test('fcp killed with SIGKILL mid-transfer: its fcpd exits by itself', async () => {
  const work = temp.make('fcp-kill');
  const src = sourceTree(work);
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);
  // Not through runFcp: that kills fcp's whole process group, fcpd included, when fcp ends.
  const fcp = spawn(process.execPath, [FCP_BIN, '--json', '--timeout', '2', '-r', src, dst], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(fcp);
  let stdout = '';
  fcp.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  await until(() => stdout.includes('"event":"file"') || fcp.exitCode !== null);
  expect(fcp.exitCode).toBeNull();
  const fcpd = fs.readFileSync(`/proc/${fcp.pid}/task/${fcp.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
  expect(fcpd).toHaveLength(1);
  fcp.kill('SIGKILL');
  await until(() => gone(fcpd[0]!));
});

/** Opens `count` TCP connections to port from 127.0.0.2 that never say a word; resolves once `closedAtLeast` were closed by the server. */
function flood(port: number, count: number, closedAtLeast: number): { sockets: net.Socket[]; refused: Promise<void> } {
  const sockets: net.Socket[] = [];
  let closed = 0;
  let done: () => void;
  const refused = new Promise<void>((resolve) => (done = resolve));
  for (let i = 0; i < count; i++) {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (++closed === closedAtLeast) done();
    });
    sockets.push(socket);
  }
  return { sockets, refused };
}

test(`a flood of 200 connections that never authenticate: fcpd closes all but ${PREAUTH_PER_ADDRESS} at once, and a real client still copies`, async () => {
  const work = temp.make('fcp-flood');
  const src = path.join(work, 'src');
  fs.mkdirSync(src);
  writeRandomFile(path.join(src, 'payload'), 3 * 1024 * 1024);
  const dst = path.join(work, 'dst');
  fs.mkdirSync(dst);
  let held: net.Socket[] = [];
  let stillOpen = 0;
  const { launcher } = handLauncher({
    beforeSession: async (fcpd) => {
      const attack = flood(fcpd.port, 200, 200 - PREAUTH_PER_ADDRESS);
      held = attack.sockets;
      await attack.refused;
      // The ones it admitted stay open until the handshake timeout (30 s): the client comes meanwhile.
      stillOpen = held.filter((socket) => !socket.destroyed).length;
    },
  });
  try {
    const summary = await copy({ sources: [src], destination: `localhost:${dst}`, recursive: true, launcher });
    expect(summary.errors).toEqual([]);
    expect(compareTrees(src, path.join(dst, 'src'))).toEqual([]);
    expect(stillOpen).toBe(PREAUTH_PER_ADDRESS);
  } finally {
    for (const socket of held) socket.destroy();
  }
});
