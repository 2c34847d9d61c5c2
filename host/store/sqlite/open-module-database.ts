import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { MigrationFile } from '../../compliance/manifest/list-migration-files';
import { ErpmodError, messageOf } from '../../errors';
import { alreadyApplied, readMigration } from '../migration-checksum';
import { storageErrorOf, withStorage } from '../../registry/storage-error';

/** Where a module's own database lives: `<dataDir>/modules/<code>.sqlite`. */
export function moduleDatabasePath(dataDir: string, code: string): string {
  return path.join(dataDir, 'modules', `${code}.sqlite`);
}

/**
 * Each module's own database, so no module can reach the registry or another module's tables. A file
 * that cannot be created, opened or written comes out as ERPMOD_STORAGE_FULL / _UNAVAILABLE naming it.
 */
export function openModuleDatabase(dataDir: string, code: string): Database.Database {
  const file = moduleDatabasePath(dataDir, code);
  return withStorage(file, () => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      // WAL is a property of the file: switching costs a write lock and a sync, so only a new file pays it.
      if (db.pragma('journal_mode', { simple: true }) !== 'wal') db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
  }, `module "${code}": database ${file}`);
}

/**
 * Applies migrations in the order given (by number), one transaction each, recording name and sha256. A file whose
 * content changed after it was applied is an error, never a silent re-run. Returns the names applied now.
 */
export function applyModuleMigrations(db: Database.Database, code: string, migrations: readonly MigrationFile[]): string[] {
  createMigrationsTable(db);
  const recorded = new Map(
    (db.prepare('SELECT name, checksum FROM _erpmod_migrations').all() as { name: string; checksum: string }[]).map((row) => [
      row.name,
      row.checksum,
    ]),
  );
  const record = db.prepare('INSERT INTO _erpmod_migrations (name, checksum, applied_at) VALUES (?, ?, ?)');
  const applied: string[] = [];
  for (const migration of migrations) {
    const { sql, checksum } = readMigration(migration);
    if (alreadyApplied(code, migration, recorded.get(migration.name), checksum)) continue;
    try {
      db.transaction(() => {
        db.exec(sql);
        record.run(migration.name, checksum, new Date().toISOString());
      })();
    } catch (error) {
      const storage = storageErrorOf(error, db.name, `module "${code}": database ${db.name} (migration ${migration.name})`);
      if (storage !== undefined) throw storage;
      throw new ErpmodError('ERPMOD_MIGRATION_FAILED', `module "${code}": migration ${migration.name} failed: ${messageOf(error)}`, {
        cause: error,
        details: { migration: migration.name },
      });
    }
    applied.push(migration.name);
  }
  return applied;
}

/** Where applied migrations are recorded; made with a new database, or here by the first migration of one that predates it. */
export function createMigrationsTable(db: Database.Database): void {
  withStorage(db.name, () =>
    db.exec(`CREATE TABLE IF NOT EXISTS _erpmod_migrations (
               name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`),
  );
}
