import type Database from 'better-sqlite3';
import { withStorage } from './storage-error';

export type PluginStatus = 'active' | 'inactive' | 'failed' | 'rejected' | 'blocked';

export type PluginEventKind =
  | 'discovered'
  | 'rejected'
  | 'loaded'
  | 'failed'
  | 'blocked'
  | 'skipped'
  | 'reloaded'
  | 'toggled'
  | 'unloaded'
  | 'crashed'
  | 'data-accepted'
  | 'event-failed';

export interface PluginIdentity {
  readonly code: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly version: string;
  readonly vendor: string | undefined;
  readonly moduleDir: string;
}

export interface PluginBinary {
  readonly binaryPath: string | undefined;
  readonly binarySha256: string | undefined;
  readonly napiVersion: number | undefined;
  readonly erpmodAbi: number | undefined;
}

export interface PluginEndpoint {
  readonly method: string;
  readonly path: string;
  readonly type: string;
}

export interface PluginRecord {
  readonly code: string;
  readonly name: string;
  readonly description: string | null;
  readonly version: string;
  readonly vendor: string | null;
  readonly type: string;
  readonly moduleDir: string;
  readonly binaryPath: string | null;
  readonly binarySha256: string | null;
  readonly napiVersion: number | null;
  readonly erpmodAbi: number | null;
  readonly status: PluginStatus;
  readonly enabled: boolean;
  readonly lastError: string | null;
  readonly loadedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly endpoints: readonly PluginEndpoint[];
}

export interface PluginEventRecord {
  readonly id: number;
  readonly kind: string;
  readonly detail: unknown;
  readonly at: string;
}

/** The registry's record of a module's database: which file, which identity, which migrations it has seen. */
export interface ModuleDatabaseRecord {
  readonly code: string;
  readonly databaseId: string;
  readonly file: string;
  readonly migrations: readonly string[];
  readonly recordedAt: string;
}

/** An audit-trail entry with the module it is about. */
export interface ModuleEventRecord extends PluginEventRecord {
  readonly code: string;
}

interface EventRow {
  id: number;
  code: string;
  kind: string;
  detail: string;
  at: string;
}

function toModuleEvent(row: EventRow): ModuleEventRecord {
  return { id: row.id, code: row.code, kind: row.kind, detail: JSON.parse(row.detail) as unknown, at: row.at };
}

interface PluginRow {
  id: number;
  code: string;
  name: string;
  description: string | null;
  version: string;
  vendor: string | null;
  type: string;
  module_dir: string;
  binary_path: string | null;
  binary_sha256: string | null;
  napi_version: number | null;
  erpmod_abi: number | null;
  status: PluginStatus;
  enabled: number;
  last_error: string | null;
  loaded_at: string | null;
  created_at: string;
  updated_at: string;
}

/**
 * The only place that issues SQL against the registry (plugins, plugin_endpoints, plugin_events,
 * module_databases). A PostgreSQL implementation would offer the same methods. Every method translates a
 * storage failure (full disk, read-only, I/O error) into ERPMOD_STORAGE_FULL / ERPMOD_STORAGE_UNAVAILABLE
 * naming the registry file; a failed write changes nothing (each method, and each batch, is one transaction).
 */
