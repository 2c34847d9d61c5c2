'use strict';
/**
 * An in-memory SQLite database shaped like the host's `ctx.db` (native-abi.md §3): exec, run, get, all,
 * parameters as an array for `?`, prepared statements cached by SQL text.
 *
 * Plain CommonJS: it runs under every Node major the ABI promise covers, without compilation. Node 22 and
 * later bring `node:sqlite`; Node 20 has none, so there the repository's better-sqlite3 (built for the
 * machine's Node 20) stands in. Either way a failing statement throws an error whose `code` is SQLite's
 * extended result code name ("SQLITE_CONSTRAINT_PRIMARYKEY"), as better-sqlite3 reports it in the host:
 * the SDK's DbError::IsConstraint() reads that code.
 */
const path = require('node:path');

/** SQLite extended result codes a module is likely to meet; anything else falls back to its primary code. */
const RESULT_CODES = new Map([
  [1, 'SQLITE_ERROR'], [5, 'SQLITE_BUSY'], [6, 'SQLITE_LOCKED'], [8, 'SQLITE_READONLY'], [11, 'SQLITE_CORRUPT'],
  [13, 'SQLITE_FULL'], [19, 'SQLITE_CONSTRAINT'], [20, 'SQLITE_MISMATCH'], [25, 'SQLITE_RANGE'],
  [275, 'SQLITE_CONSTRAINT_CHECK'], [531, 'SQLITE_CONSTRAINT_COMMITHOOK'], [787, 'SQLITE_CONSTRAINT_FOREIGNKEY'],
  [1043, 'SQLITE_CONSTRAINT_FUNCTION'], [1299, 'SQLITE_CONSTRAINT_NOTNULL'], [1555, 'SQLITE_CONSTRAINT_PRIMARYKEY'],
  [1811, 'SQLITE_CONSTRAINT_TRIGGER'], [2067, 'SQLITE_CONSTRAINT_UNIQUE'], [2323, 'SQLITE_CONSTRAINT_VTAB'],
  [2579, 'SQLITE_CONSTRAINT_ROWID'], [2835, 'SQLITE_CONSTRAINT_PINNED'], [3091, 'SQLITE_CONSTRAINT_DATATYPE'],
]);

const STATEMENT_CACHE_LIMIT = 256;

/** Which engine this Node offers: `node:sqlite` when it loads (with or without a flag), else better-sqlite3. */
function openEngine(root) {
  try {
    const { DatabaseSync } = require('node:sqlite');
    return { name: 'node:sqlite', db: new DatabaseSync(':memory:'), translate: translateNodeSqliteError };
  } catch (error) {
    if (error && error.code !== 'ERR_UNKNOWN_BUILTIN_MODULE') throw error;
  }
  const Database = require(path.join(root, 'node_modules', 'better-sqlite3'));
  const db = new Database(':memory:');
  db.pragma('foreign_keys = ON');
  return { name: 'better-sqlite3', db, translate: (error) => error };
}

function translateNodeSqliteError(error) {
  if (!error || error.code !== 'ERR_SQLITE_ERROR' || typeof error.errcode !== 'number') return error;
  const translated = new Error(error.message, { cause: error });
  translated.code = RESULT_CODES.get(error.errcode) || RESULT_CODES.get(error.errcode & 0xff) || `SQLITE_${error.errcode}`;
  return translated;
}

function bind(params) {
  if (params === undefined || params === null) return [];
  if (Array.isArray(params)) return params;
  if (typeof params === 'object') return [params];
  throw new TypeError(`ctx.db: expected parameters as an array or an object, got ${typeof params}`);
}

/** Opens the database and returns `{ engine, facade, close }`; `facade` is what `ctx.db` is. */
function openSqliteDb(root) {
  const { name, db, translate } = openEngine(root);
  const cache = new Map();

  function prepare(sql) {
    if (typeof sql !== 'string') throw new TypeError(`ctx.db: expected SQL text, got ${typeof sql}`);
    let statement = cache.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      if (cache.size >= STATEMENT_CACHE_LIMIT) cache.delete(cache.keys().next().value);
      cache.set(sql, statement);
    }
    return statement;
  }

  function guarded(fn) {
    return (...args) => {
      try {
        return fn(...args);
      } catch (error) {
        throw translate(error);
      }
    };
  }

  const facade = Object.freeze({
    exec: guarded((sql) => {
      db.exec(sql);
    }),
    run: guarded((sql, params) => {
      const result = prepare(sql).run(...bind(params));
      return { changes: Number(result.changes), lastInsertRowid: Number(result.lastInsertRowid) };
    }),
    get: guarded((sql, params) => prepare(sql).get(...bind(params))),
    all: guarded((sql, params) => prepare(sql).all(...bind(params))),
  });

  return { engine: name, facade, close: () => db.close() };
}

module.exports = { openSqliteDb };
