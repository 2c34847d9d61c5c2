/**
 * `npm run bench` (`--quick` for a one-minute smoke run that only prints, unless `--write`): erpmod against the alternatives a user would
 * pick, on the same native functions, alternated in one run and reported as ratios; then the internal
 * regression figures (module count, reload, compliance checks) and a CPU profile of the hot path.
 * Writes docs/benchmarks.md between its markers and prints the same tables.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bareExpress } from './contenders/bare-express';
import { CREATE_ITEM_PATH, PING_PATH, SUMMARY_PATH, type Contender } from './contenders/contender';
import { adminOf, erpmodInProcess } from './contenders/erpmod-in-process';
import { detectIsolation, erpmodIsolated } from './contenders/erpmod-isolated';
import { rawHttp } from './contenders/raw-http';
import { measureAccessLogCost } from './internal/access-log-cost';
import { measureLoadPhase, measureStaticChecks } from './internal/compliance-check';
import { measureDispatcherParts } from './internal/dispatcher-parts';
import { measureExecutionPool } from './internal/execution-pool';
import { measureOrdersOnPostgres, renderOrdersOnPostgres } from './internal/orders-postgres';
import { profileUnderLoad } from './internal/profile-hot-path';
import { measureReload } from './internal/reload-latency';
import { measureScale } from './internal/scale-modules';
import { alternateRounds, roundRatio, roundRatios, type RoundPlan, type TargetResults } from './lib/alternate-rounds';
import { contenderTargets, pairedBlocks } from './lib/paired-blocks';
import { loadTool } from './lib/load-generator';
import { machineInfo } from './lib/machine-info';
import { buildCopyLibraries, copyCode, writeModuleCopies } from './lib/module-copies';
import { canPin } from './lib/pinning';
import { MODULES_DIR, ROOT } from './lib/paths';
import { checkTargets } from './lib/check-targets';
import { renderResults, type BenchResults, type ContenderRow } from './lib/render-results';
import { freePort, request, type ServerProcess } from './lib/server-process';
import { writeReport } from './lib/write-report';

const quick = process.argv.includes('--quick');
// A quick run is a smoke test: it leaves docs/benchmarks.md alone unless asked (--write).
const noWrite = process.argv.includes('--no-write') || (quick && !process.argv.includes('--write'));
const PLAN = quick
  ? { rounds: 1, seconds: 2, warmupSeconds: 1, connections: 50, scaleCounts: [1, 10, 100], scaleThroughput: [1, 100], bootRounds: 2, reloads: 5, staticIterations: 20, cliRepeats: 1, profileSeconds: 3 }
  : { rounds: 6, seconds: 2, warmupSeconds: 2, connections: 50, scaleCounts: [1, 10, 100, 500], scaleThroughput: [1, 100, 500], bootRounds: 3, reloads: 20, staticIterations: 50, cliRepeats: 3, profileSeconds: 5 };

const log = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const started = performance.now();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-bench-'));
  const tool = loadTool(log);
  log(`erpmod benchmarks${quick ? ' (quick)' : ''}: ${tool}, ${canPin() ? 'pinned (server core 0, load core 1)' : 'not pinned'}, work dir ${workDir}`);
  const plan: RoundPlan = { rounds: PLAN.rounds, seconds: PLAN.seconds, warmupSeconds: PLAN.warmupSeconds, connections: PLAN.connections, workDir };
  const servers = new Map<string, ServerProcess>();
  const stopAll = async (): Promise<void> => {
    for (const server of servers.values()) await server.stop().catch(() => undefined);
    servers.clear();
  };
  process.once('SIGINT', () => void stopAll().then(() => process.exit(130)));

  try {
    const pingModuleDir = path.join(writeModuleCopies(1, await buildCopyLibraries(1, log), path.join(workDir, 'ping-copy')), copyCode(1));

    // 1. The contenders on the same GET route.
    log('\nGET /api/v1/sales/summary: raw node:http, bare Express, erpmod in-process, erpmod isolation: process');
    const start = async (contender: Contender): Promise<ServerProcess> => {
      const server = await contender.start({ dataDir: path.join(workDir, contender.id), port: await freePort(), pingModuleDir });
      servers.set(contender.id, server);
      return server;
    };
    for (const contender of [rawHttp, bareExpress, erpmodInProcess]) await start(contender);
    let isolation = { available: false, evidence: 'not tried' };
    try {
      isolation = await detectIsolation(await start(erpmodIsolated));
    } catch (error) {
      isolation = { available: false, evidence: `the host did not start with sales in isolation: process (${firstLine(error)})` };
    }
    if (!isolation.available) {
      await servers.get('isolated')?.stop();
      servers.delete('isolated');
    }
    log(`    isolation: process — ${isolation.available ? 'available' : 'not available yet'}: ${isolation.evidence}`);
    await assertSameJson([...servers.values()]);

    const getContenders = [rawHttp, bareExpress, erpmodInProcess, erpmodIsolated].filter((c) => servers.has(c.id));
    const get = await alternateRounds(getContenders.map((c) => ({ id: c.id, url: `${servers.get(c.id)!.url}${SUMMARY_PATH}` })), plan, log);
    const getRows: ContenderRow[] = [rawHttp, bareExpress, erpmodInProcess, erpmodIsolated].map((c) => row(c, get.get(c.id), servers.get(c.id), c.id === 'isolated' && !isolation.available ? `not available yet` : undefined));
    const rps = (a: string, b: string): number => roundRatio(get.get(a), get.get(b), (r) => r.requestsPerSecond);
    const getRatios = [
      { label: 'erpmod in-process / raw node:http (req/s)', value: rps('erpmod', 'raw') },
      { label: 'erpmod in-process / bare Express (req/s)', value: rps('erpmod', 'express') },
      { label: 'bare Express / raw node:http (req/s)', value: rps('express', 'raw') },
      { label: 'erpmod isolation: process / in-process (req/s)', value: rps('isolated', 'erpmod') },
      { label: 'p99 erpmod / raw at saturation (same 50 connections)', value: roundRatio(get.get('erpmod'), get.get('raw'), (r) => r.p99Ms) },
    ];

    // 1b. The same contenders on a light route (no SQL): what the HTTP layer itself costs.
    log('\nGET /api/v1/b0001/ping (light route: plain-C fixture, no SQL)');
    const light = await alternateRounds(getContenders.map((c) => ({ id: c.id, url: `${servers.get(c.id)!.url}${PING_PATH}`, pid: servers.get(c.id)!.pid })), { ...plan, warmupSeconds: Math.min(1, plan.warmupSeconds) }, log);
    const lightRows: ContenderRow[] = [rawHttp, bareExpress, erpmodInProcess, erpmodIsolated].map((c) => row(c, light.get(c.id), servers.get(c.id), c.id === 'isolated' && !isolation.available ? `not available yet` : undefined));
    const lightRps = (a: string, b: string): number => roundRatio(light.get(a), light.get(b), (r) => r.requestsPerSecond);
    const lightRatios = [
      { label: 'erpmod in-process / raw node:http (req/s)', value: lightRps('erpmod', 'raw'), rounds: roundRatios(light.get('erpmod'), light.get('raw'), (r) => r.requestsPerSecond) },
      {
        label: 'raw node:http / erpmod in-process (server CPU time per request: the same ratio, steadier on a busy machine)',
        value: roundRatio(light.get('raw'), light.get('erpmod'), (r) => r.cpuUsPerRequest ?? Number.NaN),
        rounds: roundRatios(light.get('raw'), light.get('erpmod'), (r) => r.cpuUsPerRequest ?? Number.NaN),
      },
      { label: 'erpmod in-process / bare Express (req/s)', value: lightRps('erpmod', 'express') },
      { label: 'bare Express / raw node:http (req/s)', value: lightRps('express', 'raw') },
      { label: 'erpmod isolation: process / in-process (req/s)', value: lightRps('isolated', 'erpmod') },
      { label: 'p99 erpmod / raw at saturation (same 50 connections)', value: roundRatio(light.get('erpmod'), light.get('raw'), (r) => r.p99Ms) },
    ];
    await servers.get('isolated')?.stop();
    servers.delete('isolated');
    await servers.get('express')?.stop();
    servers.delete('express');

    // 1b'. The figure the light-route target is checked against: raw and erpmod loaded at the same
    // moment, a fresh pair of servers for every round (one pair alone carries up to ±3 % of luck).
    log('\nGET /api/v1/b0001/ping, raw vs erpmod loaded at the same moment (paired rounds, fresh servers each round)');
    const paired = (await pairedBlocks(
      contenderTargets([rawHttp, erpmodInProcess], workDir, pingModuleDir),
      [PING_PATH],
      // Fresh servers start cold: 2 s of warm-up, as light-route.js gives them.
      { blocks: quick ? 2 : 9, roundsPerBlock: 1, seconds: quick ? 2 : 3, warmupSeconds: quick ? 1 : 2, connections: PLAN.connections, workDir },
      log,
    )).get(PING_PATH)!;
    const lightPaired = paired.get('raw')!.map((run, i) => (run.cpuUsPerRequest ?? Number.NaN) / (paired.get('erpmod')![i]!.cpuUsPerRequest ?? Number.NaN));

    // 1c. What the access log costs, on against off.
    log('\nThe access log: on vs off');
    // Fresh hosts for every round, warmed and measured as access-log-cost.js does alone.
    const accessLogPlan = quick ? { ...plan, warmupSeconds: 1 } : { ...plan, seconds: 3, warmupSeconds: 2 };
    const accessLog = await measureAccessLogCost(accessLogPlan, pingModuleDir, log).catch((error: unknown) => ({ skipped: firstLine(error) }));

    // 2. Latency at the same offered load: half of erpmod's saturated rate, for raw and erpmod alike.
    log('\nSame offered load, raw vs erpmod');
    const offered = 0.5 * (get.get('erpmod')?.requestsPerSecond ?? 0);
    const delayMs = Math.max(1, Math.round((PLAN.connections * 1000) / Math.max(1, offered)));
    const fixed = await alternateRounds(
      [rawHttp, erpmodInProcess].map((c) => ({ id: c.id, url: `${servers.get(c.id)!.url}${SUMMARY_PATH}` })),
      { ...plan, warmupSeconds: 0, delayMs },
      log,
    );
    const fixedLoad = {
      offeredPerSecond: (PLAN.connections * 1000) / delayMs,
      rows: [rawHttp, erpmodInProcess].map((c) => row(c, fixed.get(c.id), undefined)),
      p99Ratio: roundRatio(fixed.get('erpmod'), fixed.get('raw'), (r) => r.p99Ms),
      p50Ratio: roundRatio(fixed.get('erpmod'), fixed.get('raw'), (r) => r.p50Ms),
    };

    // 3. A write through ctx.db.
    log('\nPOST /api/v1/inventory/items (unique SKUs), raw vs erpmod');
    const posted = await alternateRounds(
      [rawHttp, erpmodInProcess].map((c) => ({ id: c.id, url: `${servers.get(c.id)!.url}${CREATE_ITEM_PATH}` })),
      { ...plan, method: 'POST', warmupSeconds: Math.min(1, plan.warmupSeconds), body: (_id, run) => `{"sku":"R${run}-{n}","name":"Bench item","stock":10}` },
      log,
    );
    const post = { rows: [rawHttp, erpmodInProcess].map((c) => row(c, posted.get(c.id), servers.get(c.id))), ratio: roundRatio(posted.get('erpmod'), posted.get('raw'), (r) => r.requestsPerSecond) };

    // 3a. Orders on PostgreSQL: SQLite vs PostgreSQL vs Fastify + pg, and two instances vs one (printed; the
    // measured figures are summarised by hand in docs/benchmarks.md, "Orders on PostgreSQL").
    log('\nPOST /api/v1/sales/orders on PostgreSQL: erpmod SQLite vs erpmod PostgreSQL vs Fastify + pg; two instances vs one');
    const orders = await measureOrdersOnPostgres({ ...plan, connections: 16 }, log).catch((error: unknown) => ({ skipped: firstLine(error) }));
    if (orders !== undefined && !('skipped' in orders)) for (const line of renderOrdersOnPostgres(orders)) log(`  ${line}`);

    // 3b. execution: pool: the hop, ctx calls, neighbours of a saturated module, CPU work on two cores.
    log('\nexecution: pool');
    const pool = await measureExecutionPool(plan, quick ? 5_000 : 50_000, log).catch((error: unknown) => ({ skipped: firstLine(error) }));

    // 4. Reload latency on the (now idle) in-process host.
    log('\nReload latency');
    const admin = adminOf(servers.get('erpmod')!);
    const reload = await measureReload(admin.url, admin.headers, 'sales', PLAN.reloads).catch((error: unknown) => ({ skipped: firstLine(error) }));
    if (!('skipped' in reload)) log(`    ${reload.count} reloads: median ${reload.wallMedianMs.toFixed(1)} ms request → reply, loadMs ${reload.loadMsMedian}`);
    await stopAll();

    // 5. Module count.
    log('\nScale: boot and dispatch with many modules');
    const scale = await measureScale(
      { counts: PLAN.scaleCounts, throughputCounts: PLAN.scaleThroughput, bootRounds: PLAN.bootRounds, rounds: plan.rounds, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds, connections: plan.connections, workDir },
      log,
    ).catch((error: unknown) => ({ skipped: firstLine(error) }));

    // 6. Compliance checks.
    log('\nCompliance checks');
    const compliance = await (async () => {
      const libDir = await buildCopyLibraries(1, log);
      const fixtureDir = path.join(writeModuleCopies(1, libDir, path.join(workDir, 'check-copy')), copyCode(1));
      const dirs = [path.join(MODULES_DIR, 'sales'), path.join(MODULES_DIR, 'inventory'), fixtureDir];
      const staticChecks = measureStaticChecks(dirs, PLAN.staticIterations);
      for (const c of staticChecks) log(`    static ${c.module}: median ${c.medianMs.toFixed(2)} ms`);
      const loadPhase = measureLoadPhase(dirs.slice(0, 2), PLAN.cliRepeats);
      log(`    load phase: ${'skipped' in loadPhase ? `skipped (${loadPhase.skipped})` : loadPhase.map((l) => `${l.module} ${l.loadMs.toFixed(0)} ms`).join(', ')}`);
      return { staticChecks, loadPhase };
    })().catch((error: unknown) => ({ skipped: firstLine(error) }));

    // 7. Where the time goes.
    log('\nCPU profile of the hot path');
    const profileOptions = { seconds: PLAN.profileSeconds, connections: PLAN.connections, workDir, pingModuleDir };
    const profile = await (async () => ({
      erpmod: await profileUnderLoad(erpmodInProcess, profileOptions, log),
      raw: await profileUnderLoad(rawHttp, profileOptions, log),
    }))().catch((error: unknown) => ({ skipped: firstLine(error) }));

    log('\nHot-path steps in isolation');
    const parts = measureDispatcherParts(quick ? 50_000 : 200_000);
    for (const part of parts) log(`    ${part.step}: ${part.nsPerCall.toFixed(0)} ns`);

    const results: BenchResults = {
      quick,
      machine: machineInfo(ROOT),
      tool,
      pinned: canPin(),
      plan: { rounds: plan.rounds, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds, connections: plan.connections },
      get: getRows,
      getRatios,
      light: lightRows,
      lightRatios,
      lightPaired,
      fixedLoad,
      post,
      pool,
      isolation,
      scale,
      reload,
      accessLog,
      compliance,
      ...(orders === undefined ? {} : { orders }),
      profile,
      parts,
      targets: [],
      totalSeconds: (performance.now() - started) / 1000,
    };
    const markdown = renderResults({ ...results, targets: checkTargets(results) });
    log(`\n${markdown}`);
    if (!noWrite) {
      const file = path.join(ROOT, 'docs', 'benchmarks.md');
      writeReport(file, markdown);
      log(`written to ${path.relative(ROOT, file)}`);
    }
  } finally {
    await stopAll();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function row(contender: Contender, results: TargetResults | undefined, server: ServerProcess | undefined, note?: string): ContenderRow {
  const memory = server?.memory() ?? { rss: Number.NaN, peak: Number.NaN };
  return { id: contender.id, label: contender.label, results, rssBytes: memory.rss, peakRssBytes: memory.peak, ...(note === undefined ? {} : { note }) };
}

/** The contenders must return the same JSON for the same route, or the comparison means nothing. */
async function assertSameJson(servers: readonly ServerProcess[]): Promise<void> {
  const bodies = await Promise.all(servers.map(async (server) => ({ server, reply: await request(`${server.url}${SUMMARY_PATH}`) })));
  const first = bodies[0]!;
  for (const { server, reply } of bodies) {
    if (reply.status !== 200) throw new Error(`${server.label} answered ${reply.status} on ${SUMMARY_PATH}: ${reply.body.slice(0, 200)}`);
    if (JSON.stringify(JSON.parse(reply.body)) !== JSON.stringify(JSON.parse(first.reply.body))) {
      throw new Error(`${server.label} returned different JSON than ${first.server.label} on ${SUMMARY_PATH}`);
    }
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmarks failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
