/**
 * The registry seam: what the host knows about its modules (plugins, plugin_endpoints, plugin_events,
 * module_databases), with two engines behind it — a SQLite file per host (registry/sqlite/) and, with
 * database_url, PostgreSQL shared by a fleet (registry/postgres/). open-registry.ts picks one, once.
 *
 * Reads are synchronous on both engines (they are called from request handlers and the loader's hot
 * paths); writes are described synchronously inside `batch` and resolve only once the engine committed
 * them: on PostgreSQL a write that cannot reach the server rejects and nothing of it is kept anywhere.
 */

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
  | 'event-failed'
  | 'installed';

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

/** One instance's own view of a module in a fleet: what it loaded and how that went. */
export interface PluginInstanceState {
  readonly instance: string;
  readonly status: PluginStatus;
  readonly lastError: string | null;
  readonly loadedAt: string | null;
  readonly binarySha256: string | null;
  readonly updatedAt: string;
  /** When the instance last told the fleet it is alive (it does every few seconds); null for an instance of an earlier version, which does not. */
  readonly lastSeenAt: string | null;
  /** Heard of within the last few beats; null when the instance does not tell (lastSeenAt null). */
  readonly live: boolean | null;
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
  /** This instance's status (in a fleet, each instance has its own: see `instances`). */
  readonly status: PluginStatus;
  readonly enabled: boolean;
  readonly lastError: string | null;
  readonly loadedAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly endpoints: readonly PluginEndpoint[];
  /** On PostgreSQL only: every instance of the fleet that recorded a state for this module. */
  readonly instances?: readonly PluginInstanceState[];
}

export interface PluginEventRecord {
  readonly id: number;
  readonly kind: string;
  readonly detail: unknown;
  readonly at: string;
  /** On PostgreSQL only: the instance the event happened on. */
  readonly instance?: string;
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

/** The writes one `batch` may hold; they commit together or not at all. */
export interface RegistryWrites {
  /** Creates or refreshes a module's identity; status and the operator's toggle are kept. */
  recordIdentity(identity: PluginIdentity): void;
  recordBinary(code: string, binary: PluginBinary): void;
  setStatus(code: string, status: PluginStatus, lastError?: string | null): void;
  setEnabled(code: string, enabled: boolean): void;
  replaceEndpoints(code: string, endpoints: readonly { method: string; path: string }[]): void;
  recordEvent(code: string, kind: PluginEventKind, detail?: Record<string, unknown>): void;
  recordModuleMigrations(code: string, migrations: readonly string[]): void;
}

export interface PluginRepository {
  /** Which registry this is, for messages: its SQLite file, or the PostgreSQL host/database. */
  readonly file: string;
  /** `sqlite` or `postgres`. */
  readonly engine: 'sqlite' | 'postgres';

  /**
   * Runs `work`'s writes as one transaction and resolves once the engine committed them. A failure
   * (a full disk, PostgreSQL unreachable) rejects with ERPMOD_STORAGE_* / ERPMOD_DATABASE_UNAVAILABLE
   * and nothing of the batch is kept. On SQLite the commit happens before `batch` returns.
   */
  batch(work: (writes: RegistryWrites) => void): Promise<void>;
  /** One audit event, committed like a batch: how other parts of the host record what happened to a module. */
  recordEvent(code: string, kind: PluginEventKind, detail?: Record<string, unknown>): Promise<void>;

  list(): PluginRecord[];
  find(code: string): PluginRecord | undefined;
  /** The operator's on/off switch; remembered across restarts. Unknown modules default to enabled. */
  isEnabled(code: string): boolean;
  /** Newest first. */
  events(code: string, limit?: number): PluginEventRecord[];
  /** Every module's events with an id above `afterId`, oldest first: the audit trail as it grows. */
  eventsAfter(afterId: number, limit?: number): ModuleEventRecord[];
  /** The newest `limit` events of every module, newest first. */
  latestEvents(limit?: number): ModuleEventRecord[];

  /**
   * The SQLite module-file guard's records (store/sqlite/guard-module-data.ts): which file holds a
   * module's data. Synchronous, local to this host; PostgreSQL module data has no file to guard.
   */
  moduleDatabase(code: string): ModuleDatabaseRecord | undefined;
  claimModuleDatabase(code: string, databaseId: string, file: string): ModuleDatabaseRecord;
  /** Forgets the module's database (an operator's explicit choice) and records `detail` as a data-accepted event. */
  acceptModuleDatabase(code: string, detail: Record<string, unknown>): void;

  /** Reads what other instances changed (PostgreSQL); nothing to do on SQLite. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}
