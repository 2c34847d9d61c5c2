import { createModuleDbFacade } from './module-db-facade';
import { takeChecked } from './checked-databases';
import { applyModuleMigrations, moduleDatabasePath, openModuleDatabase } from './open-module-database';
import type { ModuleDatabase, ModuleStore } from '../module-store';

/** The embedded default: one SQLite file per module under `<dataDir>/modules/`, synchronous `ctx.db`. */
export function createSqliteModuleStore(dataDir: string): ModuleStore {
  return {
    engine: 'sqlite',
    asyncDb: false,
    checkModule() {
      // Every module since ABI 1 uses a synchronous ctx.db.
    },
    async prepareIsolated(code) {
      // The runner opens the same file itself, as before stores had engines. The guard's handle is
      // closed first, at once: its last close removes the -wal and -shm files, which the runner's sandbox
      // would otherwise be set up to bind while they are still there.
      takeChecked(moduleDatabasePath(dataDir, code))?.close();
      return undefined;
    },
    async openModule(code, migrations): Promise<ModuleDatabase> {
      const db = takeChecked(moduleDatabasePath(dataDir, code)) ?? openModuleDatabase(dataDir, code);
      try {
        const applied = applyModuleMigrations(db, code, migrations);
        return {
          facade: createModuleDbFacade(db),
          applied,
          async close() {
            db.close();
          },
        };
      } catch (error) {
        db.close();
        throw error;
      }
    },
    async close() {
      // Each module's file is closed with its module.
    },
  };
}
