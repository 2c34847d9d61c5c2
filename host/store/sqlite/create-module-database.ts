import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { withStorage } from '../../registry/storage-error';
import { temporaryPathBeside } from '../../temporary-path';
import { stampIdentity } from './module-identity';
import { createMigrationsTable } from './open-module-database';

/**
 * A module's first database, made whole before it takes its name: built in a temporary file beside it
 * with SQLite's syncs and on-disk journal off (the identity stamped, the migrations' table, WAL),
 * synced once, then linked to its name and the directory synced. Made in place, the same file cost
 * eight syncs (the switch to WAL goes through a rollback journal, then each commit and each new file's
 * directory entry); each waits for the disk, and on a busy or networked disk they were most of a first
 * boot with many modules. A crash leaves no database or a whole one under the module's name, never a
 * half-made one (at worst a stray `.new` file beside it, which nothing reads).
 *
 * link(2) never replaces a file: a host booting alongside that linked first wins, this one drops its
 * copy and uses that file. Where the filesystem has no hard links, the temporary file is dropped and the
 * caller creates the database in place, as before.
 */
export function createModuleDatabase(file: string, code: string): void {
  const dir = path.dirname(file);
  const temporary = temporaryPathBeside(file, 'new');
  withStorage(file, () => {
    fs.mkdirSync(dir, { recursive: true });
    try {
      buildUnsynced(temporary, code);
      syncFile(temporary);
      linkIfAbsent(temporary, file);
    } finally {
      fs.rmSync(temporary, { force: true });
    }
    syncFile(dir);
  }, `module "${code}": database ${file}`);
}

function buildUnsynced(temporary: string, code: string): void {
  const db = new Database(temporary);
  try {
    // Nothing here needs to reach the disk before the one sync of the whole file that follows, nor a
    // journal on disk: a failure leaves only the temporary file, which is removed. Creating a WAL and
    // its index for these two writes took twice as long; the switch to WAL comes last and is kept in
    // the file's header.
    db.pragma('synchronous = OFF');
    db.pragma('journal_mode = MEMORY');
    stampIdentity(db, code);
    createMigrationsTable(db);
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

function linkIfAbsent(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'EEXIST') return;
    if (errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP' || errno === 'ENOSYS') return;
    throw error;
  }
}

function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
