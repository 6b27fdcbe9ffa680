/**
 * fcp --watch on the command line: the watch (src/watch/watch.ts) with each round reported
 * (`round` records with --json, a line with -v, failures as notices), ended by SIGINT or SIGTERM
 * with exit 0 once the round under way is over.
 */
import type { CopyEvent, CopyOptions } from '../client/copy';
import { ExitCode } from '../errors';
import { showJson, showName } from '../showName';
import { reapLaunching } from '../launch/remoteReap';
import { leaveForNextRun } from '../state/interrupted';
import { ConflictReport, TwoWayRoundReport, twoWay } from '../watch/twoWay';
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

/** SIGINT and SIGTERM end the watch once the round under way is over (or STOP_WAIT_MS later, exit 0 either way). */
function stopOnSignals(reporter: Reporter): AbortSignal {
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      reporter.log(`${signal}: the watch ends once the round under way is over`);
      stop.abort();
      setTimeout(() => {
        leaveForNextRun();
        // A launch still under way would leave its remote command running (remoteReap.ts).
        void reapLaunching().finally(() => process.exit(ExitCode.OK));
      }, STOP_WAIT_MS).unref();
    });
  }
  return stop.signal;
}

/** A round's progress is not shown: rounds are short, and a progress line per round says nothing. */
function withoutProgress(request: CopyOptions): CopyOptions {
  return { ...request, onEvent: (event: CopyEvent) => (event.type !== 'progress' && event.type !== 'start' ? request.onEvent?.(event) : undefined) };
}

/** A round's record (--json), or its line: a notice when the round failed, else shown with -v. */
function roundOutput(reporter: Reporter, json: boolean, stdout: NodeJS.WritableStream): (record: object, line: () => string, failed: boolean) => void {
  return (record, line, failed) => {
    if (json) stdout.write(`${showJson(record)}\n`);
    else if (failed) reporter.notice(line());
    else reporter.log(line());
  };
}

export async function runWatch(request: CopyOptions, intervalS: number, reporter: Reporter, json: boolean, stdout: NodeJS.WritableStream): Promise<number> {
  const output = roundOutput(reporter, json, stdout);
  await watch({
    copy: withoutProgress(request),
    intervalS,
    signal: stopOnSignals(reporter),
    onRound: (report) => {
      output(roundRecord(report), () => roundLine(report), report.error !== undefined);
      for (const error of report.summary?.errors ?? []) if (!json) reporter.error(error);
    },
  });
  return ExitCode.OK;
}

/** A two-way round as --json shows it. */
export function twoWayRoundRecord(report: TwoWayRoundReport): object {
  const { error } = report;
  return {
    event: 'round',
    round: report.round,
    kind: report.kind,
    whole: report.whole,
    swept: report.swept,
    ...(error
      ? { error: { code: error.code, message: error.message }, retryInMs: report.retryInMs }
      : {
          pushed: report.pushed,
          pulled: report.pulled,
          deletedHere: report.deletedHere,
          deletedThere: report.deletedThere,
          renamedHere: report.renamedHere,
          renamedThere: report.renamedThere,
          conflicts: report.conflicts.length,
        }),
  };
}

const latin1 = (path: string): string => showName(Buffer.from(path, 'latin1'));

function conflictLine({ path, conflict, copy }: ConflictReport): string {
  if (conflict === 'editOverDelete') return `conflict: ${latin1(path)} was edited on one side and deleted on the other: the edited version is kept on both`;
  return `conflict: ${latin1(path)} was edited on both sides: this machine's version keeps the name, the other is kept as ${latin1(copy!)} on both`;
}

function twoWayRoundLine(report: TwoWayRoundReport): string {
  if (report.error) return `round ${report.round} (${report.kind}) failed: ${report.error.message}; trying again in ${(report.retryInMs ?? 0) / 1000} s`;
  return `round ${report.round} (${report.kind}): ${report.pushed} sent, ${report.pulled} brought here, ${report.deletedThere} deleted there, ${report.deletedHere} deleted here, ${report.renamedThere} renamed there, ${report.renamedHere} renamed here, ${report.conflicts.length} conflicts`;
}

export async function runTwoWay(request: CopyOptions, intervalS: number, reporter: Reporter, json: boolean, stdout: NodeJS.WritableStream): Promise<number> {
  const output = roundOutput(reporter, json, stdout);
  await twoWay({
    copy: withoutProgress(request),
    intervalS,
    signal: stopOnSignals(reporter),
    onRound: (report) => {
      for (const conflict of report.conflicts) {
        output({ event: 'conflict', path: latin1(conflict.path), conflict: conflict.conflict, ...(conflict.copy ? { copy: latin1(conflict.copy) } : {}) }, () => conflictLine(conflict), true);
      }
      output(twoWayRoundRecord(report), () => twoWayRoundLine(report), report.error !== undefined);
    },
  });
  return ExitCode.OK;
}
