/**
 * `erpmod dev`: puts a module directory's serving files (module.yml, this machine's library, the
 * migrations, README.md) into the dev host's modules directory, as `erpmod install` would from a pack,
 * through a staging directory and a rename, so the host never reads a half-copied module.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { LoadedManifest } from '../compliance/types';
import { resolveInside } from '../compliance/manifest/resolve-inside';
import { ErpmodError, messageOf } from '../errors';
import { NATIVE_TARGET } from './build-module-dir';

export function stageDevModule(loaded: LoadedManifest, modulesDir: string): string {
  const { code } = loaded.manifest;
  const target = path.join(modulesDir, code);
  const staging = `${target}.staging-${process.pid}`;
  const aside = `${target}.previous-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    fs.mkdirSync(staging, { recursive: true });
    const copy = (relative: string): void => {
      const resolved = resolveInside(loaded.moduleDir, relative);
      if (!resolved.ok) throw new ErpmodError('ERPMOD_MANIFEST_INVALID', `${relative}: ${resolved.reason}`);
      if (!fs.existsSync(resolved.absolute)) return;
      const destination = path.join(staging, path.relative(loaded.moduleDir, resolved.absolute));
      fs.mkdirSync(path.dirname(destination), { recursive: true });
      fs.cpSync(resolved.absolute, destination, { recursive: true, dereference: true });
    };
    copy('module.yml');
    copy('README.md');
    const binary = loaded.manifest.binaries[NATIVE_TARGET];
    if (binary !== undefined) copy(binary);
    if (loaded.manifest.migrations !== undefined) copy(loaded.manifest.migrations);
    fs.rmSync(aside, { recursive: true, force: true });
    if (fs.existsSync(target)) fs.renameSync(target, aside);
    fs.renameSync(staging, target);
    fs.rmSync(aside, { recursive: true, force: true });
    return target;
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (error instanceof ErpmodError) throw error;
    throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot put ${code} into ${modulesDir}: ${messageOf(error)}`, { cause: error });
  }
}
