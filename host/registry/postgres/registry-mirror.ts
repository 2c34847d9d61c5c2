import Database from 'better-sqlite3';
import { applyRegistryMigrations } from '../sqlite/open-sqlite-database';
import { MIRROR_TABLES } from '../sqlite/registry-schema';
import { SqliteRegistry } from '../sqlite/sqlite-registry';
import type { InstanceBeat } from './instance-heartbeat';

/** How many of the fleet's newest audit events a mirror keeps (the console and /plugins/:code show the newest). */
export const MIRRORED_EVENTS = 5000;

export interface FleetPluginRow {
  code: string;
  name: string;
  description: string | null;
  version: string;
  vendor: string | null;
  type: string;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
  module_dir: string | null;
  status: string | null;
  last_error: string | null;
  loaded_at: Date | null;
  binary_path: string | null;
  binary_sha256: string | null;
  napi_version: number | null;
  erpmod_abi: number | null;
}

export interface FleetEndpointRow {
  code: string;
  method: string;
  path: string;
  type: string;
  created_at: Date;
}

export interface FleetInstanceRow {
  code: string;
  instance: string;
  status: string;
  last_error: string | null;
  loaded_at: Date | null;
  binary_sha256: string | null;
  updated_at: Date;
}

export interface FleetEventRow {
  id: string;
  code: string;
  instance: string;
  kind: string;
  detail: unknown;
  at: Date;
}

export interface FleetRegistryRows {
  readonly plugins: readonly FleetPluginRow[];
  readonly endpoints: readonly FleetEndpointRow[];
  readonly instances: readonly FleetInstanceRow[];
  /** Oldest first, all newer than the mirror's newest. */
  readonly events: readonly FleetEventRow[];
}

/**
 * An in-memory copy of the fleet's registry, read synchronously through the SQLite registry's own
 * queries. It is a cache: rebuilt from PostgreSQL at every start and after every change the fleet
 * announces, never written to except from what PostgreSQL returned. Its `plugins` rows carry this
 * instance's own state (status, module directory, binary); `plugin_instances` every instance's.
 */
export class RegistryMirror {
  readonly reads: SqliteRegistry;
  private readonly db: Database.Database;
  private readonly statements;

  constructor(name: string) {
    this.db = new Database(':memory:');
    applyRegistryMigrations(this.db);
    this.db.exec(MIRROR_TABLES);
    this.reads = new SqliteRegistry(this.db, name, true);
    const db = this.db;
    this.statements = {
      upsert: db.prepare(
        `INSERT INTO plugins (code, name, description, version, vendor, type, module_dir, binary_path, binary_sha256, napi_version, erpmod_abi,
           status, enabled, last_error, loaded_at, created_at, updated_at)
         VALUES (@code, @name, @description, @version, @vendor, @type, @module_dir, @binary_path, @binary_sha256, @napi_version, @erpmod_abi,
           @status, @enabled, @last_error, @loaded_at, @created_at, @updated_at)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, description = excluded.description, version = excluded.version,
           vendor = excluded.vendor, type = excluded.type, module_dir = excluded.module_dir, binary_path = excluded.binary_path,
           binary_sha256 = excluded.binary_sha256, napi_version = excluded.napi_version, erpmod_abi = excluded.erpmod_abi,
           status = excluded.status, enabled = excluded.enabled, last_error = excluded.last_error, loaded_at = excluded.loaded_at,
           created_at = excluded.created_at, updated_at = excluded.updated_at`,
      ),
      idOf: db.prepare('SELECT id FROM plugins WHERE code = ?').pluck(),
      clearEndpoints: db.prepare('DELETE FROM plugin_endpoints'),
      insertEndpoint: db.prepare('INSERT INTO plugin_endpoints (plugin_id, method, path, type, created_at) VALUES (?, ?, ?, ?, ?)'),
      clearInstances: db.prepare('DELETE FROM plugin_instances'),
      insertInstance: db.prepare(
        'INSERT INTO plugin_instances (code, instance, status, last_error, loaded_at, binary_sha256, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      clearBeats: db.prepare('DELETE FROM instance_beats'),
      insertBeat: db.prepare('INSERT INTO instance_beats (instance, seen_at, live_until) VALUES (?, ?, ?)'),
      insertEvent: db.prepare('INSERT OR IGNORE INTO plugin_events (id, plugin_id, kind, detail, at, instance) VALUES (?, ?, ?, ?, ?, ?)'),
      newestEvent: db.prepare('SELECT COALESCE(MAX(id), 0) FROM plugin_events').pluck(),
      prune: db.prepare('DELETE FROM plugin_events WHERE id <= ?'),
    };
  }

  /** The newest event id mirrored: the next read asks only for newer ones. */
  get newestEventId(): number {
    return this.statements.newestEvent.get() as number;
  }

  /** Replaces the mirrored rows with `rows`, in one local transaction (readers never see half of it). */
  apply(rows: FleetRegistryRows): void {
    const s = this.statements;
    this.db.transaction(() => {
      for (const p of rows.plugins) {
        s.upsert.run({
          code: p.code, name: p.name, description: p.description, version: p.version, vendor: p.vendor, type: p.type,
          module_dir: p.module_dir ?? '', binary_path: p.binary_path, binary_sha256: p.binary_sha256, napi_version: p.napi_version,
          erpmod_abi: p.erpmod_abi, status: p.status ?? 'inactive', enabled: p.enabled ? 1 : 0, last_error: p.last_error,
          loaded_at: iso(p.loaded_at), created_at: iso(p.created_at), updated_at: iso(p.updated_at),
        });
      }
      s.clearEndpoints.run();
      for (const e of rows.endpoints) {
        const id = s.idOf.get(e.code) as number | undefined;
        if (id !== undefined) s.insertEndpoint.run(id, e.method, e.path, e.type, iso(e.created_at));
      }
      s.clearInstances.run();
      for (const i of rows.instances) s.insertInstance.run(i.code, i.instance, i.status, i.last_error, iso(i.loaded_at), i.binary_sha256, iso(i.updated_at));
      for (const e of rows.events) {
        const id = s.idOf.get(e.code) as number | undefined;
        if (id !== undefined) s.insertEvent.run(Number(e.id), id, e.kind, JSON.stringify(e.detail ?? {}), iso(e.at), e.instance);
      }
      const newest = s.newestEvent.get() as number;
      if (newest > MIRRORED_EVENTS) s.prune.run(newest - MIRRORED_EVENTS);
    })();
  }

  /**
   * Replaces when each instance was last heard of. `ageMs` is on the database server's clock, so an
   * instance counts as live for `liveWithinMs` after its beat whatever this machine's clock says.
   */
  applyBeats(beats: readonly InstanceBeat[], liveWithinMs: number): void {
    const s = this.statements;
    const now = Date.now();
    this.db.transaction(() => {
      s.clearBeats.run();
      for (const b of beats) s.insertBeat.run(b.instance, b.seenAt.toISOString(), Math.round(now - b.ageMs + liveWithinMs));
    })();
  }

  close(): void {
    this.db.close();
  }
}

function iso<T extends Date | null>(value: T): T extends Date ? string : string | null {
  return (value === null ? null : value.toISOString()) as T extends Date ? string : string | null;
}
