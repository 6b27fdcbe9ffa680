/**
 * Starts fcpd as a local child process (copies with no remote host, and tests): the same
 * hand-off as over SSH, the secret on fcpd's stdin and its port on stdout.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { FcpError } from '../errors';
import { LAUNCH_TIMEOUT_MS } from '../timeouts';
import { dialTcp } from './dial';
import { parseListenLine, secretLine } from './handoff';
import type { Launcher, LaunchedServer } from './launcher';
import { awaitLine } from './lines';
import { packageRoot } from './packageRoot';

const STDERR_TAIL = 20;

export function localLauncher(options: { fcpdPath?: string; bind?: string } = {}): Launcher {
  const bind = options.bind ?? '127.0.0.1';
  return {
    async launch(secret, log): Promise<LaunchedServer> {
      const program = options.fcpdPath ?? path.join(packageRoot(), 'bin', 'fcpd');
      const child = spawn(process.execPath, [program, '--serve', '--bind', bind], { stdio: ['pipe', 'pipe', 'pipe'] });
      const stderrTail: string[] = [];
      let pending = '';
      child.stderr.on('data', (chunk: Buffer) => {
        pending += chunk.toString('utf8');
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          log(`fcpd: ${line}`);
          stderrTail.push(line);
          if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
        }
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
      child.once('error', (err) => log(`fcpd: could not start ${program}: ${err.message}`));
      child.stdin.on('error', () => undefined);
      child.stdin.end(secretLine(secret));
      const failure = (): FcpError =>
        new FcpError('FCP_ERR_CONNECT', `local fcpd (${program}) ended before it listened${stderrTail.length ? `: ${stderrTail.join(' | ')}` : ''}`, {
          hint: 'run npm run build if dist/ is missing; run with -v to see fcpd\'s messages',
        });
      const listen = await awaitLine(child.stdout, parseListenLine, {
        timeoutMs: LAUNCH_TIMEOUT_MS,
        what: 'listen line from local fcpd',
        other: (line) => log(`fcpd: ${line}`),
        ended: failure,
      }).catch((err: FcpError) => {
        child.kill();
        throw err;
      });
      const host = bind === '0.0.0.0' ? '127.0.0.1' : bind;
      return {
        name: `fcpd on ${host}:${listen.port}`,
        connect: () => dialTcp(host, listen.port, LAUNCH_TIMEOUT_MS),
        async close(): Promise<void> {
          // fcpd exits by itself once the session ends; give it a moment, then make sure.
          const timer = setTimeout(() => child.kill(), 10_000);
          await exited;
          clearTimeout(timer);
        },
      };
    },
  };
}
