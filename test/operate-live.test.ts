import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSalesVariant, installSalesVariant, type SalesVariant } from './support/build-sales-variant';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { runLoad } from './support/load-generator';
import { makeModulesDir } from './support/modules-dir';
import { FIXTURE_MODULES_DIR, PLATFORM_KEY } from './support/paths';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('operating modules live', () => {
  let variant: SalesVariant;
  before(() => {
    variant = buildSalesVariant('1.4.1');
  });

  describe('one host', () => {
    let modulesDir: string;
    let host: HostProcess;
    before(async () => {
      modulesDir = makeModulesDir(['example:inventory', 'example:sales', 'good-alpha']);
      host = await startHostProcess({ modulesDir, env: { ERPMOD_LOG_LEVEL: 'info' } });
      assert.equal((await call(`${host.url}/api/v1/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget', stock: 1000 })).status, 201);
    });
    after(async () => {
      assert.equal(await host.stop(), 0);
    });

    it('reloads sales to a new build under load with zero failed requests, and answers switch version', async () => {
      const load = runLoad(`${host.url}/api/v1/sales/summary`, 4);
      await sleep(1500);
      installSalesVariant(modulesDir, variant);
      const reload = await host.admin('/plugins/sales/reload', 'POST');
      assert.equal(reload.status, 200, reload.text);
      assert.equal(reload.json.version, '1.4.1');
      assert.equal(reload.json.previousVersion, '1.4.0');
      const result = await load.done;
      assert.ok(result.requests > 500, `only ${result.requests} requests were sent`);
      assert.deepEqual(Object.keys(result.statuses), ['200'], `statuses: ${JSON.stringify(result.statuses)}`);
      assert.equal(result.errors, 0);
      assert.equal(result.timeouts, 0);
      assert.deepEqual(result.identities, ['sales/1.4.0', 'sales/1.4.1']);

      const after = await call(`${host.url}/api/v1/sales/summary`);
      assert.equal(after.headers.get('x-erpmod-module'), 'sales/1.4.1');
      const plugin = (await host.admin('/plugins/sales')).json;
      assert.equal(plugin.version, '1.4.1');
      assert.equal(plugin.runtime.generation, 2);
      assert.equal(plugin.runtime.residentImages, 2, 'the old image stays mapped');
      const kinds = plugin.events.map((event: { kind: string }) => event.kind);
      assert.ok(kinds.includes('reloaded') && kinds.includes('unloaded'), kinds.join(','));
    });

    it('keeps the dependents of a reloaded module working: orders still reserve stock after inventory reloads', async () => {
      assert.equal((await host.admin('/plugins/inventory/reload', 'POST')).status, 200);
      const order = await call(`${host.url}/api/v1/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 2, unit_price: 100 }] });
      assert.equal(order.status, 201);
      assert.equal(order.json.status, 'confirmed', 'the new inventory generation received order.created');
      assert.equal((await call(`${host.url}/api/v1/inventory/items/W-1`)).json.reserved, 2, 'reserved exactly once: the old generation no longer listens');
    });

    it('leaves the old generation serving when the new build fails a compliance rule', async () => {
      const alphaLib = path.join(modulesDir, 'good-alpha', 'lib', PLATFORM_KEY, 'alpha.so');
      const original = fs.readFileSync(alphaLib);
      fs.copyFileSync(path.join(FIXTURE_MODULES_DIR, 'no-info-block', 'lib', PLATFORM_KEY, 'no-info.so'), alphaLib);
      const reload = await host.admin('/plugins/alpha/reload', 'POST');
      assert.equal(reload.status, 422);
      assert.equal(reload.json.error.code, 'ERPMOD_RELOAD_FAILED');
      assert.match(reload.json.error.message, /meta\/info-block/);
      const ping = await call(`${host.url}/api/v1/alpha/ping`);
      assert.equal(ping.status, 200);
      assert.equal(ping.headers.get('x-erpmod-module'), 'alpha/1.0.0');
      const plugin = (await host.admin('/plugins/alpha')).json;
      assert.equal(plugin.status, 'active');
      assert.ok(plugin.events.some((event: { kind: string; detail: { operation?: string } }) => event.kind === 'failed' && event.detail.operation === 'reload'));
      fs.writeFileSync(alphaLib, original);
    });

    it('leaves the old generation serving when the new build\'s initialize throws', async () => {
      const alphaLib = path.join(modulesDir, 'good-alpha', 'lib', PLATFORM_KEY, 'alpha.so');
      const original = fs.readFileSync(alphaLib);
      // Same code and version as alpha, compliant, but its initialize() throws.
      fs.copyFileSync(path.join(FIXTURE_MODULES_DIR, 'alpha-init-throws', 'lib', PLATFORM_KEY, 'alpha.so'), alphaLib);
      const reload = await host.admin('/plugins/alpha/reload', 'POST');
      assert.equal(reload.status, 422);
      assert.match(reload.json.error.message, /reload of module "alpha" failed: module "alpha": initialize\(\) failed: fixture initialize failed on purpose/);
      assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
      fs.writeFileSync(alphaLib, original);
    });

    it('toggles a module off and on under load: only 200s and 503s, never another error', async () => {
      const load = runLoad(`${host.url}/api/v1/alpha/ping`, 3);
      await sleep(700);
      const off = await host.admin('/plugins/alpha/toggle', 'POST');
      assert.deepEqual(off.json, { code: 'alpha', enabled: false });
      await sleep(700);
      const disabled = await call(`${host.url}/api/v1/alpha/ping`);
      assert.equal(disabled.status, 503);
      assert.equal(disabled.json.error.code, 'ERPMOD_MODULE_DISABLED');
      const on = await host.admin('/plugins/alpha/toggle', 'POST');
      assert.deepEqual(on.json, { code: 'alpha', enabled: true });
      const result = await load.done;
      assert.deepEqual(Object.keys(result.statuses).sort(), ['200', '503'], JSON.stringify(result.statuses));
      assert.equal(result.errors, 0);
      assert.equal(result.timeouts, 0);
      assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
    });

    it('refuses to disable a module others depend on, naming them', async () => {
      const reply = await host.admin('/plugins/inventory/disable', 'POST');
      assert.equal(reply.status, 409);
      assert.equal(reply.json.error.code, 'ERPMOD_OPERATION_CONFLICT');
      assert.match(reply.json.error.message, /while "sales" depends on it/);
    });

    it('loads a module dropped into the modules directory while running, on its first reload', async () => {
      const unknown = await host.admin('/plugins/newcomer/reload', 'POST');
      assert.equal(unknown.status, 404);
      assert.match(unknown.json.error.message, /no directory under .* declares it/);
      fs.cpSync(path.join(FIXTURE_MODULES_DIR, 'flagged'), path.join(modulesDir, 'newcomer-dir'), { recursive: true });
      const reload = await host.admin('/plugins/flagged/reload', 'POST');
      assert.equal(reload.status, 200, reload.text);
      assert.equal(reload.json.generation, 1);
      assert.equal((await call(`${host.url}/api/v1/flagged/ping`)).status, 200);
      const plugin = (await host.admin('/plugins/flagged')).json;
      assert.equal(plugin.status, 'active');
      assert.deepEqual(plugin.events.map((event: { kind: string }) => event.kind).reverse().slice(0, 2), ['discovered', 'reloaded']);
    });

    it('remembers a disabled module across a restart', async () => {
      assert.equal((await host.admin('/plugins/alpha/disable', 'POST')).status, 200);
      assert.equal(await host.stop(), 0);
      host = await startHostProcess({ modulesDir, dataDir: host.dataDir, env: { ERPMOD_LOG_LEVEL: 'info' } });
      const ping = await call(`${host.url}/api/v1/alpha/ping`);
      assert.equal(ping.status, 503);
      assert.equal(ping.json.error.code, 'ERPMOD_MODULE_DISABLED');
      const enabled = await host.admin('/plugins/alpha/enable', 'POST');
      assert.equal(enabled.status, 200, enabled.text);
      assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'enabling loads a module that was never loaded in this process');
    });
  });
});
