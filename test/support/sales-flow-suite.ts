/**
 * The sales flow over HTTP against the example modules, as one suite run on each store engine: the
 * same binaries, the same requests, the same answers.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './http-client';
import { startHostProcess, type HostProcess } from './host-process';
import { makeModulesDir } from './modules-dir';
import { PLATFORM_KEY } from './paths';

export interface SalesFlowEngine {
  readonly name: string;
  /** Prepares the engine (e.g. starts a server) and returns the host environment that selects it. */
  setUp(): Promise<Record<string, string>>;
  tearDown(): Promise<void> | void;
  /** Proves, outside the host, that the data is where the engine keeps it. */
  checkStored?(expected: { orders: number; items: number }): Promise<void>;
}

export function salesFlowSuite(engine: SalesFlowEngine): void {
  describe(`the sales flow over HTTP, against the example modules (${engine.name})`, () => {
    let modulesDir: string;
    let host: HostProcess;
    let api: string;
    let env: Record<string, string>;

    before(async () => {
      env = await engine.setUp();
      modulesDir = makeModulesDir(['example:inventory', 'example:sales']);
      host = await startHostProcess({ modulesDir, env });
      api = `${host.url}/api/v1`;
    });
    after(async () => {
      await host?.stop();
      await engine.tearDown();
    });

    it('loads inventory before sales, which depends on it', async () => {
      const plugins = (await host.admin('/plugins')).json as { code: string; status: string }[];
      assert.deepEqual(plugins.map((plugin) => [plugin.code, plugin.status]), [['inventory', 'active'], ['sales', 'active']]);
      const loaded = host.logs.filter((entry) => String(entry.msg).endsWith(' loaded')).map((entry) => entry.module);
      assert.deepEqual(loaded, ['inventory', 'sales']);
    });

    it('creates an item, then an order that reserves stock through the order.created event', async () => {
      const item = await call(`${api}/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget', stock: 10 });
      assert.equal(item.status, 201);
      assert.equal(item.json.sku, 'W-1');
      assert.match(item.json.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const order = await call(`${api}/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 3, unit_price: 1250 }] });
      assert.equal(order.status, 201);
      assert.equal(order.json.id, 1);
      assert.equal(order.json.status, 'confirmed', 'stock.reserved came back before the reply was written');
      // 3 x 12.50 = 37.50; tax 20 % (tax_rate_bp 2000) = 7.50; total 45.00, in minor units.
      assert.deepEqual([order.json.subtotal, order.json.tax, order.json.total], [3750, 750, 4500]);

      const fetched = await call(`${api}/sales/orders/${order.json.id}`);
      assert.equal(fetched.status, 200);
      assert.equal(fetched.json.total, 4500);
      assert.equal(fetched.json.lines.length, 1);

      const stock = await call(`${api}/inventory/items/W-1`);
      assert.equal(stock.status, 200);
      assert.equal(stock.json.stock, 10);
      assert.equal(stock.json.reserved, 3);
    });

    it('backorders an order the stock cannot cover, and reserves nothing for it', async () => {
      const order = await call(`${api}/sales/orders`, 'POST', { customer: 'Big Buyer', lines: [{ sku: 'W-1', quantity: 50, unit_price: 100 }] });
      assert.equal(order.status, 201);
      assert.equal(order.json.status, 'backordered');
      assert.equal((await call(`${api}/inventory/items/W-1`)).json.reserved, 3);
    });

    it('sums orders by status, and cancelling releases the reservation', async () => {
      const summary = await call(`${api}/sales/summary`);
      assert.equal(summary.status, 200);
      assert.equal(summary.json.count, 2);
      assert.deepEqual(summary.json.by_status.confirmed, { count: 1, total: 4500 });
      assert.deepEqual(summary.json.by_status.backordered, { count: 1, total: 6000 });

      const cancelled = await call(`${api}/sales/orders/1/cancel`, 'POST');
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.json.status, 'cancelled');
      assert.equal((await call(`${api}/inventory/items/W-1`)).json.reserved, 0);
      const again = await call(`${api}/sales/orders/1/cancel`, 'POST');
      assert.equal(again.status, 409);
    });

    it('pages the order list', async () => {
      const page = await call(`${api}/sales/orders?limit=1&offset=1`);
      assert.equal(page.status, 200);
      assert.equal(page.json.total, 2);
      assert.equal(page.json.items.length, 1);
      assert.equal(page.json.limit, 1);
    });

    it('rejects invalid input with 400 and a message per field, and a duplicate sku with 409', async () => {
      const order = await call(`${api}/sales/orders`, 'POST', { customer: '', lines: [{ sku: 'W-1', quantity: -3, unit_price: 'x' }] });
      assert.equal(order.status, 400);
      assert.ok(order.json.error.fields.customer);
      assert.match(order.json.error.fields['lines[0].quantity'], /got -3/);
      assert.ok(order.json.error.fields['lines[0].unit_price']);
      const noLines = await call(`${api}/sales/orders`, 'POST', { customer: 'ACME', lines: [] });
      assert.equal(noLines.status, 400);
      assert.ok(noLines.json.error.fields.lines);
      const item = await call(`${api}/inventory/items`, 'POST', { sku: 'bad sku!', name: 'x', stock: 1.5 });
      assert.equal(item.status, 400);
      assert.ok(item.json.error.fields.sku);
      assert.ok(item.json.error.fields.stock);
      const duplicate = await call(`${api}/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget again', stock: 1 });
      assert.equal(duplicate.status, 409, 'the unique violation reached the module as IsConstraint()');
    });

    it('answers 404 for unknown orders, items and routes', async () => {
      assert.equal((await call(`${api}/sales/orders/999`)).status, 404);
      assert.equal((await call(`${api}/inventory/items/NOPE`)).status, 404);
      const route = await call(`${api}/sales/invoices`);
      assert.equal(route.status, 404);
      assert.equal(route.json.error.code, 'ERPMOD_NOT_FOUND');
    });

    it('reports module health, which reads the database', async () => {
      const health = (await host.admin('/api/v1/system/modules')).json as { modules: { code: string; status: string; details?: Record<string, unknown> }[] };
      const inventory = health.modules.find((module) => module.code === 'inventory');
      assert.equal(inventory?.status, 'healthy');
      assert.deepEqual(inventory?.details, { items: 1, reserved: 0 });
    });

    it('keeps serving when a new sales build is copied over the loaded file, keeps its data across a restart, and loads the new build then', async () => {
      const installed = path.join(modulesDir, 'sales', 'lib', PLATFORM_KEY, 'sales.so');
      const before = (await host.admin('/plugins/sales')).json.binarySha256;
      // A new build: the same code with a trailing build stamp, which the loader ignores but which changes
      // the digest. cp truncates and rewrites the file in place: a host that had mapped this very file
      // would die with SIGBUS/SIGSEGV on its next call.
      const rebuilt = Buffer.concat([fs.readFileSync(installed), Buffer.from('\nbuild-stamp: 2\n')]);
      const staged = path.join(path.dirname(modulesDir), `sales-${process.pid}.so`);
      fs.writeFileSync(staged, rebuilt);
      fs.copyFileSync(staged, installed);
      for (let i = 0; i < 10; i++) assert.equal((await call(`${api}/sales/orders/2`)).status, 200);
      assert.equal(await host.stop(), 0);

      host = await startHostProcess({ modulesDir, dataDir: host.dataDir, env });
      api = `${host.url}/api/v1`;
      const sales = (await host.admin('/plugins/sales')).json;
      assert.notEqual(sales.binarySha256, before, 'the restart loaded the new build');
      assert.equal(sales.status, 'active');
      const order = await call(`${api}/sales/orders/2`);
      assert.equal(order.status, 200);
      assert.equal(order.json.customer, 'Big Buyer');
      assert.equal((await call(`${api}/inventory/items/W-1`)).json.stock, 10);
      assert.equal((await call(`${api}/sales/summary`)).json.count, 2);
    });

    if (engine.checkStored !== undefined) {
      it(`keeps the modules' data in ${engine.name}`, async () => {
        await engine.checkStored!({ orders: 2, items: 1 });
      });
    }

    it('never reserves more than the stock when many orders for the last units arrive at once, and reserves all lines or none', async () => {
      assert.equal((await call(`${api}/inventory/items`, 'POST', { sku: 'LAST', name: 'Last units', stock: 5 })).status, 201);
      const orders = await Promise.all(
        Array.from({ length: 24 }, (_, i) => call(`${api}/sales/orders`, 'POST', { customer: `Rush ${i}`, lines: [{ sku: 'LAST', quantity: 1, unit_price: 100 }] })),
      );
      assert.deepEqual(orders.map((order) => order.status), Array.from({ length: 24 }, () => 201));
      const statuses = orders.map((order) => order.json.status as string);
      assert.equal(statuses.filter((status) => status === 'confirmed').length, 5, `confirmed: ${statuses.join(', ')}`);
      assert.equal(statuses.filter((status) => status === 'backordered').length, 19);
      assert.equal((await call(`${api}/inventory/items/LAST`)).json.reserved, 5);

      // W-1 is taken first (SKU order) and could be had, Z-NONE not: neither is reserved.
      assert.equal((await call(`${api}/inventory/items`, 'POST', { sku: 'Z-NONE', name: 'None left', stock: 0 })).status, 201);
      const before = (await call(`${api}/inventory/items/W-1`)).json.reserved as number;
      const mixed = await call(`${api}/sales/orders`, 'POST', { customer: 'Mixed', lines: [{ sku: 'Z-NONE', quantity: 1, unit_price: 100 }, { sku: 'W-1', quantity: 1, unit_price: 100 }] });
      assert.equal(mixed.json.status, 'backordered');
      assert.equal((await call(`${api}/inventory/items/W-1`)).json.reserved, before, "W-1's units went back with the rollback");
      assert.equal((await call(`${api}/inventory/items/Z-NONE`)).json.reserved, 0);
    });
  });
}
