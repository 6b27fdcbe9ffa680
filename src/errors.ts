/**
 * The one error type fcp raises. Every failure a user can see is an FcpError with a stable
 * FCP_ERR_* code (for scripts and for the ERROR frame on the wire), a message that says what
 * failed and where, an optional hint that says what to do, and the underlying `cause`.
 */

/** Exit codes of fcp and fcpd, one per failure category (documented in README and --help). */
export const ExitCode = {
  OK: 0,
  USAGE: 2,
  PROTOCOL: 3,
  FILE_IO: 4,
  AUTH: 5,
  CONNECTION: 6,
  TIMEOUT: 7,
  PARTIAL: 8,
  INTERNAL: 9,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

type Category = keyof typeof ExitCode;

/**
 * Every error code: its number on the wire (ERROR and FILE_ERROR frames carry it as u16) and
 * its exit-code category. Wire numbers are stable forever: never renumber, only append.
 */
export const ERROR_CODES = {
  FCP_ERR_USAGE: { wire: 1, category: 'USAGE' },
  FCP_ERR_PROTOCOL: { wire: 2, category: 'PROTOCOL' },
  FCP_ERR_BAD_CHECKSUM: { wire: 3, category: 'PROTOCOL' },
  FCP_ERR_UNKNOWN_TYPE: { wire: 4, category: 'PROTOCOL' },
  FCP_ERR_BAD_LENGTH: { wire: 5, category: 'PROTOCOL' },
  FCP_ERR_TRAILING_BYTES: { wire: 6, category: 'PROTOCOL' },
  FCP_ERR_TRUNCATED: { wire: 7, category: 'PROTOCOL' },
  FCP_ERR_UNEXPECTED_MESSAGE: { wire: 8, category: 'PROTOCOL' },
  FCP_ERR_BAD_FIELD: { wire: 9, category: 'PROTOCOL' },
  FCP_ERR_BAD_PATH: { wire: 10, category: 'PROTOCOL' },
  FCP_ERR_VERSION: { wire: 11, category: 'PROTOCOL' },
  FCP_ERR_PARAMS: { wire: 12, category: 'PROTOCOL' },
  FCP_ERR_DECRYPT: { wire: 13, category: 'PROTOCOL' },
  FCP_ERR_AUTH: { wire: 20, category: 'AUTH' },
  FCP_ERR_UNKNOWN_SESSION: { wire: 21, category: 'AUTH' },
  /** fcpd's policy (fcpd.toml) refused an address, a session or a path: access denied, as an authentication failure is. */
  FCP_ERR_POLICY: { wire: 22, category: 'AUTH' },
  /** A secrets file of daemon access (fcp's secrets, fcpd's users file) is missing, malformed, or readable by others than its owner. */
  FCP_ERR_SECRETS: { wire: 23, category: 'AUTH' },
  FCP_ERR_NOT_FOUND: { wire: 30, category: 'FILE_IO' },
  FCP_ERR_PERMISSION: { wire: 31, category: 'FILE_IO' },
  FCP_ERR_NO_SPACE: { wire: 32, category: 'FILE_IO' },
  FCP_ERR_IS_DIRECTORY: { wire: 33, category: 'FILE_IO' },
  FCP_ERR_NOT_DIRECTORY: { wire: 34, category: 'FILE_IO' },
  FCP_ERR_IO: { wire: 35, category: 'FILE_IO' },
  FCP_ERR_VERIFY: { wire: 36, category: 'FILE_IO' },
  FCP_ERR_SOURCE_CHANGED: { wire: 37, category: 'FILE_IO' },
  FCP_ERR_FILE_TOO_LARGE: { wire: 38, category: 'FILE_IO' },
  FCP_ERR_CONNECT: { wire: 40, category: 'CONNECTION' },
  FCP_ERR_CONNECTION_LOST: { wire: 41, category: 'CONNECTION' },
  FCP_ERR_NO_REMOTE_NODE: { wire: 42, category: 'CONNECTION' },
  /** Remote to remote: the source host's fcpd reached the destination's neither directly nor through fcp. */
  FCP_ERR_PEER_UNREACHABLE: { wire: 43, category: 'CONNECTION' },
  // Wire 44 (FCP_ERR_NO_RELAY) is retired: the relay between two hosts needs no TCP forwarding any more.
  FCP_ERR_TIMEOUT: { wire: 50, category: 'TIMEOUT' },
  FCP_ERR_PARTIAL: { wire: 60, category: 'PARTIAL' },
  FCP_ERR_CANCELLED: { wire: 61, category: 'PARTIAL' },
  /** --max-delete: more destination entries were to be deleted than it allows (rsync exits 25). */
  FCP_ERR_MAX_DELETE: { wire: 62, category: 'PARTIAL' },
  /** fcp-track push: another push holds the remote folder's lock (.fcp/push.lock there); the message names it. */
  FCP_ERR_LOCKED: { wire: 63, category: 'FILE_IO' },
  /** fcp --job/--attach/--cancel/--retry named no job (or not a job id). */
  FCP_ERR_NO_SUCH_JOB: { wire: 70, category: 'USAGE' },
  /** The job is not in a state that allows it: retrying a running job, cancelling a finished one. */
  FCP_ERR_JOB_STATE: { wire: 71, category: 'USAGE' },
  /** A job's record file cannot be read (torn by a crash, edited, from another fcp version). */
  FCP_ERR_JOB_RECORD: { wire: 72, category: 'FILE_IO' },
  /** fcp-track: the folder's database or a remote record cannot be read (corrupted, or from a newer fcp): `fcp-track repair`. */
  FCP_ERR_TRACK_STATE: { wire: 74, category: 'FILE_IO' },
  /** fcp-track: run outside a tracked folder, or named a path that is not tracked or not in the folder. */
  FCP_ERR_NOT_TRACKED: { wire: 75, category: 'USAGE' },
  /** fcp-track push/pull: a file changed on both sides since the last sync was refused (--ours, --theirs). */
  FCP_ERR_CONFLICT: { wire: 76, category: 'PARTIAL' },
  /** fcp --watch --two-way: a side's record cannot be opened, read or written (corrupted, from a newer fcp, no SQLite there); fcpd's side sends it as ERROR. */
  FCP_ERR_TWO_WAY_STATE: { wire: 77, category: 'FILE_IO' },
  FCP_ERR_INTERNAL: { wire: 99, category: 'INTERNAL' },
} as const satisfies Record<string, { wire: number; category: Category }>;

export type FcpErrorCode = keyof typeof ERROR_CODES;

const codeByWire = new Map<number, FcpErrorCode>(
  (Object.keys(ERROR_CODES) as FcpErrorCode[]).map((code) => [ERROR_CODES[code].wire, code]),
);

/** The code a peer's ERROR frame names; an unknown number maps to FCP_ERR_PROTOCOL. */
export function codeFromWire(wire: number): FcpErrorCode {
  return codeByWire.get(wire) ?? 'FCP_ERR_PROTOCOL';
}

export function wireFromCode(code: FcpErrorCode): number {
  return ERROR_CODES[code].wire;
}

export function exitCodeFor(code: FcpErrorCode): ExitCodeValue {
  return ExitCode[ERROR_CODES[code].category];
}

/**
 * The exit code of a transfer that ran to its end: 0 when nothing failed; when files failed, 8
 * (partial) if at least one file was copied, else the failure's own code (4 for a file system
 * error), so that "nothing was copied" and "some were" are told apart by the code alone.
 */
export function transferExitCode(filesCopied: number, errors: readonly FcpError[]): ExitCodeValue {
  if (errors.length === 0) return ExitCode.OK;
  return filesCopied > 0 ? ExitCode.PARTIAL : errors[0]!.exitCode;
}

export interface FcpErrorOptions {
  /** What to do about it, shown to the user after the message. */
  hint?: string;
  cause?: unknown;
}

export class FcpError extends Error {
  override readonly name = 'FcpError';
  readonly code: FcpErrorCode;
  readonly hint: string | undefined;

  constructor(code: FcpErrorCode, message: string, options: FcpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }

  get exitCode(): ExitCodeValue {
    return exitCodeFor(this.code);
  }

  /** The line shown to a user: message, then what to do. */
  describe(): string {
    return this.hint ? `${this.message} (${this.code})\n  ${this.hint}` : `${this.message} (${this.code})`;
  }
}

/**
 * `err` as an FcpError: anything else is a bug, FCP_ERR_INTERNAL with the original (and its
 * stack) as the cause. `where` names the place in the message.
 */
export function asFcpError(err: unknown, where?: string): FcpError {
  if (err instanceof FcpError) return err;
  const what = err instanceof Error ? err.message : String(err);
  return new FcpError('FCP_ERR_INTERNAL', `internal error${where ? ` in ${where}` : ''}: ${what}`, {
    cause: err,
    hint: 'this is a bug: please report it (FCP_DEBUG=1 or -v shows where it happened)',
  });
}

/** Where a bug happened, for -v and FCP_DEBUG=1: the stack of an internal error's cause. */
export function internalStack(error: FcpError): string | undefined {
  if (error.code !== 'FCP_ERR_INTERNAL') return undefined;
  return error.cause instanceof Error ? error.cause.stack : error.stack;
}

export function isFcpError(err: unknown): err is FcpError {
  return err instanceof FcpError;
}
