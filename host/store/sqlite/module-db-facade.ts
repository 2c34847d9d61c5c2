import type Database from 'better-sqlite3';

type SqlParams = readonly unknown[] | Record<string, unknown> | undefined;

/** What `ctx.db` offers a module (native-abi.md): four calls, prepared statements cached by SQL text. */
export interface ModuleDbFacade {
  exec(sql: string): void;
  run(sql: string, params?: SqlParams): { changes: number; lastInsertRowid: number };
  get(sql: string, params?: SqlParams): unknown;
  all(sql: string, params?: SqlParams): unknown[];
}

const STATEMENT_CACHE_LIMIT = 256;

export function createModuleDbFacade(db: Database.Database): ModuleDbFacade {
  const cache = new Map<string, Database.Statement>();

  function prepare(sql: string): Database.Statement {
    if (typeof sql !== 'string') throw new TypeError(`ctx.db: expected SQL text, got ${typeof sql}`);
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      // A module that builds SQL by string concatenation would grow the cache without bound.
      if (cache.size >= STATEMENT_CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
      cache.set(sql, statement);
    }
    return statement;
  }

  function bind(params: SqlParams): unknown[] {
    if (params === undefined || params === null) return [];
    if (Array.isArray(params)) return params;
    if (typeof params === 'object') return [params];
    throw new TypeError(`ctx.db: expected parameters as an array or an object, got ${typeof params}`);
  }

  return {
    exec(sql) {
      db.exec(sql);
    },
    run(sql, params) {
      const result = prepare(sql).run(...bind(params));
      return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
    },
    get(sql, params) {
      return prepare(sql).get(...bind(params));
    },
    all(sql, params) {
      return prepare(sql).all(...bind(params));
    },
  };
}
