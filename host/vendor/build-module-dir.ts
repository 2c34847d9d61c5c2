/**
 * `erpmod build`: one module directory with its own builder, offline, into the path module.yml
 * declares for the target (`lib/<platform>-<arch>/<code>.<ext>` by convention). A CMakeLists.txt means
 * cmake-js, a binding.gyp means node-gyp (the functions of scripts/build-modules.ts run them); the
 * builders' own work stays in `build/`. Nothing else in the directory changes.
 */

import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../compliance/manifest/read-manifest';
import { resolveInside } from '../compliance/manifest/resolve-inside';
import { ErpmodError } from '../errors';
import {
  buildCmakeProject, buildGypProject, findRepoRoot, installLibrary, libraryExtension, ModuleBuildError, type Builder,
} from '../../scripts/build-modules';
import { crossBuildWindows } from './cross-build-windows';

export interface BuildDirOptions {
  /** `<platform>-<arch>`; defaults to this machine's. */
  readonly target?: string;
}

export interface BuildDirResult {
  readonly code: string;
  readonly target: string;
  readonly builder: Builder | 'mingw-w64';
  /** Absolute path of the library written. */
  readonly destination: string;
  /** Set when module.yml does not declare the target: the library was written to the conventional path. */
  readonly undeclared: boolean;
  readonly ms: number;
}

export const NATIVE_TARGET = `${process.platform}-${process.arch}`;

/**
 * @throws ErpmodError ERPMOD_BUILD_FAILED (no build files, a broken SDK include, the builder failed),
 *   ERPMOD_TOOLCHAIN_MISSING (no compiler for a cross target), ERPMOD_MANIFEST_* (bad module.yml).
 */
export function buildModuleDir(moduleDir: string, options: BuildDirOptions = {}): BuildDirResult {
  const started = Date.now();
  const loaded = readManifest(moduleDir);
  const { code } = loaded.manifest;
  const dir = loaded.moduleDir;
  const target = options.target ?? NATIVE_TARGET;
  const platform = target.split('-')[0]!;
  const declared = loaded.manifest.binaries[target];
  let destination: string;
  if (declared !== undefined) {
    const resolved = resolveInside(dir, declared);
    if (!resolved.ok) throw new ErpmodError('ERPMOD_BUILD_FAILED', `binaries.${target}: ${resolved.reason}`);
    destination = resolved.absolute;
  } else {
    destination = path.join(dir, 'lib', target, `${code}.${libraryExtension(platform as NodeJS.Platform)}`);
  }

  if (target !== NATIVE_TARGET) {
    if (target !== 'win32-x64') {
      throw new ErpmodError('ERPMOD_TOOLCHAIN_MISSING',
        `erpmod build cannot cross-build for ${target} from ${NATIVE_TARGET}: the cross targets it knows are win32-x64 (MinGW-w64); build on a ${target} machine`);
    }
    const output = crossBuildWindows(dir, code, loaded.manifest.abi.napi);
    installLibrary(output, destination);
    return { code, target, builder: 'mingw-w64', destination, undeclared: declared === undefined, ms: Date.now() - started };
  }

  const builder = builderOf(dir);
  if (builder === 'node-gyp') assertIncludesResolve(dir);
  let output: string;
  try {
    output = builder === 'cmake-js' ? buildCmakeProject(dir, code).output : buildGypProject(dir, code).output;
  } catch (error) {
    if (error instanceof ModuleBuildError) throw new ErpmodError('ERPMOD_BUILD_FAILED', error.message, { cause: error });
    throw new ErpmodError('ERPMOD_BUILD_FAILED', `module "${code}": ${(error as Error).message}`, { cause: error });
  }
  installLibrary(output, destination);
  return { code, target, builder, destination, undeclared: declared === undefined, ms: Date.now() - started };
}

function builderOf(dir: string): Builder {
  if (fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return 'cmake-js';
  if (fs.existsSync(path.join(dir, 'binding.gyp'))) return 'node-gyp';
  throw new ErpmodError('ERPMOD_BUILD_FAILED', `${dir}: expected a CMakeLists.txt (cmake-js) or a binding.gyp (node-gyp), found neither (erpmod new creates one)`);
}

/**
 * node-gyp reports a missing include as a Python traceback; say which path is wrong and what the SDK's
 * path is from here instead (a module directory moved after `erpmod new` is the usual cause).
 */
function assertIncludesResolve(dir: string): void {
  const text = fs.readFileSync(path.join(dir, 'binding.gyp'), 'utf8');
  const gypi = path.join(findRepoRoot(), 'native-sdk', 'gyp', 'erpmod.gypi');
  for (const match of text.matchAll(/["']includes["']\s*:\s*\[([^\]]*)\]/g)) {
    for (const item of match[1]!.matchAll(/["']([^"']+)["']/g)) {
      const include = item[1]!;
      if (!fs.existsSync(path.resolve(dir, include))) {
        const suggestion = path.relative(dir, gypi).split(path.sep).join('/');
        throw new ErpmodError('ERPMOD_BUILD_FAILED',
          `${path.join(dir, 'binding.gyp')}: includes "${include}", which does not exist from ${dir}; the erpmod SDK's gypi is at "${suggestion}" from there`);
      }
    }
  }
}
