import type { MigrationFile } from '../compliance/manifest/list-migration-files';
import type { ModuleManifest } from '../compliance/types';
import type { ModuleHandler } from '../loader/load-native-library';
import type { ModuleDbFacade } from './sqlite/module-db-facade';
import type { AsyncModuleDbFacade } from './postgres/postgres-db-facade';

/** `ctx.db` as the engine gives it: results on SQLite, promises of the same results on PostgreSQL. */
export type ContextDb = ModuleDbFacade | AsyncModuleDbFacade;

/** JSON that crosses to an isolated module's runner: the module's own connection, never the host's credentials. */
export interface RunnerStoreSettings {
  readonly engine: StoreEngine;
}

/** Which engine keeps module data; picked once from the configuration (database_url). */
export type StoreEngine = 'sqlite' | 'postgres';

/** One module's database, open and migrated, as the loader hands it to the module. */
export interface ModuleDatabase {
  /**
   * What `ctx.db` is. On SQLite every call returns its result; on PostgreSQL every call returns a
   * promise of the same result (the SDK waits for it on a pool thread, never on the JavaScript thread).
   */
  readonly facade: ContextDb;
  /** Migration names applied by this open (the rest were applied before). */
  readonly applied: readonly string[];
  close(): Promise<void>;
}

/**
 * The store seam for module data: each module gets its own database (a SQLite file, or a PostgreSQL
 * schema reached through its own role), created and migrated here. The rest of the host never asks
 * which engine it is talking to, except where the answer changes what a module must be (`asyncDb`).
 */
export interface ModuleStore {
  readonly engine: StoreEngine;
  /** True when ctx.db returns promises, so handlers that use it must run where they may wait. */
  readonly asyncDb: boolean;
  /** Refuses (ERPMOD_STORE_UNSUPPORTED) a module that could not use this engine's ctx.db, before its data is touched. */
  checkModule(manifest: ModuleManifest, handler: ModuleHandler): void;
  /**
   * For a module that runs in its own process: sets up and migrates its database here, in the host, and
   * returns what its runner needs to open it (openRunnerStore); undefined when the runner opens it alone.
   */
  prepareIsolated(code: string, migrations: readonly MigrationFile[]): Promise<RunnerStoreSettings | undefined>;
  openModule(code: string, migrations: readonly MigrationFile[]): Promise<ModuleDatabase>;
  close(): Promise<void>;
}
