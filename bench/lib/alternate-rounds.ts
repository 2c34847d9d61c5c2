/**
 * The measuring discipline: every contender warmed up (not counted), then rounds in which each one is
 * driven in turn — the order rotating each round — so a slow spell of the machine hits all of them.
 * Ratios are taken within a round and their median reported.
 */
import { runLoad, type LoadOptions, type LoadResult } from './load-generator';
import { cpuMicros } from './cpu-time';
import { median } from './stats';

export interface RoundTarget {
  readonly id: string;
  readonly url: string;
  /** The server's pid: each run then also reports its CPU time per request (steadier than req/s on a busy machine). */
  readonly pid?: number;
}

/** A run, with the server's CPU time per request when its pid was given. */
export type RoundRun = LoadResult & { readonly cpuUsPerRequest?: number };

export interface RoundPlan {
  readonly rounds: number;
  readonly seconds: number;
  /** 0 skips the warm-up (the targets are warm already). */
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly method?: 'GET' | 'POST';
  /** A body per run; `run` is unique across this plan, so templates can make unique keys. */
  readonly body?: (targetId: string, run: number) => string;
  readonly delayMs?: number;
  readonly workDir: string;
}

export interface TargetResults {
  readonly id: string;
  readonly runs: RoundRun[];
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly non2xx: number;
}

export async function alternateRounds(targets: readonly RoundTarget[], plan: RoundPlan, log: (line: string) => void): Promise<Map<string, TargetResults>> {
  let run = 0;
  const once = async (target: RoundTarget, seconds: number): Promise<RoundRun> => {
    const options: LoadOptions = {
      url: target.url,
      seconds,
      connections: plan.connections,
      workDir: plan.workDir,
      ...(plan.method === undefined ? {} : { method: plan.method }),
      ...(plan.body === undefined ? {} : { bodyTemplate: plan.body(target.id, ++run) }),
      ...(plan.delayMs === undefined ? {} : { delayMs: plan.delayMs }),
    };
    const before = target.pid === undefined ? 0 : cpuMicros(target.pid);
    const result = await runLoad(options);
    return target.pid === undefined ? result : { ...result, cpuUsPerRequest: (cpuMicros(target.pid) - before) / Math.max(1, result.requests) };
  };
  if (plan.warmupSeconds > 0) for (const target of targets) await once(target, plan.warmupSeconds);
  const runs = new Map<string, RoundRun[]>(targets.map((target) => [target.id, []]));
  for (let round = 0; round < plan.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      const result = await once(target, plan.seconds);
      runs.get(target.id)!.push(result);
      log(`    round ${round + 1}/${plan.rounds} ${target.id.padEnd(12)} ${Math.round(result.requestsPerSecond).toString().padStart(7)} req/s  p50 ${result.p50Ms.toFixed(2)} ms  p99 ${result.p99Ms.toFixed(2)} ms${result.cpuUsPerRequest === undefined ? '' : `  ${result.cpuUsPerRequest.toFixed(1)} µs CPU/request`}${result.non2xx + result.errors > 0 ? `  (${result.non2xx} non-2xx, ${result.errors} errors)` : ''}`);
    }
  }
  return new Map(targets.map((target) => [target.id, summarizeRuns(target.id, runs.get(target.id)!)]));
}

/** One target's runs and their medians. */
export function summarizeRuns(id: string, runs: RoundRun[]): TargetResults {
  return {
    id,
    runs,
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
  };
}

/** Median over rounds of `pick(a) / pick(b)` taken within the same round. */
export function roundRatio(a: TargetResults | undefined, b: TargetResults | undefined, pick: (r: RoundRun) => number): number {
  return median(roundRatios(a, b, pick));
}

/** `pick(a) / pick(b)` of every round, in round order (empty when either side is missing). */
export function roundRatios(a: TargetResults | undefined, b: TargetResults | undefined, pick: (r: RoundRun) => number): number[] {
  if (a === undefined || b === undefined) return [];
  const n = Math.min(a.runs.length, b.runs.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(pick(a.runs[i]!) / pick(b.runs[i]!));
  return ratios;
}
