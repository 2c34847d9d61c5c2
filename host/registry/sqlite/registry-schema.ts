/**
 * The registry's own migrations, applied in order at open. Append only: an applied entry never changes,
 * a new need is a new entry.
 */
export const REGISTRY_MIGRATIONS: readonly string[] = [
  `CREATE TABLE plugins (
     id            INTEGER PRIMARY KEY,
     code          TEXT    NOT NULL UNIQUE,
     name          TEXT    NOT NULL,
     description   TEXT,
     version       TEXT    NOT NULL,
     vendor        TEXT,
     type          TEXT    NOT NULL DEFAULT 'native',
     module_dir    TEXT    NOT NULL,
     binary_path   TEXT,
     binary_sha256 TEXT,
     napi_version  INTEGER,
     erpmod_abi    INTEGER,
     status        TEXT    NOT NULL CHECK (status IN ('active','inactive','failed','rejected','blocked')),
     enabled       INTEGER NOT NULL DEFAULT 1,
     last_error    TEXT,
     loaded_at     TEXT,
     created_at    TEXT    NOT NULL,
     updated_at    TEXT    NOT NULL
   );
   CREATE TABLE plugin_endpoints (
     id         INTEGER PRIMARY KEY,
     plugin_id  INTEGER NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
     method     TEXT    NOT NULL,
     path       TEXT    NOT NULL,
     type       TEXT    NOT NULL DEFAULT 'REST',
     created_at TEXT    NOT NULL,
     UNIQUE (plugin_id, method, path)
   );
   CREATE TABLE plugin_events (
     id        INTEGER PRIMARY KEY,
     plugin_id INTEGER NOT NULL REFERENCES plugins(id) ON DELETE CASCADE,
     kind      TEXT    NOT NULL,
     detail    TEXT    NOT NULL DEFAULT '{}',
     at        TEXT    NOT NULL
   );
   CREATE INDEX plugin_events_by_plugin ON plugin_events (plugin_id, id);`,
  // Which database each module's data lives in: the random id also written into the module database's
  // _erpmod_identity table, and the migrations applied to it. A missing, empty, foreign or replaced file
  // is then refused instead of silently becoming a fresh database.
  `CREATE TABLE module_databases (
     code        TEXT PRIMARY KEY,
     database_id TEXT NOT NULL,
     file        TEXT NOT NULL,
     migrations  TEXT NOT NULL DEFAULT '[]',
     recorded_at TEXT NOT NULL,
     updated_at  TEXT NOT NULL
   );`,
];

/**
 * What the in-memory mirror of a fleet's registry (registry/postgres/registry-mirror.ts) has beyond a
 * host's file: every instance's state, when each was last heard of (`live_until`: until when, on this
 * process's clock in ms, it counts as live) and the instance each event happened on. Not a migration: a
 * lone host's file never needs them.
 */
export const MIRROR_TABLES = `
  CREATE TABLE plugin_instances (
    code           TEXT NOT NULL,
    instance       TEXT NOT NULL,
    status         TEXT NOT NULL,
    last_error     TEXT,
    loaded_at      TEXT,
    binary_sha256  TEXT,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (code, instance)
  );
  CREATE TABLE instance_beats (
    instance   TEXT PRIMARY KEY,
    seen_at    TEXT NOT NULL,
    live_until INTEGER NOT NULL
  );
  ALTER TABLE plugin_events ADD COLUMN instance TEXT;`;
