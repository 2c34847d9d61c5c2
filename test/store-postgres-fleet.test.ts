/**
 * Hosts on one PostgreSQL: three booting at once set up each module once, and a database outage turns
 * module requests into quick 503s that stop by themselves when the server is back, losing nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { withPostgresClient } from './support/postgres-client';
import { startPostgres, type PostgresServer } from './support/postgres-server';

describe('host instances sharing one PostgreSQL', () => {
  let server: PostgresServer;
  let url: string;
  let hosts: HostProcess[] = [];

  before(async () => {
    server = await startPostgres();
    url = server.createDatabase('fleet');
  });
  after(async () => {
    await Promise.all(hosts.map((host) => host.stop()));
    server?.stop();
  });

  it('boots three instances at once: every migration runs exactly once, all serve the same data', async () => {
    const modulesDir = makeModulesDir(['example:inventory', 'example:sales']);
    hosts = await Promise.all([0, 1, 2].map(() => startHostProcess({ modulesDir, env: { ERPMOD_DATABASE_URL: url }, timeoutMs: 60_000 })));
    for (const host of hosts) {
      const plugins = (await host.admin('/plugins')).json as { code: string; status: string }[];
      assert.deepEqual(plugins.map((plugin) => plugin.status), ['active', 'active']);
    }
    const applied = hosts
      .flatMap((host) => host.logs.filter((entry) => Array.isArray(entry.migrations)).map((entry) => `${String(entry.module)}/${(entry.migrations as string[]).join(',')}`))
      .sort();
    assert.deepEqual(applied, ['inventory/001-items.sql,002-reservations.sql', 'sales/001-orders.sql'], 'one instance applied each module\'s migrations, the others found them recorded');

    const created = await call(`${hosts[0]!.url}/api/v1/inventory/items`, 'POST', { sku: 'F-1', name: 'Fleet widget', stock: 5 });
    assert.equal(created.status, 201);
    const order = await call(`${hosts[1]!.url}/api/v1/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'F-1', quantity: 2, unit_price: 100 }] });
    assert.equal(order.json.status, 'confirmed', 'an instance that did not create the item reserved its stock');
    assert.equal((await call(`${hosts[2]!.url}/api/v1/inventory/items/F-1`)).json.reserved, 2);
    const duplicate = await call(`${hosts[2]!.url}/api/v1/inventory/items`, 'POST', { sku: 'F-1', name: 'again', stock: 1 });
    assert.equal(duplicate.status, 409);

    const recorded = await withPostgresClient(server.url('fleet'), (client) => client.query('SELECT name FROM erpmod_inventory._erpmod_migrations ORDER BY name'));
    assert.deepEqual(recorded.rows.map((row) => row.name), ['001-items.sql', '002-reservations.sql']);
  });

  it('answers module requests 503 ERPMOD_DATABASE_UNAVAILABLE quickly while PostgreSQL is down, and serves again once it is back', async () => {
    const api = `${hosts[0]!.url}/api/v1`;
    server.pause();
    try {
      for (const [route, method, body] of [
        ['/inventory/items/F-1', 'GET', undefined],
        ['/sales/orders', 'POST', { customer: 'ACME', lines: [{ sku: 'F-1', quantity: 1, unit_price: 100 }] }],
      ] as const) {
        const started = performance.now();
        const reply = await call(`${api}${route}`, method, body);
        const elapsed = performance.now() - started;
        assert.equal(reply.status, 503, `${method} ${route} during the outage`);
        assert.equal(reply.json.error.code, 'ERPMOD_DATABASE_UNAVAILABLE');
        assert.equal(reply.headers.get('retry-after'), '1');
        assert.doesNotMatch(JSON.stringify(reply.json), /127\.0\.0\.1|erpmod-test-secret/, 'the database address stays in the host');
        assert.ok(elapsed < 2500, `answered in ${Math.round(elapsed)} ms, not after a hang`);
      }
      const health = await call(`${hosts[0]!.url}/healthz`);
      assert.equal(health.status, 200, 'the host itself stays alive');
    } finally {
      server.start();
    }

    let reply = await call(`${api}/inventory/items/F-1`);
    for (let attempt = 0; reply.status !== 200 && attempt < 50; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      reply = await call(`${api}/inventory/items/F-1`);
    }
    assert.equal(reply.status, 200, 'service resumed without a restart');
    assert.deepEqual([reply.json.stock, reply.json.reserved], [5, 2], 'nothing acknowledged before the outage was lost');
    const order = await call(`${api}/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'F-1', quantity: 1, unit_price: 100 }] });
    assert.equal(order.status, 201);
    assert.equal(order.json.status, 'confirmed');
  });

  it('refuses, at load, a library whose ctx.db cannot wait for PostgreSQL, and keeps serving the others', async () => {
    const modulesDir = makeModulesDir(['pool-c', 'example:inventory']);
    const host = await startHostProcess({ modulesDir, env: { ERPMOD_DATABASE_URL: server.createDatabase('refusal') } });
    hosts.push(host);
    const record = (await host.admin('/plugins/pool-c')).json as { status: string; lastError: string };
    assert.equal(record.status, 'failed');
    assert.match(record.lastError, /cannot keep its data on PostgreSQL/);
    assert.match(record.lastError, /leave database_url unset/);
    assert.equal((await call(`${host.url}/api/v1/inventory/items`)).status, 200);
  });

  it('runs isolated modules on PostgreSQL: the runner gets only its module role, events still cross', async () => {
    const database = server.createDatabase('isolated');
    const host = await startHostProcess({ modulesDir: makeModulesDir(['example:inventory', 'example:sales']), env: { ERPMOD_DATABASE_URL: database, ERPMOD_ISOLATION: 'process' } });
    hosts.push(host);
    const api = `${host.url}/api/v1`;
    assert.ok(host.logs.filter((entry) => String(entry.msg).endsWith(' loaded')).every((entry) => entry.isolation === 'process'));
    assert.equal((await call(`${api}/inventory/items`, 'POST', { sku: 'I-1', name: 'Isolated widget', stock: 4 })).status, 201);
    const order = await call(`${api}/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'I-1', quantity: 1, unit_price: 100 }] });
    assert.equal(order.status, 201);
    // Across processes events are delivered asynchronously: the reservation lands a moment later.
    let reserved = 0;
    for (let attempt = 0; reserved !== 1 && attempt < 100; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 30));
      reserved = (await call(`${api}/inventory/items/I-1`)).json.reserved;
    }
    assert.equal(reserved, 1);
    await withPostgresClient(server.url('isolated'), async (client) => {
      const sessions = await client.query("SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'isolated' AND usename LIKE 'erpmod_%' ORDER BY 1");
      assert.deepEqual(sessions.rows.map((row) => row.usename), ['erpmod_inventory', 'erpmod_sales'], 'the runners log in as their modules, not as the host');
      assert.equal((await client.query('SELECT count(*)::int AS n FROM erpmod_sales.orders')).rows[0].n, 1);
    });
  });
});
