/**
 * `node dist/bench/light-route.js [--rounds N] [--seconds S] [--paired-only] [--profile] [--against DIR]`:
 * the light route alone, erpmod in-process against raw node:http: alternated rounds (req/s and server
 * CPU time per request), then paired rounds (both loaded at the same moment, bench/lib/paired-rounds.ts,
 * on fresh servers for every round, bench/lib/paired-blocks.ts: server CPU time per request, the figure
 * the target is checked against), the ratio of every round
 * printed with its median, quartiles, min and max; with --profile a CPU profile of each under the same load (--serve: start
 * both, print name=url=pid, wait for SIGINT or SIGTERM). `--against DIR` adds a third contender, the host built in
 * another checkout (DIR holds its dist/), alternated with the other two: a change to the hot path
 * measured against the build before it at the same moment of a busy machine. The quick loop for hot-path
 * work; `npm run bench` measures the same pair as part of the full run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PING_PATH, type Contender } from './contenders/contender';
import { assembleModules, erpmodInProcess, startHost } from './contenders/erpmod-in-process';
import { rawHttp } from './contenders/raw-http';
import { profileUnderLoad } from './internal/profile-hot-path';
import { alternateRounds, type RoundRun } from './lib/alternate-rounds';
import { contenderTargets, pairedBlocks } from './lib/paired-blocks';
import { loadTool } from './lib/load-generator';
import { buildCopyLibraries, copyCode, writeModuleCopies } from './lib/module-copies';
import { freePort, type ServerProcess } from './lib/server-process';
import { spread } from './lib/stats';

const log = (line: string): void => void process.stdout.write(`${line}\n`);
const option = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};

async function main(): Promise<void> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-light-'));
  loadTool(log);
  const servers: ServerProcess[] = [];
  try {
    const pingModuleDir = path.join(writeModuleCopies(1, await buildCopyLibraries(1, log), path.join(workDir, 'ping-copy')), copyCode(1));
    const contenders: Contender[] = [rawHttp, erpmodInProcess];
    const against = process.argv.indexOf('--against');
    if (against !== -1) {
      const cli = path.resolve(process.argv[against + 1]!, 'dist', 'host', 'cli', 'erpmod.js');
      contenders.push({ id: 'other', label: `erpmod built in ${process.argv[against + 1]}`, start: (context) => startHost(context, { label: 'erpmod (other build)', modulesDir: assembleModules(context, false), cli }) });
    }
    if (process.argv.includes('--profile')) {
      for (const contender of contenders) {
        const run = await profileUnderLoad(contender, { seconds: option('--seconds', 5), connections: 50, workDir, pingModuleDir, path: PING_PATH, top: 40 }, log);
        log(`\n${contender.id}: ${Math.round(run.requestsPerSecond)} req/s, ${run.summary.busySamples} busy samples, ${run.summary.idlePercent.toFixed(1)}% idle`);
        for (const entry of run.summary.topFunctions) log(`    ${entry.percent.toFixed(1).padStart(5)}%  ${entry.name}  ${entry.location}`);
        log('  by file:');
        for (const entry of run.summary.byFile) log(`    ${entry.percent.toFixed(1).padStart(5)}%  ${entry.name}`);
      }
      return;
    }
    const urls = [];
    for (const contender of contenders) {
      const server = await contender.start({ dataDir: path.join(workDir, contender.id), port: await freePort(), pingModuleDir });
      servers.push(server);
      urls.push({ id: contender.id, url: `${server.url}${PING_PATH}`, pid: server.pid });
    }
    if (process.argv.includes('--serve')) {
      // Leaves both running for an outside driver (name=url=pid per line) until interrupted.
      for (const [i, server] of servers.entries()) log(`${urls[i]!.id}=${urls[i]!.url}=${server.pid}`);
      // Either signal ends the wait, so the finally below stops the servers it started.
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      return;
    }
    const rounds = option('--rounds', 9);
    const seconds = option('--seconds', 2);
    const others = contenders.slice(1).map((c) => c.id);
    const cpuRatios = (raw: RoundRun[], runs: RoundRun[]): number[] => raw.map((run, i) => (run.cpuUsPerRequest ?? Number.NaN) / (runs[i]!.cpuUsPerRequest ?? Number.NaN));
    if (!process.argv.includes('--paired-only')) {
      const results = await alternateRounds(urls, { rounds, seconds, warmupSeconds: 2, connections: 50, workDir }, log);
      const raw = results.get('raw')!.runs;
      for (const id of others) {
        const runs = results.get(id)!.runs;
        const rps = runs.map((run, i) => run.requestsPerSecond / raw[i]!.requestsPerSecond);
        log(`\nalternated: raw / ${id}, server CPU time per request, every round: ${cpuRatios(raw, runs).map((r) => r.toFixed(3)).join(' ')}`);
        log(`    ${describeSpread(cpuRatios(raw, runs))}`);
        log(`alternated: ${id} / raw, req/s, every round: ${rps.map((r) => r.toFixed(3)).join(' ')}`);
        log(`    ${describeSpread(rps)}\n`);
      }
    }
    // Paired rounds on fresh servers, a new set for every round (bench/lib/paired-blocks.ts): the ones above
    // stop first, so only the pair measured runs.
    for (const server of servers.splice(0)) await server.stop().catch(() => undefined);
    const paired = (await pairedBlocks(
      contenderTargets(contenders, workDir, pingModuleDir),
      [PING_PATH],
      { blocks: rounds, roundsPerBlock: 1, seconds: Math.max(seconds, 3), warmupSeconds: 2, connections: 50, workDir },
      log,
    )).get(PING_PATH)!;
    for (const id of others) {
      const ratios = cpuRatios(paired.get('raw')!, paired.get(id)!);
      log(`\npaired: raw / ${id}, server CPU time per request, every round: ${ratios.map((r) => r.toFixed(3)).join(' ')}`);
      log(`    ${describeSpread(ratios)}`);
    }
    log(`(load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined);
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function describeSpread(values: readonly number[]): string {
  const s = spread(values);
  return `median ${s.median.toFixed(3)}, quartiles ${s.p25.toFixed(3)}–${s.p75.toFixed(3)}, min ${s.min.toFixed(3)}, max ${s.max.toFixed(3)}`;
}

main().catch((error: unknown) => {
  process.stderr.write(`light-route failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
