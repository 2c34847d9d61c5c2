import type pg from 'pg';
import type { ErpmodError } from '../../errors';
import type { CommitMark } from './delivery-marks';
import { queryAfter } from './leading-query';
import { translatePlaceholders } from './translate-placeholders';
import { bindValue } from './pg-row-types';
import { isPoolWaitTimeout, isUnavailable, poolExhausted, translatePgError, unavailable } from './translate-pg-error';

type SqlParams = readonly unknown[] | Record<string, unknown> | undefined;

export interface AsyncRunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

/**
 * `ctx.db` on PostgreSQL: the same four calls as on SQLite, each returning a promise of what the SQLite
 * call returns. `promises: true` tells the SDK so before it makes a call.
 */
export interface AsyncModuleDbFacade {
  readonly promises: true;
  exec(sql: string): Promise<void>;
  run(sql: string, params?: SqlParams): Promise<AsyncRunResult>;
  get(sql: string, params?: SqlParams): Promise<unknown>;
  all(sql: string, params?: SqlParams): Promise<unknown[]>;
  /**
   * Transactions by handle: each on its own pooled connection, so a module's concurrent requests each
   * run their own transaction at once instead of taking turns on the module's one. The SDK uses them
   * from pool threads when they are there; libraries built before them keep the calls above.
   */
  readonly transactions: TransactionHandles;
  /**
   * Whether a statement sent now runs inside a transaction (the module-wide one of `exec('BEGIN')`, or
   * the one a view by handle belongs to). Statements are routed when called, so the answer holds for a
   * call made in the same tick: the event outbox claims its own deliveries only for events that commit alone.
   */
  readonly inTransaction?: () => boolean;
}

export interface TransactionHandles {
  /**
   * `BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE]` (or just the word) on a connection of its own; the handle's
   * number. `delivery`: the event a subscriber begins it for (the host's third argument to the subscriber).
   */
  begin(statement?: string, delivery?: number): Promise<number>;
  exec(id: number, sql: string): Promise<void>;
  run(id: number, sql: string, params?: SqlParams): Promise<AsyncRunResult>;
  get(id: number, sql: string, params?: SqlParams): Promise<unknown>;
  all(id: number, sql: string, params?: SqlParams): Promise<unknown[]>;
  commit(id: number): Promise<void>;
  rollback(id: number): Promise<void>;
}

export interface PostgresFacadeOptions {
  readonly code: string;
  readonly schema: string;
  readonly pool: pg.Pool;
  /** `host:port/database`, for errors. */
  readonly where: string;
  /** The advisory lock `BEGIN IMMEDIATE` takes: one writing transaction per module at a time, as on SQLite. */
  readonly writeLock: readonly [number, number];
  /**
   * Asked as a transaction commits: statements to send with its COMMIT, in the same round trip (the event
   * outbox records a delivery as handled there). `delivery`: the event a transaction by handle was begun
   * for (by a subscriber), null when it was begun for none; undefined for the module-wide transaction of
   * `exec('BEGIN')`.
   */
  readonly markOnCommit?: (delivery: number | null | undefined) => CommitMark | undefined;
}

