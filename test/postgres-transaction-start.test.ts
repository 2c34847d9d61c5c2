import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresDbFacade, type AsyncModuleDbFacade } from '../host/store/postgres/postgres-db-facade';
import { startPostgres, type PostgresServer } from './support/postgres-server';

/**
 * A transaction's BEGIN (and the write lock of BEGIN IMMEDIATE) travels with its first statement, in one
 * round trip, against a real PostgreSQL: the statement's own result comes back, the statement runs
 * inside the transaction, and a failure leaves the connection as usable as a separate BEGIN would.
 */
describe('BEGIN sent with the first statement', () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  let observer: pg.Pool;
  let db: AsyncModuleDbFacade;
  before(async () => {
    server = await startPostgres();
    const url = server.createDatabase('transaction_start');
    // One connection: whatever a transaction leaves on it, the next statement meets.
    pool = new pg.Pool({ connectionString: url, max: 1 });
    observer = new pg.Pool({ connectionString: url, max: 2 });
    await observer.query('CREATE TABLE items (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT NOT NULL UNIQUE)');
    db = createPostgresDbFacade({ code: 'lab', schema: 'public', pool, where: 'test', writeLock: [11, 22] });
  });
  after(async () => {
    await pool.end();
    await observer.end();
    server.stop();
  });

  it("answers the first statement's own rows, not the write lock's", async () => {
    const id = await db.transactions.begin('BEGIN IMMEDIATE');
    assert.deepEqual(await db.transactions.get(id, 'SELECT 42 AS n, ? AS word', ['first']), { n: 42, word: 'first' });
    assert.deepEqual(await db.transactions.all(id, 'SELECT 7 AS n'), [{ n: 7 }]);
    await db.transactions.commit(id);
  });

  it('runs the first statement inside the transaction, holding the write lock until COMMIT', async () => {
    const id = await db.transactions.begin('BEGIN IMMEDIATE');
    const inserted = await db.transactions.run(id, 'INSERT INTO items (name) VALUES (?)', ['held']);
    assert.ok(Number(inserted.lastInsertRowid) > 0, 'RETURNING gave the new id');
    const seen = await observer.query(`SELECT count(*)::int AS n FROM items WHERE name = 'held'`);
    assert.equal(seen.rows[0].n, 0, 'not visible before COMMIT');
    const locked = await observer.query('SELECT pg_try_advisory_xact_lock(11, 22) AS free');
    assert.equal(locked.rows[0].free, false, "another session cannot take the module's write lock meanwhile");
    await db.transactions.rollback(id);
    assert.equal((await observer.query(`SELECT count(*)::int AS n FROM items WHERE name = 'held'`)).rows[0].n, 0, 'rolled back with it');
  });

  it('ends a transaction that sent nothing, and the connection serves the next one', async () => {
    await db.transactions.commit(await db.transactions.begin('BEGIN'));
    await db.transactions.rollback(await db.transactions.begin('BEGIN IMMEDIATE'));
    await db.exec('BEGIN');
    await db.exec('COMMIT');
    const id = await db.transactions.begin('BEGIN');
    await db.transactions.run(id, 'INSERT INTO items (name) VALUES (?)', ['after-empty']);
    await db.transactions.commit(id);
    assert.equal((await observer.query(`SELECT count(*)::int AS n FROM items WHERE name = 'after-empty'`)).rows[0].n, 1);
  });

  it('reports a first statement that fails, and prepares it again once it can run', async () => {
    // A statement PostgreSQL refuses to prepare (its table does not exist yet), the first of its transaction.
    const sql = 'SELECT count(*)::int AS n FROM later WHERE name <> ?';
    const id = await db.transactions.begin('BEGIN');
    await assert.rejects(db.transactions.get(id, sql, ['x']), /relation "later" does not exist/);
    await db.transactions.rollback(id);
    await observer.query(`CREATE TABLE later (name TEXT); INSERT INTO later VALUES ('y')`);
    const again = await db.transactions.begin('BEGIN');
    assert.deepEqual(await db.transactions.get(again, sql, ['x']), { n: 1 });
    await db.transactions.commit(again);
  });

  it('keeps a constraint violation of the first statement in the transaction: nothing after it commits', async () => {
    await observer.query(`INSERT INTO items (name) VALUES ('taken')`);
    const id = await db.transactions.begin('BEGIN IMMEDIATE');
    await assert.rejects(db.transactions.run(id, 'INSERT INTO items (name) VALUES (?)', ['taken']), (error: Error & { code?: string }) => /unique/i.test(error.message));
    await assert.rejects(db.transactions.run(id, 'INSERT INTO items (name) VALUES (?)', ['not-after-failure']), /aborted/);
    await db.transactions.rollback(id);
    assert.equal((await observer.query(`SELECT count(*)::int AS n FROM items WHERE name = 'not-after-failure'`)).rows[0].n, 0);
  });

  it('sends several statements given as text after BEGIN, in the module-wide transaction', async () => {
    await db.exec('BEGIN IMMEDIATE');
    await db.exec(`INSERT INTO items (name) VALUES ('text-1'); INSERT INTO items (name) VALUES ('text-2')`);
    await db.exec('ROLLBACK');
    assert.equal((await observer.query(`SELECT count(*)::int AS n FROM items WHERE name LIKE 'text-%'`)).rows[0].n, 0);
  });
});
