import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import { withStorage } from '../../registry/storage-error';

/**
 * Which module a database belongs to and which database it is: a random id written into the file
 * itself (`_erpmod_identity`) and remembered by the registry, so that a file that was replaced, swapped
 * or lost is told apart from the one erpmod created (host/store/sqlite/guard-module-data.ts).
 */
export interface Identity {
  readonly moduleCode: string;
  readonly databaseId: string;
}

export function readIdentity(db: Database.Database): Identity | undefined {
  return withStorage(db.name, () => {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_erpmod_identity'").get();
    if (exists === undefined) return undefined;
    const row = db.prepare('SELECT module_code, database_id FROM _erpmod_identity WHERE id = 1').get() as { module_code: string; database_id: string } | undefined;
    return row === undefined ? undefined : { moduleCode: row.module_code, databaseId: row.database_id };
  });
}

/** Writes the identity once; a host booting alongside that wrote it first wins, and both read the same row back. */
export function stampIdentity(db: Database.Database, code: string): Identity {
  return withStorage(db.name, () => {
    db.transaction(() => {
      db.exec(`CREATE TABLE IF NOT EXISTS _erpmod_identity (
                 id INTEGER PRIMARY KEY CHECK (id = 1), module_code TEXT NOT NULL, database_id TEXT NOT NULL, created_at TEXT NOT NULL)`);
      db.prepare('INSERT OR IGNORE INTO _erpmod_identity (id, module_code, database_id, created_at) VALUES (1, ?, ?, ?)').run(
        code,
        crypto.randomUUID(),
        new Date().toISOString(),
      );
    }).immediate();
    return readIdentity(db)!;
  });
}
