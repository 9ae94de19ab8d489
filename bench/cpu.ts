import { readFileSync } from 'node:fs';

/** CPU counters from /proc, in clock ticks (USER_HZ), summed over all CPUs. */
export interface CpuSnapshot {
  /** Every tick of every CPU, idle included. */
  total: number;
  /** Ticks not idle and not waiting for I/O. */
  busy: number;
  /** user + system ticks per watched process. */
  processes: Map<number, number>;
}

export function takeCpuSnapshot(pids: number[]): CpuSnapshot {
  // First line of /proc/stat: cpu user nice system idle iowait irq softirq steal guest guest_nice.
  const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = fields as [number, number, number, number, number, number, number, number];
  const processes = new Map<number, number>();
  for (const pid of pids) {
    // The command name is in parentheses and may contain spaces, so split after it. utime and stime
    // are the 12th and 13th fields after the name.
    const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    processes.set(pid, Number(rest[11]) + Number(rest[12]));
  }
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, busy: user + nice + system + irq + softirq + steal, processes };
}

/**
 * CPU used between two snapshots, in cores (1 = one CPU fully busy): per watched process, and by
 * everything else on the machine. Ticks are converted with the machine's CPU count, so USER_HZ
 * need not be known.
 */
export function cpuCoresBetween(before: CpuSnapshot, after: CpuSnapshot, cpuCount: number): { processes: Map<number, number>; others: number } {
  const totalTicks = after.total - before.total;
  const toCores = (ticks: number): number => (totalTicks <= 0 ? 0 : Math.round((ticks / totalTicks) * cpuCount * 100) / 100);
  const processes = new Map<number, number>();
  let watchedTicks = 0;
  for (const [pid, ticks] of after.processes) {
    const used = ticks - (before.processes.get(pid) ?? ticks);
    watchedTicks += used;
    processes.set(pid, toCores(used));
  }
  return { processes, others: toCores(after.busy - before.busy - watchedTicks) };
}
