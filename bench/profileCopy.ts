/**
 * Profiles one local copy: run as `node --cpu-prof --cpu-prof-dir=DIR dist/bench/profileCopy.js
 * SRC DST [in-process|plain|encrypt]`. in-process (the default) profiles fcp's own process; plain
 * and encrypt go through a local fcpd started with the same profiling flags, so DIR gets both
 * profiles. Print a profile's hot spots with scripts/cpuprofile-top.js.
 *
 * COPIES=N: the same copy N times in this process, into DST.1 .. DST.N, each one's wall and CPU
 * time (all threads) printed: the first pays the warm-up (the JIT's compiles, the code paths run
 * for the first time), the later ones what is left (docs/BENCHMARKS.md, "Local copies", eighth
 * round). Run it with --trace-opt --trace-deopt to see which copy compiled and deoptimized what.
 *
 * HEAP_PROFILE=FILE: V8's sampling heap profiler runs over the copy (every HEAP_INTERVAL bytes, 128
 * unless set), counting the objects the collector freed too, which are most of what a file
 * allocates; FILE gets the profile (.heapprofile, for Chrome's DevTools), and the bytes sampled a
 * file are printed by the innermost function of fcp's own (dist/src) on each allocation's stack.
 */
import { writeFileSync, writeSync } from 'node:fs';
import { Session } from 'node:inspector';
import type { HeapProfiler } from 'node:inspector';
import { copy, localLauncher } from '../src';

const [source, destination, shape = 'in-process'] = process.argv.slice(2);
const profiling = process.execArgv.filter((arg) => arg.startsWith('--cpu-prof'));
const heapProfile = process.env.HEAP_PROFILE;
const copies = Number(process.env.COPIES ?? 1);

type HeapNode = HeapProfiler.SamplingHeapProfileNode;

function post<T>(session: Session, method: string, params?: object): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))));
}

/** Bytes sampled by the innermost frame of fcp's own code on each stack (Node's and V8's own frames count to their caller). */
function byOwnFunction(head: HeapNode): Map<string, number> {
  const sizes = new Map<string, number>();
  const visit = (node: HeapNode, owner: string): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const own = /\/dist\/src\//.test(url) ? `${functionName || '(anonymous)'} ${url.replace(/.*\/dist\//, '')}:${lineNumber + 1}` : owner;
    sizes.set(own, (sizes.get(own) ?? 0) + node.selfSize);
    for (const child of node.children) visit(child, own);
  };
  visit(head, '(outside fcp)');
  return sizes;
}

async function main(): Promise<void> {
  const session = heapProfile ? new Session() : undefined;
  if (session) {
    session.connect();
    await post(session, 'HeapProfiler.startSampling', {
      samplingInterval: Number(process.env.HEAP_INTERVAL ?? 128),
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const copyTo = (to: string): ReturnType<typeof copy> =>
    copy({
      sources: [source!],
      destination: to,
      recursive: true,
      encrypt: shape === 'encrypt',
      launcher: shape === 'in-process' ? undefined : localLauncher({ nodeArgs: profiling }),
    });
  for (let n = 1; n < copies; n++) {
    const cpu = process.cpuUsage();
    const copied = await copyTo(`${destination}.${n}`);
    const used = process.cpuUsage(cpu);
    // Straight to the descriptor: V8's --trace-opt lines, written there too, then fall between.
    writeSync(1, `copy ${n}: ${copied.seconds.toFixed(3)} s, CPU ${((used.user + used.system) / 1e6).toFixed(3)} s\n`);
  }
  const cpu = process.cpuUsage();
  const summary = await copyTo(copies > 1 ? `${destination}.${copies}` : destination!);
  const used = process.cpuUsage(cpu);
  if (copies > 1) writeSync(1, `copy ${copies}: ${summary.seconds.toFixed(3)} s, CPU ${((used.user + used.system) / 1e6).toFixed(3)} s\n`);
  console.log(`${summary.files} files, ${summary.bytes} bytes in ${summary.seconds.toFixed(2)} s (${summary.mode})`);
  if (!session) return;
  const { profile } = await post<HeapProfiler.StopSamplingReturnType>(session, 'HeapProfiler.stopSampling');
  writeFileSync(heapProfile!, JSON.stringify(profile));
  const sizes = [...byOwnFunction(profile.head)].sort((a, b) => b[1] - a[1]);
  const total = sizes.reduce((sum, [, size]) => sum + size, 0);
  const perFile = (bytes: number): string => (bytes / Math.max(1, summary.files * copies)).toFixed(0).padStart(7);
  console.log(`${perFile(total)} B a file sampled, by the innermost function of fcp's own:`);
  for (const [name, size] of sizes.slice(0, 40)) console.log(`${perFile(size)}  ${name}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
