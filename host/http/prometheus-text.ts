import { LATENCY_BUCKETS_MS, type MetricsCounts } from '../runtime/module-metrics';
import type { ModuleCounts } from '../runtime/process-metrics';

/**
 * The module metrics in Prometheus' text exposition format (version 0.0.4). `modules` is this process's
 * view, or in a cluster every worker's counts merged, so one scrape covers the whole host.
 */
export function renderPrometheus(modules: ReadonlyMap<string, ModuleCounts>, workers: number): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, sample: (code: string, module: ModuleCounts) => string[]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [code, module] of modules) lines.push(...sample(code, module));
  };
  const counter = (name: string, help: string, value: (counts: MetricsCounts) => number): void =>
    family(name, 'counter', help, (code, module) => [`${name}{module="${code}"} ${value(module.counts)}`]);

  lines.push('# HELP erpmod_workers Host processes serving module requests (cluster workers, or 1).', '# TYPE erpmod_workers gauge', `erpmod_workers ${workers}`);
  family('erpmod_module_up', 'gauge', 'Whether the module is serving requests (1) or not (0); in a cluster, 1 when every worker serves it.', (code, module) => [
    `erpmod_module_up{module="${code}"} ${module.up ? 1 : 0}`,
  ]);
  counter('erpmod_requests_total', 'Module requests answered (rejected ones included).', (c) => c.requests);
  counter('erpmod_request_errors_total', 'Module requests answered with a 5xx status, not counting rejected ones.', (c) => c.errors);
  counter('erpmod_request_client_errors_total', 'Module requests answered with a 4xx status.', (c) => c.clientErrors);
  counter('erpmod_requests_rejected_total', 'Module requests refused on purpose: module disabled or not serving, host at a capacity limit (ERPMOD_BUSY).', (c) => c.rejected);
  counter('erpmod_requests_aborted_total', 'Module requests whose client closed the connection before the reply was written (not in erpmod_requests_total).', (c) => c.aborted);
  family('erpmod_requests_in_flight', 'gauge', 'Module requests being served now.', (code, module) => [`erpmod_requests_in_flight{module="${code}"} ${module.counts.inFlight}`]);
  family('erpmod_request_duration_seconds', 'histogram', 'Time from routing a module request to writing its reply.', (code, module) => {
    const { buckets, requests, totalMs } = module.counts;
    const samples: string[] = [];
    let cumulative = 0;
    LATENCY_BUCKETS_MS.forEach((upperMs, index) => {
      cumulative += buckets[index]!;
      samples.push(`erpmod_request_duration_seconds_bucket{module="${code}",le="${upperMs / 1000}"} ${cumulative}`);
    });
    samples.push(`erpmod_request_duration_seconds_bucket{module="${code}",le="+Inf"} ${requests}`);
    samples.push(`erpmod_request_duration_seconds_sum{module="${code}"} ${totalMs / 1000}`);
    samples.push(`erpmod_request_duration_seconds_count{module="${code}"} ${requests}`);
    return samples;
  });
  // execution: pool, for modules with pool routes (per loaded generation: they start at 0 after a reload).
  const lane = (name: string, type: string, help: string, value: (stats: Readonly<Record<string, number>>) => number): void =>
    family(name, type, help, (code, module) => {
      const stats = module.pool;
      return stats === undefined ? [] : [`${name}{module="${code}"} ${value(stats)}`];
    });
  lane('erpmod_pool_handlers_running', 'gauge', 'Pool handlers (execution: pool) running now.', (s) => s.running!);
  lane('erpmod_pool_threads_lost', 'gauge', 'Pool handlers answered 504 that have not returned yet (their threads are lost until they do).', (s) => s.lost!);
  lane('erpmod_pool_timeouts_total', 'counter', 'Pool requests answered 504 at timeouts.request_ms (queued or running).', (s) => s.timedOut!);
  lane('erpmod_pool_late_results_total', 'counter', 'Results of pool handlers that returned after their request was answered 504 (discarded).', (s) => s.late!);
  lane('erpmod_pool_rejected_total', 'counter', 'Pool requests refused with 503 ERPMOD_BUSY (queue full, or too many threads lost).', (s) => s.rejectedBusy!);
  return `${lines.join('\n')}\n`;
}
