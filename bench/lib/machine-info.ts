import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly date: string;
  readonly commit: string;
  /** 1-minute load average when the run started and when it ended: how much else the machine was doing. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

const loadAtStart = os.loadavg()[0]!;

export function machineInfo(root: string): MachineInfo {
  let cpu = os.cpus()[0]?.model?.trim() ?? 'unknown';
  try {
    const model = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (model !== null) cpu = model[1]!.trim();
  } catch {
    // Not Linux: os.cpus() it is.
  }
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'host', 'native-sdk'], { cwd: root, encoding: 'utf8' });
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    loadAverage: { start: loadAtStart, end: os.loadavg()[0]! },
    commit: `${git.stdout.trim() || 'unknown'}${dirty.stdout.trim() === '' ? '' : ' (host/ had uncommitted changes)'}`,
  };
}
