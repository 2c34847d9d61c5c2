import { snapshotOf, type MetricsSnapshot } from '../runtime/module-metrics';
import { mergeModules, type ProcessMetrics } from '../runtime/process-metrics';

/**
 * `GET /api/v1/system/metrics`: per module and host totals over every process serving requests. Memory
 * is the sum over the processes; uptime the longest-running one's, so the answer does not depend on
 * which worker took the scrape. `workers` lists each process in a cluster.
 */
export function renderMetricsJson(processes: readonly ProcessMetrics[]): Record<string, unknown> {
  const modules: Record<string, MetricsSnapshot> = {};
  let requests = 0;
  let errors = 0;
  let rejected = 0;
  let aborted = 0;
  let inFlight = 0;
  for (const [code, module] of mergeModules(processes)) {
    const snapshot = snapshotOf(module.counts);
    modules[code] = snapshot;
    requests += snapshot.requests;
    errors += snapshot.errors;
    rejected += snapshot.rejected;
    aborted += snapshot.aborted;
    inFlight += snapshot.inFlight;
  }
  const sum = (pick: (one: ProcessMetrics) => number): number => processes.reduce((total, one) => total + pick(one), 0);
  return {
    host: {
      requests,
      errors,
      rejected,
      aborted,
      inFlight,
      uptimeSeconds: Math.max(0, ...processes.map((one) => one.uptimeSeconds)),
      rssBytes: sum((one) => one.rssBytes),
      heapUsedBytes: sum((one) => one.heapUsedBytes),
      workers: processes.length,
    },
    modules,
    ...(processes.length > 1
      ? {
          workers: processes.map((one) => ({
            pid: one.pid,
            uptimeSeconds: one.uptimeSeconds,
            rssBytes: one.rssBytes,
            requests: Object.values(one.modules).reduce((total, module) => total + module.counts.requests, 0),
          })),
        }
      : {}),
  };
}
