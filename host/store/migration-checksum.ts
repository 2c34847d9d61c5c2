import crypto from 'node:crypto';
import fs from 'node:fs';
import type { MigrationFile } from '../compliance/manifest/list-migration-files';
import { ErpmodError } from '../errors';

export interface MigrationText {
  readonly sql: string;
  readonly checksum: string;
}

/** The SQL of a migration and its sha256, which both engines record. */
export function readMigration(migration: MigrationFile): MigrationText {
  const sql = fs.readFileSync(migration.absolutePath, 'utf8');
  return { sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
}

/**
 * True when the migration was applied before (skip it); throws when it was applied with other content:
 * an edited migration is an error, never a silent re-run.
 */
export function alreadyApplied(code: string, migration: MigrationFile, recorded: string | undefined, checksum: string): boolean {
  if (recorded === undefined) return false;
  if (recorded !== checksum) {
    throw new ErpmodError(
      'ERPMOD_MIGRATION_FAILED',
      `module "${code}": migration ${migration.name} was changed after it was applied: expected sha256 ${recorded}, found ${checksum}; add a new migration instead of editing an applied one`,
      { details: { migration: migration.name, expected: recorded, found: checksum } },
    );
  }
  return true;
}
