/**
 * The module's migration files, in the order they run: `NNN-name.sql` directly in the migrations
 * directory, sorted by number. Other files are ignored (a README, an editor's backup); a link that leads
 * outside the module directory is refused, since the host would run SQL the module does not own.
 * Where dialects differ, `migrations/postgres/` and `migrations/sqlite/` hold a file that replaces the
 * portable one of the same name on that engine (or one only that engine runs).
 */

import fs from 'node:fs';
import path from 'node:path';
import { ErpmodError } from '../../errors';
import type { LoadedManifest } from '../types';
import { isWithin, resolveInside } from './resolve-inside';

export const MIGRATION_FILE_PATTERN = /^(\d{3,})-[a-z0-9][a-z0-9_-]*\.sql$/;

export interface MigrationFile {
  /** The number that orders it, e.g. 3 for `003-add-index.sql`. */
  readonly sequence: number;
  /** File name, which the registry records as the migration's identity. */
  readonly name: string;
  readonly absolutePath: string;
}

/** The engines a migrations directory may have a subdirectory of overrides for. */
export const MIGRATION_ENGINES = ['sqlite', 'postgres'] as const;
export type MigrationEngine = (typeof MIGRATION_ENGINES)[number];

/** @throws ErpmodError ERPMOD_MANIFEST_INVALID when the directory or a file escapes the module directory. */
export function migrationFiles(loaded: LoadedManifest, engine: MigrationEngine = 'sqlite'): MigrationFile[] {
  const dir = loaded.manifest.migrations;
  if (dir === undefined) return [];
  const resolved = resolveInside(loaded.moduleDir, dir);
  if (!resolved.ok) throw invalid(loaded, `migrations: ${resolved.reason}`);
  if (!resolved.exists) return [];
  const realRoot = fs.realpathSync(loaded.moduleDir);

  const byName = new Map(listSqlFiles(loaded, realRoot, resolved.absolute).map((file) => [file.name, file]));
  const overrides = path.join(resolved.absolute, engine);
  if (fs.existsSync(overrides)) {
    const real = fs.realpathSync(overrides);
    if (!isWithin(realRoot, real)) throw invalid(loaded, `migrations: ${engine}/ links outside the module directory (to ${real})`);
    if (fs.statSync(real).isDirectory()) {
      for (const file of listSqlFiles(loaded, realRoot, overrides)) byName.set(file.name, file);
    }
  }
  const files = [...byName.values()];
  const sequences = new Map<number, string>();
  for (const file of files) {
    const clash = sequences.get(file.sequence);
    if (clash !== undefined) throw invalid(loaded, `migrations: ${clash} and ${file.name} share the number ${String(file.sequence).padStart(3, '0')}`);
    sequences.set(file.sequence, file.name);
  }
  return files.sort((a, b) => a.sequence - b.sequence);
}

function listSqlFiles(loaded: LoadedManifest, realRoot: string, directory: string): MigrationFile[] {
  const files: MigrationFile[] = [];
  for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
    const match = MIGRATION_FILE_PATTERN.exec(entry.name);
    if (!match) continue;
    const absolutePath = path.join(directory, entry.name);
    if (entry.isSymbolicLink()) {
      let target: string;
      try {
        target = fs.realpathSync(absolutePath);
      } catch {
        throw invalid(loaded, `migrations: ${entry.name} is a broken symbolic link`);
      }
      if (!isWithin(realRoot, target)) throw invalid(loaded, `migrations: ${entry.name} links outside the module directory (to ${target})`);
      if (!fs.statSync(target).isFile()) continue;
    } else if (!entry.isFile()) {
      continue;
    }
    files.push({ sequence: Number(match[1]), name: entry.name, absolutePath });
  }
  return files;
}

function invalid(loaded: LoadedManifest, message: string): ErpmodError {
  return new ErpmodError('ERPMOD_MANIFEST_INVALID', `${loaded.manifestPath}: ${message}`, {
    details: { file: loaded.manifestPath, issues: [{ path: 'migrations', message }] },
  });
}
