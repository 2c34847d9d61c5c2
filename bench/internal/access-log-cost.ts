/**
 * What the access log costs: two erpmod hosts, identical but for `access_log_level` (info vs off), both
 * logging at info into a pipe the bench reads, alternated in one run on the light route (where the log
 * line is the largest share of the work) and on the SQL route. Besides requests per second it reports
 * the server's CPU time per request, which a busy machine disturbs far less. Runs inside `npm run bench`, or alone:
 * `node dist/bench/internal/access-log-cost.js [--quick]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PING_PATH, SUMMARY_PATH, type ContenderContext } from '../contenders/contender';
import { assembleModules, startHost } from '../contenders/erpmod-in-process';
import type { RoundPlan } from '../lib/alternate-rounds';
import { runLoad } from '../lib/load-generator';
import { cpuMicros } from '../lib/cpu-time';
import { median } from '../lib/stats';
import { buildCopyLibraries, copyCode, writeModuleCopies } from '../lib/module-copies';
import { freePort, type ServerProcess } from '../lib/server-process';

export interface RouteCost {
  readonly route: string;
  /** Requests per second with the access log on, over off (median of per-round ratios). */
  readonly rpsRatio: number;
  /** Server CPU time per request, on over off (median of per-round ratios): steady even on a busy machine. */
  readonly cpuRatio: number;
  readonly on: { readonly rps: number; readonly cpuUsPerRequest: number };
  readonly off: { readonly rps: number; readonly cpuUsPerRequest: number };
}

export interface AccessLogCost {
  readonly light: RouteCost;
  readonly sql: RouteCost;
}

export async function measureAccessLogCost(plan: RoundPlan, pingModuleDir: string, log: (line: string) => void): Promise<AccessLogCost> {
  const servers: ServerProcess[] = [];
  try {
    const start = async (id: 'on' | 'off'): Promise<ServerProcess> => {
      const context: ContenderContext = { dataDir: path.join(plan.workDir, `access-${id}`), port: await freePort(), pingModuleDir };
      const server = await startHost(context, {
        label: `erpmod, access log ${id}`,
        modulesDir: assembleModules(context, false),
        logLevel: 'info',
        env: { ERPMOD_ACCESS_LOG_LEVEL: id === 'on' ? 'info' : 'off', ERPMOD_LOG_FORMAT: 'json' },
        discardOutput: true,
      });
      servers.push(server);
      return server;
    };
    const targets = { on: await start('on'), off: await start('off') };
    const measure = async (route: string): Promise<RouteCost> => {
      log(`    access log on vs off, GET ${route}`);
      const runs = { on: [] as { rps: number; cpuUs: number }[], off: [] as { rps: number; cpuUs: number }[] };
      const once = async (id: 'on' | 'off', seconds: number): Promise<{ rps: number; cpuUs: number }> => {
        const server = targets[id];
        const before = cpuMicros(server.pid);
        const result = await runLoad({ url: `${server.url}${route}`, seconds, connections: plan.connections, workDir: plan.workDir });
        const cpuUs = (cpuMicros(server.pid) - before) / Math.max(1, result.requests);
        return { rps: result.requestsPerSecond, cpuUs };
      };
      for (const id of ['on', 'off'] as const) await once(id, plan.warmupSeconds);
      for (let round = 0; round < plan.rounds; round++) {
        for (const id of round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
          const run = await once(id, plan.seconds);
          runs[id].push(run);
          log(`    round ${round + 1}/${plan.rounds} ${id.padEnd(4)} ${Math.round(run.rps).toString().padStart(7)} req/s  ${run.cpuUs.toFixed(1)} µs CPU/request`);
        }
      }
      const ratio = (pick: (run: { rps: number; cpuUs: number }) => number): number => median(runs.on.map((run, i) => pick(run) / pick(runs.off[i]!)));
      const summary = (list: { rps: number; cpuUs: number }[]): RouteCost['on'] => ({ rps: median(list.map((r) => r.rps)), cpuUsPerRequest: median(list.map((r) => r.cpuUs)) });
      return { route, rpsRatio: ratio((r) => r.rps), cpuRatio: ratio((r) => r.cpuUs), on: summary(runs.on), off: summary(runs.off) };
    };
    return { light: await measure(PING_PATH), sql: await measure(SUMMARY_PATH) };
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined);
  }
}

if (require.main === module) {
  void (async () => {
    const quick = process.argv.includes('--quick');
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-bench-access-'));
    const log = (line: string): void => void process.stdout.write(`${line}\n`);
    try {
      const pingModuleDir = path.join(writeModuleCopies(1, await buildCopyLibraries(1, log), path.join(workDir, 'ping-copy')), copyCode(1));
      const plan: RoundPlan = quick ? { rounds: 2, seconds: 2, warmupSeconds: 1, connections: 50, workDir } : { rounds: 6, seconds: 3, warmupSeconds: 2, connections: 50, workDir };
      const cost = await measureAccessLogCost(plan, pingModuleDir, log);
      log(JSON.stringify(cost, null, 2));
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  })();
}
