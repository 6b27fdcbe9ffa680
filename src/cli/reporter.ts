/**
 * What fcp shows while it copies: a progress line on a TTY's stderr (redrawn a few times a
 * second, as wide as the terminal, with the file being copied), replaced at the end by one summary
 * line; JSON lines on stdout with --json; per-file lines with -v. Without a terminal (scripts)
 * a successful copy prints nothing unless -v, or --progress (rsync's), which draws the line there
 * too: redrawn after a carriage return as rsync's, blanks for the ends of longer lines, and ended
 * with a newline before anything else is said.
 * File names are shown with showName, and every line passes showText: nothing but the
 * progress line's own redraw can drive the terminal.
 */
import type { CopyEvent, CopySummary } from '../client/copy';
import { FcpError } from '../errors';
import { showJson, showName, showText } from '../showName';
import { cutMiddle, formatBytes, formatDuration } from './format';
import { DELETING_ITEM } from '../sync/compare';
import { itemLine } from '../sync/itemize';

const SLASH = 0x2f;
/** Fewer columns than this left for the current file's name: the name is left out. */
const MIN_NAME_COLUMNS = 12;
/** What the summary line calls the summary's `connections` when they are not TCP connections. */
const CARRIERS: Partial<Record<CopySummary['mode'], string>> = { sftp: 'SFTP sessions', 'in-process': 'streams in one process' };
import { debugStack, errorText } from './lastResort';

export interface ReporterOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** --itemize-changes: one `%i name` line per change on stdout, as rsync prints them. */
  itemize?: boolean;
  /** --progress: the progress line also when stderr is not a terminal. */
  progress?: boolean;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** An error as --json shows it: the one record of a run that failed. */
export function errorRecord(error: FcpError): object {
  return { event: 'error', code: error.code, message: error.message, hint: error.hint };
}

export class Reporter {
  private lineShown = false;
  /** Characters of the progress line drawn last where stderr is not a terminal (its blanks' count when redrawn shorter). */
  private drawnWidth = 0;
  /** The name of the file that ended last, as its bytes (for the progress line: names need not be UTF-8). */
  private lastFile: Buffer | undefined;
  /** Error messages already shown per file, so the summary does not repeat them. */
  private readonly shown = new Set<string>();
  /**
   * The errors shown for entries other than files (a directory that could not be created), by the
   * entry's path: what is below it and fails with the same error is not shown again, as rsync
   * reports a failed directory once and skips its contents. The summary counts them all.
   */
  private readonly shownForEntry = new Map<string, string>();

  constructor(private readonly options: ReporterOptions) {}

  /**
   * Whether event() uses a file's own event or a progress record: not with -q alone, which shows
   * a failed file's error in the summary and nothing of the others (fcp's copy then asks for none).
   */
  get wantsFileEvents(): boolean {
    return this.options.json || this.options.verbose || !this.options.quiet;
  }

  private get showProgressLine(): boolean {
    return !this.options.quiet && !this.options.json && (this.options.stderr.isTTY === true || this.options.progress === true);
  }

  private json(record: object): void {
    this.options.stdout.write(`${showJson(record)}\n`);
  }

  /** One message on stderr, with any control character in it escaped. */
  private say(text: string): void {
    this.clearLine();
    this.options.stderr.write(`fcp: ${showText(text)}\n`);
  }

  log(line: string): void {
    if (this.options.verbose) this.say(line);
  }

  /** A line the user sees without -v (not with -q or --json). */
  notice(line: string): void {
    if (this.options.quiet || this.options.json) return this.log(line);
    this.say(line);
  }

  event(event: CopyEvent): void {
    if (this.options.json) {
      // A file event's text path and digest are getters, which a spread leaves out.
      if (event.type === 'file') return this.json(fileRecord(event));
      // JSON has the path as text (`pathBytes: undefined` leaves the Buffer out of the record).
      const { type, ...fields } = event;
      return this.json({ event: type, ...fields, pathBytes: undefined });
    }
    if (event.type === 'progress' && this.showProgressLine) this.drawLine(event);
    if (event.type === 'item') return this.item(event);
    if (event.type !== 'file' && event.type !== 'entryError') return;
    if (event.type === 'file') this.lastFile = event.pathBytes;
    if (event.type === 'file' && event.warning) this.notice(event.warning);
    if (event.error) {
      // With -q the error is left to the summary and the exit code; it is never shown as ok.
      if (this.options.quiet) return;
      this.shown.add(event.error.message);
      if (this.shownAbove(event.pathBytes, event.error.message)) return;
      if (event.type === 'entryError') this.shownForEntry.set(event.pathBytes.toString('latin1'), event.error.message);
      this.say(`${showName(event.pathBytes)}: ${event.error.message} (${event.error.code})`);
    } else if (event.type === 'file' && this.options.verbose) {
      // Only here: the digest of a small file is worked out when it is read.
      this.log(`${showName(event.pathBytes)}: ${formatBytes(event.size)} ok${event.digest ? `, digest ${event.digest}` : ''}`);
    }
  }

