import { ErpmodError, messageOf } from '../../errors';

/**
 * Errors reach modules with the same `code` on both engines: SQLite's extended result code names, which
 * the SDK's DbError carries (IsConstraint() is any SQLITE_CONSTRAINT_*). PostgreSQL's SQLSTATE stays on
 * the error as `sqlState` for logs. A server that cannot be reached is ERPMOD_DATABASE_UNAVAILABLE.
 */
const BY_SQLSTATE: Record<string, string> = {
  '23505': 'SQLITE_CONSTRAINT_UNIQUE',
  '23503': 'SQLITE_CONSTRAINT_FOREIGNKEY',
  '23502': 'SQLITE_CONSTRAINT_NOTNULL',
  '23514': 'SQLITE_CONSTRAINT_CHECK',
  '23P01': 'SQLITE_CONSTRAINT',
  '23000': 'SQLITE_CONSTRAINT',
  '40001': 'SQLITE_BUSY',
  '40P01': 'SQLITE_BUSY',
  '55P03': 'SQLITE_BUSY',
  '57014': 'SQLITE_INTERRUPT',
  '42501': 'SQLITE_AUTH',
  '22001': 'SQLITE_TOOBIG',
  '53100': 'SQLITE_FULL',
};

/** SQLSTATE classes that mean the connection or the server is gone, not that the statement was wrong. */
const UNAVAILABLE_CLASSES = ['08', '57P01', '57P02', '57P03', '53300'];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export interface DatabaseError extends Error {
  readonly code: string;
  readonly sqlState?: string;
}

/** True when `error` says the server cannot be reached (refused, reset, shutting down, connect timeout). */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof ErpmodError) return error.code === 'ERPMOD_DATABASE_UNAVAILABLE';
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CLASSES.some((prefix) => code.startsWith(prefix));
  }
  const message = messageOf(error);
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|Connection ended/i.test(message);
}

/**
 * node-postgres' pool gave up waiting for one of its connections to come free (every one was in use),
 * as opposed to a connection attempt that failed ("Connection terminated due to connection timeout").
 */
export function isPoolWaitTimeout(error: unknown): boolean {
  return messageOf(error) === 'timeout exceeded when trying to connect';
}

/**
 * What a statement that waited in vain for one of its module's connections is told. The code stays
 * ERPMOD_DATABASE_UNAVAILABLE (a module's DbError::IsUnavailable() and the 503 clients get do not
 * change); the message says the pool was full and what held it, rather than that the server is down.
 */
export function poolExhausted(where: string, pool: PoolState, error: unknown): ErpmodError {
  const why = pool.answeredMeanwhile
    ? '; PostgreSQL kept answering meanwhile, so the pool is too small for the load: raise database_pool_size, or lower max_concurrency in module.yml'
    : "; PostgreSQL answered none of the module's statements meanwhile: the server is down or stuck, or the transactions holding the connections are waiting (on a lock, or on the module's code between statements)";
  return new ErpmodError(
    'ERPMOD_DATABASE_UNAVAILABLE',
    `module "${pool.module}": no connection to PostgreSQL at ${where} came free within ${pool.waitMs} ms (database_connect_timeout_ms): ` +
      `all ${pool.size} (database_pool_size) were in use, ${pool.heldByTransactions} of them by the module's open transactions${why}`,
    { cause: error, details: { database: where, reason: 'pool-exhausted', poolSize: pool.size } },
  );
}

export interface PoolState {
  readonly module: string;
  readonly size: number;
  readonly waitMs: number;
  readonly heldByTransactions: number;
  /** Whether any statement of the module was answered while this one waited. */
  readonly answeredMeanwhile: boolean;
}

export function unavailable(where: string, error: unknown): ErpmodError {
  return new ErpmodError('ERPMOD_DATABASE_UNAVAILABLE', `PostgreSQL at ${where} is unavailable: ${reasonOf(error)}`, { cause: error, details: { database: where } });
}

/** The error a module sees for a failed statement. */
export function translatePgError(error: unknown, where: string): Error {
  if (error instanceof ErpmodError) return error;
  if (isUnavailable(error)) return unavailable(where, error);
  const sqlState = (error as { code?: unknown }).code;
  const state = typeof sqlState === 'string' ? sqlState : undefined;
  const translated = new Error(messageOf(error), { cause: error }) as Error & { code: string; sqlState?: string; constraint?: string };
  translated.code = (state !== undefined && BY_SQLSTATE[state]) || 'SQLITE_ERROR';
  // A key violation on a primary key says so on SQLite; PostgreSQL names the constraint `<table>_pkey`.
  const constraint = (error as { constraint?: unknown }).constraint;
  if (state === '23505' && typeof constraint === 'string' && constraint.endsWith('_pkey')) translated.code = 'SQLITE_CONSTRAINT_PRIMARYKEY';
  if (state !== undefined) translated.sqlState = state;
  if (typeof constraint === 'string') translated.constraint = constraint;
  return translated;
}

function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = messageOf(error);
  return typeof code === 'string' && !message.includes(code) ? `${code} ${message}` : message;
}
