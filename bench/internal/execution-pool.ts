/**
 * `execution: pool` under load (issue "native handlers that never stall the host"): the same tiny route
 * and the same three ctx.db reads on `main` and on `pool` (the cost of the hop), the p99 of other modules
 * while a slow module saturates its own cap, and two CPU-heavy requests together against one after the
 * other. One erpmod host with the pool-lab fixture, good-alpha and sales.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alternateRounds, roundRatio, type RoundPlan, type TargetResults } from '../lib/alternate-rounds';
import { runLoad } from '../lib/load-generator';
import { unpinProcess } from '../lib/pinning';
import { MODULES_DIR, ROOT } from '../lib/paths';
import { freePort, request } from '../lib/server-process';
import { startHost } from '../contenders/erpmod-in-process';
import { measurePoolHop, type PoolHopResult } from './pool-hop';

export interface PoolFigures {
  readonly hop: PoolHopResult;
  /**
   * `ratio`: req/s pool / main. `cpuRatio`: server CPU time per request, main / pool (below 1: the pool
   * costs more CPU per request). On a busy machine the pool's threads win a larger share of the CPU than
   * the JavaScript thread alone, so req/s can favour the pool while each request costs more.
   */
  readonly light: { main: TargetResults | undefined; pool: TargetResults | undefined; ratio: number; cpuRatio: number };
  readonly db3: { main: TargetResults | undefined; pool: TargetResults | undefined; ratio: number; cpuRatio: number };
  /** p99 of other modules' routes alone, then while pool-lab's /sleep saturates its cap. */
  readonly neighbours: { id: string; quietP99Ms: number; loadedP99Ms: number }[];
  /** Two fixed-work requests at once / one after the other (wall time). */
  readonly cpuRatio: number;
  /** Cores the host could use while `cpuRatio` was measured (1 when it stayed pinned). */
  readonly cpuRatioCores: number;
}

export async function measureExecutionPool(plan: RoundPlan, hopIterations: number, log: (line: string) => void): Promise<PoolFigures> {
  execFileSync(process.execPath, [path.join(ROOT, 'dist', 'scripts', 'build-test-fixtures.js')], { stdio: 'ignore' });
  const hop = await measurePoolHop(plan.workDir, hopIterations);
  log(`    hop: SDK pool ${hop.sdkPoolUs.toFixed(1)} µs, async work ${hop.asyncWorkUs.toFixed(1)} µs (sequential); ` +
    `64 in flight ${Math.round(hop.sdkPoolPerSecond)} vs ${Math.round(hop.asyncWorkPerSecond)} /s; one ctx call from a pool thread ${hop.ctxCallUs.toFixed(1)} µs`);

  const modulesDir = path.join(plan.workDir, 'pool-modules');
  for (const [from, name] of [[path.join(ROOT, 'test', 'fixtures', 'modules', 'pool-lab'), 'pool-lab'], [path.join(ROOT, 'test', 'fixtures', 'modules', 'good-alpha'), 'good-alpha'],
    [path.join(MODULES_DIR, 'sales'), 'sales'], [path.join(MODULES_DIR, 'inventory'), 'inventory']] as const) {
    fs.cpSync(from, path.join(modulesDir, name), { recursive: true, filter: (file) => !file.includes(`${path.sep}build${path.sep}`) && !file.includes(`${path.sep}src${path.sep}`) });
  }
  const port = await freePort();
  const host = await startHost({ dataDir: path.join(plan.workDir, 'pool-data'), port }, { label: 'erpmod pool', modulesDir, env: { ERPMOD_POOL_THREADS: '8' } });
  try {
    const lab = `${host.url}/api/v1/pool-lab`;
    const pair = async (main: string, pool: string, label: string): Promise<PoolFigures['light']> => {
      log(`\n${label}: main vs pool`);
      const results = await alternateRounds([{ id: 'main', url: `${lab}${main}`, pid: host.pid }, { id: 'pool', url: `${lab}${pool}`, pid: host.pid }], { ...plan, warmupSeconds: 1 }, log);
      return {
        main: results.get('main'),
        pool: results.get('pool'),
        ratio: roundRatio(results.get('pool'), results.get('main'), (r) => r.requestsPerSecond),
        cpuRatio: roundRatio(results.get('main'), results.get('pool'), (r) => r.cpuUsPerRequest ?? Number.NaN),
      };
    };
    const light = await pair('/fast', '/fast-pool', 'GET /fast (tiny JSON)');
    const db3 = await pair('/db3', '/db3-pool', 'GET /db3 (three ctx.db reads)');

    log('\nOther modules while pool-lab /sleep?ms=100 saturates its cap (4) with 32 connections');
    const neighbourUrls = [{ id: 'alpha /ping (main)', url: `${host.url}/api/v1/alpha/ping` }, { id: 'sales /export (pool)', url: `${host.url}/api/v1/sales/export` }];
    const quiet = await alternateRounds(neighbourUrls, { ...plan, rounds: 2, warmupSeconds: 1, connections: 10 }, log);
    const seconds = plan.seconds * 2 * neighbourUrls.length + 2;
    const slow = runLoad({ url: `${lab}/sleep?ms=100`, seconds, connections: 32, workDir: plan.workDir });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const loaded = await alternateRounds(neighbourUrls, { ...plan, rounds: 2, warmupSeconds: 0, connections: 10 }, log);
    const saturating = await slow;
    log(`    pool-lab /sleep meanwhile: ${Math.round(saturating.requestsPerSecond)} req/s, ${saturating.non2xx} non-2xx (504 / 503 beyond the cap and queue)`);
    const neighbours = neighbourUrls.map((n) => ({ id: n.id, quietP99Ms: quiet.get(n.id)?.p99Ms ?? Number.NaN, loadedP99Ms: loaded.get(n.id)?.p99Ms ?? Number.NaN }));

    // This figure is about a second core: the host (its pool threads too) may use every core from here on.
    const unpinned = unpinProcess(host.pid);
    log(`\nTwo CPU-heavy requests (a fixed 200 million steps each): together vs one after the other (host ${unpinned ? 'on every core' : 'as started'})`);
    const ratios: number[] = [];
    for (let round = 0; round < 3; round++) {
      let started = performance.now();
      await request(`${lab}/crunch?m=200`);
      await request(`${lab}/crunch?m=200`);
      const sequential = performance.now() - started;
      started = performance.now();
      await Promise.all([request(`${lab}/crunch?m=200`), request(`${lab}/crunch?m=200`)]);
      ratios.push((performance.now() - started) / sequential);
    }
    const cpuRatio = [...ratios].sort((a, b) => a - b)[1]!;
    log(`    together / one after the other: ${cpuRatio.toFixed(2)}`);
    return { hop, light, db3, neighbours, cpuRatio, cpuRatioCores: unpinned ? os.cpus().length : 1 };
  } finally {
    await host.stop();
  }
}

