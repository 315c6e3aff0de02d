import { readdir, readFile } from 'node:fs/promises';

/** The parts of a local system whose CPU the bench reports, in this order. */
export const PARTS = ['api', 'workers', 'postgres', 'redis', 'load generator'] as const;
export type Part = (typeof PARTS)[number];

/** CPU seconds each part has used so far. */
export type CpuTotals = Record<Part, number>;

// Linux reports utime/stime in clock ticks of USER_HZ, 100 on every mainstream kernel build.
const TICKS_PER_SECOND = 100;

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Seconds of CPU of the process itself (all its threads). */
  own: number;
  /** Seconds of CPU of its children that have exited and been waited for. */
  reaped: number;
}

/** /proc/<pid>/stat, or null when the process is gone (or this is not Linux). */
async function readStat(pid: number): Promise<ProcStat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ')'.
  const close = text.lastIndexOf(')');
  const f = text.slice(close + 2).split(' ');
  const n = (i: number) => Number(f[i]) / TICKS_PER_SECOND;
  // Fields after comm, from 0: state, ppid, …, utime (11), stime (12), cutime (13), cstime (14).
  return { pid, comm: text.slice(text.indexOf('(') + 1, close), ppid: Number(f[1]), own: n(11) + n(12), reaped: n(13) + n(14) };
}

/**
 * What each part of the system has used so far, read from /proc: the API's and workers'
 * processes by pid, every `postgres` process (a postmaster also counts its backends that have
 * exited, which it reaped), every `redis-server`, and this process for the load generator.
 * On loopback that is the whole machine's work for a scenario, but Postgres and Redis are the
 * machine's: anything else using them at the same time is counted too. Null where /proc is
 * not there.
 */
export async function cpuTotals(pids: { api: number | undefined; workers: (number | undefined)[] }): Promise<CpuTotals | null> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return null;
  }
  const stats = (await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readStat(Number(e))))).filter((s): s is ProcStat => s !== null);
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  const own = (pid: number | undefined) => (pid === undefined ? 0 : (byPid.get(pid)?.own ?? 0));
  const sum = (list: ProcStat[], withReaped: (s: ProcStat) => boolean) => list.reduce((n, s) => n + s.own + (withReaped(s) ? s.reaped : 0), 0);
  const postgres = stats.filter((s) => s.comm === 'postgres' || s.comm.startsWith('postgres:'));
  const self = process.cpuUsage();
  return {
    api: own(pids.api),
    workers: pids.workers.reduce<number>((n, pid) => n + own(pid), 0),
    // The postmaster is the postgres process whose parent is not one.
    postgres: sum(postgres, (s) => !postgres.some((p) => p.pid === s.ppid)),
    redis: sum(
      stats.filter((s) => s.comm === 'redis-server'),
      () => false,
    ),
    'load generator': (self.user + self.system) / 1e6,
  };
}

/** CPU used between two readings, per part. */
export function cpuUsed(before: CpuTotals, after: CpuTotals): CpuTotals {
  return Object.fromEntries(PARTS.map((p) => [p, Math.max(0, after[p] - before[p])])) as CpuTotals;
}
