import type Database from 'better-sqlite3';

/**
 * Module databases the data guard opened and checked, handed to the load that follows instead of being
 * closed and opened again: the first statement on an opened file reads its header and maps its WAL
 * index, about 1 ms, which every module paid twice at boot (a fifth of booting 100 modules). A handle
 * nobody takes by the next turn of the event loop is closed then: the load failed before it reached its
 * database, or the module runs in its own process, whose runner opens the file itself.
 */
const waiting = new Map<string, Database.Database>();

/** Keeps `db` (opened on the module's file, identity checked) for the load that follows. */
export function handOverChecked(db: Database.Database): void {
  waiting.get(db.name)?.close();
  waiting.set(db.name, db);
  setImmediate(() => {
    if (waiting.get(db.name) !== db) return;
    waiting.delete(db.name);
    db.close();
  });
}

/** The checked handle on `file`, if the guard left one: the caller owns it from now on. */
export function takeChecked(file: string): Database.Database | undefined {
  const db = waiting.get(file);
  if (db !== undefined) waiting.delete(file);
  return db;
}
