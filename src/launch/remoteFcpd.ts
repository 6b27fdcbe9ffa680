/**
 * Starting fcpd on a remote host through whichever SSH runs commands there (ssh2, or an external
 * ssh): `--fcpd-path` as given, or fcp's launch script, which may ask for fcp's own fcpd and
 * install it on the way (remoteInstall.ts). Both launchers hand their way of running a command to this.
 */
import { FcpError } from '../errors';
import { shellWord } from '../ssh/remoteCommand';
import { showText } from '../showName';
import { FcpdStreams, HandOff, serveHandOff, startFcpd } from './fcpdProcess';
import { Listen, PRINT_PID } from './handoff';
import { LaunchedServer, serveArgs } from './launcher';
import { packageVersion } from './packageRoot';
import { LAUNCH_EXIT, launchCommand, localBundle, MIN_NODE_MAJOR, SEND_BUNDLE, shCommand } from './remoteInstall';
import { launchReaper, reapOnInterrupt } from './remoteReap';

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
  /** fcp's --partial-dir, passed on to fcpd --serve (the receiver of an upload). */
  partialDir?: string;
  /** fcp --watch: fcpd --serve --reuse, one session after another until none came for this many seconds. */
  reuseS?: number;
  log(line: string): void;
  notice(line: string): void;
}

export interface RemoteFcpd<T = Listen> {
  /** What its ready line said (fcpd --serve: where it listens). */
  ready: T;
  process: RemoteProcess;
  mode: NonNullable<LaunchedServer['mode']>;
  /**
   * Ends the launch command and what it started (remoteReap.ts), bounded: an fcpd --serve --reuse
   * would otherwise wait out its --reuse seconds after fcp --watch ended.
   */
  reap(): Promise<void>;
}

/**
 * Reads and hashes fcp's own fcpd (the launch script names its SHA-256), on the next turn of the
 * event loop: called as the SSH login starts, it runs while the server's greeting is on its way
 * instead of between the login and the exec.
 */
export function prepareLaunch(options: Pick<RemoteFcpdOptions, 'fcpdPath'>): void {
  if (options.fcpdPath === undefined) setImmediate(() => localBundle(packageVersion()));
}

/** fcpd --serve for one session. */
export function startRemoteFcpd(shell: RemoteShell, secret: Buffer, options: RemoteFcpdOptions): Promise<RemoteFcpd> {
  return launchRemoteFcpd(shell, serveArgs(options.timeoutMs, '--serve', options.partialDir, options.reuseS), serveHandOff(secret), options);
}

/**
 * fcpd with `args` (--serve, or --connect), handed its first line, running once its ready line
 * came: found, installed on the way, or replaced by fcp's own when it is another release.
 */
export async function launchRemoteFcpd<T>(shell: RemoteShell, args: string[], handOff: HandOff<T>, options: RemoteFcpdOptions): Promise<RemoteFcpd<T>> {
  const bundle = options.fcpdPath === undefined ? localBundle(packageVersion()) : null;
  // Each word quoted for the remote shell when it needs it (--partial-dir is the user's text).
  const serve = args.map(shellWord).join(' ');
  const install = options.install && bundle !== null;
  const where = `on ${shell.name}`;
  const exits = {
    [LAUNCH_EXIT.NEEDS_FCPD]: () =>
      new FcpError('FCP_ERR_CONNECT', `fcpd was not found ${where}`, {
        hint: 'install fcp there (npm install -g fastcopy), give its path with --fcpd-path, or leave out --no-install',
      }),
    [LAUNCH_EXIT.NO_NODE]: () =>
      new FcpError('FCP_ERR_NO_REMOTE_NODE', `no Node.js ${MIN_NODE_MAJOR} or later ${where} to run fcpd`, {
        hint: `install Node.js ${MIN_NODE_MAJOR}+ there, or give a Node.js and fcpd with --fcpd-path`,
      }),
  };
  const launch = async (skipPath: boolean, why: string): Promise<RemoteFcpd<T> & { version?: string }> => {
    // Every command prints its pid first (PRINT_PID), for remoteReap.ts; --fcpd-path is the user's shell text, run as given.
    const given = `${options.fcpdPath ?? 'fcpd'} ${serve}`;
    const command = bundle && options.fcpdPath === undefined
      ? launchCommand(bundle, serve, install, Buffer.byteLength(handOff.firstLine), skipPath)
      : shCommand(`${PRINT_PID}\n${given}`);
    let mode: RemoteFcpd['mode'] = 'fcpd';
    // The launch script's installer asks for the bundle when the host has Node.js but no fcpd.
    const onRequest = install
      ? {
          request: SEND_BUNDLE,
          bytes: bundle!.bytes,
          sent: () => {
            mode = 'fcpd-installed';
            options.notice(`${why}: installing fcp's own (${bundle!.version}) into ~/.cache/fcp there`);
          },
        }
      : undefined;
    options.log(`ssh: running ${bundle && options.fcpdPath === undefined ? `fcp's launch script (fcpd ${serve})` : given} ${where}`);
    const process = await shell.run(command);
    const reaper = launchReaper(shell, process, options.log);
    try {
      const started = await reapOnInterrupt(reaper.reap, startFcpd(process, handOff, options.log, where, given, { timeoutMs: options.timeoutMs, exits, onRequest }));
      reaper.forget();
      return { ...started, process, mode, reap: reaper.reap };
    } catch (err) {
      await reaper.reap();
      process.stop();
      throw err;
    }
  };
  // fcpd --connect is this release's or none: an fcpd on the PATH may not know it, and would act before its release is seen.
  const started = await launch(install && handOff.ownReleaseOnly === true, `no fcpd ${where}`);
  // The launch script prefers this release's cached fcpd: another release came from the PATH.
  if (!bundle || started.version === bundle.version) return started;
  const found = `fcpd ${where} is ${started.version === undefined ? 'an older release' : `release ${showText(started.version)}`}, not ${bundle.version}`;
  if (!install) {
    options.log(`${found}; --no-install keeps it`);
    return started;
  }
  started.process.stop();
  return launch(true, found);
}