const BEGIN = /^BEGIN(?:\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(?:\s+TRANSACTION)?$/i;
const COMMIT = /^(?:COMMIT|END)(?:\s+TRANSACTION)?$/i;
const ROLLBACK = /^ROLLBACK(?:\s+TRANSACTION)?$/i;
const INSERT_INTO = /^\s*INSERT\s+INTO\s+("?)([A-Za-z_][A-Za-z0-9_]*)\1\s*[(\s]/i;
const RETURNING = /\bRETURNING\b/i;
const STATEMENT_NAMES_LIMIT = 256;

export function createPostgresDbFacade(options: PostgresFacadeOptions): AsyncModuleDbFacade {
  const { pool, where } = options;
  // A module has one transaction at a time, like its one SQLite connection: from BEGIN to COMMIT or
  // ROLLBACK every statement goes to the client that began it.
  let transaction: Promise<pg.PoolClient> | undefined;
  const statementNames = new Map<string, string>();
  const keyColumns = new Map<string, string | null>();
  let statementCounter = 0;

  function nameOf(text: string): string {
    let name = statementNames.get(text);
    if (name === undefined) {
      if (statementNames.size >= STATEMENT_NAMES_LIMIT) return '';
      name = `erpmod_${++statementCounter}`;
      statementNames.set(text, name);
    }
    return name;
  }

  // Connections checked out by this module's transactions (from BEGIN to COMMIT or ROLLBACK), and when
  // PostgreSQL last answered one of its statements: what a wait for a free connection that ran out reports.
  let heldByTransactions = 0;
  let lastAnsweredAt = Number.NEGATIVE_INFINITY;
  function answered(): void {
    lastAnsweredAt = performance.now();
  }
  // A wait for a free connection that ran out says the pool was full, not that the server is down.
  function unavailableBecause(error: unknown): ErpmodError {
    if (!isPoolWaitTimeout(error)) return unavailable(where, error);
    const waitMs = pool.options.connectionTimeoutMillis ?? 0;
    const answeredMeanwhile = performance.now() - lastAnsweredAt <= waitMs;
    return poolExhausted(where, { module: options.code, size: pool.options.max ?? 10, waitMs, heldByTransactions, answeredMeanwhile }, error);
  }

  // `open` is the transaction the statement belongs to (its connection), or none: then any pooled connection.
  async function withClient<T>(open: Promise<pg.PoolClient> | undefined, work: (client: pg.PoolClient | pg.Pool) => Promise<T>, dropped?: () => boolean): Promise<T> {
    try {
      const result = await work(open === undefined ? pool : await open);
      answered();
      return result;
    } catch (error) {
      if (isUnavailable(error)) {
        if (open !== undefined && dropped?.() === true) {
          const client = await open.catch(() => undefined);
          if (client !== undefined) releaseClient(client, true);
        }
        throw unavailableBecause(error);
      }
      throw translatePgError(error, where);
    }
  }

  // The module-wide transaction of `exec('BEGIN')`: dropped when its connection is lost.
  const dropLegacy = (open: Promise<pg.PoolClient>) => (): boolean => {
    if (transaction !== open) return false;
    transaction = undefined;
    return true;
  };
  const onLegacy = <T>(work: (client: pg.PoolClient | pg.Pool) => Promise<T>): Promise<T> => {
    const open = transaction;
    return withClient(open, work, open === undefined ? undefined : dropLegacy(open));
  };

  function bind(params: SqlParams, expected: number): unknown[] {
    if (params === undefined || params === null) params = [];
    if (!Array.isArray(params)) {
      if (typeof params === 'object') throw new TypeError('ctx.db on PostgreSQL: named parameters are SQLite-only; pass the values as an array for the ? placeholders');
      throw new TypeError(`ctx.db: expected parameters as an array, got ${typeof params}`);
    }
    if (params.length < expected) throw new RangeError('Too few parameter values were provided');
    if (params.length > expected) throw new RangeError('Too many parameter values were provided');
    return params.map(bindValue);
  }

  async function query(sql: string, params: SqlParams, on: typeof onLegacy): Promise<pg.QueryResult> {
    if (typeof sql !== 'string') throw new TypeError(`ctx.db: expected SQL text, got ${typeof sql}`);
    const { text, parameterCount } = translatePlaceholders(sql);
    const values = bind(params, parameterCount);
    return on((client) => {
      const name = nameOf(text);
      return send(client, name === '' ? { text, values } : { name, text, values });
    });
  }

  // Asked on the statement's own connection: inside a transaction, another connection might not come
  // while every one is held by a transaction waiting for it.
  async function keyColumnOf(table: string, on: typeof onLegacy): Promise<string | null> {
    const known = keyColumns.get(table);
    if (known !== undefined) return known;
    // One row when the table exists (a table without a generated key is remembered too: asking again
    // on every INSERT would cost a catalog query each time), none when it does not.
    const result = await on((client) =>
      send(client, {
        text: `SELECT count(k.name)::int AS keys, min(k.name) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN LATERAL (
             SELECT a.attname::text AS name FROM pg_attribute a
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')
           ) k ON true
          WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')
          GROUP BY c.oid`,
        values: [options.schema, table.toLowerCase()],
      }),
    );
    const found = result.rows[0] as { keys: number; name: string | null } | undefined;
    const column = found !== undefined && Number(found.keys) === 1 ? found.name : null;
    // Unknown tables are not remembered: the statement itself will say what is wrong.
    if (found !== undefined) keyColumns.set(table, column);
    return column;
  }

  // A transaction's BEGIN (and write lock) not sent yet: they go with its first statement, and a
  // transaction that sent nothing ends without a round trip.
  const unsent = new WeakMap<pg.PoolClient | pg.Pool, readonly string[]>();
  function send(target: pg.PoolClient | pg.Pool, config: string | pg.QueryConfig): Promise<pg.QueryResult> {
    const leading = unsent.get(target);
    if (leading === undefined) return target.query(config);
    unsent.delete(target);
    return queryAfter(target as pg.PoolClient, leading, config);
  }

  // The writing transactions of this process queue here before they take a connection, so connections
  // are not held by transactions waiting for the lock while other statements need one.
  let writeQueue: Promise<void> = Promise.resolve();
  const writeTurns = new WeakMap<pg.PoolClient, () => void>();
  function takeWriteTurn(): Promise<() => void> {
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const before = writeQueue;
    writeQueue = before.then(() => mine);
    return before.then(() => done);
  }
  function releaseClient(client: pg.PoolClient, destroy: boolean): void {
    unsent.delete(client);
    client.off('error', ignoreClientError);
    heldByTransactions--;
    writeTurns.get(client)?.();
    writeTurns.delete(client);
    client.release(destroy);
  }

  // A connection of its own, in a transaction. `BEGIN IMMEDIATE` / `EXCLUSIVE` also take the module's
  // write lock (fleet-wide), in the same round trip (the key is two integers of ours, not input).
  async function startTransaction(mode: string | undefined): Promise<pg.PoolClient> {
    const upper = mode?.toUpperCase();
    const locked = upper === 'IMMEDIATE' || upper === 'EXCLUSIVE';
    const turnDone = locked ? await takeWriteTurn() : undefined;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      turnDone?.();
      throw error;
    }
    heldByTransactions++;
    if (turnDone !== undefined) writeTurns.set(client, turnDone);
    // A connection lost between statements is reported by the next statement; the event alone must not end the process.
    client.on('error', ignoreClientError);
    // Sent with the transaction's first statement, in its round trip (leading-query.ts).
    unsent.set(client, locked ? ['BEGIN', `SELECT pg_advisory_xact_lock(${Number(options.writeLock[0])}, ${Number(options.writeLock[1])})`] : ['BEGIN']);
    return client;
  }

  async function awaitStart(starting: Promise<pg.PoolClient>, forget: () => void): Promise<void> {
    try {
      await starting;
      answered();
    } catch (error) {
      forget();
      if (isUnavailable(error)) throw unavailableBecause(error);
      throw translatePgError(error, where);
    }
  }

  async function begin(mode: string | undefined): Promise<void> {
    if (transaction !== undefined) throw sqliteError('cannot start a transaction within a transaction');
    const starting = startTransaction(mode);
    transaction = starting;
    await awaitStart(starting, () => {
      if (transaction === starting) transaction = undefined;
    });
  }

  async function end(open: Promise<pg.PoolClient>, statement: 'COMMIT' | 'ROLLBACK', delivery?: number | null): Promise<void> {
    const client = await open;
    let broken = false;
    const mark = statement === 'COMMIT' ? options.markOnCommit?.(delivery) : undefined;
    try {
      // A transaction that sent nothing has nothing to end, unless a mark must still be recorded.
      if (mark !== undefined || !unsent.has(client)) await send(client, mark === undefined ? statement : `${mark.sql}${statement}`);
      mark?.committed();
      answered();
    } catch (error) {
      broken = isUnavailable(error);
      // A failed mark leaves the transaction aborted, its COMMIT unsent: end it before the connection goes back.
      if (mark !== undefined && !broken) await client.query('ROLLBACK').catch(() => undefined);
      if (broken) {
        // The server ended the transaction with the connection: a rollback has nothing left to undo.
        if (statement === 'ROLLBACK') return;
        throw unavailable(where, error);
      }
      throw translatePgError(error, where);
    } finally {
      releaseClient(client, broken);
    }
  }

  async function finish(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const open = transaction;
    if (open === undefined) throw noTransaction(statement);
    transaction = undefined;
    return end(open, statement);
  }

  // Transactions by handle: the connection each began, until its COMMIT or ROLLBACK.
  const handles = new Map<number, Promise<pg.PoolClient>>();
  const deliveryOf = new Map<number, number>();
  let handleCounter = 0;

  function handle(id: number, statement: string): Promise<pg.PoolClient> {
    const open = handles.get(id);
    if (open === undefined) {
      if (statement === 'COMMIT' || statement === 'ROLLBACK') throw noTransaction(statement);
      throw sqliteError(`ctx.db: transaction ${String(id)} is not open (it ended, or its connection was lost)`);
    }
    return open;
  }
  const onHandle = (id: number) => <T>(work: (client: pg.PoolClient | pg.Pool) => Promise<T>): Promise<T> => {
    const open = handle(id, '');
    return withClient(open, work, () => handles.delete(id));
  };
  async function endHandle(id: number, statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const open = handle(id, statement);
    const delivery = deliveryOf.get(id) ?? null;
    handles.delete(id);
    deliveryOf.delete(id);
    return end(open, statement, delivery);
  }

  async function run(sql: string, params: SqlParams, on: typeof onLegacy): Promise<AsyncRunResult> {
    const insert = typeof sql === 'string' && !RETURNING.test(sql) ? INSERT_INTO.exec(sql) : null;
    const key = insert === null ? null : await keyColumnOf(insert[2]!, on);
    const text = key === null ? sql : `${sql.trim().replace(/;\s*$/, '')} RETURNING "${key}"`;
    const result = await query(text, params, on);
    const last = key === null ? undefined : (result.rows[result.rows.length - 1] as Record<string, unknown> | undefined)?.[key];
    return { changes: result.rowCount ?? 0, lastInsertRowid: typeof last === 'number' || typeof last === 'bigint' ? last : 0 };
  }

  const transactions: TransactionHandles = Object.freeze({
    async begin(statement?: string, delivery?: number): Promise<number> {
      const text = (typeof statement === 'string' ? statement : '').trim().replace(/;\s*$/, '').trim();
      const begun = BEGIN.exec(/^BEGIN\b/i.test(text) ? text : `BEGIN ${text}`.trim());
      if (begun === null) throw sqliteError(`ctx.db.transactions.begin: expected BEGIN [DEFERRED | IMMEDIATE | EXCLUSIVE], got ${JSON.stringify(statement)}`);
      const id = ++handleCounter;
      const starting = startTransaction(begun[1]);
      handles.set(id, starting);
      if (typeof delivery === 'number') deliveryOf.set(id, delivery);
      await awaitStart(starting, () => {
        handles.delete(id);
        deliveryOf.delete(id);
      });
      return id;
    },
    async exec(id: number, sql: string): Promise<void> {
      if (typeof sql !== 'string') throw new TypeError(`ctx.db: expected SQL text, got ${typeof sql}`);
      const control = sql.trim().replace(/;\s*$/, '').trim();
      if (BEGIN.test(control)) throw sqliteError('cannot start a transaction within a transaction');
      if (COMMIT.test(control)) return endHandle(id, 'COMMIT');
      if (ROLLBACK.test(control)) return endHandle(id, 'ROLLBACK');
      await onHandle(id)((client) => send(client, sql));
    },
    run: (id: number, sql: string, params?: SqlParams) => run(sql, params, onHandle(id)),
    get: async (id: number, sql: string, params?: SqlParams) => (await query(sql, params, onHandle(id))).rows[0],
    all: async (id: number, sql: string, params?: SqlParams) => (await query(sql, params, onHandle(id))).rows,
    commit: (id: number) => endHandle(id, 'COMMIT'),
    rollback: (id: number) => endHandle(id, 'ROLLBACK'),
  });

  return Object.freeze({
    promises: true as const,
    async exec(sql: string): Promise<void> {
      if (typeof sql !== 'string') throw new TypeError(`ctx.db: expected SQL text, got ${typeof sql}`);
      const control = sql.trim().replace(/;\s*$/, '').trim();
      const begun = BEGIN.exec(control);
      if (begun !== null) return begin(begun[1]);
      if (COMMIT.test(control)) return finish('COMMIT');
      if (ROLLBACK.test(control)) return finish('ROLLBACK');
      // Several statements, no parameters: the simple protocol runs them all.
      await onLegacy((client) => send(client, sql));
    },
    run: (sql: string, params?: SqlParams) => run(sql, params, onLegacy),
    get: async (sql: string, params?: SqlParams) => (await query(sql, params, onLegacy)).rows[0],
    all: async (sql: string, params?: SqlParams) => (await query(sql, params, onLegacy)).rows,
    transactions,
    inTransaction: () => transaction !== undefined,
  });
}

/**
 * `ctx.db` as seen from inside transaction `id` (by handle): what the event outbox records a publish
 * through when the SDK names the publisher's open transaction, so the event commits with its writes.
 */
export function transactionView(db: AsyncModuleDbFacade, id: number): AsyncModuleDbFacade {
  const { transactions } = db;
  return Object.freeze({
    promises: true as const,
    exec: (sql: string) => transactions.exec(id, sql),
    run: (sql: string, params?: SqlParams) => transactions.run(id, sql, params),
    get: (sql: string, params?: SqlParams) => transactions.get(id, sql, params),
    all: (sql: string, params?: SqlParams) => transactions.all(id, sql, params),
    transactions,
    inTransaction: () => true,
  });
}

function ignoreClientError(): void {}

function noTransaction(statement: 'COMMIT' | 'ROLLBACK'): Error {
  return sqliteError(statement === 'COMMIT' ? 'cannot commit - no transaction is active' : 'cannot rollback - no transaction is active');
}

function sqliteError(message: string): Error {
  return Object.assign(new Error(message), { code: 'SQLITE_ERROR' });
}
