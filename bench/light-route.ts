/**
 * `node dist/bench/light-route.js [--rounds N] [--seconds S] [--profile]`: the light route alone, erpmod
 * in-process against raw node:http, alternated rounds with the ratio of every round printed (min / median
 * / max), and with --profile a CPU profile of each under the same load (--serve: start both, print
 * name=url=pid, wait for SIGINT). The quick loop for hot-path work;
 * `npm run bench` measures the same pair as part of the full run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PING_PATH, type Contender } from './contenders/contender';
import { erpmodInProcess } from './contenders/erpmod-in-process';
import { rawHttp } from './contenders/raw-http';
import { profileUnderLoad } from './internal/profile-hot-path';
import { alternateRounds } from './lib/alternate-rounds';
import { loadTool } from './lib/load-generator';
import { buildCopyLibraries, copyCode, writeModuleCopies } from './lib/module-copies';
import { freePort, type ServerProcess } from './lib/server-process';
import { max, median, min } from './lib/stats';

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
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
      return;
    }
    const results = await alternateRounds(urls, { rounds: option('--rounds', 7), seconds: option('--seconds', 2), warmupSeconds: 2, connections: 50, workDir }, log);
    const erpmod = results.get('erpmod')!.runs;
    const raw = results.get('raw')!.runs;
    const ratios = erpmod.map((run, i) => run.requestsPerSecond / raw[i]!.requestsPerSecond);
    log(`\nerpmod / raw per round: ${ratios.map((r) => r.toFixed(3)).join(' ')}`);
    log(`min ${min(ratios).toFixed(3)}  median ${median(ratios).toFixed(3)}  max ${max(ratios).toFixed(3)}  (load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
    const cpu = raw.map((run, i) => (run.cpuUsPerRequest ?? Number.NaN) / (erpmod[i]!.cpuUsPerRequest ?? Number.NaN));
    log(`raw / erpmod server CPU time per request: ${cpu.map((r) => r.toFixed(3)).join(' ')}`);
    log(`min ${min(cpu).toFixed(3)}  median ${median(cpu).toFixed(3)}  max ${max(cpu).toFixed(3)}`);
  } finally {
    for (const server of servers) await server.stop().catch(() => undefined);
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`light-route failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
