/**
 * The user's alternative for `POST /api/v1/sales/orders` on PostgreSQL: a hand-written Fastify app with
 * `pg`, running the statements the sales and inventory modules run (order and lines in one
 * transaction, then the reservation in another — the claim row, then a conditional UPDATE that takes the
 * units only if enough are left — then the status update and the order read back), on the very tables
 * erpmod created (`erpmod_sales`, `erpmod_inventory`). No module boundary, no events, no per-module
 * roles: what a team would write by hand, correct under concurrency, with as many connections as
 * erpmod's module pools and no limit on requests in flight.
 */
import Fastify from 'fastify';
import path from 'node:path';
import pg from 'pg';
import { inTransaction } from '../../host/store/postgres/in-transaction';
import { startServerProcess, type ServerProcess } from '../lib/server-process';

export function startFastifyOrders(port: number, databaseUrl: string): Promise<ServerProcess> {
  return startServerProcess({
    label: 'Fastify + pg',
    args: [path.join(__dirname, 'fastify-pg-orders.js')],
    env: { ...process.env, BENCH_PORT: String(port), BENCH_DATABASE_URL: databaseUrl },
    port,
    readyPath: '/ready',
  });
}

interface LineInput {
  sku: string;
  quantity: number;
  unit_price: number;
}

const TAX_BP = 2000;
const ORDER_COLUMNS = 'id, status, customer, currency, subtotal, discount, tax, total, created_at, updated_at';

class ShortOfStock extends Error {}

async function serve(): Promise<void> {
  // As many connections as erpmod's two module pools together (4 each by default).
  const db = new pg.Pool({ connectionString: process.env.BENCH_DATABASE_URL, max: 8 });
  const app = Fastify({ logger: false });
  app.get('/ready', async () => ({ ok: true }));
  app.post('/api/v1/sales/orders', async (request, reply) => {
    const body = request.body as { customer?: unknown; currency?: unknown; lines?: unknown };
    if (typeof body?.customer !== 'string' || !Array.isArray(body.lines) || body.lines.length === 0) {
      return reply.code(422).send({ error: { code: 'VALIDATION', message: 'customer and lines are required' } });
    }
    const lines = body.lines as LineInput[];
    for (const line of lines) {
      if (typeof line.sku !== 'string' || !Number.isSafeInteger(line.quantity) || line.quantity <= 0 || !Number.isSafeInteger(line.unit_price)) {
        return reply.code(422).send({ error: { code: 'VALIDATION', message: 'each line needs sku, quantity, unit_price' } });
      }
    }
    const currency = typeof body.currency === 'string' ? body.currency : 'EUR';
    const priced = lines.map((line) => ({ ...line, subtotal: line.quantity * line.unit_price }));
    const subtotal = priced.reduce((sum, line) => sum + line.subtotal, 0);
    const tax = Math.round((subtotal * TAX_BP) / 10000);
    const now = new Date().toISOString();

    const id = await inTransaction(db, async (sales) => {
      const inserted = await sales.query(
        `INSERT INTO erpmod_sales.orders (customer, status, currency, subtotal, discount, tax, total, created_at, updated_at)
         VALUES ($1, 'pending', $2, $3, 0, $4, $5, $6, $6) RETURNING id`,
        [body.customer, currency, subtotal, tax, subtotal + tax, now],
      );
      const orderId = Number(inserted.rows[0].id);
      let lineNo = 0;
      for (const line of priced) {
        await sales.query(
          `INSERT INTO erpmod_sales.order_lines (order_id, line_no, sku, quantity, unit_price, discount_bp, line_subtotal, line_discount, line_total)
           VALUES ($1, $2, $3, $4, $5, 0, $6, 0, $6)`,
          [orderId, ++lineNo, line.sku, line.quantity, line.unit_price, line.subtotal],
        );
      }
      return orderId;
    });

    // All lines or none, as the inventory module does: the claim row first (its primary key refuses a
    // second claim of the order), then each item's units only if enough are left; a line that cannot be
    // had rolls the whole reservation back.
    const status = await inTransaction(db, async (inventory) => {
      for (const line of priced) {
        await inventory.query('INSERT INTO erpmod_inventory.reservations (order_id, sku, quantity, created_at) VALUES ($1, $2, $3, $4)', [id, line.sku, line.quantity, now]);
        const taken = await inventory.query('UPDATE erpmod_inventory.items SET reserved = reserved + $1, updated_at = $2 WHERE sku = $3 AND stock - reserved >= $1', [
          line.quantity,
          now,
          line.sku,
        ]);
        if (taken.rowCount !== 1) throw new ShortOfStock();
      }
      return 'confirmed';
    }).catch((error: unknown) => {
      if (error instanceof ShortOfStock) return 'backordered';
      throw error;
    });
    await db.query(`UPDATE erpmod_sales.orders SET status = $1, updated_at = $2 WHERE id = $3 AND status = 'pending'`, [status, new Date().toISOString(), id]);
    const order = await db.query(`SELECT ${ORDER_COLUMNS} FROM erpmod_sales.orders WHERE id = $1`, [id]);
    const orderLines = await db.query(
      'SELECT line_no, sku, quantity, unit_price, discount_bp, line_subtotal, line_discount, line_total FROM erpmod_sales.order_lines WHERE order_id = $1 ORDER BY line_no',
      [id],
    );
    return reply.code(201).header('location', `orders/${id}`).send({ ...order.rows[0], lines: orderLines.rows });
  });
  await app.listen({ port: Number(process.env.BENCH_PORT), host: '127.0.0.1' });
}

if (require.main === module) void serve();
