/**
 * One timed copy for bench/transfer.ts, in its own process so that GNU time reports its peak
 * RSS (and fcpd's, a child it waits for).
 * Usage: runCopy.js local|local-no-verify|local-via-fcpd|push|pull SRC DST [encrypt]
 * (local: in this process; local-via-fcpd: through a local fcpd over loopback TCP).
 */
import { copy, localLauncher } from '../src';

async function main(): Promise<void> {
  const [mode, source, destination, encrypt] = process.argv.slice(2);
  const started = process.hrtime.bigint();
  const remote = (path: string): string => `localhost:${path}`;
  const summary = await copy({
    sources: [mode === 'pull' ? remote(source!) : source!],
    destination: mode === 'push' ? remote(destination!) : destination!,
    recursive: true,
    encrypt: encrypt === 'encrypt',
    verify: mode !== 'local-no-verify',
    viaFcpd: mode === 'local-via-fcpd',
    // push/pull: a "remote" fcpd started on this machine, so only the network part is loopback.
    launcher: mode === 'push' || mode === 'pull' ? localLauncher() : undefined,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ seconds, files: summary.files, bytes: summary.bytes, errors: summary.errors.length })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
