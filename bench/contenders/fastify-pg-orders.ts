/**
 * The user's alternative for `POST /api/v1/sales/orders` on PostgreSQL: a hand-written Fastify app with
 * `pg`, running the statements the sales and inventory modules run (order and lines in one
 * transaction, then the reservation in another, then the status update and the order read back), on
 * the very tables erpmod created (`erpmod_sales`, `erpmod_inventory`). No module boundary, no events,
 * no per-module roles: what a team would write by hand, correct under concurrency (stock read FOR
 * UPDATE), with as many connections as erpmod's module pools and no limit on requests in flight.
 */
import Fastify from 'fastify';
import path from 'node:path';
import pg from 'pg';
import { inTransaction } from '../../host/store/postgres/in-transaction';
import { startServerProcess, type ServerProcess } from '../lib/server-process';

/** `rowLock: false` reads the stock without FOR UPDATE: faster, and wrong (two orders can take the last units). */
export function startFastifyOrders(port: number, databaseUrl: string, options: { rowLock?: boolean } = {}): Promise<ServerProcess> {
  const rowLock = options.rowLock ?? true;
  return startServerProcess({
    label: rowLock ? 'Fastify + pg' : 'Fastify + pg (no row lock)',
    args: [path.join(__dirname, 'fastify-pg-orders.js')],
    env: { ...process.env, BENCH_PORT: String(port), BENCH_DATABASE_URL: databaseUrl, BENCH_ROW_LOCK: rowLock ? 'on' : 'off' },
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
  const forUpdate = process.env.BENCH_ROW_LOCK === 'off' ? '' : ' FOR UPDATE';
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

    // Nothing reserved (short of stock) rolls back, as the inventory module does. The stock is read
    // FOR UPDATE: without it two orders could both see the last units and both reserve them. The
    // inventory module gets the same guarantee from BEGIN IMMEDIATE (one writing transaction at a time).
    const status = await inTransaction(db, async (inventory) => {
      const held = await inventory.query('SELECT 1 AS held FROM erpmod_inventory.reservations WHERE order_id = $1 LIMIT 1', [id]);
      let enough = held.rowCount === 0;
      for (const line of priced) {
        if (!enough) break;
        const row = await inventory.query(`SELECT stock - reserved AS available FROM erpmod_inventory.items WHERE sku = $1${forUpdate}`, [line.sku]);
        enough = row.rowCount === 1 && Number(row.rows[0].available) >= line.quantity;
      }
      if (!enough) throw new ShortOfStock();
      for (const line of priced) {
        await inventory.query('UPDATE erpmod_inventory.items SET reserved = reserved + $1, updated_at = $2 WHERE sku = $3', [line.quantity, now, line.sku]);
        await inventory.query('INSERT INTO erpmod_inventory.reservations (order_id, sku, quantity, created_at) VALUES ($1, $2, $3, $4)', [id, line.sku, line.quantity, now]);
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
