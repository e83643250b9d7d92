/**
 * CPU time of processes on Linux, read from /proc (utime + stime, plus the time of children the
 * process has already reaped): the benchmark's per-process CPU seconds per record.
 */
import { execFileSync } from 'child_process';
import { readdirSync, readFileSync } from 'fs';

let ticks: number | undefined;
/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on every Linux we run on). */
function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

interface Stat {
  readonly pid: number;
  readonly ppid: number;
  /** utime + stime + cutime + cstime, in seconds. */
  readonly cpuSeconds: number;
}

function stat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited, or not Linux
  }
  // Fields after "pid (comm) ": the comm may hold spaces and parentheses, so split after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [utime, stime, cutime, cstime] = [f[11], f[12], f[13], f[14]].map(Number);
  return { pid, ppid: Number(f[1]), cpuSeconds: (utime + stime + cutime + cstime) / clockTicks() };
}

/** True when /proc can be read (Linux). */
export const canMeasureCpu = (): boolean => stat(process.pid) !== undefined;

/**
 * CPU seconds used so far by a process and all its live descendants (each includes the children
 * it reaped, so backends that already exited are counted in their postmaster).
 */
export function treeCpuSeconds(rootPid: number): number {
  const all: Stat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s) all.push(s);
  }
  const children = new Map<number, Stat[]>();
  for (const s of all) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  let total = 0;
  const queue = all.filter((s) => s.pid === rootPid);
  while (queue.length > 0) {
    const s = queue.pop()!;
    total += s.cpuSeconds;
    queue.push(...(children.get(s.pid) ?? []));
  }
  return total;
}

/** The parent of a process (the postmaster of a backend, for example). */
export function parentPid(pid: number): number | undefined {
  return stat(pid)?.ppid;
}

/** Peak resident set (VmHWM) of a process in MB, or 0 where /proc cannot tell. */
export function peakRssMb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** CPU seconds of this process (the benchmark driver itself). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
