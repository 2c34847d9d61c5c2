import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { FIXTURE_MODULES_DIR, PLATFORM_KEY } from './support/paths';

describe('operating the host', () => {
  it('keeps serving when an operator copies a new build over the loaded file, and a restart picks it up', async () => {
    const modulesDir = makeModulesDir(['good-alpha']);
    const installed = path.join(modulesDir, 'good-alpha', 'lib', PLATFORM_KEY, 'alpha.so');
    const host = await startHostProcess({ modulesDir });
    assert.deepEqual((await call(`${host.url}/api/v1/alpha/ping`)).json, { module: 'alpha', version: '1.0.0' });

    // `cp` writes into the existing inode: had the host mapped this file, it would die with SIGSEGV.
    fs.copyFileSync(path.join(FIXTURE_MODULES_DIR, 'good-alpha-v2', 'lib', PLATFORM_KEY, 'alpha.so'), installed);
    fs.copyFileSync(path.join(FIXTURE_MODULES_DIR, 'good-alpha-v2', 'module.yml'), path.join(modulesDir, 'good-alpha', 'module.yml'));
    for (let i = 0; i < 20; i++) {
      const reply = await call(`${host.url}/api/v1/alpha/ping`);
      assert.equal(reply.status, 200);
      assert.equal(reply.json.version, '1.0.0', 'the running host still serves the image it loaded');
    }
    assert.equal(await host.stop(), 0);

    const restarted = await startHostProcess({ modulesDir, dataDir: host.dataDir });
    assert.deepEqual((await call(`${restarted.url}/api/v1/alpha/ping`)).json, { module: 'alpha', version: '2.0.0' });
    const history = (await restarted.admin('/plugins/alpha')).json;
    assert.equal(history.version, '2.0.0');
    assert.equal(history.events.filter((event: { kind: string }) => event.kind === 'loaded').length, 2, 'both loads are in the audit trail');
    assert.equal(await restarted.stop(), 0);
  });

  it('records a module whose directory was removed as inactive after a restart, keeps it out of the health report, and loads it again once it is back', async () => {
    const modulesDir = makeModulesDir(['good-alpha', 'good-beta']);
    const host = await startHostProcess({ modulesDir });
    assert.equal((await host.admin('/plugins/beta')).json.status, 'active');
    assert.equal(await host.stop(), 0);

    const kept = path.join(makeTempDir('set-aside'), 'good-beta');
    fs.renameSync(path.join(modulesDir, 'good-beta'), kept);
    const without = await startHostProcess({ modulesDir, dataDir: host.dataDir });
    const beta = (await without.admin('/plugins/beta')).json;
    assert.equal(beta.status, 'inactive', 'a module that is gone is not reported active');
    assert.match(beta.lastError, /not in .* at boot: its directory was removed or moved/);
    assert.equal(beta.runtime, null);
    const health = await without.admin('/api/v1/system/modules');
    assert.equal(health.status, 200, 'a removed module does not make the host unhealthy');
    assert.equal(health.json.status, 'healthy');
    assert.deepEqual(health.json.modules.map((module: { code: string }) => module.code), ['alpha']);
    assert.equal((await call(`${without.url}/api/v1/alpha/ping`)).status, 200);
    const reload = await without.admin('/plugins/beta/reload', 'POST');
    assert.equal(reload.status, 404);
    assert.match(reload.json.error.message, /the registry remembers it, but it is not loaded here \(its directory was removed or moved\)/);
    assert.equal(await without.stop(), 0);

    // A second restart without it says nothing new; putting the directory back loads it again.
    const again = await startHostProcess({ modulesDir, dataDir: host.dataDir });
    const skipped = (await again.admin('/plugins/beta')).json.events.filter((event: { kind: string }) => event.kind === 'skipped');
    assert.equal(skipped.length, 1, 'the removal is recorded once, not at every boot');
    assert.equal(await again.stop(), 0);
    fs.renameSync(kept, path.join(modulesDir, 'good-beta'));
    const back = await startHostProcess({ modulesDir, dataDir: host.dataDir });
    assert.equal((await back.admin('/plugins/beta')).json.status, 'active');
    assert.equal((await back.admin('/api/v1/system/modules')).json.modules.length, 2);
    assert.equal(await back.stop(), 0);
  });

  it('reports a module switched off by its feature flag as off, not as a fault of the host, until it is loaded', async () => {
    const modulesDir = makeModulesDir(['good-alpha', 'flagged']);
    const host = await startHostProcess({ modulesDir, env: { FEATURE_FLAG_ENABLE_FLAGGED: 'false' } });
    const health = await host.admin('/api/v1/system/modules');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'healthy', 'a flag the operator turned off is not a degraded host');
    const flagged = health.json.modules.find((module: { code: string }) => module.code === 'flagged');
    assert.equal(flagged.status, 'off');
    assert.match(flagged.details.reason, /feature flag enable_flagged is off \(FEATURE_FLAG_ENABLE_FLAGGED=false\)/);
    assert.equal((await call(`${host.url}/api/v1/flagged/ping`)).json.error.code, 'ERPMOD_MODULE_NOT_ACTIVE');
    const consoleHealth = async (): Promise<string> => (await host.admin('/console/api/modules')).json.modules.find((module: { code: string }) => module.code === 'flagged').health;
    assert.equal(await consoleHealth(), 'off', 'the console shows it off, not as a module that fails to serve');

    // An operator's reload loads it anyway; from then on it is judged as any serving module.
    assert.equal((await host.admin('/plugins/flagged/reload', 'POST')).status, 200);
    assert.equal((await call(`${host.url}/api/v1/flagged/ping`)).status, 200);
    assert.equal(await consoleHealth(), 'serving');
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the health report's 2 s cache
    const after = (await host.admin('/api/v1/system/modules')).json;
    assert.equal(after.modules.find((module: { code: string }) => module.code === 'flagged').status, 'healthy');
    assert.equal(await host.stop(), 0);
  });

  it('finishes a request in flight when SIGTERM arrives, then exits 0', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']) });
    const inFlight = call(`${host.url}/api/v1/alpha/slow?ms=800`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const exit = host.stop('SIGTERM');
    const reply = await inFlight;
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { slow: true });
    assert.equal(await exit, 0);
    const messages = host.logs.map((entry) => entry.msg);
    assert.ok(messages.includes('module alpha unloaded'), 'cleanup ran');
    assert.ok(messages.indexOf('shutting down: draining in-flight requests') < messages.indexOf('module alpha unloaded'));
  });

  it('refuses new connections once draining, and stops after the bound when a request never finishes', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_SHUTDOWN_TIMEOUT_MS: '500' } });
    // /hang's promise never settles (its 2000 ms request timeout is longer than the 500 ms bound).
    // A thread-pool job would not do here: Node itself waits for running async work before exiting.
    const hanging = call(`${host.url}/api/v1/alpha/hang`).catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    assert.equal(await host.stop('SIGINT'), 0);
    assert.ok(Date.now() - started < 1800, `shutdown took ${Date.now() - started} ms; expected the 500 ms bound, not the request`);
    assert.ok((await hanging) instanceof Error, 'the unfinished request was cut off');
    assert.ok(host.logs.some((entry) => String(entry.msg).includes('still in flight after 500 ms')));
  });
});
