/**
 * `POST /api/v1/sales/orders` (an order, its lines, the stock reservation through events, the status
 * update, the order read back) on a real PostgreSQL: erpmod on SQLite vs erpmod on PostgreSQL vs a
 * hand-written Fastify + pg app running the same statements, alternated in rounds — with, for
 * reference, erpmod on PostgreSQL with its events in process instead of the outbox (not a mode of the
 * product: it shows what the outbox costs); then two erpmod instances on the one database vs one (the
 * load split between them). Run alone with `node dist/bench/internal/orders-postgres.js [--quick]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { postgresBinDir, startPostgres } from '../../test/support/postgres-server';
import { startHost } from '../contenders/erpmod-in-process';
import { EVENTS_IN_PROCESS_LINE, EVENTS_IN_PROCESS_PRELOAD } from '../contenders/events-in-process';
import { startFastifyOrders } from '../contenders/fastify-pg-orders';
import { alternateRounds, roundRatio, type RoundPlan } from '../lib/alternate-rounds';
import { runLoad } from '../lib/load-generator';
import { MODULES_DIR } from '../lib/paths';
import { freePort, request, type ServerProcess } from '../lib/server-process';
import { cpuMicros } from '../lib/cpu-time';
import { median } from '../lib/stats';

export const ORDERS_PATH = '/api/v1/sales/orders';
const SKU = 'BENCH-ORDERS';
// `{n}` is the load tool's request counter: each order is another customer's.
const ORDER_TEMPLATE = `{"customer":"Bench {n}","lines":[{"sku":"${SKU}","quantity":1,"unit_price":100}]}`;
const ORDER = ORDER_TEMPLATE.replace('{n}', '0');

export interface OrdersOnPostgres {
  readonly rows: readonly { id: string; label: string; requestsPerSecond: number; p50Ms: number; p99Ms: number; cpuUsPerRequest: number; failed: number }[];
  /** erpmod on PostgreSQL ÷ Fastify + pg, median of per-round ratios, and each round's. */
  readonly vsFastify: number;
  readonly vsFastifyRounds: readonly number[];
  readonly vsFastifyP99: number;
  readonly postgresVsSqlite: number;
  /** erpmod on PostgreSQL with events in process (no outbox) ÷ Fastify + pg: the module boundary's cost without the outbox's. */
  readonly outboxFreeVsFastify: number;
  /** Two instances' summed throughput ÷ one instance's, median over rounds. */
  readonly twoVsOne: number;
  /** Host CPU time per request, two instances ÷ one, median over rounds. */
  readonly twoVsOneCpu: number;
}

