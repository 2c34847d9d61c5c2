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

/**
 * The first databases of several modules at once (a first boot), each made as createModuleDatabase
 * makes one, but their syncs issued together: the disk serves them in a few flushes instead of one
 * after another (100 databases on a busy disk: 0.2–1 s one by one, 0.08–0.24 s together), and each
 * directory is synced once. Best effort: a database that could not be made here is left unmade (a file
 * linked whose directory could not be synced is removed again), and the guard makes it, or says why it
 * cannot, when its module loads.
 */
export async function createModuleDatabases(wanted: readonly { readonly file: string; readonly code: string }[]): Promise<void> {
  const built: { file: string; temporary: string }[] = [];
  for (const { file, code } of wanted) {
    const temporary = temporaryPathBeside(file, 'new');
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      buildUnsynced(temporary, code);
      built.push({ file, temporary });
    } catch {
      removeQuietly(temporary);
    }
  }
  const synced = await Promise.all(built.map(({ temporary }) => syncFileAsync(temporary).then(() => true, () => false)));
  const linked = new Map<string, string[]>();
  built.forEach(({ file, temporary }, i) => {
    try {
      if (synced[i] !== true || linkIfAbsent(temporary, file) !== 'linked') return;
      const dir = path.dirname(file);
      linked.set(dir, [...(linked.get(dir) ?? []), file]);
    } catch {
      // Left to the guard.
    } finally {
      removeQuietly(temporary);
    }
  });
  await Promise.all(
    [...linked].map(([dir, files]) =>
      syncFileAsync(dir).catch(() => {
        for (const file of files) removeQuietly(file);
      }),
    ),
  );
}

/** What this best-effort pass leaves behind where it cannot remove it is a stray `.new` file at worst. */
function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // A path that cannot be looked at (its directory is a file): nothing was made there.
  }
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

/** `linked`: the file is ours; `exists`: another host's came first; `unsupported`: no hard links here. */
function linkIfAbsent(from: string, to: string): 'linked' | 'exists' | 'unsupported' {
  try {
    fs.linkSync(from, to);
    return 'linked';
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'EEXIST') return 'exists';
    if (errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EOPNOTSUPP' || errno === 'ENOSYS') return 'unsupported';
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

async function syncFileAsync(file: string): Promise<void> {
  const handle = await fs.promises.open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
