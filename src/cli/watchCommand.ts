/**
 * fcp --watch on the command line: the watch (src/watch/watch.ts) with each round reported
 * (`round` records with --json, a line with -v, failures as notices), ended by SIGINT or SIGTERM
 * with exit 0 once the round under way is over.
 */
import type { CopyEvent, CopyOptions } from '../client/copy';
import { ExitCode } from '../errors';
import { showJson, showName } from '../showName';
import { reapLaunching } from '../launch/remoteReap';
import { keepAllPartials } from '../state/partialFile';
import { RoundReport, watch } from '../watch/watch';
import type { Reporter } from './reporter';

/** After SIGINT or SIGTERM, how long the round under way may take to end before fcp exits anyway (its partial files kept). */
const STOP_WAIT_MS = 5_000;

/** A round as --json shows it. */
export function roundRecord(report: RoundReport): object {
  const { summary, error } = report;
  return {
    event: 'round',
    round: report.round,
    kind: report.kind,
    paths: report.paths,
    renames: report.renames.map((rename) => ({ from: showName(Buffer.from(rename.from, 'latin1')), to: showName(Buffer.from(rename.to, 'latin1')) })),
    ...(summary && {
      files: summary.files,
      bytes: summary.bytes,
      bytesSent: summary.bytesSent,
      filesSkipped: summary.filesSkipped,
      filesDeleted: summary.filesDeleted,
      filesFailed: summary.filesFailed,
      seconds: summary.seconds,
      errors: summary.errors.map((e) => ({ code: e.code, message: e.message })),
    }),
    ...(error && { error: { code: error.code, message: error.message }, retryInMs: report.retryInMs }),
  };
}

function roundLine(report: RoundReport): string {
  if (report.error) return `round ${report.round} (${report.kind}) failed: ${report.error.message}; trying again in ${(report.retryInMs ?? 0) / 1000} s`;
  const summary = report.summary!;
  return `round ${report.round} (${report.kind}${report.paths > 0 ? `, ${report.paths} paths` : ''}): ${summary.files - summary.filesSkipped} sent, ${summary.filesDeleted} deleted, ${summary.bytesSent} bytes`;
}

export async function runWatch(request: CopyOptions, intervalS: number, reporter: Reporter, json: boolean, stdout: NodeJS.WritableStream): Promise<number> {
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      reporter.log(`${signal}: the watch ends once the round under way is over`);
      stop.abort();
      setTimeout(() => {
        keepAllPartials();
        // A launch still under way would leave its remote command running (remoteReap.ts).
        void reapLaunching().finally(() => process.exit(ExitCode.OK));
      }, STOP_WAIT_MS).unref();
    });
  }
  // A round's progress is not shown: rounds are short, and a progress line per round says nothing.
  const onEvent = (event: CopyEvent): void => {
    if (event.type !== 'progress' && event.type !== 'start') request.onEvent?.(event);
  };
  await watch({
    copy: { ...request, onEvent },
    intervalS,
    signal: stop.signal,
    onRound: (report) => {
      if (json) stdout.write(`${showJson(roundRecord(report))}\n`);
      else if (report.error) reporter.notice(roundLine(report));
      else reporter.log(roundLine(report));
      for (const error of report.summary?.errors ?? []) if (!json) reporter.error(error);
    },
  });
  return ExitCode.OK;
}
