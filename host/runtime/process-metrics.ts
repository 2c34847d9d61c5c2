import { addCounts, type MetricsCounts } from './module-metrics';
import type { ModuleTable } from './module-slot';

/** One module as one process sees it. */
export interface ModuleCounts {
  /** Serving requests (active, with a loaded generation). */
  readonly up: boolean;
  readonly counts: MetricsCounts;
  /** execution: pool counters of the loaded generation (they start at 0 after a reload); absent otherwise. */
  readonly pool?: Readonly<Record<string, number>>;
}

/** What one host process (the single process, or one cluster worker) reports for a scrape. */
export interface ProcessMetrics {
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly modules: Readonly<Record<string, ModuleCounts>>;
}

/** This process's counts; plain data, so it crosses the cluster's IPC channel as it is. */
export function collectProcessMetrics(table: ModuleTable, startedAt: number): ProcessMetrics {
  const modules: Record<string, ModuleCounts> = {};
  for (const [code, slot] of table.slots) {
    const pool = slot.generation?.lane?.stats();
    modules[code] = { up: slot.state === 'active' && slot.generation !== undefined, counts: slot.metrics.counts(), ...(pool === undefined ? {} : { pool }) };
  }
  const memory = process.memoryUsage();
  return { pid: process.pid, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, modules };
}

/**
 * Every process's modules summed into one view: counters and histogram buckets add up (so quantiles are
 * computed from the merged histogram, not averaged); a module is up when every process serves it.
 */
export function mergeModules(processes: readonly ProcessMetrics[]): Map<string, ModuleCounts> {
  const byCode = new Map<string, { up: boolean; all: MetricsCounts[]; pool: Record<string, number> | undefined }>();
  for (const one of processes) {
    for (const [code, module] of Object.entries(one.modules)) {
      const entry = byCode.get(code) ?? { up: true, all: [], pool: undefined };
      entry.up &&= module.up;
      entry.all.push(module.counts);
      if (module.pool !== undefined) {
        entry.pool ??= {};
        for (const [name, value] of Object.entries(module.pool)) entry.pool[name] = (entry.pool[name] ?? 0) + value;
      }
      byCode.set(code, entry);
    }
  }
  return new Map([...byCode].map(([code, entry]) => [code, { up: entry.up, counts: addCounts(entry.all), ...(entry.pool === undefined ? {} : { pool: entry.pool }) }]));
}
