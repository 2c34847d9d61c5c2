/**
 * Resolves a path from module.yml against the module directory and proves it stays inside, both
 * lexically (`..`) and physically (symbolic links). A path that escapes could make the host load or
 * hash a file the module's owner does not control.
 */

import fs from 'node:fs';
import path from 'node:path';

export type ResolveInsideResult =
  | { readonly ok: true; readonly absolute: string; readonly exists: boolean }
  | { readonly ok: false; readonly reason: string };

/** True for `/x`, `C:\x`, `C:/x`, `\\server\share`: absolute on any platform a manifest may come from. */
export function isAbsoluteAnywhere(p: string): boolean {
  return path.posix.isAbsolute(p) || path.win32.isAbsolute(p) || /^[A-Za-z]:/.test(p);
}

export function resolveInside(moduleDir: string, relative: string): ResolveInsideResult {
  if (relative === '') return { ok: false, reason: 'expected a non-empty relative path' };
  if (relative.includes('\0')) return { ok: false, reason: 'the path contains a NUL character' };
  if (isAbsoluteAnywhere(relative)) {
    return { ok: false, reason: `expected a path relative to the module directory, got absolute path ${JSON.stringify(relative)}` };
  }
  if (relative.includes('\\')) {
    return { ok: false, reason: `use forward slashes in module.yml paths, got ${JSON.stringify(relative)}` };
  }
  const root = path.resolve(moduleDir);
  const absolute = path.resolve(root, relative);
  if (!isWithin(root, absolute)) {
    return { ok: false, reason: `${JSON.stringify(relative)} resolves outside the module directory` };
  }

  // The file may not exist yet (a platform built elsewhere); then the nearest existing ancestor decides.
  const realRoot = realpathOrSelf(root);
  let probe = absolute;
  let rest = '';
  while (!fs.existsSync(probe) && probe !== root) {
    // A dangling link could point anywhere once its target appears: refuse it now.
    if (isSymbolicLink(probe)) return { ok: false, reason: `${JSON.stringify(relative)} goes through a broken symbolic link` };
    rest = rest === '' ? path.basename(probe) : path.join(path.basename(probe), rest);
    probe = path.dirname(probe);
  }
  let realProbe: string;
  try {
    realProbe = fs.realpathSync(probe);
  } catch {
    return { ok: false, reason: `${JSON.stringify(relative)} cannot be resolved (symbolic link loop or no permission)` };
  }
  if (!isWithin(realRoot, realProbe)) {
    return { ok: false, reason: `${JSON.stringify(relative)} leaves the module directory through a symbolic link (to ${realProbe})` };
  }
  return { ok: true, absolute, exists: rest === '' };
}

export function isWithin(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

function realpathOrSelf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

function isSymbolicLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
