import { LATENCY_BUCKETS_MS } from '../runtime/module-metrics';
import type { ModuleTable } from '../runtime/module-slot';

/** The module metrics in Prometheus' text exposition format (version 0.0.4). */
export function renderPrometheus(table: ModuleTable): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string, sample: (code: string, slot: ReturnType<ModuleTable['slot']>) => string[]): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [code, slot] of table.slots) lines.push(...sample(code, slot));
  };
  family('erpmod_module_up', 'gauge', 'Whether the module is serving requests (1) or not (0).', (code, slot) => [
    `erpmod_module_up{module="${code}"} ${slot.state === 'active' && slot.generation !== undefined ? 1 : 0}`,
  ]);
  family('erpmod_requests_total', 'counter', 'Module requests answered.', (code, slot) => [`erpmod_requests_total{module="${code}"} ${slot.metrics.requests}`]);
  family('erpmod_request_errors_total', 'counter', 'Module requests answered with a 5xx status.', (code, slot) => [
    `erpmod_request_errors_total{module="${code}"} ${slot.metrics.errors}`,
  ]);
  family('erpmod_request_client_errors_total', 'counter', 'Module requests answered with a 4xx status.', (code, slot) => [
    `erpmod_request_client_errors_total{module="${code}"} ${slot.metrics.clientErrors}`,
  ]);
  family('erpmod_requests_aborted_total', 'counter', 'Module requests whose client closed the connection before the reply was written (not in erpmod_requests_total).', (code, slot) => [
    `erpmod_requests_aborted_total{module="${code}"} ${slot.metrics.aborted}`,
  ]);
  family('erpmod_requests_in_flight', 'gauge', 'Module requests being served now.', (code, slot) => [`erpmod_requests_in_flight{module="${code}"} ${slot.metrics.inFlight}`]);
  family('erpmod_request_duration_seconds', 'histogram', 'Time from routing a module request to writing its reply.', (code, slot) => {
    const metrics = slot.metrics;
    const samples: string[] = [];
    let cumulative = 0;
    LATENCY_BUCKETS_MS.forEach((upperMs, index) => {
      cumulative += metrics.bucketCounts[index]!;
      samples.push(`erpmod_request_duration_seconds_bucket{module="${code}",le="${upperMs / 1000}"} ${cumulative}`);
    });
    samples.push(`erpmod_request_duration_seconds_bucket{module="${code}",le="+Inf"} ${metrics.requests}`);
    samples.push(`erpmod_request_duration_seconds_sum{module="${code}"} ${metrics.totalMs / 1000}`);
    samples.push(`erpmod_request_duration_seconds_count{module="${code}"} ${metrics.requests}`);
    return samples;
  });
  // execution: pool, for modules with pool routes (per loaded generation: they start at 0 after a reload).
  const lane = (name: string, type: string, help: string, value: (stats: Record<string, number>) => number): void =>
    family(name, type, help, (code, slot) => {
      const stats = slot.generation?.lane?.stats();
      return stats === undefined ? [] : [`${name}{module="${code}"} ${value(stats)}`];
    });
  lane('erpmod_pool_handlers_running', 'gauge', 'Pool handlers (execution: pool) running now.', (s) => s.running!);
  lane('erpmod_pool_threads_lost', 'gauge', 'Pool handlers answered 504 that have not returned yet (their threads are lost until they do).', (s) => s.lost!);
  lane('erpmod_pool_timeouts_total', 'counter', 'Pool requests answered 504 at timeouts.request_ms (queued or running).', (s) => s.timedOut!);
  lane('erpmod_pool_late_results_total', 'counter', 'Results of pool handlers that returned after their request was answered 504 (discarded).', (s) => s.late!);
  lane('erpmod_pool_rejected_total', 'counter', 'Pool requests refused with 503 ERPMOD_BUSY (queue full, or too many threads lost).', (s) => s.rejectedBusy!);
  return `${lines.join('\n')}\n`;
}
