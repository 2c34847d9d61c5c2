import type pg from 'pg';
import { translatePlaceholders } from './translate-placeholders';
import { bindValue } from './pg-row-types';
import { isUnavailable, translatePgError, unavailable } from './translate-pg-error';

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
}

export interface PostgresFacadeOptions {
  readonly code: string;
  readonly schema: string;
  readonly pool: pg.Pool;
  /** `host:port/database`, for errors. */
  readonly where: string;
  /** The advisory lock `BEGIN IMMEDIATE` takes: one writing transaction per module at a time, as on SQLite. */
  readonly writeLock: readonly [number, number];
  /** Told whether the server answered, so requests meanwhile can be answered 503 rather than 500. */
  readonly availability?: { reachable(): void; unreachable(error: unknown): void };
  /** Runs on the transaction's connection just before COMMIT (the event outbox records a delivery as handled there). */
  readonly beforeCommit?: (client: pg.PoolClient) => Promise<void>;
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

  async function withClient<T>(work: (client: pg.PoolClient | pg.Pool) => Promise<T>): Promise<T> {
    const open = transaction;
    try {
      const result = await work(open === undefined ? pool : await open);
      options.availability?.reachable();
      return result;
    } catch (error) {
      if (isUnavailable(error)) {
        options.availability?.unreachable(error);
        if (open !== undefined && transaction === open) {
          transaction = undefined;
          const client = await open.catch(() => undefined);
          client?.off('error', ignoreClientError);
          client?.release(true);
        }
        throw unavailable(where, error);
      }
      throw translatePgError(error, where);
    }
  }

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

  async function query(sql: string, params: SqlParams): Promise<pg.QueryResult> {
    if (typeof sql !== 'string') throw new TypeError(`ctx.db: expected SQL text, got ${typeof sql}`);
    const { text, parameterCount } = translatePlaceholders(sql);
    const values = bind(params, parameterCount);
    return withClient((client) => {
      const name = nameOf(text);
      return client.query(name === '' ? { text, values } : { name, text, values });
    });
  }

  async function keyColumnOf(table: string): Promise<string | null> {
    const known = keyColumns.get(table);
    if (known !== undefined) return known;
    const result = await withClient((client) =>
      client.query(
        `SELECT a.attname AS name FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
            AND (a.attidentity <> '' OR pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%')`,
        [options.schema, table.toLowerCase()],
      ),
    );
    const column = result.rows.length === 1 ? (result.rows[0] as { name: string }).name : null;
    // Unknown tables are not remembered: the statement itself will say what is wrong.
    if (result.rows.length > 0 || column !== null) keyColumns.set(table, column);
    return column;
  }

  async function begin(mode: string | undefined): Promise<void> {
    if (transaction !== undefined) throw sqliteError('cannot start a transaction within a transaction');
    const starting = (async () => {
      const client = await pool.connect();
      // A connection lost between statements is reported by the next statement; the event alone must not end the process.
      client.on('error', ignoreClientError);
      try {
        await client.query('BEGIN');
        const upper = mode?.toUpperCase();
        if (upper === 'IMMEDIATE' || upper === 'EXCLUSIVE') {
          await client.query('SELECT pg_advisory_xact_lock($1, $2)', [options.writeLock[0], options.writeLock[1]]);
        }
        return client;
      } catch (error) {
        client.off('error', ignoreClientError);
        client.release(isUnavailable(error));
        throw error;
      }
    })();
    transaction = starting;
    try {
      await starting;
      options.availability?.reachable();
    } catch (error) {
      transaction = undefined;
      if (isUnavailable(error)) {
        options.availability?.unreachable(error);
        throw unavailable(where, error);
      }
      throw translatePgError(error, where);
    }
  }

  async function finish(statement: 'COMMIT' | 'ROLLBACK'): Promise<void> {
    const open = transaction;
    if (open === undefined) {
      throw sqliteError(statement === 'COMMIT' ? 'cannot commit - no transaction is active' : 'cannot rollback - no transaction is active');
    }
    transaction = undefined;
    const client = await open;
    let broken = false;
    try {
      if (statement === 'COMMIT') await options.beforeCommit?.(client);
      await client.query(statement);
      options.availability?.reachable();
    } catch (error) {
      broken = isUnavailable(error);
      if (broken) {
        options.availability?.unreachable(error);
        // The server ended the transaction with the connection: a rollback has nothing left to undo.
        if (statement === 'ROLLBACK') return;
        throw unavailable(where, error);
      }
      throw translatePgError(error, where);
    } finally {
      client.off('error', ignoreClientError);
      client.release(broken);
    }
  }

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
      await withClient((client) => client.query(sql));
    },
    async run(sql: string, params?: SqlParams): Promise<AsyncRunResult> {
      const insert = typeof sql === 'string' && !RETURNING.test(sql) ? INSERT_INTO.exec(sql) : null;
      const key = insert === null ? null : await keyColumnOf(insert[2]!);
      const text = key === null ? sql : `${sql.trim().replace(/;\s*$/, '')} RETURNING "${key}"`;
      const result = await query(text, params);
      const last = key === null ? undefined : (result.rows[result.rows.length - 1] as Record<string, unknown> | undefined)?.[key];
      return { changes: result.rowCount ?? 0, lastInsertRowid: typeof last === 'number' || typeof last === 'bigint' ? last : 0 };
    },
    async get(sql: string, params?: SqlParams): Promise<unknown> {
      return (await query(sql, params)).rows[0];
    },
    async all(sql: string, params?: SqlParams): Promise<unknown[]> {
      return (await query(sql, params)).rows;
    },
  });
}

function ignoreClientError(): void {}

function sqliteError(message: string): Error {
  return Object.assign(new Error(message), { code: 'SQLITE_ERROR' });
}
