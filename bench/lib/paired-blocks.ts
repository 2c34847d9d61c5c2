/**
 * Paired rounds over fresh processes. Two identical servers started one after the other differ in CPU
 * time per request by up to ±3 % for as long as they live (measured: five pairs of the same host gave
 * 0.968–1.029), whatever the rounds do — where each process's memory and threads happened to land. A
 * figure from one pair carries that luck; here every block starts each target anew (the start order
 * rotating from block to block), warms it up, measures it in paired rounds on every path, and stops it,
 * so the median over blocks carries the luck of several pairs instead of one.
 */
import path from 'node:path';
import type { Contender } from '../contenders/contender';
import { alternateRounds, summarizeRuns, type RoundPlan, type RoundRun, type RoundTarget, type TargetResults } from './alternate-rounds';
import { pairedRounds } from './paired-rounds';
import { freePort, type ServerProcess } from './server-process';

export interface BlockTarget {
  readonly id: string;
  /** Starts a fresh server for block `block` (a data directory of its own: a contender may not reopen one). */
  readonly start: (block: number) => Promise<ServerProcess>;
}

/** Contenders as block targets: each block's server on a free port, with a data directory of its own under `workDir`. */
export function contenderTargets(contenders: readonly Contender[], workDir: string, pingModuleDir: string): BlockTarget[] {
  return contenders.map((contender) => ({
    id: contender.id,
    start: async (block) => contender.start({ dataDir: path.join(workDir, `paired-${contender.id}-${block}`), port: await freePort(), pingModuleDir }),
  }));
}

export interface BlockPlan {
  readonly blocks: number;
  readonly roundsPerBlock: number;
  readonly seconds: number;
  /** One untimed paired round of this length per path and block (0: none). */
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly workDir: string;
}

/** Every path's rounds per target, over all blocks (the same order for every target). */
export async function pairedBlocks(targets: readonly BlockTarget[], paths: readonly string[], plan: BlockPlan, log: (line: string) => void): Promise<Map<string, Map<string, RoundRun[]>>> {
  const runs = new Map(paths.map((path) => [path, new Map(targets.map((target) => [target.id, [] as RoundRun[]]))]));
  await eachBlock(targets, plan.blocks, log, async (servers, order) => {
    for (const path of paths) {
      const measured = await pairedRounds(roundTargets(order, servers, path), roundPlan(plan), log);
      for (const target of targets) runs.get(path)!.get(target.id)!.push(...measured.get(target.id)!);
    }
  });
  return runs;
}

/**
 * Alternated rounds (each target driven alone in turn, so req/s and latency mean what they say) over
 * fresh processes: every block starts each target anew. Runs of every block are kept in block order, so
 * `roundRatio` still compares runs of the same round.
 */
export async function alternatedBlocks(targets: readonly BlockTarget[], path: string, plan: BlockPlan, log: (line: string) => void): Promise<Map<string, TargetResults>> {
  const runs = new Map(targets.map((target) => [target.id, [] as RoundRun[]]));
  await eachBlock(targets, plan.blocks, log, async (servers, order) => {
    const measured = await alternateRounds(roundTargets(order, servers, path), roundPlan(plan), log);
    for (const target of targets) runs.get(target.id)!.push(...measured.get(target.id)!.runs);
  });
  return new Map(targets.map((target) => [target.id, summarizeRuns(target.id, runs.get(target.id)!)]));
}

/** One block's servers as round targets on `path`, in `order`. */
function roundTargets(order: readonly BlockTarget[], servers: ReadonlyMap<string, ServerProcess>, path: string): (RoundTarget & { readonly pid: number })[] {
  return order.map((target) => ({ id: target.id, url: `${servers.get(target.id)!.url}${path}`, pid: servers.get(target.id)!.pid }));
}

/** The rounds of one block. */
function roundPlan(plan: BlockPlan): RoundPlan {
  return { rounds: plan.roundsPerBlock, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds, connections: plan.connections, workDir: plan.workDir };
}

/**
 * Starts every target, hands them to `measure`, stops them. The order rotates from block to block, and
 * `measure` gets it: which target starts first, and is loaded or driven first, must not always be the
 * same one (the rounds inside a block rotate only among themselves, and a block often has one).
 */
async function eachBlock(
  targets: readonly BlockTarget[],
  blocks: number,
  log: (line: string) => void,
  measure: (servers: ReadonlyMap<string, ServerProcess>, order: readonly BlockTarget[]) => Promise<void>,
): Promise<void> {
  for (let block = 0; block < blocks; block++) {
    const order = targets.map((_, k) => targets[(block + k) % targets.length]!);
    const servers = new Map<string, ServerProcess>();
    try {
      for (const target of order) servers.set(target.id, await target.start(block));
      log(`    block ${block + 1}/${blocks}: ${[...servers.keys()].join(', ')} started in that order`);
      await measure(servers, order);
    } finally {
      for (const server of servers.values()) await server.stop().catch(() => undefined);
    }
  }
}
