import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { ErpmodError } from '../../errors';
import type { Logger } from '../../logger';
import type { ModuleDatabaseRecord, PluginRepository } from '../../registry/plugin-repository';
import type { ModuleStore } from '../module-store';
import { withStorage } from '../../registry/storage-error';
import { handOverChecked } from './checked-databases';
import { createModuleDatabase, createModuleDatabases } from './create-module-database';
import { readIdentity, stampIdentity } from './module-identity';
import { moduleDatabasePath, openModuleDatabase } from './open-module-database';

export interface GuardModuleDataInput {
  readonly registry: PluginRepository;
  readonly dataDir: string;
  readonly code: string;
  readonly logger: Logger;
  /** Where module data lives; the guard covers SQLite files (absent store: SQLite). */
  readonly store?: ModuleStore;
  /** The operator said (`--accept-new-data`) to take whatever database is there now. */
  readonly acceptNewData?: boolean;
}

const ACCEPT_FLAG = '--accept-new-data';

/**
 * Runs before a module's database is opened for loading. The registry remembers each module's database by
 * a random id that is also written into the database itself (`_erpmod_identity`); a file that is missing,
 * empty, another module's or another database than the one recorded is refused with
 * ERPMOD_MODULE_DATA_MISSING naming the file, so a lost database never becomes a silent fresh start.
 * A module seen for the first time gets a new identity, or adopts the database already there.
 */
export function guardModuleData(input: GuardModuleDataInput): void {
  const { registry, dataDir, code, logger } = input;
  // A PostgreSQL schema lives on the database server, which has its own backups and roles; not guarded here.
  if (input.store !== undefined && input.store.engine !== 'sqlite') return;
  const file = moduleDatabasePath(dataDir, code);
  let record = registry.moduleDatabase(code);
  if (record !== undefined && input.acceptNewData === true) {
    registry.acceptModuleDatabase(code, { file, forgottenDatabaseId: record.databaseId });
    logger.warn({ module: code, file, forgottenDatabaseId: record.databaseId }, `module ${code}: ${ACCEPT_FLAG} given: the registry forgot its database and takes ${file} as it is now`);
    record = undefined;
  }

  const size = sizeOf(file);
  if (record !== undefined && size === undefined) refuse(code, file, record, registry.file, 'no file is there');
  if (record !== undefined && size === 0) refuse(code, file, record, registry.file, 'the file is empty (0 bytes)');

  // A module seen for the first time, with no file yet: its database is made whole, identity included.
  if (record === undefined && size === undefined) createModuleDatabase(file, code);
  const db = openModuleDatabase(dataDir, code);
  try {
    checkIdentity(input, db, file, size, record);
  } catch (error) {
    db.close();
    throw error;
  }
  handOverChecked(db);
}

/**
 * Before a boot loads its modules one by one: makes together the databases of those seen for the first
 * time (no registry record, no file), which guardModuleData would otherwise make one after another, each
 * waiting for the disk. The guard then finds each in place, with its identity, and claims it as it
 * claims a database adopted from a host booting alongside.
 */
export async function createFirstDatabasesAhead(input: Pick<GuardModuleDataInput, 'registry' | 'dataDir' | 'store'> & { readonly codes: readonly string[] }): Promise<void> {
  if (input.store !== undefined && input.store.engine !== 'sqlite') return;
  const wanted = input.codes
    .map((code) => ({ code, file: moduleDatabasePath(input.dataDir, code) }))
    .filter(({ code, file }) => input.registry.moduleDatabase(code) === undefined && absent(file));
  // One alone gains nothing from company: the guard makes it as it loads.
  if (wanted.length > 1) await createModuleDatabases(wanted);
}

/** The file's identity against the registry's record; a module seen for the first time gets one or adopts the file. */
function checkIdentity(input: GuardModuleDataInput, db: Database.Database, file: string, size: number | undefined, record: ModuleDatabaseRecord | undefined): void {
  const { registry, dataDir, code, logger } = input;
  const found = readIdentity(db);
  if (found !== undefined && found.moduleCode !== code) {
    throw new ErpmodError(
      'ERPMOD_MODULE_DATA_MISSING',
      `module "${code}": expected its own database in ${file}, found the database of module "${found.moduleCode}" (database id ${found.databaseId}); put ${code}'s file back (from a backup) and move this one to ${moduleDatabasePath(dataDir, found.moduleCode)} if it belongs there`,
      { details: { file, expected: code, found: found.moduleCode } },
    );
  }
  if (record !== undefined) {
    if (found === undefined) refuse(code, file, record, registry.file, 'the file there has no erpmod identity (it is not the database erpmod created)');
    if (found.databaseId !== record.databaseId) refuse(code, file, record, registry.file, `the file there is another database (id ${found.databaseId}): it was replaced`);
    return;
  }
  const identity = found ?? stampIdentity(db, code);
  if (found === undefined && size !== undefined && size > 0) logger.info({ module: code, file, databaseId: identity.databaseId }, `module ${code}: adopted its existing database ${file}`);

  const claimed = registry.claimModuleDatabase(code, identity.databaseId, file);
  if (claimed.databaseId !== identity.databaseId) {
    refuse(code, file, claimed, registry.file, `the file there is another database (id ${identity.databaseId})`);
  }
}

function refuse(code: string, file: string, record: ModuleDatabaseRecord, registryFile: string, found: string): never {
  const seen = record.migrations.length === 0 ? 'no migrations recorded yet' : `${record.migrations.length} migration(s) applied: ${record.migrations.join(', ')}`;
  throw new ErpmodError(
    'ERPMOD_MODULE_DATA_MISSING',
    `module "${code}": expected its database ${file} (database id ${record.databaseId}, created ${record.recordedAt}, ${seen}, as the registry ${registryFile} records), but ${found}. ` +
      `Refusing to start the module on a fresh database: put the file back from a backup, or, to start it with new data on purpose, restart once with \`erpmod serve ${ACCEPT_FLAG} ${code}\``,
    { details: { file, expectedDatabaseId: record.databaseId, migrations: record.migrations } },
  );
}

/** True when nothing is at `file`; a path that cannot be looked at is the guard's to report, not absent. */
function absent(file: string): boolean {
  try {
    return sizeOf(file) === undefined;
  } catch {
    return false;
  }
}

function sizeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return withStorage(file, () => {
      throw error;
    });
  }
}
