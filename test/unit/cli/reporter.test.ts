/**
 * What the Reporter writes, byte for byte: names with ESC, BEL, a C1 CSI, a bidi override and a
 * byte that is not UTF-8 reach stderr escaped (ls -b) and stdout as JSON that escapes them; a
 * failed file is never reported ok, -q or not.
 */
import type { CopyEvent, CopySummary } from '../../../src/client/copy';
import { Reporter } from '../../../src/cli/reporter';
import { FcpError } from '../../../src/errors';

/** A stream that keeps what is written to it. */
class Capture {
  text = '';
  columns = 80;
  constructor(readonly isTTY: boolean) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

function reporter(flags: { json?: boolean; quiet?: boolean; verbose?: boolean; tty?: boolean } = {}) {
  const stdout = new Capture(false);
  const stderr = new Capture(flags.tty ?? false);
  const r = new Reporter({
    json: flags.json ?? false,
    quiet: flags.quiet ?? false,
    verbose: flags.verbose ?? false,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: stderr as unknown as NodeJS.WriteStream,
  });
  return { r, stdout, stderr };
}

/** ESC [31m, BEL, C1 CSI (U+009B), RIGHT-TO-LEFT OVERRIDE, and 0xff, which is not UTF-8. */
const NASTY = Buffer.concat([Buffer.from('d/a\x1b[31mb\x07c\u009b\u202e'), Buffer.from([0xff]), Buffer.from('.txt')]);
const NASTY_SHOWN = 'd/a\\033[31mb\\ac\\302\\233\\u202e\\377.txt';
/** What a terminal would act on, or what reorders text. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

function fileEvent(error?: { code: string; message: string }): CopyEvent {
  const base = { type: 'file' as const, path: NASTY.toString('utf8'), pathBytes: NASTY, size: 10 };
  return error ? { ...base, error } : { ...base, digest: '0123456789abcdef0123456789abcdef' };
}

function summary(errors: FcpError[]): CopySummary {
  return { bytes: 10, bytesSent: 10, bytesResumed: 0, bytesSaved: 0, files: 1 - errors.length, filesFailed: errors.length, filesSkipped: 0, filesDeleted: 0, entriesFailed: 0, seconds: 1, rate: 10, connections: 4, encrypted: false, errors, mode: 'fcpd', verification: 'chunks' };
}

describe('names on stderr', () => {
  test('-v shows a copied file escaped', () => {
    const { r, stdout, stderr } = reporter({ verbose: true });
    r.event(fileEvent());
    expect(stderr.text).toBe(`fcp: ${NASTY_SHOWN}: 10 B ok, digest 0123456789abcdef0123456789abcdef\n`);
    expect(stdout.text).toBe('');
  });

  test('a failed file is shown escaped, and so is any control character in its message', () => {
    const { r, stderr } = reporter();
    r.event(fileEvent({ code: 'FCP_ERR_IO', message: `cannot create ${NASTY_SHOWN}: \x1b]0;pwned\x07 \u202eeno` }));
    expect(stderr.text).toBe(
      `fcp: ${NASTY_SHOWN}: cannot create ${NASTY_SHOWN}: \\033]0;pwned\\a \\u202eeno (FCP_ERR_IO)\n`,
    );
  });

  test('errors, log lines and notices escape control characters; the hint stays on its own line', () => {
    const { r, stderr } = reporter({ verbose: true });
    r.log('fcpd: peer says \x1b[2J');
    r.notice('falling back \x9b1m');
    r.error(new FcpError('FCP_ERR_NOT_FOUND', 'cannot open x\x07', { hint: 'check \x1b[5m the path' }));
    expect(stderr.text).toBe(
      'fcp: fcpd: peer says \\033[2J\n' +
        'fcp: falling back \\302\\2331m\n' +
        'fcp: cannot open x\\a (FCP_ERR_NOT_FOUND)\n  check \\033[5m the path\n',
    );
  });

  test('on a terminal, the only escape sequences are the progress line\'s own', () => {
    const { r, stderr } = reporter({ tty: true, verbose: true });
    const progress: CopyEvent = {
      type: 'progress',
      bytesDone: 5,
      bytesTotal: 10,
      filesDone: 0,
      filesTotal: 1,
      rate: 5,
      etaSeconds: 1,
      currentFile: NASTY.toString('utf8'),
      elapsedSeconds: 1,
    };
    r.event(progress);
    r.event(fileEvent({ code: 'FCP_ERR_IO', message: 'failed' }));
    expect(stderr.text).toBe(`\r5 B / 10 B 50% 5 B/s ETA 0:01 files 0/1\x1b[K\r\x1b[Kfcp: ${NASTY_SHOWN}: failed (FCP_ERR_IO)\n`);
    expect(stderr.text.replace(/\r|\x1b\[K/g, '')).not.toMatch(RAW_CONTROL);
  });
});

describe('--json', () => {
  test('keeps the name in the JSON string, with controls, C1 and bidi characters as \\uXXXX', () => {
    const { r, stdout, stderr } = reporter({ json: true, verbose: true });
    r.event(fileEvent());
    expect(stdout.text).toBe(
      '{"event":"file","path":"d/a\\u001b[31mb\\u0007c\\u009b\\u202e\ufffd.txt","size":10,' +
        '"digest":"0123456789abcdef0123456789abcdef"}\n',
    );
    expect(JSON.parse(stdout.text)).toEqual({
      event: 'file',
      path: NASTY.toString('utf8'),
      size: 10,
      digest: '0123456789abcdef0123456789abcdef',
    });
    expect(stdout.text).not.toMatch(RAW_CONTROL);
    expect(stderr.text).toBe('');
  });

  test("a file event's getters (copy() works its path and digest out when read) are in the record", () => {
    const { r, stdout } = reporter({ json: true });
    const event = Object.create(
      {
        get path() {
          return 'd/lazy';
        },
        get digest() {
          return 'fedcba9876543210fedcba9876543210';
        },
      },
      { type: { value: 'file', enumerable: true }, pathBytes: { value: Buffer.from('d/lazy'), enumerable: true }, size: { value: 3, enumerable: true } },
    ) as CopyEvent;
    r.event(event);
    expect(stdout.text).toBe('{"event":"file","path":"d/lazy","size":3,"digest":"fedcba9876543210fedcba9876543210"}\n');
  });

  test('an error record escapes the same way', () => {
    const { r, stdout } = reporter({ json: true });
    r.error(new FcpError('FCP_ERR_IO', 'peer said \u2028\x7f'));
    expect(stdout.text).toBe('{"event":"error","code":"FCP_ERR_IO","message":"peer said \\u2028\\u007f"}\n');
  });
});

describe('a failed file is never reported ok', () => {
  test('-v -q: nothing for the file, its error in the summary', () => {
    const { r, stderr } = reporter({ verbose: true, quiet: true });
    const error = new FcpError('FCP_ERR_NO_SPACE', `cannot write ${NASTY_SHOWN}: no space left on device`);
    r.event(fileEvent({ code: error.code, message: error.message }));
    expect(stderr.text).toBe('');
    r.summary(summary([error]));
    expect(stderr.text).toBe(
      `fcp: cannot write ${NASTY_SHOWN}: no space left on device (FCP_ERR_NO_SPACE)\n` +
        'fcp: 0 files, 10 B in 1.00 s (10 B/s, 4 connections), 1 failed\n',
    );
    expect(stderr.text).not.toContain(' ok');
  });

  test('-v: one file is "1 file"', () => {
    const { r, stderr } = reporter({ verbose: true });
    r.summary(summary([]));
    expect(stderr.text).toBe('fcp: 1 file, 10 B in 1.00 s (10 B/s, 4 connections)\n');
  });

  test('-v: the error once, not repeated by the summary', () => {
    const { r, stderr } = reporter({ verbose: true });
    const error = new FcpError('FCP_ERR_IO', 'cannot read f: input/output error');
    r.event(fileEvent({ code: error.code, message: error.message }));
    r.summary(summary([error]));
    expect(stderr.text).toBe(
      `fcp: ${NASTY_SHOWN}: cannot read f: input/output error (FCP_ERR_IO)\n` +
        'fcp: 0 files, 10 B in 1.00 s (10 B/s, 4 connections), 1 failed\n',
    );
  });
});

describe('the progress line and the summary line on a terminal', () => {
  const progressAt = (bytesDone: number): CopyEvent => ({
    type: 'progress',
    bytesDone,
    bytesTotal: 2048,
    filesDone: 1,
    filesTotal: 2,
    rate: 1024,
    etaSeconds: 1,
    currentFile: 'unused: the line shows the bytes of the last file event',
    elapsedSeconds: 1,
  });
  /** What the last redraw shows, without its \r and erase-to-end. */
  const lastLine = (text: string): string => text.slice(text.lastIndexOf('\r') + 1).replace('\x1b[K', '');

