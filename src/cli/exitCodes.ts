/** The exit codes of fcp and fcpd, as --help shows them (README.md has the same table). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  2  usage: bad arguments or options
  3  protocol: the peers disagreed (versions, parameters, corrupted frames)
  4  file I/O: nothing was copied because of a source, destination or disk
     problem (no space, permission, a source that changed as it was read);
     with --fail-fast, the failure that stopped the copy
  5  authentication failed, or refused by fcpd's policy (FCP_ERR_POLICY),
     or a secrets file of daemon access refused (FCP_ERR_SECRETS)
  6  connection: could not connect (refused, unknown host, unreachable,
     no SSH greeting within ConnectTimeout), or the control connection, or
     every data connection, was lost (wherever the stream was cut; one lost
     data connection is replaced)
  7  timeout: a peer stopped answering
  8  partial transfer: some files were copied and some failed (each is reported),
     or --remove-source-files kept a source (each is named; rsync exits 23)
  9  internal error (a bug: please report it; FCP_DEBUG=1 shows where)
  130, 143  interrupted (SIGINT: Ctrl-C, SIGTERM): partial files are kept,
     and running the same command again resumes them`;

/** Exit codes of an interrupted fcp or fcpd: 128 + the signal's number, as shells report it. */
export const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };
