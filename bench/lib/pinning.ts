/**
 * Core pinning: the server under test on core 0, the load generator on core 1, so the two never
 * compete for a core and the server's throughput is one core's worth. Falls back to no pinning (and
 * says so in the report) where `taskset` is missing or refused, or the machine has one core.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export const SERVER_CORE = '0';
export const LOAD_CORE = '1';

let cached: boolean | undefined;

export function canPin(): boolean {
  if (cached === undefined) {
    cached = os.cpus().length >= 2 && spawnSync('taskset', ['-c', SERVER_CORE, 'true']).status === 0 && spawnSync('taskset', ['-c', LOAD_CORE, 'true']).status === 0;
  }
  return cached;
}

/** The command and arguments that run `command args` on `core` when pinning works. */
export function pinned(core: string, command: string, args: readonly string[]): { command: string; args: string[] } {
  return canPin() ? { command: 'taskset', args: ['-c', core, command, ...args] } : { command, args: [...args] };
}

/**
 * Lets a running process (every one of its threads: `-a`) use every core again, for a figure that is
 * about using more than one core. Returns false where pinning was never in force or taskset refused.
 */
export function unpinProcess(pid: number): boolean {
  if (!canPin()) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', `0-${os.cpus().length - 1}`, String(pid)], { stdio: 'ignore' }).status === 0;
}
