import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess } from './support/host-process';
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
