/**
 * fcp --cancel ID --discard for a job whose destination is on a remote host: the runner logs in
 * there as the job did (its -P, -i, -F, -J, -o, --fcpd-path) and runs `fcpd --discard-partials`,
 * which removes the job's part files, journals and locks and nothing else (PROTOCOL.md §9.2).
 */
import * as nodePath from 'node:path';
import { placementOf } from '../client/copy';
import { Location, orHome, parseLocation, showLocation } from '../client/location';
import { sshLogin } from '../client/remoteLauncher';
import { asFcpError } from '../errors';
import { discardOrderLine, MAX_DISCARD_NAMES, parseDiscardedLine } from '../launch/discardOrder';
import { MAX_ORDER_BYTES } from '../launch/connectOrder';
import { launchRemoteFcpd } from '../launch/remoteFcpd';
import { execShell } from '../launch/sshLauncher';
import { hasGlob } from '../protocol/glob';
import { requestedName } from '../protocol/paths';
import { connectSsh } from '../ssh/sshClient';
import { sourceName } from '../transfer/walk';
import { JobSpec, toCopyOptions } from './jobSpec';

type RemoteLocation = Extract<Location, { kind: 'remote' }>;

/** The names the job's entries have at the top (its sources'), or undefined when they cannot be told here (a remote pattern). */
function topNames(spec: JobSpec, sources: Buffer[]): Buffer[] | undefined {
  const names: Buffer[] = [];
  for (const source of sources.map(parseLocation)) {
    if (source.kind === 'local') {
      names.push(sourceName(source.path[0] === 0x2f ? source.path : Buffer.concat([Buffer.from(`${nodePath.resolve(spec.cwd)}/`), source.path])));
      continue;
    }
    const name = hasGlob(source.path) ? undefined : requestedName(source.path);
    if (!name) return undefined;
    names.push(Buffer.from(name));
  }
  return names;
}

export async function discardRemotePartials(spec: JobSpec, destination: RemoteLocation, log: (line: string) => void): Promise<string> {
  const where = showLocation(destination);
  const options = toCopyOptions(spec);
  const kept = (why: string): string => `--discard: the partial files at ${where} are kept (${why})`;
  if (destination.daemon) return kept('an fcp:// destination has no SSH login to run fcpd --discard-partials');
  if (options.ssh?.program) return kept('-e: the runner logs in with fcp\'s built-in SSH client only');
  let names: Buffer[] | undefined;
  try {
    names = topNames(spec, options.sources.map((s) => Buffer.from(s)));
  } catch (err) {
    return kept(`a source is gone: ${asFcpError(err).message}`);
  }
  if (!names || names.length > MAX_DISCARD_NAMES) return kept('the job\'s sources cannot be named here');
  const order = discardOrderLine({ destination: orHome(destination.path), flags: placementOf(options), names });
  if (Buffer.byteLength(order) > MAX_ORDER_BYTES) return kept('too many sources to name in one order');
  const login = sshLogin(destination, options.ssh ?? {}, log);
  const timeoutMs = options.timeout === undefined ? undefined : options.timeout * 1000;
  try {
    const conn = await connectSsh(login.host, login.context);
    try {
      const started = await launchRemoteFcpd(
        execShell(conn),
        ['--discard-partials', ...(options.partialDir === undefined ? [] : ['--partial-dir', options.partialDir])],
        { firstLine: order, ready: parseDiscardedLine, what: 'discard answer', ownReleaseOnly: true },
        { fcpdPath: options.ssh?.fcpdPath, install: options.ssh?.install ?? true, timeoutMs, log, notice: log },
      );
      started.process.stop();
      const { removed, busy } = started.ready;
      return `--discard: removed ${removed} partial files at ${where}${busy > 0 ? `; ${busy} kept, still being written` : ''}`;
    } finally {
      conn.close();
    }
  } catch (err) {
    return kept(asFcpError(err).describe());
  }
}
