import os from 'node:os';
import type { HostConfig } from '../config/load-config';
import type { Logger } from '../logger';
import { postgresSettings } from '../store/open-module-store';
import type { PluginRepository } from './plugin-repository';
import { PostgresRegistry } from './postgres/postgres-registry';
import { openRegistryDatabase } from './sqlite/open-sqlite-database';
import { SqliteRegistry } from './sqlite/sqlite-registry';

export type RegistrySettings = Pick<
  HostConfig,
  'dataDir' | 'databaseUrl' | 'databaseSslMode' | 'databaseSslCaFile' | 'databasePoolSize' | 'databaseConnectTimeoutMs' | 'instanceName' | 'port'
>;

/** The one place the registry's engine is chosen: database_url set means the fleet's PostgreSQL, otherwise `<data_dir>/erpmod.sqlite`. */
export async function openRegistry(settings: RegistrySettings, logger: Logger): Promise<PluginRepository> {
  if (settings.databaseUrl === undefined) return new SqliteRegistry(openRegistryDatabase(settings.dataDir));
  return PostgresRegistry.open(postgresSettings(settings, settings.databaseUrl), registryInstanceName(settings), logger);
}

/**
 * The name this instance's rows carry in a fleet's registry: instance_name, else `<hostname>:<port>`
 * (the metrics label's default). A host on an ephemeral port (0) has no port to name before it boots,
 * so it is `<hostname>:pid<pid>` there; set instance_name for a name that survives restarts.
 */
export function registryInstanceName(settings: Pick<HostConfig, 'instanceName' | 'port'>): string {
  if (settings.instanceName !== undefined) return settings.instanceName;
  return `${os.hostname()}:${settings.port === 0 ? `pid${process.pid}` : settings.port}`;
}
