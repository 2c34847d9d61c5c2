import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../compliance/manifest/read-manifest';
import type { LoadedManifest } from '../compliance/types';
import { ErpmodError } from '../errors';
import type { Logger } from '../logger';

export type DiscoveredModule =
  | { readonly ok: true; readonly dir: string; readonly loaded: LoadedManifest }
  | { readonly ok: false; readonly dir: string; readonly code: string; readonly error: ErpmodError };

/**
 * Every `<modulesDir>/<dir>/module.yml`, read and validated. A directory without one is ignored with a
 * debug line; a bad manifest or a second module claiming a code is reported under the directory's name.
 */
export function discoverModules(modulesDir: string, logger: Logger): DiscoveredModule[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modulesDir, { withFileTypes: true });
  } catch (error) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `modules directory ${modulesDir}: expected a readable directory, got: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const found: DiscoveredModule[] = [];
  const claimed = new Map<string, string>();
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(modulesDir, entry.name);
    if (!fs.existsSync(path.join(dir, 'module.yml'))) {
      logger.debug({ dir }, 'directory has no module.yml; ignored');
      continue;
    }
    try {
      const loaded = readManifest(dir);
      const owner = claimed.get(loaded.manifest.code);
      if (owner !== undefined) {
        throw new ErpmodError(
          'ERPMOD_DUPLICATE_MODULE',
          `${loaded.manifestPath}: code "${loaded.manifest.code}" is already declared by ${owner}/module.yml; each module needs its own code`,
        );
      }
      claimed.set(loaded.manifest.code, dir);
      found.push({ ok: true, dir, loaded });
    } catch (error) {
      const wrapped = error instanceof ErpmodError ? error : new ErpmodError('ERPMOD_MANIFEST_UNREADABLE', `${dir}/module.yml: ${String(error)}`, { cause: error });
      found.push({ ok: false, dir, code: entry.name, error: wrapped });
    }
  }
  return found;
}
