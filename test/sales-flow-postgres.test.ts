import assert from 'node:assert/strict';
import { salesFlowSuite } from './support/sales-flow-suite';
import { withPostgresClient } from './support/postgres-client';
import { startPostgres, type PostgresServer } from './support/postgres-server';

let server: PostgresServer | undefined;

// The same binaries as on SQLite: every route, subscriber, initialize and health then run on pool threads.
salesFlowSuite({
  name: 'PostgreSQL',
  async setUp() {
    server = await startPostgres();
    return { ERPMOD_DATABASE_URL: server.createDatabase('erp') };
  },
  tearDown() {
    server?.stop();
  },
  async checkStored(expected) {
    await withPostgresClient(server!.url('erp'), async (client) => {
      const orders = await client.query('SELECT count(*)::int AS n FROM erpmod_sales.orders');
      const items = await client.query('SELECT count(*)::int AS n FROM erpmod_inventory.items');
      assert.deepEqual([orders.rows[0].n, items.rows[0].n], [expected.orders, expected.items]);
    });
  },
});
