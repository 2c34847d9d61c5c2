import type { HostConfig } from '../config/load-config';
import type { Logger } from '../logger';
import type { ModuleStore } from './module-store';
import type { PostgresSettings } from './postgres/connection-settings';
import { createPostgresModuleStore } from './postgres/postgres-module-store';
import { createSqliteModuleStore } from './sqlite/sqlite-module-store';

export type ModuleStoreSettings = Pick<
  HostConfig,
  'dataDir' | 'databaseUrl' | 'databaseSslMode' | 'databaseSslCaFile' | 'databasePoolSize' | 'databaseConnectTimeoutMs'
>;

/** The one place the engine is chosen: database_url set means PostgreSQL, otherwise SQLite files. */
export function openModuleStore(settings: ModuleStoreSettings, logger: Logger): ModuleStore {
  if (settings.databaseUrl === undefined) return createSqliteModuleStore(settings.dataDir);
  return createPostgresModuleStore(postgresSettings(settings, settings.databaseUrl), logger);
}

/** The connection settings every PostgreSQL user in the host shares (module data, the fleet's registry link). */
export function postgresSettings(settings: ModuleStoreSettings, url: string): PostgresSettings {
  return {
    url,
    sslMode: settings.databaseSslMode,
    sslCaFile: settings.databaseSslCaFile,
    poolSize: settings.databasePoolSize,
    connectTimeoutMs: settings.databaseConnectTimeoutMs,
  };
}
