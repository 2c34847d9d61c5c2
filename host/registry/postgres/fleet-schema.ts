import type pg from 'pg';

/** The channel every instance LISTENs on; the payload is only the new registry version, never the change. */
export const FLEET_CHANNEL = 'erpmod_fleet';

// Created under an advisory lock: instances booting together would otherwise race on CREATE ... IF NOT EXISTS.
export const SCHEMA_LOCK = 0x45_52_50_46; // 'ERPF'
/** The key space of the registry's per-module write locks; apart from SCHEMA_LOCK's, which an operator action holds while it writes the registry. */
export const REGISTRY_LOCK = 0x45_52_50_52; // 'ERPR'

/**
 * Everything a fleet shares besides module data, in the erpmod_fleet schema: the registry (plugins and
 * their endpoints shared; plugin_instances per instance; plugin_events with the instance each happened
 * on), when each instance was last heard of (instances), the operator's module_state, the version every
 * change bumps, and the installed packs' bytes.
 * Idempotent: run by the registry and by the fleet link at open.
 */
const SCHEMA = `
  CREATE SCHEMA IF NOT EXISTS erpmod_fleet;
  CREATE TABLE IF NOT EXISTS erpmod_fleet.module_state (
    code          TEXT PRIMARY KEY,
    enabled       BOOLEAN NOT NULL,
    reload_serial BIGINT NOT NULL DEFAULT 0,
    changed_at    TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS erpmod_fleet.registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
  );
  ALTER TABLE erpmod_fleet.module_state ADD COLUMN IF NOT EXISTS binary_sha256 TEXT;
  ALTER TABLE erpmod_fleet.module_state ADD COLUMN IF NOT EXISTS pack_sha256 TEXT;
  INSERT INTO erpmod_fleet.registry_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
  CREATE TABLE IF NOT EXISTS erpmod_fleet.plugins (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    version     TEXT NOT NULL,
    vendor      TEXT,
    type        TEXT NOT NULL DEFAULT 'native',
    enabled     BOOLEAN NOT NULL DEFAULT true,
    migrations  JSONB NOT NULL DEFAULT '[]',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
  );
  CREATE TABLE IF NOT EXISTS erpmod_fleet.plugin_endpoints (
    code       TEXT NOT NULL REFERENCES erpmod_fleet.plugins (code) ON DELETE CASCADE,
    method     TEXT NOT NULL,
    path       TEXT NOT NULL,
    type       TEXT NOT NULL DEFAULT 'REST',
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (code, method, path)
  );
  CREATE TABLE IF NOT EXISTS erpmod_fleet.plugin_instances (
    code          TEXT NOT NULL REFERENCES erpmod_fleet.plugins (code) ON DELETE CASCADE,
    instance      TEXT NOT NULL,
    module_dir    TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'inactive' CHECK (status IN ('active','inactive','failed','rejected','blocked')),
    last_error    TEXT,
    loaded_at     TIMESTAMPTZ,
    binary_path   TEXT,
    binary_sha256 TEXT,
    napi_version  INTEGER,
    erpmod_abi    INTEGER,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (code, instance)
  );
  CREATE TABLE IF NOT EXISTS erpmod_fleet.instances (
    instance TEXT PRIMARY KEY,
    seen_at  TIMESTAMPTZ NOT NULL
  );
  CREATE TABLE IF NOT EXISTS erpmod_fleet.plugin_events (
    id       BIGSERIAL PRIMARY KEY,
    code     TEXT NOT NULL REFERENCES erpmod_fleet.plugins (code) ON DELETE CASCADE,
    instance TEXT NOT NULL,
    kind     TEXT NOT NULL,
    detail   JSONB NOT NULL DEFAULT '{}',
    at       TIMESTAMPTZ NOT NULL
  );
  CREATE INDEX IF NOT EXISTS plugin_events_by_code ON erpmod_fleet.plugin_events (code, id);
  CREATE TABLE IF NOT EXISTS erpmod_fleet.packs (
    code         TEXT PRIMARY KEY,
    sha256       TEXT NOT NULL,
    version      TEXT NOT NULL,
    signed_by    TEXT,
    bytes        BYTEA NOT NULL,
    installed_by TEXT NOT NULL,
    installed_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );`;

/** Creates (or completes) the erpmod_fleet schema; `client` must be inside a transaction. */
export async function ensureFleetSchema(client: pg.ClientBase): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
  await client.query(SCHEMA);
}

/** Bumps the fleet's version and wakes every instance at commit; returns the new version. */
export async function announceChange(client: pg.ClientBase): Promise<number> {
  const version = await client.query<{ version: string }>('UPDATE erpmod_fleet.registry_version SET version = version + 1 WHERE id = 1 RETURNING version');
  // Delivered at commit, to every listener (this instance included); never before the rows are visible.
  await client.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, version.rows[0]!.version]);
  return Number(version.rows[0]!.version);
}
