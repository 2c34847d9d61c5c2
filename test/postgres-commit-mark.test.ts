import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPostgresDbFacade } from '../host/store/postgres/postgres-db-facade';
import { startPostgres, type PostgresServer } from './support/postgres-server';

/**
 * What a subscriber's transaction sends with its COMMIT (the event outbox's handled mark), against a real
 * PostgreSQL: work and mark commit together, or neither does and the connection is not left in a failed
 * transaction.
 */
describe('a mark sent with COMMIT', () => {
  let server: PostgresServer;
  let pool: pg.Pool;
  before(async () => {
    server = await startPostgres();
    // One connection: a transaction left aborted on it would fail every later statement.
    pool = new pg.Pool({ connectionString: server.createDatabase('commit_mark'), max: 1 });
    await pool.query('CREATE TABLE work (id BIGINT); CREATE TABLE marks (event BIGINT)');
  });
  after(async () => {
    await pool.end();
    server.stop();
  });

  const facadeMarking = (sql: string, committed: number[]) =>
    createPostgresDbFacade({
      code: 'lab',
      schema: 'public',
      pool,
      where: 'test',
      writeLock: [1, 2],
      markOnCommit: (delivery) => (delivery === 42 ? { sql, committed: () => void committed.push(delivery) } : undefined),
    });

  it('commits the work and the mark together, in the transaction begun for that delivery only', async () => {
    const committed: number[] = [];
    const db = facadeMarking('INSERT INTO marks VALUES (42); ', committed);
    const id = await db.transactions.begin('BEGIN', 42);
    await db.transactions.run(id, 'INSERT INTO work VALUES (?)', [1]);
    await db.transactions.commit(id);
    const other = await db.transactions.begin('BEGIN', 7);
    await db.transactions.run(other, 'INSERT INTO work VALUES (?)', [2]);
    await db.transactions.commit(other);
    assert.deepEqual((await pool.query('SELECT id FROM work ORDER BY id')).rows.map((row) => Number(row.id)), [1, 2]);
    assert.deepEqual((await pool.query('SELECT event FROM marks')).rows.map((row) => Number(row.event)), [42], 'one mark, for delivery 42');
    assert.deepEqual(committed, [42]);
  });

  it('leaves nothing when the mark fails, says why, and leaves the connection usable', async () => {
    const committed: number[] = [];
    const db = facadeMarking('SELECT 1 / 0; ', committed);
    const id = await db.transactions.begin('BEGIN', 42);
    await db.transactions.run(id, 'INSERT INTO work VALUES (?)', [3]);
    await assert.rejects(db.transactions.commit(id), /division by zero/);
    assert.deepEqual(committed, [], 'not reported as committed');
    assert.equal(await db.get('SELECT count(*)::int AS n FROM work WHERE id = ?', [3]).then((row) => (row as { n: number }).n), 0, 'the work was rolled back');
    // The same (only) connection serves the next transaction.
    const next = await db.transactions.begin('BEGIN', 7);
    await db.transactions.run(next, 'INSERT INTO work VALUES (?)', [4]);
    await db.transactions.commit(next);
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM work WHERE id = 4')).rows[0].n, 1);
  });
});
