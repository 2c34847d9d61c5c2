import fs from 'node:fs';

/**
 * The fastest a process is assumed to grow, in bytes per millisecond (4 GB/s): the next look comes
 * before a leak this fast could cross the ceiling. Measured here: a loop that mallocs and touches
 * 64 MiB blocks grows ~0.9 GB/s (docs/isolation.md, "Memory ceiling").
 */
const ASSUMED_GROWTH_BYTES_PER_MS = 4 << 20;
/** Near the ceiling: a read of /proc/<pid>/status costs ~15 µs, so 100 a second is still nothing. */
const MIN_INTERVAL_MS = 10;
/** Far below it: how stale the reading may get however large the headroom. */
const MAX_INTERVAL_MS = 100;

/** False where there is no /proc (not Linux): the host cannot see a runner's resident size. */
export const CAN_WATCH_MEMORY = fs.existsSync('/proc/self/status');

export interface MemoryCeilingWatch {
  /** Stops watching (the process exited, or it is being replaced). */
  stop(): void;
}

/**
 * The process' own resident memory in bytes, from the text of /proc/<pid>/status: anonymous pages (the
 * malloc heap, V8's heap, stacks) plus shared memory it created, not the Node binary and libraries mapped
 * from disk (~45 MB resident, shared with the host and every other runner, the same for every module).
 * VmRSS on kernels older than 4.5, which lack the split; undefined for a zombie, which has neither.
 */
function privateResidentBytes(status: string): number | undefined {
  const anon = kilobytes(status, /^RssAnon:\s+(\d+) kB$/m);
  const total = anon === undefined ? kilobytes(status, /^VmRSS:\s+(\d+) kB$/m) : anon + (kilobytes(status, /^RssShmem:\s+(\d+) kB$/m) ?? 0);
  return total === undefined ? undefined : total * 1024;
}

function kilobytes(status: string, field: RegExp): number | undefined {
  const match = field.exec(status);
  return match === null ? undefined : Number(match[1]);
}

/**
 * Watches a process' private resident memory from outside it and calls `onOver` once, with the size it saw, when
 * it exceeds `ceilingBytes`. From outside, because the process may be stuck in native code (a malloc
 * loop) and unable to run a timer of its own. The interval shrinks with the headroom left, so a leak is
 * seen within ~10 ms of crossing the ceiling while an idle process is looked at 10 to 30 times a second.
 * Returns undefined when the process cannot be watched (it is gone already, or CAN_WATCH_MEMORY is false).
 */
export function watchMemoryCeiling(pid: number, ceilingBytes: number, onOver: (residentBytes: number) => void): MemoryCeilingWatch | undefined {
  let fd: number;
  try {
    // Held open: the descriptor stays tied to this process, so a later reuse of the pid is never read.
    fd = fs.openSync(`/proc/${pid}/status`, 'r');
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(4096);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearTimeout(timer);
    fs.closeSync(fd);
  };
  const look = (): void => {
    let resident: number | undefined;
    try {
      resident = privateResidentBytes(buffer.toString('latin1', 0, fs.readSync(fd, buffer, 0, buffer.length, 0)));
    } catch {
      // The process is gone (ESRCH); its exit is reported elsewhere.
      return stop();
    }
    if (resident === undefined) return stop();
    if (resident > ceilingBytes) {
      stop();
      return onOver(resident);
    }
    const headroomMs = (ceilingBytes - resident) / ASSUMED_GROWTH_BYTES_PER_MS;
    timer = setTimeout(look, Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, headroomMs)));
    // Watching never keeps the host alive by itself.
    timer.unref();
  };
  look();
  return { stop };
}
