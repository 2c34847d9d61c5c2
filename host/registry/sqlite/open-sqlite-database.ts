import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ErpmodError } from '../../errors';
import { REGISTRY_MIGRATIONS } from './registry-schema';
import { storageErrorOf, withStorage } from '../storage-error';

/**
 * Opens (creating when absent) the registry database in WAL mode, checks that it is whole and brings its
 * schema up to date. A registry that cannot be opened, read or written names its file in the error.
 */
export function openRegistryDatabase(dataDir: string): Database.Database {
  withStorage(dataDir, () => fs.mkdirSync(dataDir, { recursive: true }));
  const file = path.join(dataDir, 'erpmod.sqlite');
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (error) {
    throw storageErrorOf(error, file, `registry ${file}`) ??
      new ErpmodError('ERPMOD_CONFIG_INVALID', `registry ${file}: expected a writable SQLite file, got: ${(error as Error).message}`, { cause: error });
  }
  try {
    withStorage(file, () => {
      db.pragma('journal_mode = WAL');
      // The registry records what the host found and did; a power cut may lose its last few rows, never
      // corrupt it (WAL), and the next boot rewrites them. Not syncing each of a boot's hundreds of small
      // commits keeps boot time proportional to the modules, not to the disk's flush latency.
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      checkWhole(db, file);
      applyRegistryMigrations(db);
    }, `registry ${file}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * A truncated or overwritten registry may open fine and fail at some later query; quick_check reads every
 * page once (a few ms for a registry of a few MB) so the damage is named at boot, with the file.
 */
function checkWhole(db: Database.Database, file: string): void {
  const problems = db.pragma('quick_check(5)', { simple: false }) as { quick_check: string }[];
  const found = problems.map((row) => row.quick_check);
  if (found.length !== 1 || found[0] !== 'ok') {
    throw new ErpmodError(
      'ERPMOD_STORAGE_UNAVAILABLE',
      `registry ${file}: expected a whole SQLite database, got damage (PRAGMA quick_check: ${found.join('; ')}); restore it from a backup, or move it away to let the host rebuild it`,
      { details: { file, storageCode: 'SQLITE_CORRUPT' } },
    );
  }
}

export function applyRegistryMigrations(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > REGISTRY_MIGRATIONS.length) {
    throw new ErpmodError(
      'ERPMOD_CONFIG_INVALID',
      `registry schema version ${current} is newer than this host knows (${REGISTRY_MIGRATIONS.length}): upgrade erpmod or use another data directory`,
    );
  }
  for (let version = current; version < REGISTRY_MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(REGISTRY_MIGRATIONS[version]!);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
