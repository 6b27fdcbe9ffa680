/**
 * fcpd on hosts that lack it (README "Modes"). fcp's default remote command is a small sh script
 * that runs, in order: this version's self-contained fcpd from the per-user cache
 * (~/.cache/fcp/<version>/fcpd.js, used only while its SHA-256 is the one fcp ships), an fcpd on
 * the PATH, and otherwise, where Node.js is, an installer: the script asks for the bundle with
 * one line on stdout, and a few lines of Node read it from stdin right behind the secret line,
 * check its SHA-256, write it into the cache (0700 directory, temporary name, renamed) and run it
 * in the same process. One exec either way: installing costs the bundle's bytes and little more,
 * and a host that has fcpd pays nothing.
 *
 * The cached fcpd runs with a V8 code cache beside it (fcpd.js.v8cache, RUN_CACHED below), as
 * bin/fcpd does with src/cli/codeCache.ts: compiling the 1.1 MB bundle was about 0.1 s of every
 * launch.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NODE_FLAGS } from '../nodeFlags';
import { shellQuote } from '../ssh/remoteCommand';
import { PRINT_PID } from './handoff';
import { packageRoot } from './packageRoot';

/** The launch script's exit codes (sh's own are below 128 and 127 is "not found"). */
export const LAUNCH_EXIT = {
  /** No fcpd, and installing was not allowed (--no-install). */
  NEEDS_FCPD: 120,
  /** No Node.js, or one older than MIN_NODE_MAJOR: fcpd cannot run there. */
  NO_NODE: 121,
} as const;

/** What the launch script prints when it wants the bundle on stdin, behind the secret line. */
export const SEND_BUNDLE = 'FCP-SEND-FCPD';

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

/** The cached bundle of `version`, as an sh expression under $HOME. */
function cachedFile(version: string): string {
  return `"$HOME"/.cache/fcp/${shellQuote(version)}/fcpd.js`;
}

/**
 * sh that sets h to the SHA-256 of "$f" (GNU sha256sum, else BSD/macOS shasum), or to nothing:
 * the line's first word by the shell's own expansion, not `cut`, whose process and the subshell
 * around the two were 4 of the 11 ms this took on every launch.
 */
const HASH_OF_F = 'h=$(sha256sum "$f" 2>/dev/null || shasum -a 256 "$f" 2>/dev/null); h=${h%% *}';
/** The oldest Node.js fcpd runs on. */
export const MIN_NODE_MAJOR = 20;

/** Node as it runs the fcpd fcp installs or keeps in its cache (src/nodeFlags.ts). */
const FCPD_NODE = ['node', ...NODE_FLAGS].join(' ');

const NODE_20 = `command -v node >/dev/null 2>&1 && node -e 'process.exit(Number(process.versions.node.split(".")[0] < ${MIN_NODE_MAJOR}))' 2>/dev/null`;

/** Runs a script with sh whatever the login shell is (csh and fish read single quotes the same). */
export function shCommand(script: string): string {
  return `sh -c ${shellQuote(script)}`;
}

/**
 * Node code (plain ES2015, double quotes only) defining R(file, sha256, args), which runs the cached
 * fcpd.js, whose SHA-256 the launch script checked, as `fcpd ARGS` with a V8 code cache kept
 * beside it (FILE.v8cache, in the same 0700 directory: the same trust as the file). The cache's
 * first line names what it was made from (Node's version, its binary's path, size and mtime,
 * the bundle's SHA-256) and the SHA-256 of the code cache that follows: V8 checks little of a
 * code cache but its length, and a changed byte makes Node 20 abort (SIGTRAP), so a cache whose
 * hash does not match is never handed to V8. A missing, stale or corrupt cache, or one V8
 * rejects, costs the compile, and the run writes a new one once fcpd's work is done (aside,
 * renamed; fcp does not wait for it); a cache that cannot be written costs nothing more. The
 * bundle is ASCII (scripts/bundle.ts checks), so it is read as latin1, without decoding.
 */
const RUN_CACHED = [
  'function R(f,h,args){var fs=require("fs"),vm=require("vm"),M=require("module"),path=require("path"),crypto=require("crypto");f=path.resolve(f);var ',
  'sha=function(x){return crypto.createHash("sha256").update(x).digest("hex")},c=f+".v8cache",d,',
  'e=fs.statSync(process.execPath),k=[process.version,process.arch,process.execPath.length,process.execPath,e.size,e.mtimeMs,h].join(" ")+" ";',
  'try{var b=fs.readFileSync(c),n=b.indexOf(10);',
  'if(n===k.length+64&&b.toString("latin1",0,k.length)===k&&b.toString("latin1",k.length,n)===sha(b.subarray(n+1)))d=b.subarray(n+1)}catch(x){}',
  'var s=new vm.Script(M.wrap(fs.readFileSync(f,"latin1")),{filename:f,cachedData:d}),m=new M(f,null);m.filename=f;m.loaded=true;',
  'process.argv=[process.argv[0],f].concat(args);s.runInThisContext()(m.exports,M.createRequire(f),m,f,path.dirname(f));',
  'm.exports.run(function(){if(d!==undefined&&!s.cachedDataRejected)return;',
  'var t=path.dirname(f)+"/.fcpd.js.v8cache."+process.pid;try{var x=s.createCachedData();',
  'fs.writeFileSync(t,Buffer.concat([Buffer.from(k+sha(x)+"\\n","latin1"),x]),{mode:384});fs.renameSync(t,c)}',
  'catch(x){try{fs.unlinkSync(t)}catch(y){}}})}',
].join('');

