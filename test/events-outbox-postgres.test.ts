/**
 * Events across a fleet on one PostgreSQL go through a transactional outbox: each subscribing module
 * handles each event once across the fleet (not once per instance), an event published inside a
 * transaction commits or rolls back with it, a delivery whose instance is killed mid-way is retried by
 * another once its lease runs out, and a subscriber that always fails gets a bounded number of attempts
 * and then an `event-failed` record in the audit trail.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { moduleRolePassword } from '../host/store/postgres/connection-settings';
import { call } from './support/http-client';
import { formatLogs, startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { withPostgresClient } from './support/postgres-client';
import { startPostgres, type PostgresServer } from './support/postgres-server';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const LEASE_MS = 4000;
const MAX_ATTEMPTS = 3;

interface DeliveryRow {
  subscriber: string;
  topic: string;
  state: string;
  attempts: number;
  claimed_by: string | null;
  last_error: string | null;
}

describe('events across a fleet on one PostgreSQL (transactional outbox)', () => {
  let server: PostgresServer;
  let modulesDir: string;
  let env: Record<string, string>;
  let db: pg.Client;
  let a: HostProcess;
  let b: HostProcess;
  let victim: HostProcess | undefined;
  const hosts = (): HostProcess[] => [a, b, ...(victim === undefined ? [] : [victim])];

  /** Deliveries of events whose payload names `marker` (a task name or an order id). */
  async function deliveriesOf(topic: string, marker: string): Promise<DeliveryRow[]> {
    const result = await db.query<DeliveryRow>(
      `SELECT d.subscriber, o.topic, d.state, d.attempts, d.claimed_by, d.last_error
         FROM erpmod_events.deliveries d JOIN erpmod_events.outbox o ON o.id = d.event_id
        WHERE o.topic = $1 AND o.payload LIKE $2 ORDER BY d.event_id, d.subscriber`,
      [topic, `%${marker}%`],
    );
    return result.rows;
  }

  async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, withinMs: number): Promise<T> {
    const started = performance.now();
    let value = await read();
    while (!done(value)) {
      if (performance.now() - started > withinMs) assert.fail(`${what}: not within ${withinMs} ms; last seen ${JSON.stringify(value)}\n${hosts().map((host) => formatLogs(host.logs.slice(-15))).join('\n')}`);
      await sleep(100);
      value = await read();
    }
    return value;
  }

  const handledThrough = async (host: HostProcess, task: string): Promise<number> => {
    const reply = await call(`${host.url}/api/v1/event-lab/tasks/${task}`);
    assert.equal(reply.status, 200, reply.text);
    return reply.json.handled as number;
  };

  before(async () => {
    server = await startPostgres();
    const url = server.createDatabase('events');
    modulesDir = makeModulesDir(['example:inventory', 'example:sales', 'event-lab']);
    env = { ERPMOD_DATABASE_URL: url, ERPMOD_EVENT_LEASE_MS: String(LEASE_MS), ERPMOD_EVENT_MAX_ATTEMPTS: String(MAX_ATTEMPTS) };
    a = await startHostProcess({ modulesDir, env, timeoutMs: 60_000 });
    b = await startHostProcess({ modulesDir, env, timeoutMs: 60_000 });
    victim = await startHostProcess({ modulesDir, env, timeoutMs: 60_000 });
    db = new pg.Client(server.url('events'));
    await db.connect();
  });
  after(async () => {
    await db?.end().catch(() => undefined);
    await Promise.all(hosts().map((host) => host.stop()));
    server?.stop();
  });

  it('an order created through A reserves stock that B shows, the event handled exactly once across three instances', async () => {
    assert.equal((await call(`${b.url}/api/v1/inventory/items`, 'POST', { sku: 'F-1', name: 'Fleet widget', stock: 10 })).status, 201);
    const order = await call(`${a.url}/api/v1/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'F-1', quantity: 3, unit_price: 100 }] });
    assert.equal(order.status, 201, order.text);
    assert.equal(order.json.status, 'confirmed', 'the publishing instance delivered before it replied: the reply shows the reservation');
    const stock = await call(`${b.url}/api/v1/inventory/items/F-1`);
    assert.equal(stock.json.reserved, 3, 'B shows the stock A reserved');

    // Longer than the publisher's grace and a few polls: no other instance delivers it again.
    await sleep(4500);
    const reservations = await db.query('SELECT count(*)::int AS n FROM erpmod_inventory.reservations WHERE order_id = $1', [order.json.id]);
    assert.equal(reservations.rows[0].n, 1, 'one reservation: order.created handled once');
    const marker = `"order_id":${order.json.id}`;
    assert.deepEqual(
      (await deliveriesOf('order.created', marker)).map((row) => [row.subscriber, row.state, row.attempts]),
      [['inventory', 'done', 1]],
      'one delivery to the one subscribing module, done in one attempt',
    );
    assert.deepEqual((await deliveriesOf('stock.reserved', marker)).map((row) => [row.subscriber, row.state, row.attempts]), [['sales', 'done', 1]]);
    // Inventory reserves inside an erpmod::Transaction, whose COMMIT completes the delivery with its
    // work (mark_handled); sales confirms with one statement outside a transaction (at-least-once).
    const twice = hosts().flatMap((host) => host.logs).filter((entry) => String(entry.msg).includes('delivered twice'));
    assert.deepEqual(twice, [], 'inventory never saw the event a second time');
    assert.equal((await call(`${b.url}/api/v1/sales/orders/${order.json.id}`)).json.status, 'confirmed');
  });

  it('an event published inside a transaction is delivered after its commit, and not at all when it rolls back', async () => {
    const committed = await call(`${a.url}/api/v1/event-lab/tasks`, 'POST', { task: 'tx-commit', publish: 'commit' });
    assert.equal(committed.status, 201, committed.text);
    await until('the committed event handled, seen through B', () => handledThrough(b, 'tx-commit'), (n) => n === 1, 5000);

    const rolledBack = await call(`${a.url}/api/v1/event-lab/tasks`, 'POST', { task: 'tx-rollback', publish: 'rollback' });
    assert.equal(rolledBack.status, 201, rolledBack.text);
    await sleep(2500);
    assert.equal(await handledThrough(b, 'tx-rollback'), 0, 'the rolled-back event reached no subscriber');
    const recorded = await db.query(`SELECT count(*)::int AS n FROM erpmod_events.outbox WHERE payload LIKE '%tx-rollback%'`);
    assert.equal(recorded.rows[0].n, 0, 'the outbox row rolled back with the write');
    assert.equal(await handledThrough(a, 'tx-commit'), 1, 'still once');
  });

  it('a delivery whose instance is killed mid-subscriber is handled by another instance, once', async () => {
    const killed = victim!;
    const victimPid = killed.child.pid!;
    // Published through the victim, which delivers to its own live subscriber first; the reply never comes.
    const pending = call(`${killed.url}/api/v1/event-lab/tasks`, 'POST', { task: 'slow-kill', mode: 'slow', ms: 2500 }).catch(() => undefined);
    const claimed = await until('the victim claimed the delivery', () => deliveriesOf('lab.task', 'slow-kill'), (rows) => rows.length === 1 && rows[0]!.claimed_by !== null, 10_000);
    assert.ok(claimed[0]!.claimed_by!.endsWith(`:${victimPid}`), `claimed by the victim (pid ${victimPid}), got ${claimed[0]!.claimed_by}`);
    await sleep(300);
    killed.child.kill('SIGKILL');
    victim = undefined;
    await pending;
    assert.equal(await handledThrough(a, 'slow-kill'), 0, 'the killed attempt committed nothing');

    const handled = await until('another instance handled it after the lease', () => handledThrough(a, 'slow-kill'), (n) => n > 0, LEASE_MS + 15_000);
    assert.equal(handled, 1);
    await sleep(1500);
    assert.equal(await handledThrough(b, 'slow-kill'), 1, 'handled once');
    const [row] = await deliveriesOf('lab.task', 'slow-kill');
    assert.equal(row!.state, 'done');
    assert.equal(row!.attempts, 2, "the killed instance's claim counts as an attempt");
    assert.ok(!row!.claimed_by!.endsWith(`:${victimPid}`), `delivered by a surviving instance, got ${row!.claimed_by}`);
    const by = await db.query('SELECT pid FROM erpmod_event_lab.handled WHERE task = $1', ['slow-kill']);
    assert.ok([a.child.pid, b.child.pid].includes(Number(by.rows[0].pid)), 'the handling ran in a surviving instance');
  });

  it('a delivery whose subscriber committed before its instance was killed is not run again: its work and its handled mark committed together', async () => {
    const killed = await startHostProcess({ modulesDir, env, timeoutMs: 60_000 });
    victim = killed;
    const victimPid = killed.child.pid!;
    const pending = call(`${killed.url}/api/v1/event-lab/tasks`, 'POST', { task: 'linger-kill', mode: 'linger', ms: 5000 }).catch(() => undefined);
    await until('the victim committed the handling', () => handledThrough(a, 'linger-kill'), (n) => n === 1, 10_000);
    killed.child.kill('SIGKILL');
    victim = undefined;
    await pending;
    const [claimed] = await deliveriesOf('lab.task', 'linger-kill');
    assert.equal(claimed!.state, 'done', "the subscriber's COMMIT completed the delivery with its work");
    assert.ok(claimed!.claimed_by!.endsWith(`:${victimPid}`), `claimed by the killed instance, got ${claimed!.claimed_by}`);

    // Past the lease (and a poll or two), no surviving instance takes it again.
    await sleep(LEASE_MS + 3000);
    const [row] = await deliveriesOf('lab.task', 'linger-kill');
    assert.deepEqual([row!.state, row!.attempts], ['done', 1], 'not claimed again after the lease ran out');
    assert.equal(await handledThrough(b, 'linger-kill'), 1, 'the subscriber did not run a second time');
  });

  it('a subscriber that always fails gets a bounded number of attempts, then an event-failed record the operator sees', async () => {
    const published = await call(`${a.url}/api/v1/event-lab/tasks`, 'POST', { task: 'doomed', mode: 'fail' });
    assert.equal(published.status, 201, 'the publisher is not failed by its subscriber');
    const [row] = await until('the delivery failed for good', () => deliveriesOf('lab.task', 'doomed'), (rows) => rows[0]?.state === 'failed', 20_000);
    assert.equal(row!.attempts, MAX_ATTEMPTS);
    assert.match(row!.last_error ?? '', /task doomed always fails/);
    await sleep(1500);
    assert.equal((await deliveriesOf('lab.task', 'doomed'))[0]!.attempts, MAX_ATTEMPTS, 'no attempt after the last');

    // The audit trail is the fleet's: the same record (one id) through either instance.
    const byId = new Map<number, { kind: string; detail: Record<string, unknown> }>();
    for (const host of [a, b]) {
      const plugin = await host.admin('/plugins/event-lab');
      assert.equal(plugin.status, 200, plugin.text);
      for (const event of plugin.json.events as { id: number; kind: string; detail: Record<string, unknown> }[]) if (event.kind === 'event-failed') byId.set(event.id, event);
    }
    const records = [...byId.values()];
    assert.equal(records.length, 1, 'one instance recorded the failure, once');
    assert.equal(records[0]!.detail.topic, 'lab.task');
    assert.equal(records[0]!.detail.publisher, 'event-lab');
    assert.equal(records[0]!.detail.attempts, MAX_ATTEMPTS);
    assert.match(String(records[0]!.detail.error), /always fails/);
  });

  it('a topic a module no longer subscribes to gets no more deliveries once its current version loads, and those left waiting are failed and recorded', async () => {
    // As if an earlier version of inventory had subscribed to lab.task: the row it would have left.
    await db.query(`INSERT INTO erpmod_events.subscriptions (topic, subscriber) VALUES ('lab.task', 'inventory') ON CONFLICT DO NOTHING`);
    const before = await call(`${a.url}/api/v1/event-lab/tasks`, 'POST', { task: 'dropped-before' });
    assert.equal(before.status, 201, before.text);
    assert.deepEqual((await deliveriesOf('lab.task', 'dropped-before')).map((row) => row.subscriber), ['event-lab', 'inventory']);

    const reloaded = await b.admin('/plugins/inventory/reload', 'POST');
    assert.equal(reloaded.status, 200, reloaded.text);
    const stale = async (): Promise<number> => (await db.query(`SELECT count(*)::int AS n FROM erpmod_events.subscriptions WHERE subscriber = 'inventory' AND topic = 'lab.task'`)).rows[0].n;
    await until('the loaded version forgot the topic it does not subscribe to', stale, (n) => n === 0, 5000);
    const kept = await db.query(`SELECT count(*)::int AS n FROM erpmod_events.subscriptions WHERE subscriber = 'inventory' AND topic = 'order.created'`);
    assert.equal(kept.rows[0].n, 1, 'what it does subscribe to stays');

    const after = await call(`${a.url}/api/v1/event-lab/tasks`, 'POST', { task: 'dropped-after' });
    assert.equal(after.status, 201, after.text);
    assert.deepEqual((await deliveriesOf('lab.task', 'dropped-after')).map((row) => row.subscriber), ['event-lab'], 'no delivery for a topic nobody subscribes to');

    // The one made before waits for no one: failed once it waited twice the lease, and in the audit trail.
    const rows = await until('the orphaned delivery failed', () => deliveriesOf('lab.task', 'dropped-before'), (list) => list.find((row) => row.subscriber === 'inventory')?.state === 'failed', 6 * LEASE_MS);
    assert.match(rows.find((row) => row.subscriber === 'inventory')!.last_error ?? '', /module inventory no longer subscribes to lab\.task/);
    assert.equal(rows.find((row) => row.subscriber === 'event-lab')!.state, 'done', 'the real subscriber was not touched');
    // The audit record is written by the instance that failed the delivery, just after the row.
    const trail = async (): Promise<{ kind: string; detail: Record<string, unknown> }[]> => (await a.admin('/plugins/inventory')).json.events;
    await until('the operator sees it', trail, (events) => events.some((event) => event.kind === 'event-failed' && event.detail.topic === 'lab.task'), 2000);
  });

  it('keeps modules out of the outbox: a module role reads none of it and may not publish as another module', async () => {
    const url = new URL(server.url('events'));
    url.username = 'erpmod_sales';
    url.password = moduleRolePassword(decodeURIComponent(new URL(server.url('events')).password), 'sales');
    await withPostgresClient(url.toString(), async (sales) => {
      await assert.rejects(sales.query('SELECT * FROM erpmod_events.outbox'), /permission denied/);
      await assert.rejects(sales.query('SELECT * FROM erpmod_events.deliveries'), /permission denied/);
      await assert.rejects(sales.query(`SELECT erpmod_events.publish('inventory', 'stock.reserved', '{}', '', 0, 'x')`), /may not publish events as module inventory/);
      await assert.rejects(sales.query(`SELECT erpmod_events.mark_handled(1, 'inventory')`), /may not mark deliveries of module inventory/);
    });
  });
});