export async function measureOrdersOnPostgres(plan: RoundPlan, log: (line: string) => void): Promise<OrdersOnPostgres | undefined> {
  if (postgresBinDir() === undefined) {
    log('  skipped: PostgreSQL is not installed (Debian package postgresql)');
    return undefined;
  }
  const server = await startPostgres();
  const servers: ServerProcess[] = [];
  try {
    const url = server.createDatabase('bench');
    const modulesDir = path.join(plan.workDir, 'orders-modules');
    for (const code of ['inventory', 'sales']) {
      fs.cpSync(path.join(MODULES_DIR, code), path.join(modulesDir, code), { recursive: true, filter: (file) => !file.includes(`${path.sep}build${path.sep}`) });
    }
    const host = async (label: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): Promise<ServerProcess> => {
      const dataDir = fs.mkdtempSync(path.join(plan.workDir, 'orders-data-'));
      const started = await startHost({ dataDir, port: await freePort(), nodeFlags }, { label, modulesDir, env, readyTimeoutMs: 60_000 });
      servers.push(started);
      return started;
    };
    const sqlite = await host('erpmod SQLite', {});
    const first = await host('erpmod PostgreSQL', { ERPMOD_DATABASE_URL: url });
    const second = await host('erpmod PostgreSQL (second instance)', { ERPMOD_DATABASE_URL: url });
    const outboxFree = await host('erpmod PostgreSQL, events in process', { ERPMOD_DATABASE_URL: url }, ['--require', EVENTS_IN_PROCESS_PRELOAD]);
    // Without it the row would measure the outbox under another name.
    if (!outboxFree.lines.includes(EVENTS_IN_PROCESS_LINE)) throw new Error(`${outboxFree.label}: the host did not take the in-process events bus`);
    const fastify = await startFastifyOrders(await freePort(), url);
    servers.push(fastify);
    for (const target of [sqlite, first]) {
      const created = await request(`${target.url}/api/v1/inventory/items`, 'POST', JSON.stringify({ sku: SKU, name: 'Bench', stock: 1_000_000_000 }), { 'content-type': 'application/json' });
      if (created.status !== 201) throw new Error(`${target.label}: creating the bench item answered ${created.status}: ${created.body}`);
    }
    for (const target of [sqlite, first, second, outboxFree, fastify]) {
      const order = await request(`${target.url}${ORDERS_PATH}`, 'POST', ORDER, { 'content-type': 'application/json' });
      if (order.status !== 201 || !order.body.includes('"confirmed"')) throw new Error(`${target.label}: expected 201 with a confirmed order, got ${order.status}: ${order.body}`);
    }

    const targets = [
      { id: 'sqlite', label: 'erpmod, SQLite', url: `${sqlite.url}${ORDERS_PATH}`, pid: sqlite.pid },
      { id: 'postgres', label: 'erpmod, PostgreSQL', url: `${first.url}${ORDERS_PATH}`, pid: first.pid },
      { id: 'fastify', label: 'Fastify + pg (same SQL)', url: `${fastify.url}${ORDERS_PATH}`, pid: fastify.pid },
      { id: 'outbox-free', label: 'erpmod, PostgreSQL, events in process (no outbox; reference only)', url: `${outboxFree.url}${ORDERS_PATH}`, pid: outboxFree.pid },
    ];
    const results = await alternateRounds(targets, { ...plan, method: 'POST', body: () => ORDER_TEMPLATE }, log);

    // Two instances on one database: the same connections split between them, against one alone.
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    const cpu = (): number => cpuMicros(first.pid) + cpuMicros(second.pid);
    for (let round = 0; round < plan.rounds; round++) {
      const load = (target: ServerProcess, connections: number) =>
        runLoad({ url: `${target.url}${ORDERS_PATH}`, seconds: plan.seconds, connections, method: 'POST', bodyTemplate: ORDER_TEMPLATE, workDir: plan.workDir });
      let before = cpu();
      const one = await load(first, plan.connections);
      const oneCpu = (cpu() - before) / Math.max(1, one.requests);
      before = cpu();
      const two = await Promise.all([load(first, Math.ceil(plan.connections / 2)), load(second, Math.floor(plan.connections / 2))]);
      const twoCpu = (cpu() - before) / Math.max(1, two[0].requests + two[1].requests);
      const both = two[0].requestsPerSecond + two[1].requestsPerSecond;
      ratios.push(both / one.requestsPerSecond);
      cpuRatios.push(twoCpu / oneCpu);
      log(`    round ${round + 1}/${plan.rounds} one instance ${Math.round(one.requestsPerSecond)} req/s (${Math.round(oneCpu)} µs CPU/request), two ${Math.round(both)} req/s (${Math.round(twoCpu)} µs)`);
    }

    const rows = targets.map((target) => {
      const result = results.get(target.id)!;
      const cpuUsPerRequest = median(result.runs.map((run) => run.cpuUsPerRequest ?? Number.NaN));
      return { id: target.id, label: target.label, requestsPerSecond: result.requestsPerSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, cpuUsPerRequest, failed: result.errors + result.non2xx };
    });
    const erpmodRuns = results.get('postgres')!.runs;
    const fastifyRuns = results.get('fastify')!.runs;
    return {
      rows,
      vsFastify: roundRatio(results.get('postgres'), results.get('fastify'), (r) => r.requestsPerSecond),
      vsFastifyRounds: erpmodRuns.map((run, i) => run.requestsPerSecond / fastifyRuns[i]!.requestsPerSecond),
      vsFastifyP99: roundRatio(results.get('postgres'), results.get('fastify'), (r) => r.p99Ms),
      postgresVsSqlite: roundRatio(results.get('postgres'), results.get('sqlite'), (r) => r.requestsPerSecond),
      outboxFreeVsFastify: roundRatio(results.get('outbox-free'), results.get('fastify'), (r) => r.requestsPerSecond),
      twoVsOne: median(ratios),
      twoVsOneCpu: median(cpuRatios),
    };
  } finally {
    for (const started of servers) await started.stop().catch(() => undefined);
    server.stop();
  }
}

/** The section's lines for the report. */
export function renderOrdersOnPostgres(result: OrdersOnPostgres): string[] {
  const spread = result.vsFastifyRounds.length === 0 ? '' : `, rounds ${Math.min(...result.vsFastifyRounds).toFixed(2)}–${Math.max(...result.vsFastifyRounds).toFixed(2)}`;
  return [
    '| POST /api/v1/sales/orders | req/s | p50 ms | p99 ms | server CPU µs/request | failed |',
    '|---|---:|---:|---:|---:|---:|',
    ...result.rows.map((row) => `| ${row.label} | ${Math.round(row.requestsPerSecond)} | ${row.p50Ms.toFixed(2)} | ${row.p99Ms.toFixed(2)} | ${Number.isFinite(row.cpuUsPerRequest) ? Math.round(row.cpuUsPerRequest) : '–'} | ${row.failed} |`),
    '',
    `erpmod on PostgreSQL ÷ Fastify + pg: ${result.vsFastify.toFixed(2)}× throughput (median${spread}; p99 ratio ${result.vsFastifyP99.toFixed(2)}); ` +
      `PostgreSQL ÷ SQLite: ${result.postgresVsSqlite.toFixed(2)}×; with events in process instead of the outbox, erpmod on PostgreSQL ÷ Fastify + pg: ${result.outboxFreeVsFastify.toFixed(2)}×; two instances on one database ÷ one: ${result.twoVsOne.toFixed(2)}× (host CPU per request ${result.twoVsOneCpu.toFixed(2)}×).`,
  ];
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-bench-orders-'));
  const plan: RoundPlan = quick
    ? { rounds: 1, seconds: 2, warmupSeconds: 1, connections: 16, workDir }
    : { rounds: 4, seconds: 3, warmupSeconds: 2, connections: 16, workDir };
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  void measureOrdersOnPostgres(plan, log).then(
    (result) => {
      if (result !== undefined) for (const line of renderOrdersOnPostgres(result)) log(line);
      fs.rmSync(workDir, { recursive: true, force: true });
    },
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
