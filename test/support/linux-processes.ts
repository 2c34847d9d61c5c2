import fs from 'node:fs';

/** What /proc says about one process; undefined once the process is gone (or reaped). */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  /** 'Z' for a zombie: exited, not yet reaped. */
  readonly state: string;
  readonly rssKb: number;
}

export function processInfo(pid: number): ProcessInfo | undefined {
  let status: string;
  try {
    status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
  return { pid, ppid: Number(field('PPid')), state: field('State').charAt(0), rssKb: Number.parseInt(field('VmRSS'), 10) || 0 };
}

/** CPU time the process has used so far (user + system), in milliseconds. */
export function cpuMs(pid: number): number {
  // Fields after the parenthesised command name; utime and stime are the 12th and 13th of them.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** True while the process exists and has not exited (a zombie counts as gone). */
export function isRunning(pid: number): boolean {
  const info = processInfo(pid);
  return info !== undefined && info.state !== 'Z';
}

/** The pids of the live processes whose parent is `parent` and whose command line contains `word`. */
export function childPids(parent: number, word: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      const info = processInfo(pid);
      if (info === undefined || info.ppid !== parent || info.state === 'Z') return false;
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(word);
      } catch {
        return false;
      }
    });
}

/** The environment a process was started with, as /proc shows it to anyone who may read it. */
export function environOf(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const equals = entry.indexOf('=');
    if (equals > 0) env[entry.slice(0, equals)] = entry.slice(equals + 1);
  }
  return env;
}

/**
 * The processes below `root` (at any depth) that run this Node binary on module-runner.js: the runners
 * themselves, also when bwrap and its init sit between them and the host.
 */
export function runnerNodePids(root: number): number[] {
  const node = fs.realpathSync(process.execPath);
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const child of childPids(pid, '')) {
      try {
        if (fs.readlinkSync(`/proc/${child}/exe`) === node && fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('module-runner.js')) found.push(child);
      } catch {
        // gone meanwhile
      }
      walk(child);
    }
  };
  walk(root);
  return found;
}
