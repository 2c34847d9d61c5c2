/**
 * What the access log costs: two erpmod hosts, identical but for `access_log_level` (info vs off), both
 * logging at info into a pipe the bench reads, on the light route (where the log line is the largest
 * share of the work) and on the SQL route, both loaded at the same moment (paired rounds), a fresh pair
 * of hosts for every round (bench/lib/paired-blocks.ts: one pair alone carries up to ±3 % of luck): the
 * server's CPU time per request, on over off, is the figure; req/s of two servers sharing a core follows
 * from it. Beside it, the share of the host's CPU that the log's own code takes (a V8 profile of the
 * host with the log on, alone under load: every sample whose stack passes through host/logging/),
 * which no second process's luck moves. Runs inside `npm run bench`, or alone:
 * `node dist/bench/internal/access-log-cost.js [--quick] [--against DIR]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PING_PATH, SUMMARY_PATH, type ContenderContext } from '../contenders/contender';
import { assembleModules, startHost } from '../contenders/erpmod-in-process';
import type { RoundPlan, RoundRun } from '../lib/alternate-rounds';
import { pairedBlocks, type BlockTarget } from '../lib/paired-blocks';
import { shareOfStacksThrough } from '../lib/cpu-profile';
import { profileUnderLoad } from './profile-hot-path';
import { median } from '../lib/stats';
import { buildCopyLibraries, copyCode, writeModuleCopies } from '../lib/module-copies';
import { freePort } from '../lib/server-process';

export interface RouteCost {
  readonly route: string;
  /** Requests per second with the access log on, over off, the two sharing a core (median of per-round ratios). */
  readonly rpsRatio: number;
  /** Server CPU time per request, on over off (median of per-round ratios): steady even on a busy machine. */
  readonly cpuRatio: number;
  /**
   * Percent of the host's busy CPU time spent in the access log's own code and what it calls (the
   * write to the destination included), from a profile of the host with the log on: its direct cost,
   * without what it does to the rest of the request (caches, the garbage collector).
   */
  readonly profiledPercent: number;
  readonly on: { readonly rps: number; readonly cpuUsPerRequest: number };
  readonly off: { readonly rps: number; readonly cpuUsPerRequest: number };
}

/** The access log's code: every function in host/logging/ (the line's encoding, its batch, its write). */
const ACCESS_LOG_CODE = /@(?:.*\/)?dist\/host\/logging\//;

export interface AccessLogCost {
  readonly light: RouteCost;
  readonly sql: RouteCost;
}

/** `cli`: the host to measure, this checkout's build unless given (another build's dist/host/cli/erpmod.js). */
export async function measureAccessLogCost(plan: RoundPlan, pingModuleDir: string, log: (line: string) => void, cli?: string): Promise<AccessLogCost> {
  const host = (id: 'on' | 'off', context: ContenderContext): ReturnType<typeof startHost> =>
    startHost(context, {
      label: `erpmod, access log ${id}`,
      modulesDir: assembleModules(context, false),
      logLevel: 'info',
      env: { ERPMOD_ACCESS_LOG_LEVEL: id === 'on' ? 'info' : 'off', ERPMOD_LOG_FORMAT: 'json' },
      discardOutput: true,
      ...(cli === undefined ? {} : { cli }),
    });
  const target = (id: 'on' | 'off'): BlockTarget => ({
    id,
    start: async (block) => host(id, { dataDir: path.join(plan.workDir, `access-${id}-${block}`), port: await freePort(), pingModuleDir }),
  });
  log(`    access log on vs off, GET ${PING_PATH} and GET ${SUMMARY_PATH}, both loaded at the same moment (paired rounds), fresh hosts for each of ${plan.rounds} blocks`);
  const measured = await pairedBlocks(
    [target('on'), target('off')],
    [PING_PATH, SUMMARY_PATH],
    { blocks: plan.rounds, roundsPerBlock: 1, seconds: plan.seconds, warmupSeconds: plan.warmupSeconds, connections: plan.connections, workDir: plan.workDir },
    log,
  );
  const profiled = new Map<string, number>();
  for (const route of [PING_PATH, SUMMARY_PATH]) {
    const run = await profileUnderLoad({ id: 'access-log-on', label: 'erpmod, access log on', start: (context) => host('on', context) }, { seconds: plan.seconds * 2, connections: plan.connections, workDir: plan.workDir, pingModuleDir, path: route }, log);
    profiled.set(route, shareOfStacksThrough(run.file, ACCESS_LOG_CODE, run.window));
    log(`    the access log's own code: ${profiled.get(route)!.toFixed(2)} % of the host's busy CPU on GET ${route} (profiled)`);
  }
  const costOf = (route: string): RouteCost => {
    const runs = { on: measured.get(route)!.get('on')!, off: measured.get(route)!.get('off')! };
    const ratio = (pick: (run: RoundRun) => number): number => median(runs.on.map((run, i) => pick(run) / pick(runs.off[i]!)));
    const summary = (list: RoundRun[]): RouteCost['on'] => ({ rps: median(list.map((r) => r.requestsPerSecond)), cpuUsPerRequest: median(list.map((r) => r.cpuUsPerRequest ?? Number.NaN)) });
    return { route, rpsRatio: ratio((r) => r.requestsPerSecond), cpuRatio: ratio((r) => r.cpuUsPerRequest ?? Number.NaN), profiledPercent: profiled.get(route)!, on: summary(runs.on), off: summary(runs.off) };
  };
  return { light: costOf(PING_PATH), sql: costOf(SUMMARY_PATH) };
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
