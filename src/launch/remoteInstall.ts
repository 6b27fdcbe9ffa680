/**
 * fcpd on hosts that lack it (README "Modes"). fcp's default remote command is a small sh script
 * that runs, in order: this version's self-contained fcpd from the per-user cache
 * (~/.cache/fcp/<version>/fcpd.js, used only while its SHA-256 is the one fcp ships), an fcpd on
 * the PATH, and otherwise exits with a code that says what is missing. When that is only fcpd
 * (Node.js 20+ is there), fcp copies its bundle over the same SSH connection into the cache,
 * under a temporary name checked by its SHA-256 and then renamed, and runs the script again.
 * All of it in one exec each, so a host that has fcpd pays nothing extra.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from './packageRoot';

/** The launch script's exit codes (sh's own are below 128 and 127 is "not found"). */
export const LAUNCH_EXIT = {
  /** Node.js 20+ is there but no fcpd: install the bundle. */
  NEEDS_FCPD: 120,
  /** No Node.js, or one older than 20: fcpd cannot run there. */
  NO_NODE: 121,
} as const;

/** The self-contained fcpd this package ships, and its SHA-256 (hex). */
export interface FcpdBundle {
  version: string;
  bytes: Buffer;
  sha256: string;
}

let cached: FcpdBundle | null | undefined;

/** dist/fcpd.js of this package, or null when it was not built (a checkout without `npm run build`). */
export function localBundle(version: string): FcpdBundle | null {
  if (cached !== undefined) return cached;
  try {
    const bytes = fs.readFileSync(path.join(packageRoot(), 'dist', 'fcpd.js'));
    cached = { version, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch {
    cached = null;
  }
  return cached;
}

/** A string as one sh word. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The cache directory and file, as sh expressions under $HOME. */
function cachePaths(version: string): { dir: string; file: string } {
  const dir = `"$HOME"/.cache/fcp/${shQuote(version)}`;
  return { dir, file: `${dir}/fcpd.js` };
}

/** sh that prints the SHA-256 of "$f" (GNU sha256sum, else BSD/macOS shasum), or nothing. */
const HASH_OF_F = `h=$( (sha256sum "$f" || shasum -a 256 "$f") 2>/dev/null | cut -c1-64)`;
/** The oldest Node.js fcpd runs on. */
export const MIN_NODE_MAJOR = 20;

const NODE_20 = `command -v node >/dev/null 2>&1 && node -e 'process.exit(Number(process.versions.node.split(".")[0] < ${MIN_NODE_MAJOR}))' 2>/dev/null`;

/** Runs a script with sh whatever the login shell is (csh and fish read single quotes the same). */
function sh(script: string): string {
  return `sh -c ${shQuote(script)}`;
}

/**
 * The remote command that starts fcpd with `serve` (its --serve arguments): the cached bundle,
 * else fcpd on the PATH, else an exit code.
 */
export function launchCommand(bundle: FcpdBundle, serve: string): string {
  const { file } = cachePaths(bundle.version);
  return sh(
    [
      `f=${file}`,
      // Only a shell builtin on this path: a host with the cache pays no extra process start.
      `if [ -f "$f" ] && command -v node >/dev/null 2>&1; then ${HASH_OF_F}; [ "$h" = ${bundle.sha256} ] && exec node "$f" ${serve}; fi`,
      `command -v fcpd >/dev/null 2>&1 && exec fcpd ${serve}`,
      `${NODE_20} && exit ${LAUNCH_EXIT.NEEDS_FCPD}`,
      `exit ${LAUNCH_EXIT.NO_NODE}`,
    ].join('\n'),
  );
}

/**
 * The remote command that writes its standard input (the bundle) into the cache: a 0700
 * directory, a temporary name, the SHA-256 checked, then renamed over whatever was there.
 */
export function installCommand(bundle: FcpdBundle): string {
  const { dir, file } = cachePaths(bundle.version);
  return sh(
    [
      'umask 077',
      `d=${dir}`,
      'mkdir -p "$d" && chmod 700 "$d" || exit 1',
      'f="$d/.fcpd.js.$$"',
      'cat > "$f" || { rm -f "$f"; exit 1; }',
      HASH_OF_F,
      // Without sha256sum or shasum, Node (which is there: fcpd needs it) hashes it.
      `[ -n "$h" ] || h=$(node -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$f")`,
      `[ "$h" = ${bundle.sha256} ] || { echo "fcpd.js arrived with SHA-256 $h" >&2; rm -f "$f"; exit 2; }`,
      `mv -f "$f" ${file}`,
    ].join('\n'),
  );
}
