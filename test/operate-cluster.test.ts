import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSalesVariant, installSalesVariant } from './support/build-sales-variant';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { runLoad } from './support/load-generator';
import { makeModulesDir } from './support/modules-dir';
import { FIXTURE_MODULES_DIR } from './support/paths';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForLog(host: HostProcess, predicate: (entry: Record<string, unknown>) => boolean, ms = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = host.logs.find(predicate);
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail('the expected log line did not appear in time');
    await sleep(50);
  }
}

describe('a two-worker cluster', () => {
  let modulesDir: string;
  let host: HostProcess;
  before(async () => {
    modulesDir = makeModulesDir(['example:inventory', 'example:sales']);
    host = await startHostProcess({ modulesDir, env: { ERPMOD_WORKERS: '2', ERPMOD_LOG_LEVEL: 'info' }, timeoutMs: 60_000 });
    await waitForLog(host, (entry) => entry.msg === 'erpmod primary: 2 workers listening');
  });
  after(async () => {
    if (host.child.exitCode === null) await host.stop();
  });

  it('rolls the workers on SIGHUP after a new build is installed, with zero failed requests', async () => {
    const variant = buildSalesVariant('1.4.2');
    const load = runLoad(`${host.url}/api/v1/sales/summary`, 7);
    await sleep(1000);
    installSalesVariant(modulesDir, variant);
    host.child.kill('SIGHUP');
    await waitForLog(host, (entry) => entry.msg === 'rolling restart complete');
    const result = await load.done;
    assert.ok(result.requests > 500, `only ${result.requests} requests`);
    assert.deepEqual(Object.keys(result.statuses), ['200'], JSON.stringify(result.statuses));
    assert.equal(result.errors, 0, 'no connection errors');
    assert.equal(result.timeouts, 0);
    assert.deepEqual(result.identities, ['sales/1.4.0', 'sales/1.4.2']);
    for (let i = 0; i < 6; i++) {
      assert.equal((await call(`${host.url}/api/v1/sales/summary`)).headers.get('x-erpmod-module'), 'sales/1.4.2', 'every worker serves the new build');
    }
  });

  it('replaces a worker that dies', async () => {
    const workerLines = host.logs.filter((entry) => String(entry.msg).startsWith('erpmod listening on port'));
    const victim = workerLines[workerLines.length - 1]!.pid as number;
    process.kill(victim, 'SIGKILL');
    await waitForLog(host, (entry) => entry.msg === 'worker died; replacing it' && entry.worker === victim);
    await waitForLog(host, (entry) => String(entry.msg).startsWith('erpmod listening on port') && (entry.time as string) > new Date(Date.now() - 20_000).toISOString() && entry.pid !== victim && !workerLines.some((line) => line.pid === entry.pid));
    for (let i = 0; i < 6; i++) assert.equal((await call(`${host.url}/api/v1/sales/summary`)).status, 200);
  });

  it('applies operator actions in every worker, not only the one that took the request', async () => {
    // New connections are dealt to the workers in turn, so these requests reach both of them.
    const statuses = async (): Promise<number[]> => {
      const replies = [];
      for (let i = 0; i < 8; i++) replies.push((await call(`${host.url}/api/v1/sales/summary`, 'GET', undefined, { connection: 'close' })).status);
      return replies;
    };
    const disabled = await host.admin('/plugins/sales/disable', 'POST', undefined, { connection: 'close' });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.json.workers, 2);
    assert.deepEqual(await statuses(), Array(8).fill(503));
    const enabled = await host.admin('/plugins/sales/toggle', 'POST', undefined, { connection: 'close' });
    assert.deepEqual([enabled.json.enabled, enabled.json.workers], [true, 2]);
    assert.deepEqual(await statuses(), Array(8).fill(200));
    const reload = await host.admin('/plugins/sales/reload', 'POST', undefined, { connection: 'close' });
    assert.equal(reload.status, 200, reload.text);
    assert.equal(reload.json.workers, 2);
    assert.equal(reload.json.version, '1.4.2');
  });

  it('drains every worker on SIGTERM and exits 0', async () => {
    assert.equal(await host.stop('SIGTERM'), 0);
    assert.ok(host.logs.some((entry) => entry.msg === 'all workers stopped'));
  });
});

