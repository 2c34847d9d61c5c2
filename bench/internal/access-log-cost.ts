/**
 * What the access log costs: two erpmod hosts, identical but for `access_log_level` (info vs off), both
 * logging at info into a pipe the bench reads, alternated in one run on the light route (where the log
 * line is the largest share of the work) and on the SQL route, both loaded at the same moment (paired
 * rounds): the server's CPU time per request, on over off, is the figure; req/s of two servers sharing a
 * core follows from it. Runs inside `npm run bench`, or alone:
 * `node dist/bench/internal/access-log-cost.js [--quick] [--against DIR]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PING_PATH, SUMMARY_PATH, type ContenderContext } from '../contenders/contender';
import { assembleModules, startHost } from '../contenders/erpmod-in-process';
import type { RoundPlan, RoundRun } from '../lib/alternate-rounds';
import { pairedRounds } from '../lib/paired-rounds';
import { median } from '../lib/stats';
import { buildCopyLibraries, copyCode, writeModuleCopies } from '../lib/module-copies';
import { freePort, type ServerProcess } from '../lib/server-process';

export interface RouteCost {
  readonly route: string;
  /** Requests per second with the access log on, over off, the two sharing a core (median of per-round ratios). */
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

/** `cli`: the host to measure, this checkout's build unless given (another build's dist/host/cli/erpmod.js). */
export async function measureAccessLogCost(plan: RoundPlan, pingModuleDir: string, log: (line: string) => void, cli?: string): Promise<AccessLogCost> {
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
        ...(cli === undefined ? {} : { cli }),
      });
      servers.push(server);
      return server;
    };
    const targets = { on: await start('on'), off: await start('off') };
    const measure = async (route: string): Promise<RouteCost> => {
      log(`    access log on vs off, GET ${route}, both loaded at the same moment (paired rounds)`);
      const paired = await pairedRounds(
        (['on', 'off'] as const).map((id) => ({ id, url: `${targets[id].url}${route}`, pid: targets[id].pid })),
        { rounds: plan.rounds, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds, connections: plan.connections, workDir: plan.workDir },
        log,
      );
      const runs = { on: paired.get('on')!, off: paired.get('off')! };
      const ratio = (pick: (run: RoundRun) => number): number => median(runs.on.map((run, i) => pick(run) / pick(runs.off[i]!)));
      const summary = (list: RoundRun[]): RouteCost['on'] => ({ rps: median(list.map((r) => r.requestsPerSecond)), cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest ?? Number.NaN)) });
      return { route, rpsRatio: ratio((r) => r.requestsPerSecond), cpuRatio: ratio((r) => r.cpuUsPerRequest ?? Number.NaN), on: summary(runs.on), off: summary(runs.off) };
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
      // --against DIR: the host built in another checkout (its dist/), for a before / after.
      const against = process.argv.indexOf('--against');
      const cli = against === -1 ? undefined : path.resolve(process.argv[against + 1]!, 'dist', 'host', 'cli', 'erpmod.js');
      const cost = await measureAccessLogCost(plan, pingModuleDir, log, cli);
      log(JSON.stringify(cost, null, 2));
    } finally {
      fs.rmSync(workDir, { recursive: true, force: true });
    }
  })();
}
