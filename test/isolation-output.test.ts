import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { cpuMs, processInfo } from './support/linux-processes';
import { makeModulesDir } from './support/modules-dir';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sequential GETs until `until` settles; the latency of each, in ms. */
async function latenciesUntil(url: string, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => {
    done = true;
  });
  const latencies: number[] = [];
  while (!done) {
    const started = performance.now();
    const reply = await call(url);
    latencies.push(performance.now() - started);
    assert.equal(reply.status, 200);
  }
  return latencies;
}

const percentile = (values: readonly number[], p: number): number => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0;

describe("an isolated module's output", () => {
  let host: HostProcess;
  let api: string;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha', 'isolated-noisy']), env: { ERPMOD_LOG_LEVEL: 'info' } });
    api = `${host.url}/api/v1`;
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  it('cannot bloat or stall the host: 64 MiB without a newline is cut at 64 KiB, and the other modules stay fast', async (t) => {
    assert.equal((await call(`${api}/noisy/ping`)).status, 200);
    const warmUp = performance.now() + 1000;
    const before: number[] = [];
    while (performance.now() < warmUp) {
      const started = performance.now();
      assert.equal((await call(`${api}/alpha/ping`)).status, 200);
      before.push(performance.now() - started);
    }
    const baselineKb = processInfo(host.child.pid!)!.rssKb;

    const cpuBefore = cpuMs(host.child.pid!);
    const floodStarted = performance.now();
    let peakKb = baselineKb;
    const flood = call(`${api}/noisy/flood?mb=64`);
    const sampler = (async () => {
      let settled = false;
      void flood.finally(() => {
        settled = true;
      });
      while (!settled) {
        peakKb = Math.max(peakKb, processInfo(host.child.pid!)?.rssKb ?? 0);
        await sleep(20);
      }
    })();
    const during = await latenciesUntil(`${api}/alpha/ping`, flood);
    await sampler;
    assert.equal((await flood).status, 200);
    const floodMs = performance.now() - floodStarted;
    const hostCpuMs = cpuMs(host.child.pid!) - cpuBefore;

    const growthMb = (peakKb - baselineKb) / 1024;
    const report = `host RSS ${Math.round(baselineKb / 1024)} MB -> peak ${Math.round(peakKb / 1024)} MB; alpha p99 ${percentile(before, 0.99).toFixed(1)} ms before, ${percentile(during, 0.99).toFixed(1)} ms during (${during.length} requests, max ${Math.max(...during).toFixed(1)} ms); flood ${Math.round(floodMs)} ms, host CPU ${Math.round(hostCpuMs)} ms`;
    t.diagnostic(report);
    assert.ok(growthMb < 64, report);
    // Generous: the machine is shared; unbounded buffering took seconds here.
    assert.ok(percentile(during, 0.99) < 500, report);

    await sleep(200);
    const truncated = host.logs.find((entry) => entry.module === 'noisy' && entry.truncatedAt === 65536);
    assert.ok(truncated, 'the log says the line was truncated');
    assert.equal(truncated.stream, 'stdout');
    assert.match(String(truncated.msg), /truncated at 65536 bytes/);
    assert.equal(String(truncated.line).length, 65536);
    assert.match(String(truncated.line), /^x+$/);
    assert.equal((await call(`${api}/noisy/ping`)).status, 200, 'the module keeps serving');
  });
});