  test.each([40, 60, 80, 200])('fits %i columns and shows the file copied last, cut in the middle', (columns) => {
    const { r, stderr } = reporter({ tty: true });
    stderr.columns = columns;
    const long = Buffer.from(`dir/${'a'.repeat(100)}/\x1b[2Jend-of-name.bin`);
    r.event({ type: 'file', path: long.toString(), pathBytes: long, size: 1024 });
    r.event(progressAt(1024));
    const line = lastLine(stderr.text);
    const figures = '1.00 KiB / 2.00 KiB 50% 1.00 KiB/s ETA 0:01 files 1/2';
    expect(Array.from(line).length).toBeLessThanOrEqual(columns - 1);
    // Too narrow for a name: the figures alone, cut at the edge.
    if (columns === 40) expect(line).toBe(figures.slice(0, 39));
    if (columns === 60) expect(line).toBe(figures);
    if (columns === 80) expect(line).toMatch(new RegExp(`^${figures.replace(/[/.]/g, '\\$&')}  dir/a+…of-name\\.bin$`));
    if (columns === 200) expect(line).toBe(`${figures}  dir/${'a'.repeat(100)}/\\033[2Jend-of-name.bin`);
    expect(line).not.toMatch(RAW_CONTROL);
  });

  test('is replaced by one summary line at the end, with the failures counted', () => {
    const { r, stderr } = reporter({ tty: true });
    r.event(progressAt(1024));
    const error = new FcpError('FCP_ERR_IO', 'cannot read x');
    r.summary({ ...summary([error]), entriesFailed: 1 });
    expect(stderr.text.slice(stderr.text.lastIndexOf('\x1b[K') + 3)).toBe(
      'fcp: cannot read x (FCP_ERR_IO)\nfcp: 0 files, 10 B in 1.00 s (10 B/s, 4 connections), 2 failed\n',
    );
  });