export function renderPoolFigures(figures: PoolFigures | { skipped: string }, formatRatio: (n: number) => string): string[] {
  const out = ['### `execution: pool`', ''];
  if ('skipped' in figures) return [...out, `Skipped: ${figures.skipped}`, ''];
  const { hop } = figures;
  const ms = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? 'n/a' : `${n.toFixed(2)} ms`);
  const rps = (r: TargetResults | undefined): string => (r === undefined ? 'n/a' : String(Math.round(r.requestsPerSecond)));
  out.push(
    '| mechanism (micro-benchmark, no HTTP) | one at a time | 64 in flight |',
    '| --- | --- | --- |',
    `| SDK pool (condition variable + thread-safe function) | ${hop.sdkPoolUs.toFixed(1)} µs per hop | ${Math.round(hop.sdkPoolPerSecond)} hops/s |`,
    `| Node-API async work (libuv's pool) | ${hop.asyncWorkUs.toFixed(1)} µs per hop | ${Math.round(hop.asyncWorkPerSecond)} hops/s |`,
    `| one ctx call from a pool thread (to the JavaScript thread and back) | ${hop.ctxCallUs.toFixed(1)} µs | |`,
    '',
    '| route | main req/s | pool req/s | pool / main | CPU per request, main / pool | p99 main | p99 pool |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| tiny JSON (\`/fast\`) | ${rps(figures.light.main)} | ${rps(figures.light.pool)} | **${formatRatio(figures.light.ratio)}** | ${formatRatio(figures.light.cpuRatio)} | ${ms(figures.light.main?.p99Ms)} | ${ms(figures.light.pool?.p99Ms)} |`,
    `| three ctx.db reads (\`/db3\`) | ${rps(figures.db3.main)} | ${rps(figures.db3.pool)} | **${formatRatio(figures.db3.ratio)}** | ${formatRatio(figures.db3.cpuRatio)} | ${ms(figures.db3.main?.p99Ms)} | ${ms(figures.db3.pool?.p99Ms)} |`,
    '',
    '| other module, 10 connections | p99 alone | p99 while a slow module saturates its cap |',
    '| --- | --- | --- |',
    ...figures.neighbours.map((n) => `| ${n.id} | ${ms(n.quietP99Ms)} | ${ms(n.loadedP99Ms)} |`),
    '',
    `- Two CPU-heavy pool requests at once / one after the other (wall time), host on ${figures.cpuRatioCores} core${figures.cpuRatioCores === 1 ? '' : 's'}: **${figures.cpuRatio.toFixed(2)}** (goal ≤ 0.6 on 2 cores)`,
    '',
  );
  return out;
}
