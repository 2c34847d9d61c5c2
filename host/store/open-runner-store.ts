import type { Logger } from '../logger';
import type { ModuleStore, RunnerStoreSettings } from './module-store';
import { attachPostgresModuleStore, type PostgresRunnerSettings } from './postgres/postgres-module-store';

/** Inside an isolated module's runner: the store the host prepared for it (prepareIsolated). */
export function openRunnerStore(settings: RunnerStoreSettings, logger: Logger): ModuleStore {
  if (settings.engine === 'postgres') return attachPostgresModuleStore(settings as PostgresRunnerSettings, logger);
  throw new Error(`a runner cannot open a ${settings.engine} store the host prepared`);
}
