/**
 * Node's flags for every process of fcp's own: fcp, fcpd and fcp-track (their bin/ scripts' shell
 * line carries them; test/unit/nodeFlags.test.ts checks that it is these), fcpd as fcp starts it
 * from its cache or installs it (launch/remoteInstall.ts), and the background daemons.
 *
 * --v8-pool-size=0: V8's helper threads (its JIT compiles, the collector's parallel and concurrent
 * work) one fewer than the CPUs, at least one, where Node starts four whatever the machine. fcp's
 * main thread makes its small files' system calls itself, so it is what bounds a copy of many
 * files; on two CPUs, four compiler threads compiling fcp's per-file path in a fresh process took
 * their share of its core from it: 10,000 × 4 KiB copied locally in 0.318 s against 0.360 (11
 * alternated runs, docs/BENCHMARKS.md "Local copies, twelfth round"). With one CPU left to them the
 * compiles finish later but no longer stop the copy. V8's flags are not changed, so the code
 * caches stay valid.
 */
export const NODE_FLAGS: readonly string[] = ['--v8-pool-size=0'];
