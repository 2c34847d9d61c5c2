import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ErpmodError } from '../errors';
import { REGISTRY_MIGRATIONS } from './registry-schema';

/** Opens (creating when absent) the registry database in WAL mode and brings its schema up to date. */
export function openRegistryDatabase(dataDir: string): Database.Database {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'erpmod.sqlite');
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (error) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `registry ${file}: expected a writable SQLite file, got: ${(error as Error).message}`, { cause: error });
  }
  db.pragma('journal_mode = WAL');
  // The registry records what the host found and did; a power cut may lose its last few rows, never
  // corrupt it (WAL), and the next boot rewrites them. Not syncing each of a boot's hundreds of small
  // commits keeps boot time proportional to the modules, not to the disk's flush latency.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  applyRegistryMigrations(db);
  return db;
}

function applyRegistryMigrations(db: Database.Database): void {
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