  test('no summary line with -q, nor without a terminal (scripts see nothing on success)', () => {
    for (const flags of [{ tty: true, quiet: true }, { tty: false }]) {
      const { r, stderr } = reporter(flags);
      r.event(progressAt(1024));
      r.summary(summary([]));
      expect(stderr.text).toBe('');
    }
  });
});

describe('a directory that could not be created', () => {
  const DIR_ERROR = { code: 'FCP_ERR_NOT_DIRECTORY', message: 'cannot copy a directory onto /d/src: it exists and is not a directory; nothing below it is copied' };
  const entryError = (name: string, error = DIR_ERROR): CopyEvent => ({ type: 'entryError', path: name, pathBytes: Buffer.from(name), error });
  const failedFile = (name: string, error = DIR_ERROR): CopyEvent => ({ type: 'file', path: name, pathBytes: Buffer.from(name), size: 1, error });

  test('is shown once: what is below it with its error is not, what fails otherwise is; --json keeps every record', () => {
    const { r, stderr } = reporter();
    const other = { code: 'FCP_ERR_IO', message: 'cannot read src2/x' };
    for (const event of [entryError('src'), failedFile('src/f'), entryError('src/sub'), failedFile('src/sub/g'), failedFile('src2/x', other), failedFile('srcx/f'), failedFile('src2/y', DIR_ERROR)]) r.event(event);
    expect(stderr.text).toBe(
      `fcp: src: ${DIR_ERROR.message} (FCP_ERR_NOT_DIRECTORY)\n` +
        'fcp: src2/x: cannot read src2/x (FCP_ERR_IO)\n' +
        // Not below src (a name that only starts the same), and one below another entry: shown.
        `fcp: srcx/f: ${DIR_ERROR.message} (FCP_ERR_NOT_DIRECTORY)\n` +
        `fcp: src2/y: ${DIR_ERROR.message} (FCP_ERR_NOT_DIRECTORY)\n`,
    );
    const json = reporter({ json: true });
    for (const event of [entryError('src'), failedFile('src/f')]) json.r.event(event);
    expect(json.stdout.text.split('\n').filter(Boolean).map((line) => JSON.parse(line).path)).toEqual(['src', 'src/f']);
  });

  test('an entry below it that fails with an error of its own is shown', () => {
    const { r, stderr } = reporter();
    r.event(entryError('src'));
    r.event(failedFile('src/f', { code: 'FCP_ERR_POLICY', message: 'refused by policy' }));
    expect(stderr.text.split('\n').filter(Boolean)).toHaveLength(2);
  });
});
