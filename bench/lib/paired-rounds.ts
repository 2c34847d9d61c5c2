/**
 * The steadier way to compare what two servers spend per request on a shared machine: in each round
 * both are driven at the same moment (one load generator each, both on the load core, the servers both
 * pinned to the server core), and each one's CPU time per request is taken over that same window. A
 * slow spell, a neighbour's build or a cache-hungry process then weighs on both alike, where alternated
 * rounds put them in different seconds. The servers share one core as the scheduler sees fit, so req/s
 * here says nothing; CPU time per request is the figure.
 */
import { runLoad } from './load-generator';
import { cpuMicros } from './cpu-time';
import type { RoundRun, RoundTarget } from './alternate-rounds';

export interface PairedPlan {
  readonly rounds: number;
  readonly seconds: number;
  /** One untimed round of this length first (0: none). */
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly workDir: string;
}

/** Every round's run per target (same order as the rounds); each run has cpuUsPerRequest. */
export async function pairedRounds(targets: readonly (RoundTarget & { readonly pid: number })[], plan: PairedPlan, log: (line: string) => void): Promise<Map<string, RoundRun[]>> {
  // The load generators start one after the other: the order rotates each round so no target always goes first.
  const once = async (seconds: number, round: number): Promise<RoundRun[]> => {
    const order = targets.map((_, i) => (i + round) % targets.length);
    const before = targets.map((target) => cpuMicros(target.pid));
    const started = order.map((i) => runLoad({ url: targets[i]!.url, seconds, connections: plan.connections, workDir: plan.workDir }));
    const results = new Array<Awaited<ReturnType<typeof runLoad>>>(targets.length);
    (await Promise.all(started)).forEach((result, k) => (results[order[k]!] = result));
    return results.map((result, i) => ({ ...result, cpuUsPerRequest: (cpuMicros(targets[i]!.pid) - before[i]!) / Math.max(1, result.requests) }));
  };
  if (plan.warmupSeconds > 0) await once(plan.warmupSeconds, 0);
  const runs = new Map<string, RoundRun[]>(targets.map((target) => [target.id, []]));
  for (let round = 0; round < plan.rounds; round++) {
    const results = await once(plan.seconds, round);
    results.forEach((result, i) => runs.get(targets[i]!.id)!.push(result));
    log(`    paired round ${round + 1}/${plan.rounds}  ${targets.map((target, i) => `${target.id} ${results[i]!.cpuUsPerRequest!.toFixed(1)} µs CPU/request (${Math.round(results[i]!.requestsPerSecond)} req/s)`).join('  ')}`);
  }
  return runs;
}