describe('a two-worker cluster whose modules run isolated', () => {
  it('rolls on SIGHUP with zero failed requests, each worker starting fresh module processes', async () => {
    const host = await startHostProcess({
      modulesDir: makeModulesDir(['example:inventory', 'example:sales']),
      env: { ERPMOD_WORKERS: '2', ERPMOD_ISOLATION: 'process', ERPMOD_LOG_LEVEL: 'info' },
      timeoutMs: 60_000,
    });
    await waitForLog(host, (entry) => entry.msg === 'erpmod primary: 2 workers listening');
    const load = runLoad(`${host.url}/api/v1/sales/summary`, 5);
    await sleep(800);
    host.child.kill('SIGHUP');
    await waitForLog(host, (entry) => entry.msg === 'rolling restart complete');
    const result = await load.done;
    assert.deepEqual(Object.keys(result.statuses), ['200'], JSON.stringify(result.statuses));
    assert.equal(result.errors + result.timeouts, 0);
    const isolatedLoads = host.logs.filter((entry) => entry.msg === 'module sales loaded' && entry.isolation === 'process');
    assert.equal(isolatedLoads.length, 4, 'two workers at boot, two more after the roll');
    assert.equal(await host.stop('SIGTERM'), 0);
  });
});

describe('a two-worker cluster given a build that one worker cannot load', () => {
  it('switches no worker and says so; once every worker can load it, switches them all', async () => {
    const modulesDir = makeModulesDir(['good-alpha']);
    const markers = makeTempDir('fail-init');
    const host = await startHostProcess({ modulesDir, env: { ERPMOD_WORKERS: '2', ERPMOD_LOG_LEVEL: 'info', FIXTURE_FAIL_INIT_DIR: markers }, timeoutMs: 60_000 });
    try {
      await waitForLog(host, (entry) => entry.msg === 'erpmod primary: 2 workers listening');
      const workers = host.logs.filter((entry) => String(entry.msg).startsWith('erpmod listening on port')).map((entry) => entry.pid as number);
      assert.equal(workers.length, 2);
      // New connections are dealt to the workers in turn: eight of them reach both.
      const versionsServed = async (): Promise<string[]> => {
        const seen = new Set<string>();
        for (let i = 0; i < 8; i++) seen.add((await call(`${host.url}/api/v1/alpha/ping`, 'GET', undefined, { connection: 'close' })).json.version);
        return [...seen].sort();
      };
      assert.deepEqual(await versionsServed(), ['1.0.0']);

      // Version 2.0.0, whose initialize() fails in the second worker only.
      fs.rmSync(path.join(modulesDir, 'good-alpha'), { recursive: true });
      fs.cpSync(path.join(FIXTURE_MODULES_DIR, 'alpha-v2-fails-in-marked-worker'), path.join(modulesDir, 'good-alpha'), { recursive: true });
      fs.writeFileSync(path.join(markers, String(workers[1])), '');
      const refused = await host.admin('/plugins/alpha/reload', 'POST', undefined, { connection: 'close' });
      assert.equal(refused.status, 422, refused.text);
      assert.equal(refused.json.error.code, 'ERPMOD_RELOAD_FAILED');
      assert.match(refused.json.error.message, /failed on purpose in this process .*\(1 of 2 workers could not, so none did: every worker serves what it served before\)/);
      assert.deepEqual(await versionsServed(), ['1.0.0'], 'the worker that could load 2.0.0 did not switch to it alone');
      await waitForLog(host, (entry) => entry.msg === 'reload of alpha cancelled; the previous generation keeps serving' && entry.pid === workers[0]);

      fs.rmSync(path.join(markers, String(workers[1])));
      const reloaded = await host.admin('/plugins/alpha/reload', 'POST', undefined, { connection: 'close' });
      assert.equal(reloaded.status, 200, reloaded.text);
      assert.deepEqual([reloaded.json.version, reloaded.json.workers], ['2.0.0', 2]);
      assert.deepEqual(await versionsServed(), ['2.0.0']);
    } finally {
      await host.stop();
    }
  });
});