  /** Whether `message` was shown for an entry that `path` is below. */
  private shownAbove(path: Buffer, message: string): boolean {
    if (this.shownForEntry.size === 0) return false;
    for (let slash = path.lastIndexOf(SLASH); slash > 0; slash = path.lastIndexOf(SLASH, slash - 1)) {
      if (this.shownForEntry.get(path.toString('latin1', 0, slash)) === message) return true;
    }
    return false;
  }

  /** A sync's change: `%i name` with --itemize-changes, the name alone with -v (rsync -v's list). */
  private item(event: Extract<CopyEvent, { type: 'item' }>): void {
    const deleting = event.item === DELETING_ITEM;
    let line: string | undefined;
    if (this.options.itemize) line = itemLine(event.item, event.name, event.target === undefined ? undefined : Buffer.from(event.target));
    else if (this.options.verbose) line = deleting ? `deleting ${event.name}` : event.name;
    if (line === undefined) return;
    this.clearLine();
    this.options.stdout.write(`${showText(line)}\n`);
  }

  summary(summary: CopySummary): void {
    this.clearLine();
    if (this.options.json) {
      return this.json({
        event: 'summary',
        bytes: summary.bytes,
        bytesSent: summary.bytesSent,
        bytesResumed: summary.bytesResumed,
        bytesSaved: summary.bytesSaved,
        files: summary.files,
        filesFailed: summary.filesFailed,
        filesSkipped: summary.filesSkipped,
        filesDeleted: summary.filesDeleted,
        entriesFailed: summary.entriesFailed,
        seconds: summary.seconds,
        rate: summary.rate,
        connections: summary.connections,
        encrypted: summary.encrypted,
        mode: summary.mode,
        verification: summary.verification,
        between: summary.between,
        followed: summary.followed,
        errors: summary.errors.map((e) => ({ code: e.code, message: e.message })),
      });
    }
    for (const error of summary.errors) if (!this.shown.has(error.message)) this.error(error);
    const failed = summary.filesFailed + summary.entriesFailed;
    const unchanged =
      (summary.bytesResumed > 0 ? `, ${formatBytes(summary.bytesResumed)} already there` : '') +
      (summary.bytesSaved > 0 ? `, ${formatBytes(summary.bytesSaved)} saved by the delta` : '');
    const line =
      `${summary.files} ${summary.files === 1 ? 'file' : 'files'}, ${formatBytes(summary.bytes)}${unchanged} in ${summary.seconds.toFixed(2)} s ` +
      `(${formatBytes(summary.rate)}/s, ${summary.connections} ${CARRIERS[summary.mode] ?? 'connections'}${summary.encrypted ? ', encrypted' : ''})` +
      (failed > 0 ? `, ${failed} failed` : '') +
      (summary.followed ? `; followed: ${formatBytes(summary.followed.appendedBytes)} appended in ${summary.followed.appends}, ` +
        `${summary.followed.resent} sent again, ${summary.followed.newFiles} new` : '');
    // On a terminal the progress line gives way to this, as scp leaves its last meter line.
    if (this.options.verbose || this.showProgressLine) this.say(line);
  }

  error(error: FcpError): void {
    this.clearLine();
    if (this.options.json) {
      this.json(errorRecord(error));
      // stdout holds only the record: a stack that was asked for goes to stderr.
      this.options.stderr.write(debugStack(error, this.options.verbose));
    } else {
      this.options.stderr.write(errorText('fcp', error, this.options.verbose));
    }
  }

  private drawLine(p: Extract<CopyEvent, { type: 'progress' }>): void {
    const percent = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
    const eta = p.etaSeconds === undefined ? '--:--' : formatDuration(p.etaSeconds);
    // Single spaces: the figures fit 80 columns even at 100,000 files and a 99-hour ETA.
    const figures =
      `${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} ${percent}% ` +
      `${formatBytes(p.rate)}/s ETA ${eta} files ${p.filesDone}/${p.filesTotal}`;
    // Never the last column, where a terminal wraps. One that reports no size says 0: assume 80.
    const width = (this.options.stderr.columns || 80) - 1;
    const room = width - figures.length - 2;
    const name = this.lastFile && room >= MIN_NAME_COLUMNS ? `  ${cutMiddle(showName(this.lastFile), room)}` : '';
    const shown = Array.from(figures + name).slice(0, width);
    const text = shown.join('');
    if (this.options.stderr.isTTY) this.options.stderr.write(`\r${text}\x1b[K`);
    else {
      this.options.stderr.write(`\r${text}${' '.repeat(Math.max(0, this.drawnWidth - shown.length))}`);
      this.drawnWidth = shown.length;
    }
    this.lineShown = true;
  }

  private clearLine(): void {
    if (!this.lineShown) return;
    // Elsewhere than on a terminal the last figures stay, on a line of their own.
    this.options.stderr.write(this.options.stderr.isTTY ? '\r\x1b[K' : '\n');
    this.drawnWidth = 0;
    this.lineShown = false;
  }
}

/** A file event as --json writes it: its path as text, not bytes, in the order it always had. */
function fileRecord(event: Extract<CopyEvent, { type: 'file' }>): object {
  return { event: 'file', path: event.path, size: event.size, digest: event.digest, error: event.error, warning: event.warning };
}
