/**
 * Regression figures for module count: boot time (the host's own `bootMs`, and spawn-to-ready wall
 * time), per-module `loadMs`, RSS after boot, with 1…N generated modules; then throughput and latency of
 * one module's route while 1, …, N modules (× 4 routes) are registered.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startHost } from '../contenders/erpmod-in-process';
import { roundRatio, type RoundRun, type TargetResults } from '../lib/alternate-rounds';
import { alternatedBlocks, pairedBlocks, type BlockTarget } from '../lib/paired-blocks';
import { buildCopyLibraries, copyCode, writeModuleCopies } from '../lib/module-copies';
import { freePort, sleep } from '../lib/server-process';
import { median, percentile } from '../lib/stats';

export interface BootFigures {
  readonly modules: number;
  readonly active: number;
  /** Host-reported bootMs, first boot on an empty data directory (creates each module's database). */
  readonly coldBootMs: number;
  /** Median host-reported bootMs over the later boots (data directory kept, as on a restart). */
  readonly warmBootMs: number;
  /** Median spawn-to-ready wall time over the warm boots (includes Node's own start). */
  readonly wallMs: number;
  readonly rssBytes: number;
  readonly loadMsMedian: number;
  readonly loadMsP90: number;
}

export interface ScaleResults {
  readonly boots: BootFigures[];
  readonly throughput: Map<string, TargetResults>;
  readonly counts: readonly number[];
  readonly throughputCounts: readonly number[];
  /** Median in-round ratio of each count's req/s to one module's. */
  readonly ratios: Map<number, { rps: number; p99: number }>;
  /**
   * Per count, every paired round's server CPU per request against the 1-module host's in the same
   * window (all hosts loaded at the same moment, fresh hosts each round): the figure the target is judged by.
   */
  readonly pairedCpu: Map<number, number[]>;
}

export interface ScaleOptions {
  readonly counts: readonly number[];
  readonly throughputCounts: readonly number[];
  readonly bootRounds: number;
  readonly rounds: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly workDir: string;
}

export async function measureScale(options: ScaleOptions, log: (line: string) => void): Promise<ScaleResults> {
  const largest = Math.max(...options.counts, ...options.throughputCounts);
  const libDir = await buildCopyLibraries(largest, log);
  const modulesDir = (count: number): string => writeModuleCopies(count, libDir, path.join(libDir, '..', '..', 'modules', path.basename(libDir), `n${count}`));
  const dataDir = (count: number): string => path.join(options.workDir, `scale-data-${count}`);

  const samples = new Map<number, { boot: number[]; wall: number[]; rss: number[]; loadMs: number[]; active: number }>();
  for (const count of options.counts) {
    modulesDir(count);
    fs.rmSync(dataDir(count), { recursive: true, force: true });
    samples.set(count, { boot: [], wall: [], rss: [], loadMs: [], active: 0 });
  }
  // Round 0 is the cold boot (empty data directory); later rounds reuse it. Counts rotate each round.
  for (let round = 0; round < options.bootRounds; round++) {
    const order = options.counts.map((_, i) => options.counts[(i + round) % options.counts.length]!);
    for (const count of order) {
      const server = await startHost(
        { dataDir: dataDir(count), port: await freePort() },
        { label: `erpmod with ${count} modules`, modulesDir: modulesDir(count), logLevel: 'info', readyTimeoutMs: 120_000 },
      );
      const listening = await waitForLine(server.lines, (entry) => typeof entry.bootMs === 'number');
      const memory = server.memory();
      await server.stop();
      const entry = samples.get(count)!;
      entry.boot.push(Number(listening?.bootMs));
      entry.wall.push(server.readyAfterMs);
      entry.rss.push(memory.rss);
      entry.active = Number(listening?.active ?? 0);
      if (round > 0) for (const line of parsed(server.lines)) if (typeof line.loadMs === 'number' && typeof line.module === 'string') entry.loadMs.push(line.loadMs);
      log(`    boot ${round === 0 ? 'cold' : 'warm'} ${String(count).padStart(4)} modules: bootMs ${listening?.bootMs ?? '?'}  ready after ${Math.round(server.readyAfterMs)} ms  RSS ${(memory.rss / 1048576).toFixed(1)} MiB`);
    }
  }
  const boots: BootFigures[] = options.counts.map((count) => {
    const s = samples.get(count)!;
    const warm = s.boot.slice(1);
    return {
      modules: count,
      active: s.active,
      coldBootMs: s.boot[0] ?? Number.NaN,
      warmBootMs: median(warm.length > 0 ? warm : s.boot),
      wallMs: median(s.wall.length > 1 ? s.wall.slice(1) : s.wall),
      rssBytes: median(s.rss),
      loadMsMedian: median(s.loadMs),
      loadMsP90: percentile(s.loadMs, 90),
    };
  });

  // Throughput: the same route of module b0001, with 1…N modules registered. Fresh hosts for every
  // block: one long-lived host per count carried its own few per cent of luck into the ratio.
  const targets: BlockTarget[] = options.throughputCounts.map((count) => {
    modulesDir(count);
    return {
      id: `${count} modules`,
      start: async () => startHost({ dataDir: dataDir(count), port: await freePort() }, { label: `erpmod with ${count} modules`, modulesDir: modulesDir(count), readyTimeoutMs: 120_000 }),
    };
  });
  const ping = `/api/v1/${copyCode(1)}/ping`;
  const blocks = { blocks: options.rounds, roundsPerBlock: 1, seconds: options.seconds, warmupSeconds: options.warmupSeconds, connections: options.connections, workDir: options.workDir };
  const throughput = await alternatedBlocks(targets, ping, blocks, log);
  // Alternated rounds put each host in different seconds, and on a shared machine one host's rounds
  // swung by a third from one to the next: CPU per request with every host loaded at once is the target's figure.
  log('    the same, every host loaded at the same moment (paired rounds)');
  const paired = (await pairedBlocks(targets, [ping], blocks, log)).get(ping)!;
  const cpuOf = (run: RoundRun): number => run.cpuUsPerRequest ?? Number.NaN;
  const baseRuns = paired.get(`${options.throughputCounts[0]} modules`)!;
  const pairedCpu = new Map(options.throughputCounts.map((count) => [count, paired.get(`${count} modules`)!.map((run, i) => cpuOf(run) / cpuOf(baseRuns[i]!))]));
  const base = throughput.get(`${options.throughputCounts[0]} modules`);
  const ratios = new Map(
    options.throughputCounts.map((count) => {
      const mine = throughput.get(`${count} modules`);
      return [count, { rps: roundRatio(mine, base, (r) => r.requestsPerSecond), p99: roundRatio(mine, base, (r) => r.p99Ms) }];
    }),
  );
  return { boots, throughput, counts: options.counts, throughputCounts: options.throughputCounts, ratios, pairedCpu };
}

function parsed(lines: readonly string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line.
    }
  }
  return out;
}

/** The host logs its listening line right after it starts answering: give the pipe a moment. */
async function waitForLine(lines: readonly string[], match: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 200; i++) {
    const found = parsed(lines).find(match);
    if (found !== undefined) return found;
    await sleep(10);
  }
  return undefined;
}
