import type Database from 'better-sqlite3';
import type {
  ModuleDatabaseRecord,
  ModuleEventRecord,
  PluginBinary,
  PluginEndpoint,
  PluginEventKind,
  PluginEventRecord,
  PluginIdentity,
  PluginInstanceState,
  PluginRecord,
  PluginRepository,
  PluginStatus,
  RegistryWrites,
} from '../plugin-repository';
import { withStorage } from '../storage-error';

interface EventRow {
  id: number;
  code: string;
  kind: string;
  detail: string;
  at: string;
  instance: string | null;
}

function toEvent(row: Omit<EventRow, 'code'>): PluginEventRecord {
  const event = { id: row.id, kind: row.kind, detail: JSON.parse(row.detail) as unknown, at: row.at };
  return row.instance === null ? event : { ...event, instance: row.instance };
}

function toModuleEvent(row: EventRow): ModuleEventRecord {
  // Key order as before (id, code, kind, …): clients of the live stream may read the JSON text.
  const { id, ...rest } = toEvent(row);
  return { id, code: row.code, ...rest };
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

interface InstanceRow {
  instance: string;
  status: PluginStatus;
  last_error: string | null;
  loaded_at: string | null;
  binary_sha256: string | null;
  updated_at: string;
  seen_at: string | null;
  live_until: number | null;
}

/**
 * The registry in one SQLite file (the embedded default), and the only place that issues SQL against it.
 * Every method translates a storage failure (full disk, read-only, I/O error) into ERPMOD_STORAGE_FULL /
 * ERPMOD_STORAGE_UNAVAILABLE naming the registry file; a failed write changes nothing (each batch is one
 * transaction). On PostgreSQL the same class reads an in-memory mirror of the fleet's registry.
 */
export class SqliteRegistry implements PluginRepository {
  readonly engine = 'sqlite' as const;
  private readonly statements;
  private readonly writes: RegistryWrites;

  /** `fleet`: the database has the mirror's tables (MIRROR_TABLES): instances and events' instance are read too. */
  constructor(private readonly db: Database.Database, private readonly name = db.name, fleet = false) {
    const instance = fleet ? 'e.instance' : 'NULL AS instance';
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
      instancesOf: fleet
        ? db.prepare(
            `SELECT i.instance, i.status, i.last_error, i.loaded_at, i.binary_sha256, i.updated_at, b.seen_at, b.live_until
               FROM plugin_instances i LEFT JOIN instance_beats b ON b.instance = i.instance WHERE i.code = ? ORDER BY i.instance`,
          )
        : undefined,
      eventsOf: db.prepare(`SELECT e.id, e.kind, e.detail, e.at, ${instance} FROM plugin_events e WHERE e.plugin_id = ? ORDER BY e.id DESC LIMIT ?`),
      eventsAfter: db.prepare(
        `SELECT e.id, p.code, e.kind, e.detail, e.at, ${instance} FROM plugin_events e JOIN plugins p ON p.id = e.plugin_id
         WHERE e.id > ? ORDER BY e.id LIMIT ?`,
      ),
      latestEvents: db.prepare(
        `SELECT e.id, p.code, e.kind, e.detail, e.at, ${instance} FROM plugin_events e JOIN plugins p ON p.id = e.plugin_id
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
    const s = this.statements;
    this.writes = {
      recordIdentity: (identity: PluginIdentity) =>
        s.upsert.run({ code: identity.code, name: identity.name, description: identity.description ?? null, version: identity.version, vendor: identity.vendor ?? null, moduleDir: identity.moduleDir, now: now() }),
      recordBinary: (code: string, binary: PluginBinary) =>
        s.setBinary.run({ code, binaryPath: binary.binaryPath ?? null, binarySha256: binary.binarySha256 ?? null, napiVersion: binary.napiVersion ?? null, erpmodAbi: binary.erpmodAbi ?? null, now: now() }),
      setStatus: (code: string, status: PluginStatus, lastError: string | null = null) => s.setStatus.run({ code, status, lastError, now: now() }),
      setEnabled: (code: string, enabled: boolean) => s.setEnabled.run({ code, enabled: enabled ? 1 : 0, now: now() }),
      replaceEndpoints: (code: string, endpoints: readonly { method: string; path: string }[]) => {
        const id = this.requireId(code);
        s.deleteEndpoints.run(id);
        const at = now();
        for (const endpoint of endpoints) s.insertEndpoint.run(id, endpoint.method, endpoint.path, at);
      },
      recordEvent: (code: string, kind: PluginEventKind, detail: Record<string, unknown> = {}) => s.insertEvent.run(this.requireId(code), kind, JSON.stringify(detail), now()),
      recordModuleMigrations: (code: string, migrations: readonly string[]) => s.setDatabaseMigrations.run({ code, migrations: JSON.stringify(migrations), now: now() }),
    };
  }

  /** The registry's file, for messages. */
  get file(): string {
    return this.name;
  }

  /** Commits before it returns; the promise only carries the outcome. */
  async batch(work: (writes: RegistryWrites) => void): Promise<void> {
    this.guarded(() => this.db.transaction(() => work(this.writes))());
  }

  recordEvent(code: string, kind: PluginEventKind, detail: Record<string, unknown> = {}): Promise<void> {
    return this.batch((writes) => writes.recordEvent(code, kind, detail));
  }

  isEnabled(code: string): boolean {
    const row = this.guarded(() => this.statements.one.get(code) as PluginRow | undefined);
    return row === undefined || row.enabled === 1;
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

  events(code: string, limit = 100): PluginEventRecord[] {
    return this.guarded(() => {
      const id = this.statements.idOf.get(code) as number | undefined;
      if (id === undefined) return [];
      return (this.statements.eventsOf.all(id, limit) as Omit<EventRow, 'code'>[]).map(toEvent);
    });
  }

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

  acceptModuleDatabase(code: string, detail: Record<string, unknown>): void {
    this.guarded(() =>
      this.db.transaction(() => {
        this.statements.forgetDatabase.run(code);
        this.writes.recordEvent(code, 'data-accepted', detail);
      })(),
    );
  }

  eventsAfter(afterId: number, limit = 200): ModuleEventRecord[] {
    return this.guarded(() => (this.statements.eventsAfter.all(afterId, limit) as EventRow[]).map(toModuleEvent));
  }

  latestEvents(limit = 100): ModuleEventRecord[] {
    return this.guarded(() => (this.statements.latestEvents.all(limit) as EventRow[]).map(toModuleEvent));
  }

  async refresh(): Promise<void> {
    // One host, one file: nothing changes behind its back.
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private requireId(code: string): number {
    const id = this.statements.idOf.get(code) as number | undefined;
    if (id === undefined) throw new Error(`registry has no module "${code}"; recordIdentity must come first`);
    return id;
  }

  private guarded<T>(work: () => T): T {
    return withStorage(this.db.name, work, `registry ${this.name}`);
  }

  private toRecord(row: PluginRow): PluginRecord {
    const record: PluginRecord = {
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
    const instances = (this.statements.instancesOf?.all(row.code) ?? []) as InstanceRow[];
    if (instances.length === 0) return record;
    return {
      ...record,
      instances: instances.map((i): PluginInstanceState => ({
        instance: i.instance,
        status: i.status,
        lastError: i.last_error,
        loadedAt: i.loaded_at,
        binarySha256: i.binary_sha256,
        updatedAt: i.updated_at,
        lastSeenAt: i.seen_at,
        live: i.live_until === null ? null : Date.now() <= i.live_until,
      })),
    };
  }
}

function now(): string {
  return new Date().toISOString();
}
