/**
 * Starting fcpd on a remote host through whichever SSH runs commands there (ssh2, or an external
 * ssh): `--fcpd-path` as given, or fcp's launch script, which may ask for fcp's own fcpd to be
 * installed first (remoteInstall.ts). Both launchers hand their way of running a command to this.
 */
import { FcpError } from '../errors';
import { timeoutsFor } from '../timeouts';
import { FcpdStreams, startFcpd } from './fcpdProcess';
import type { Listen } from './handoff';
import { LaunchedServer, serveArgs } from './launcher';
import { packageVersion } from './packageRoot';
import { FcpdBundle, installCommand, LAUNCH_EXIT, launchCommand, localBundle } from './remoteInstall';

/** A command running on the remote host, with fcpd's hand-off streams. */
export interface RemoteProcess extends FcpdStreams {
  /** Ends it (closes the channel, or kills the ssh process). */
  stop(): void;
}

export interface RemoteShell {
  /** "root@host:22": how messages name the host. */
  name: string;
  run(command: string): Promise<RemoteProcess>;
}

export interface RemoteFcpdOptions {
  /** --fcpd-path: the command that starts fcpd, used as given; undefined: fcp's launch script. */
  fcpdPath: string | undefined;
  /** May install fcp's own fcpd where Node.js 20+ is and fcpd is not (not with --no-install). */
  install: boolean;
  /** fcp's --timeout in ms, passed on to fcpd and bounding the launch and the install. */
  timeoutMs?: number;
  log(line: string): void;
  notice(line: string): void;
}

export interface RemoteFcpd {
  listen: Listen;
  process: RemoteProcess;
  mode: NonNullable<LaunchedServer['mode']>;
}

/** The launch script said fcpd is missing and Node.js 20+ is there: fcp may install its own. */
class FcpdMissing extends Error {}

export async function startRemoteFcpd(shell: RemoteShell, secret: Buffer, options: RemoteFcpdOptions): Promise<RemoteFcpd> {
  const bundle = options.fcpdPath === undefined ? localBundle(packageVersion()) : null;
  const serve = serveArgs(options.timeoutMs).join(' ');
  const command = options.fcpdPath !== undefined ? `${options.fcpdPath} ${serve}` : bundle ? launchCommand(bundle, serve) : `fcpd ${serve}`;
  const where = `on ${shell.name}`;
  const exits = {
    [LAUNCH_EXIT.NEEDS_FCPD]: () =>
      options.install && bundle
        ? new FcpdMissing()
        : new FcpError('FCP_ERR_CONNECT', `fcpd was not found ${where}`, {
            hint: 'install fcp there (npm install -g fastcopy), give its path with --fcpd-path, or leave out --no-install',
          }),
    [LAUNCH_EXIT.NO_NODE]: () =>
      new FcpError('FCP_ERR_NO_REMOTE_NODE', `no Node.js 20 or later ${where} to run fcpd`, {
        hint: 'install Node.js 20+ there, or give a Node.js and fcpd with --fcpd-path',
      }),
  };
  const start = async (): Promise<{ listen: Listen; process: RemoteProcess }> => {
    options.log(`ssh: running ${bundle && options.fcpdPath === undefined ? "fcp's launch script (fcpd --serve)" : command} ${where}`);
    const process = await shell.run(command);
    try {
      return { listen: await startFcpd(process, secret, options.log, where, command, { timeoutMs: options.timeoutMs, exits }), process };
    } catch (err) {
      process.stop();
      throw err;
    }
  };
  try {
    return { ...(await start()), mode: 'fcpd' };
  } catch (err) {
    if (!(err instanceof FcpdMissing)) throw err;
  }
  options.notice(`no fcpd ${where}: installing fcp's own (${bundle!.version}) into ~/.cache/fcp there`);
  await installBundle(shell, bundle!, options.log, timeoutsFor(options.timeoutMs).launchMs);
  return { ...(await start()), mode: 'fcpd-installed' };
}

/** Copies the bundle into the host's cache (remoteInstall.installCommand); fails with what the host said. */
async function installBundle(shell: RemoteShell, bundle: FcpdBundle, log: (line: string) => void, timeoutMs: number): Promise<void> {
  const process = await shell.run(installCommand(bundle));
  let said = '';
  process.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
  process.stdout.resume();
  process.stdin.on('error', () => undefined);
  process.stdin.end(bundle.bytes);
  const code = await Promise.race([process.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref())]);
  if (code !== 0) {
    process.stop();
    const why = code === 'timeout' ? `no answer within ${timeoutMs / 1000} s` : said.trim();
    throw new FcpError('FCP_ERR_CONNECT', `could not install fcpd into ~/.cache/fcp on ${shell.name}${why ? `: ${why}` : ''}`, {
      hint: 'check the space and permissions of ~/.cache there, or install fcp there (npm install -g fastcopy)',
    });
  }
  log(`ssh: installed fcpd ${bundle.version} (SHA-256 ${bundle.sha256}) on ${shell.name}`);
}
