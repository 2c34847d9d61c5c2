import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ErpmodError } from '../../errors';
import { storageErrorOf, withStorage } from '../../registry/storage-error';

/** One database of the backup: its path inside the backup directory, its size and digest. */
export interface BackedUpFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface Backup {
  /** The backup's directory, complete: written under another name and renamed once every copy checked out. */
  readonly dir: string;
  readonly files: readonly BackedUpFile[];
  readonly ms: number;
}

/** What a backup's `backup.json` says: enough to tell a whole backup from a partial or altered one. */
export interface BackupManifest {
  readonly format: 'erpmod-backup/1';
  readonly createdAt: string;
  readonly dataDir: string;
  readonly files: readonly BackedUpFile[];
}

const REGISTRY = 'erpmod.sqlite';

/**
 * Copies an SQLite host's databases — the registry and every module's — into a new directory under
 * `into`, while the host runs or not. The copies show the databases at nearly one moment: a read
 * snapshot of each is taken first, one right after the other (microseconds apart, where copying them one
 * after another would leave seconds between the first and the last on a large data directory; the host's
 * `-wal` files grow meanwhile, as its checkpoints cannot pass a snapshot still being read), then
 * each is copied from its snapshot with SQLite's online backup, which writers do not wait for and which
 * includes what is still in the `-wal` files. Each copy must pass `PRAGMA quick_check`; the directory is
 * written as `.<name>.partial` and renamed once complete, so a failed backup leaves no directory that
 * looks whole. `shadow/` (rebuilt from the modules at boot) and `admin-token` (a secret) are not copied.
 */
export async function backUpDatabases(dataDir: string, into: string, now = new Date()): Promise<Backup> {
  const started = performance.now();
  const sources = databasesOf(dataDir);
  const name = `erpmod-backup-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
  const dir = path.join(into, name);
  const partial = path.join(into, `.${name}.partial`);
  withStorage(into, () => fs.mkdirSync(into, { recursive: true }));
  if (fs.existsSync(dir)) throw new ErpmodError('ERPMOD_BACKUP_FAILED', `${dir} exists already: expected a new backup directory; wait a second or choose another --to`);
  fs.rmSync(partial, { recursive: true, force: true });
  withStorage(partial, () => fs.mkdirSync(path.join(partial, 'modules'), { recursive: true }));

  const open: Database.Database[] = [];
  try {
    for (const source of sources) {
      const file = path.join(dataDir, source);
      open.push(withStorage(file, () => new Database(file, { readonly: true, fileMustExist: true })));
    }
    // The snapshots, back to back: nothing else runs between them.
    for (const [i, db] of open.entries()) {
      withStorage(path.join(dataDir, sources[i]!), () => {
        db.exec('BEGIN');
        db.prepare('SELECT count(*) FROM sqlite_master').get();
      });
    }
    const files: BackedUpFile[] = [];
    for (const [i, source] of sources.entries()) {
      const copy = path.join(partial, source);
      try {
        await open[i]!.backup(copy);
      } catch (error) {
        throw storageErrorOf(error, copy) ?? error;
      }
      checkCopy(copy, source);
      files.push({ path: source, ...digestOf(copy) });
    }
    const manifest: BackupManifest = { format: 'erpmod-backup/1', createdAt: now.toISOString(), dataDir: path.resolve(dataDir), files };
    withStorage(path.join(partial, 'backup.json'), () => fs.writeFileSync(path.join(partial, 'backup.json'), `${JSON.stringify(manifest, null, 2)}\n`));
    withStorage(dir, () => fs.renameSync(partial, dir));
    return { dir, files, ms: performance.now() - started };
  } catch (error) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw error;
  } finally {
    for (const db of open) db.close();
  }
}

/** The registry and each module database, relative to the data directory; throws when it is not a host's data directory. */
function databasesOf(dataDir: string): string[] {
  if (!fs.existsSync(path.join(dataDir, REGISTRY))) {
    throw new ErpmodError(
      'ERPMOD_BACKUP_FAILED',
      `${path.resolve(dataDir)} has no ${REGISTRY}: expected the data directory of a host that ran on SQLite (data_dir, --data-dir)`,
    );
  }
  const modulesDir = path.join(dataDir, 'modules');
  const modules = fs.existsSync(modulesDir) ? fs.readdirSync(modulesDir).filter((file) => file.endsWith('.sqlite')).sort() : [];
  return [REGISTRY, ...modules.map((file) => path.join('modules', file))];
}

/** Size and sha256 of a file read in pieces: a module database may be larger than memory. */
function digestOf(file: string): { bytes: number; sha256: string } {
  const hash = crypto.createHash('sha256');
  const chunk = Buffer.allocUnsafe(1 << 20);
  const fd = fs.openSync(file, 'r');
  let bytes = 0;
  try {
    for (let read = fs.readSync(fd, chunk); read > 0; read = fs.readSync(fd, chunk)) {
      hash.update(chunk.subarray(0, read));
      bytes += read;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Makes the copy one self-contained file (rollback journal instead of WAL: no `-wal` or `-shm` beside it
 * to lose or to mix up; the host switches it back to WAL when it opens it) and checks it.
 */
function checkCopy(copy: string, source: string): void {
  const db = new Database(copy, { fileMustExist: true });
  try {
    db.pragma('journal_mode = DELETE');
    const verdict = db.pragma('quick_check', { simple: true });
    if (verdict !== 'ok') throw new ErpmodError('ERPMOD_BACKUP_FAILED', `the copy of ${source} failed PRAGMA quick_check: expected "ok", got ${JSON.stringify(verdict)}; the backup was not kept`);
  } finally {
    db.close();
  }
}