/** Node code run as `node -e RUN_CACHED_FCPD SHA256 FILE ARGS...`: the cached fcpd with its code cache. */
export const RUN_CACHED_FCPD = `${RUN_CACHED}var a=process.argv;R(a[2],a[1],a.slice(3))`;

/**
 * Node code run as `node -e INSTALLER SECRET_LINE_BYTES BUNDLE_BYTES SHA256 FILE ARGS...`: reads the
 * secret line and the bundle from stdin (exactly their bytes, so nothing that follows is lost),
 * checks the bundle, caches it, puts the secret line back and runs fcpd in this process. Plain
 * ES2015 with double quotes only, so that an old Node can still say it is too old.
 */
const INSTALLER = [
  'var fs=require("fs"),path=require("path"),crypto=require("crypto"),a=process.argv;',
  `if(+process.versions.node.split(".")[0]<${MIN_NODE_MAJOR}){process.stderr.write("fcpd needs Node.js ${MIN_NODE_MAJOR} or later, not "+process.version+"\\n");process.exit(${LAUNCH_EXIT.NO_NODE})}`,
  'var k=+a[1],n=+a[2],b=Buffer.alloc(k+n),got=0;',
  'while(got<b.length){var r;try{r=fs.readSync(0,b,got,b.length-got,null)}catch(e){if(e.code!=="EAGAIN")throw e;r=-1}',
  'if(r===0){process.stderr.write("the bundle ended early\\n");process.exit(2)}if(r>0)got+=r}',
  'var d=b.subarray(k),f=a[4],dir=path.dirname(f);',
  'if(crypto.createHash("sha256").update(d).digest("hex")!==a[3]){process.stderr.write("fcpd.js arrived with another SHA-256\\n");process.exit(2)}',
  'fs.mkdirSync(dir,{recursive:true,mode:448});fs.chmodSync(dir,448);var t=dir+"/.fcpd.js."+process.pid;',
  'fs.writeFileSync(t,d,{mode:384});fs.renameSync(t,f);',
  // Run as the cached bundle is, with the code cache its first run writes.
  `process.stdin.unshift(b.subarray(0,k));${RUN_CACHED}R(f,a[3],a.slice(5))`,
].join('');

/**
 * The remote command that starts fcpd with `serve` (its --serve arguments), its pid printed first
 * (PRINT_PID; every step execs, so it is fcpd's): the cached bundle,
 * else fcpd on the PATH (unless `skipPath`), else (when `install`) the installer, which asks for the bundle; else an
 * exit code. `secretLineBytes` is the length of the hand-off's first line.
 */
export function launchCommand(
  bundle: FcpdBundle,
  serve: string,
  install: boolean,
  secretLineBytes: number,
  /** Passes over an fcpd on the PATH: it turned out to be another release (remoteFcpd.ts). */
  skipPath = false,
): string {
  const file = cachedFile(bundle.version);
  const installer = `echo ${SEND_BUNDLE}; exec ${FCPD_NODE} -e ${shellQuote(INSTALLER)} ${secretLineBytes} ${bundle.bytes.length} ${bundle.sha256} "$f" ${serve}`;
  return shCommand(
    [
      PRINT_PID,
      `f=${file}`,
      // Only shell builtins on this path: a host with the cache pays no extra process start.
      `if [ -f "$f" ] && command -v node >/dev/null 2>&1; then ${HASH_OF_F}; [ "$h" = ${bundle.sha256} ] && exec ${FCPD_NODE} -e ${shellQuote(RUN_CACHED_FCPD)} ${bundle.sha256} "$f" ${serve}; fi`,
      ...(skipPath ? [] : [`command -v fcpd >/dev/null 2>&1 && exec fcpd ${serve}`]),
      `command -v node >/dev/null 2>&1 || exit ${LAUNCH_EXIT.NO_NODE}`,
      install ? installer : `${NODE_20} || exit ${LAUNCH_EXIT.NO_NODE}; exit ${LAUNCH_EXIT.NEEDS_FCPD}`,
    ].join('\n'),
  );
}
