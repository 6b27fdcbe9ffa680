/**
 * The share of this machine's CPU time that was idle over a stretch of time, for the connection
 * tuners (src/client/connectionGrowth.ts, src/sftp/sessionGrowth.ts): a connection adds throughput
 * only where a CPU is free to seal, hash and copy its bytes. On loopback both ends share the
 * machine, and more connections than the cores can drive only cost more.
 */
import * as os from 'node:os';

interface CpuTimes {
  idle: number;
  total: number;
}

function cpuTimes(): CpuTimes {
  let idle = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    idle += times.idle;
    total += times.user + times.nice + times.sys + times.idle + times.irq;
  }
  return { idle, total };
}

/** A meter: each call returns the idle share (0..1) since the call before (or since it was made). */
export function idleMeter(): () => number {
  let last = cpuTimes();
  return () => {
    const now = cpuTimes();
    const [idle, total] = [now.idle - last.idle, now.total - last.total];
    last = now;
    // No tick passed (a window shorter than the kernel's accounting): nothing says the CPUs are full.
    return total > 0 ? idle / total : 1;
  };
}
