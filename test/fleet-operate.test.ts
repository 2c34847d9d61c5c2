/**
 * A fleet on one PostgreSQL acts as one: an operator action taken through any instance reaches the
 * others within a second, an instance whose LISTEN connection was cut (or whose server restarted)
 * catches up from the registry by itself, and killing an instance mid-write loses no acknowledged write.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call, type HttpReply } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { withPostgresClient } from './support/postgres-client';
import { startPostgres, type PostgresServer } from './support/postgres-server';
import { eventually } from './support/eventually';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `url` until `done` holds for its reply or `withinMs` passes; resolves with the last reply and how long it took. */
async function until(url: string, done: (reply: HttpReply) => boolean, withinMs: number): Promise<{ reply: HttpReply; ms: number }> {
  const started = performance.now();
  let reply = await call(url);
  while (!done(reply) && performance.now() - started < withinMs) {
    await sleep(25);
    reply = await call(url);
  }
  return { reply, ms: performance.now() - started };
}

describe('a fleet of instances on one PostgreSQL', () => {
  let server: PostgresServer;
  let url: string;
  let hosts: HostProcess[] = [];
  let sharedModules: string;
  let ownModules: string;
  const orders = (host: HostProcess): string => `${host.url}/api/v1/sales/orders`;

  before(async () => {
    server = await startPostgres();
    url = server.createDatabase('fleet');
    // A and B share a modules directory, C has its own copy (as a separate machine would).
    sharedModules = makeModulesDir(['example:inventory', 'example:sales']);
    ownModules = makeModulesDir(['example:inventory', 'example:sales']);
    // One at a time: three boots at once are another test's business, and this keeps the machine calm.
    for (const modulesDir of [sharedModules, sharedModules, ownModules]) hosts.push(await startHostProcess({ modulesDir, env: { ERPMOD_DATABASE_URL: url }, timeoutMs: 60_000 }));
  });
  after(async () => {
    await Promise.all(hosts.map((host) => host.stop()));
    server?.stop();
  });

  it('disables through one instance and the others answer 503 within a second; enabling through another brings every one back', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    assert.equal((await call(orders(b))).status, 200);
    const disabled = await a.admin('/plugins/sales/disable', 'POST');
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.json.enabled, false);
    assert.equal(typeof disabled.json.fleet.version, 'number', 'the reply names the fleet version it recorded');
    for (const other of [b, c]) {
      const { reply, ms } = await until(orders(other), (r) => r.status === 503, 5000);
      assert.equal(reply.status, 503, 'another instance stopped serving the disabled module');
      assert.equal(reply.json.error.code, 'ERPMOD_MODULE_DISABLED');
      assert.ok(ms < 1000, `reached another instance in ${Math.round(ms)} ms`);
    }
    assert.equal(((await b.admin('/plugins/sales')).json as { enabled: boolean }).enabled, false, "the other instance's registry says so too");

    const toggled = await b.admin('/plugins/sales/toggle', 'POST');
    assert.equal(toggled.status, 200, toggled.text);
    assert.equal(toggled.json.enabled, true, 'toggle flips the fleet state, not one instance\'s');
    for (const other of [a, c]) {
      const { reply, ms } = await until(orders(other), (r) => r.status === 200, 5000);
      assert.equal(reply.status, 200);
      assert.ok(ms < 1000, `re-enabled everywhere in ${Math.round(ms)} ms`);
    }
  });

  it('reloads on every instance when an operator reloads through one, only with the same bytes', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    const binary = (dir: string): string => path.join(dir, 'inventory', 'lib', 'linux-x64', 'inventory.so');
    const shaOf = async (host: HostProcess): Promise<string> => ((await host.admin('/plugins/inventory')).json as { binarySha256: string }).binarySha256;
    const reloadedIn = (host: HostProcess): number => host.logs.filter((entry) => entry.module === 'inventory' && String(entry.msg).includes('reloaded')).length;
    const original = await shaOf(c);

    // A new build in A and B's directory only: C must not switch to whatever it has.
    fs.appendFileSync(binary(sharedModules), Buffer.from('new build'));
    const before = reloadedIn(c);
    const reloaded = await a.admin('/plugins/inventory/reload', 'POST');
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.notEqual(reloaded.json.sha256, original);
    await eventually('B reloaded the new build', async () => (await shaOf(b)) === reloaded.json.sha256, 10_000, 50);
    await eventually('C refused a build other than the fleet\'s, naming what to do', () => c.logs.some((entry) => entry.module === 'inventory' && String(entry.err ?? '').includes('install the same pack')), 10_000, 50);
    assert.equal(reloadedIn(c), before, 'C kept serving what it had');
    assert.equal(await shaOf(c), original);
    assert.equal((await call(`${c.url}/api/v1/inventory/items`)).status, 200);

    // The same bytes installed on C, a reload through C brings every instance to them.
    fs.copyFileSync(binary(sharedModules), binary(ownModules));
    const again = await c.admin('/plugins/inventory/reload', 'POST');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.sha256, reloaded.json.sha256);
    for (const other of [a, b]) await eventually('the others reloaded too', () => reloadedIn(other) >= 2, 10_000, 50);
    assert.equal(await shaOf(a), again.json.sha256);
  });

  it('catches up from the registry after its LISTEN connection is cut and a notification is missed', async () => {
    const [a, b] = hosts as [HostProcess, HostProcess];
    const cut = await withPostgresClient(server.url('fleet'), (admin) =>
      admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [`erpmod:fleet-listen:${b.child.pid}`]));
    assert.equal(cut.rowCount, 1, "the instance's LISTEN connection was found and cut");
    assert.equal((await a.admin('/plugins/sales/disable', 'POST')).status, 200);
    const { reply } = await until(orders(b), (r) => r.status === 503, 8000);
    assert.equal(reply.status, 503, 'the instance converged on the registry after reconnecting');
    assert.ok(b.logs.some((entry) => String(entry.msg).includes('lost the LISTEN connection')));
    assert.equal((await a.admin('/plugins/sales/enable', 'POST')).status, 200);
    assert.equal((await until(orders(b), (r) => r.status === 200, 8000)).reply.status, 200);
  });

  it('answers operator actions 503 while PostgreSQL is down, and follows the fleet again after it restarts', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    server.pause();
    try {
      const started = performance.now();
      const refused = await a.admin('/plugins/sales/disable', 'POST');
      assert.equal(refused.status, 503, refused.text);
      assert.equal(refused.json.error.code, 'ERPMOD_DATABASE_UNAVAILABLE');
      assert.ok(performance.now() - started < 5000, 'refused quickly, not after a hang');
      assert.equal(((await a.admin('/plugins/sales')).json as { enabled: boolean }).enabled, true, 'a refused action changed nothing here');
    } finally {
      server.start();
    }
    let disabled = await b.admin('/plugins/sales/disable', 'POST');
    for (let attempt = 0; disabled.status === 503 && attempt < 40; attempt++) {
      await sleep(250);
      disabled = await b.admin('/plugins/sales/disable', 'POST');
    }
    assert.equal(disabled.status, 200, disabled.text);
    for (const other of [a, c]) assert.equal((await until(orders(other), (r) => r.status === 503, 8000)).reply.status, 503, 'listening again after the restart');
    assert.equal((await c.admin('/plugins/sales/enable', 'POST')).status, 200);
    for (const other of [a, b]) assert.equal((await until(orders(other), (r) => r.status === 200, 8000)).reply.status, 200);
  });

  it('reserves, for an order created through one instance, stock another instance shows, the event handled once', async () => {
    const [a, b, c] = hosts as [HostProcess, HostProcess, HostProcess];
    assert.equal((await call(`${b.url}/api/v1/inventory/items`, 'POST', { sku: 'E-1', name: 'Event widget', stock: 10 })).status, 201);
    const order = await call(orders(a), 'POST', { customer: 'ACME', lines: [{ sku: 'E-1', quantity: 3, unit_price: 100 }] });
    assert.equal(order.status, 201, order.text);
    assert.equal(order.json.status, 'confirmed', 'the publishing instance delivered order.created and heard stock.reserved back');
    for (const other of [b, c]) {
      const item = await call(`${other.url}/api/v1/inventory/items/E-1`);
      assert.deepEqual([item.json.stock, item.json.reserved], [10, 3], 'reserved once, not once per instance');
    }
    const rows = await withPostgresClient(server.url('fleet'), (client) => client.query('SELECT quantity FROM erpmod_inventory.reservations WHERE order_id = $1', [order.json.id]));
    assert.deepEqual(rows.rows.map((row) => Number(row.quantity)), [3], 'one reservation row for the order');
  });

  it('labels every metric series with the instance, so one scrape of each tells the fleet apart', async () => {
    const names = new Set<string>();
    for (const host of hosts) {
      const text = (await host.admin('/metrics')).text;
      const samples = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
      assert.ok(samples.length > 10);
      const labels = new Set(samples.map((line) => /instance="([^"]+)"\}/.exec(line)?.[1]));
      assert.equal(labels.size, 1, `every series of one instance carries one instance label: ${[...labels].join(', ')}`);
      const [label] = [...labels];
      assert.ok(label !== undefined && label.endsWith(`:${host.port}`), `the default label is <hostname>:<public port>, got ${label}`);
      assert.match(text, new RegExp(`^erpmod_requests_total\\{module="sales",instance="${label}"\\} \\d+$`, 'm'));
      names.add(label);
    }
    assert.equal(names.size, hosts.length, 'each instance has its own label');
  });

  it('keeps every acknowledged write when one of three instances is killed mid-write', async () => {
    const victim = hosts[2]!;
    const acknowledged: string[] = [];
    let next = 0;
    const writer = async (host: HostProcess): Promise<void> => {
      for (let i = 0; i < 40; i++) {
        const sku = `K-${next++}`;
        try {
          const reply = await call(`${host.url}/api/v1/inventory/items`, 'POST', { sku, name: 'killed mid-write', stock: 1 });
          if (reply.status === 201) acknowledged.push(sku);
        } catch {
          // The killed instance's connections fail: those writes were never acknowledged.
          if (host === victim) return;
        }
      }
    };
    const writing = Promise.all([writer(victim), writer(victim), writer(hosts[0]!), writer(hosts[1]!)]);
    while (acknowledged.length < 10) await sleep(5);
    victim.child.kill('SIGKILL');
    await writing;
    hosts = hosts.slice(0, 2);
    assert.ok(acknowledged.length >= 10);
    for (const sku of acknowledged) {
      const found = await call(`${hosts[next % 2]!.url}/api/v1/inventory/items/${sku}`);
      assert.equal(found.status, 200, `acknowledged write ${sku} is there through a surviving instance`);
    }
  });

  it('restarts PostgreSQL under load: requests meanwhile get 503 quickly, service resumes by itself, no acknowledged write is lost', async () => {
    const acknowledged: string[] = [];
    const slow: number[] = [];
    const unexpected: string[] = [];
    let refused = 0;
    let stop = false;
    let n = 0;
    const writer = async (host: HostProcess): Promise<void> => {
      while (!stop) {
        const sku = `R-${n++}`;
        const started = performance.now();
        const reply = await call(`${host.url}/api/v1/inventory/items`, 'POST', { sku, name: 'under restart', stock: 1 });
        const ms = performance.now() - started;
        if (reply.status === 201) acknowledged.push(sku);
        else if (reply.status === 503 && reply.json?.error?.code === 'ERPMOD_DATABASE_UNAVAILABLE') {
          refused++;
          if (ms > 2500) slow.push(ms);
          await sleep(50);
        } else unexpected.push(`${reply.status} ${reply.text}`);
      }
    };
    const writing = Promise.all(hosts.flatMap((host) => [writer(host), writer(host)]));
    await sleep(300);
    server.pause();
    await sleep(1000);
    server.start();
    const resumedBy = performance.now() + 10_000;
    const before = acknowledged.length;
    while (acknowledged.length < before + 10 && performance.now() < resumedBy) await sleep(50);
    stop = true;
    await writing;
    assert.deepEqual(unexpected, [], 'every reply was a success or a quick ERPMOD_DATABASE_UNAVAILABLE');
    assert.ok(refused > 0, 'requests arrived while PostgreSQL was down');
    assert.deepEqual(slow, [], 'no request hung through the outage');
    assert.ok(acknowledged.length >= before + 10, 'writes succeed again without a restart');
    const rows = await withPostgresClient(server.url('fleet'), (client) => client.query('SELECT sku FROM erpmod_inventory.items WHERE sku = ANY($1)', [acknowledged]));
    assert.equal(rows.rowCount, acknowledged.length, 'every acknowledged write is in the database');
  });
});