export class PluginRepository {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      upsert: db.prepare(
        `INSERT INTO plugins (code, name, description, version, vendor, module_dir, status, created_at, updated_at)
         VALUES (@code, @name, @description, @version, @vendor, @moduleDir, 'inactive', @now, @now)
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, description = excluded.description,
           version = excluded.version, vendor = excluded.vendor, module_dir = excluded.module_dir,
           updated_at = excluded.updated_at`,
      ),
      idOf: db.prepare('SELECT id FROM plugins WHERE code = ?').pluck(),
      setBinary: db.prepare(
        `UPDATE plugins SET binary_path = @binaryPath, binary_sha256 = @binarySha256, napi_version = @napiVersion,
           erpmod_abi = @erpmodAbi, updated_at = @now WHERE code = @code`,
      ),
      setStatus: db.prepare(
        `UPDATE plugins SET status = @status, last_error = @lastError, updated_at = @now,
           loaded_at = CASE WHEN @status = 'active' THEN @now ELSE loaded_at END WHERE code = @code`,
      ),
      setEnabled: db.prepare('UPDATE plugins SET enabled = @enabled, updated_at = @now WHERE code = @code'),
      deleteEndpoints: db.prepare('DELETE FROM plugin_endpoints WHERE plugin_id = ?'),
      insertEndpoint: db.prepare(
        `INSERT INTO plugin_endpoints (plugin_id, method, path, type, created_at) VALUES (?, ?, ?, 'REST', ?)`,
      ),
      insertEvent: db.prepare('INSERT INTO plugin_events (plugin_id, kind, detail, at) VALUES (?, ?, ?, ?)'),
      all: db.prepare('SELECT * FROM plugins ORDER BY code'),
      one: db.prepare('SELECT * FROM plugins WHERE code = ?'),
      endpointsOf: db.prepare('SELECT method, path, type FROM plugin_endpoints WHERE plugin_id = ? ORDER BY path, method'),
      eventsOf: db.prepare('SELECT id, kind, detail, at FROM plugin_events WHERE plugin_id = ? ORDER BY id DESC LIMIT ?'),
      eventsAfter: db.prepare(
        `SELECT e.id, p.code, e.kind, e.detail, e.at FROM plugin_events e JOIN plugins p ON p.id = e.plugin_id
         WHERE e.id > ? ORDER BY e.id LIMIT ?`,
      ),
      latestEvents: db.prepare(
        `SELECT e.id, p.code, e.kind, e.detail, e.at FROM plugin_events e JOIN plugins p ON p.id = e.plugin_id
         ORDER BY e.id DESC LIMIT ?`,
      ),
      databaseOf: db.prepare('SELECT code, database_id, file, migrations, recorded_at FROM module_databases WHERE code = ?'),
      claimDatabase: db.prepare(
        `INSERT INTO module_databases (code, database_id, file, recorded_at, updated_at) VALUES (@code, @databaseId, @file, @now, @now)
         ON CONFLICT (code) DO NOTHING`,
      ),
      setDatabaseMigrations: db.prepare('UPDATE module_databases SET migrations = @migrations, updated_at = @now WHERE code = @code'),
      forgetDatabase: db.prepare('DELETE FROM module_databases WHERE code = ?'),
    };
  }

  /** The registry's file, for messages. */
  get file(): string {
    return this.db.name;
  }

  /** Runs `work` as one transaction: a boot's many small writes cost one commit instead of one each. */
  batch<T>(work: () => T): T {
    return this.guarded(() => this.db.transaction(work)());
  }

  /** Creates or refreshes a module's identity; status and the operator's toggle are kept. */
  recordIdentity(identity: PluginIdentity): void {
    this.guarded(() =>
      this.statements.upsert.run({
        code: identity.code,
        name: identity.name,
        description: identity.description ?? null,
        version: identity.version,
        vendor: identity.vendor ?? null,
        moduleDir: identity.moduleDir,
        now: now(),
      }),
    );
  }

  recordBinary(code: string, binary: PluginBinary): void {
    this.guarded(() =>
      this.statements.setBinary.run({
        code,
        binaryPath: binary.binaryPath ?? null,
        binarySha256: binary.binarySha256 ?? null,
        napiVersion: binary.napiVersion ?? null,
        erpmodAbi: binary.erpmodAbi ?? null,
        now: now(),
      }),
    );
  }

  setStatus(code: string, status: PluginStatus, lastError: string | null = null): void {
    this.guarded(() => this.statements.setStatus.run({ code, status, lastError, now: now() }));
  }

  /** The operator's on/off switch; remembered across restarts. Unknown modules default to enabled. */
  isEnabled(code: string): boolean {
    const row = this.guarded(() => this.statements.one.get(code) as PluginRow | undefined);
    return row === undefined || row.enabled === 1;
  }

  setEnabled(code: string, enabled: boolean): void {
    this.guarded(() => this.statements.setEnabled.run({ code, enabled: enabled ? 1 : 0, now: now() }));
  }

  replaceEndpoints(code: string, endpoints: readonly { method: string; path: string }[]): void {
    const id = this.requireId(code);
    this.guarded(() =>
      this.db.transaction(() => {
        this.statements.deleteEndpoints.run(id);
        const at = now();
        for (const endpoint of endpoints) this.statements.insertEndpoint.run(id, endpoint.method, endpoint.path, at);
      })(),
    );
  }

  recordEvent(code: string, kind: PluginEventKind, detail: Record<string, unknown> = {}): void {
    const id = this.requireId(code);
    this.guarded(() => this.statements.insertEvent.run(id, kind, JSON.stringify(detail), now()));
  }

  list(): PluginRecord[] {
    return this.guarded(() => (this.statements.all.all() as PluginRow[]).map((row) => this.toRecord(row)));
  }

  find(code: string): PluginRecord | undefined {
    return this.guarded(() => {
      const row = this.statements.one.get(code) as PluginRow | undefined;
      return row === undefined ? undefined : this.toRecord(row);
    });
  }

  /** Newest first. */
  events(code: string, limit = 100): PluginEventRecord[] {
    return this.guarded(() => {
      const id = this.statements.idOf.get(code) as number | undefined;
      if (id === undefined) return [];
      const rows = this.statements.eventsOf.all(id, limit) as { id: number; kind: string; detail: string; at: string }[];
      return rows.map((row) => ({ id: row.id, kind: row.kind, detail: JSON.parse(row.detail) as unknown, at: row.at }));
    });
  }

  /** The registry's record of a module's database, or undefined when the registry has never seen it. */
  moduleDatabase(code: string): ModuleDatabaseRecord | undefined {
    return this.guarded(() => {
      const row = this.statements.databaseOf.get(code) as
        | { code: string; database_id: string; file: string; migrations: string; recorded_at: string }
        | undefined;
      if (row === undefined) return undefined;
      return { code: row.code, databaseId: row.database_id, file: row.file, migrations: JSON.parse(row.migrations) as string[], recordedAt: row.recorded_at };
    });
  }

  /**
   * Records `databaseId` as the module's database unless one is already recorded, and returns what the
   * registry holds now: hosts booting side by side (cluster workers) agree on the first one written.
   */
  claimModuleDatabase(code: string, databaseId: string, file: string): ModuleDatabaseRecord {
    this.guarded(() => this.statements.claimDatabase.run({ code, databaseId, file, now: now() }));
    return this.moduleDatabase(code)!;
  }

  recordModuleMigrations(code: string, migrations: readonly string[]): void {
    this.guarded(() => this.statements.setDatabaseMigrations.run({ code, migrations: JSON.stringify(migrations), now: now() }));
  }

  /** Forgets the module's database: its next load takes whatever file is there (an operator's explicit choice). */
  forgetModuleDatabase(code: string): void {
    this.guarded(() => this.statements.forgetDatabase.run(code));
  }

  /** Every module's events with an id above `afterId`, oldest first: the audit trail as it grows. */
  eventsAfter(afterId: number, limit = 200): ModuleEventRecord[] {
    return this.guarded(() => (this.statements.eventsAfter.all(afterId, limit) as EventRow[]).map(toModuleEvent));
  }

  /** The newest `limit` events of every module, newest first. */
  latestEvents(limit = 100): ModuleEventRecord[] {
    return this.guarded(() => (this.statements.latestEvents.all(limit) as EventRow[]).map(toModuleEvent));
  }

  private requireId(code: string): number {
    const id = this.guarded(() => this.statements.idOf.get(code) as number | undefined);
    if (id === undefined) throw new Error(`registry has no module "${code}"; recordIdentity must come first`);
    return id;
  }

  private guarded<T>(work: () => T): T {
    return withStorage(this.db.name, work, `registry ${this.db.name}`);
  }

  private toRecord(row: PluginRow): PluginRecord {
    return {
      code: row.code,
      name: row.name,
      description: row.description,
      version: row.version,
      vendor: row.vendor,
      type: row.type,
      moduleDir: row.module_dir,
      binaryPath: row.binary_path,
      binarySha256: row.binary_sha256,
      napiVersion: row.napi_version,
      erpmodAbi: row.erpmod_abi,
      status: row.status,
      enabled: row.enabled === 1,
      lastError: row.last_error,
      loadedAt: row.loaded_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      endpoints: this.statements.endpointsOf.all(row.id) as PluginEndpoint[],
    };
  }
}

function now(): string {
  return new Date().toISOString();
}
