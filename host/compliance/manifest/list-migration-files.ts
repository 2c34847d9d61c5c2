/**
 * The module's migration files, in the order they run: `NNN-name.sql` directly in the migrations
 * directory, sorted by number. Other files are ignored (a README, an editor's backup); a link that leads
 * outside the module directory is refused, since the host would run SQL the module does not own.
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

/** @throws ErpmodError ERPMOD_MANIFEST_INVALID when the directory or a file escapes the module directory. */
export function migrationFiles(loaded: LoadedManifest): MigrationFile[] {
  const dir = loaded.manifest.migrations;
  if (dir === undefined) return [];
  const resolved = resolveInside(loaded.moduleDir, dir);
  if (!resolved.ok) throw invalid(loaded, `migrations: ${resolved.reason}`);
  if (!resolved.exists) return [];
  const realRoot = fs.realpathSync(loaded.moduleDir);

  const files: MigrationFile[] = [];
  const sequences = new Map<number, string>();
  for (const entry of fs.readdirSync(resolved.absolute, { withFileTypes: true })) {
    const match = MIGRATION_FILE_PATTERN.exec(entry.name);
    if (!match) continue;
    const absolutePath = path.join(resolved.absolute, entry.name);
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
    const sequence = Number(match[1]);
    const clash = sequences.get(sequence);
    if (clash !== undefined) throw invalid(loaded, `migrations: ${clash} and ${entry.name} share the number ${match[1]}`);
    sequences.set(sequence, entry.name);
    files.push({ sequence, name: entry.name, absolutePath });
  }
  return files.sort((a, b) => a.sequence - b.sequence);
}

function invalid(loaded: LoadedManifest, message: string): ErpmodError {
  return new ErpmodError('ERPMOD_MANIFEST_INVALID', `${loaded.manifestPath}: ${message}`, {
    details: { file: loaded.manifestPath, issues: [{ path: 'migrations', message }] },
  });
}
