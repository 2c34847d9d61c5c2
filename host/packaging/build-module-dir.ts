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
  builtLibrary, cmakeSteps, gypSteps, installLibrary, libraryExtension, type Builder, type BuilderStep,
} from '../../scripts/build-modules';
import { crossBuildWindows } from './cross-build-windows';
import { runBuilderSteps, type PhaseListener } from './run-builder-steps';
import { locateKit } from './scaffold-module';

export interface BuildDirOptions {
  /** `<platform>-<arch>`; defaults to this machine's. */
  readonly target?: string;
  /** Told when each phase (configure, compile, install) starts and ends. */
  readonly onPhase?: PhaseListener;
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
export async function buildModuleDir(moduleDir: string, options: BuildDirOptions = {}): Promise<BuildDirResult> {
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
    const output = crossBuildWindows(dir, code, loaded.manifest.abi.napi, loaded.manifest.version);
    installLibrary(output, destination);
    return { code, target, builder: 'mingw-w64', destination, undeclared: declared === undefined, ms: Date.now() - started };
  }

  const builder = builderOf(dir);
  let steps: BuilderStep[];
  try {
    if (builder === 'node-gyp') {
      assertGypIncludesResolve(dir);
      steps = gypSteps(dir);
    } else {
      assertCmakeIncludesResolve(dir);
      steps = cmakeSteps(dir, { cmakeDefines: { ERPMOD_CMAKE: path.join(locateKit(dir).root, 'native-sdk', 'cmake', 'erpmod.cmake') } });
    }
  } catch (error) {
    if (error instanceof ErpmodError) throw error;
    throw new ErpmodError('ERPMOD_BUILD_FAILED', `module "${code}": ${(error as Error).message}`, { cause: error });
  }
  await runBuilderSteps(code, dir, steps, options.onPhase);
  const output = builtLibrary(dir, code);
  if (!fs.existsSync(output)) {
    throw new ErpmodError('ERPMOD_BUILD_FAILED', `module "${code}": ${builder} succeeded but ${output} is missing (the build file must name the library after the module's code, "${code}")`);
  }
  const installing = Date.now();
  options.onPhase?.({ phase: 'install', state: 'start' });
  installLibrary(output, destination);
  options.onPhase?.({ phase: 'install', state: 'done', ms: Date.now() - installing });
  return { code, target, builder, destination, undeclared: declared === undefined, ms: Date.now() - started };
}

function builderOf(dir: string): Builder {
  if (fs.existsSync(path.join(dir, 'CMakeLists.txt'))) return 'cmake-js';
  if (fs.existsSync(path.join(dir, 'binding.gyp'))) return 'node-gyp';
  throw new ErpmodError('ERPMOD_BUILD_FAILED', `${dir}: expected a CMakeLists.txt (cmake-js) or a binding.gyp (node-gyp), found neither (erpmod new creates one)`);
}

/** Where the erpmod package's `file` (under native-sdk/) is, written relative to `dir`: node's resolution from there, else this kit's. */
function sdkFileFrom(dir: string, ...file: string[]): string {
  return path.relative(dir, path.join(locateKit(dir).root, 'native-sdk', ...file)).split(path.sep).join('/');
}

/**
 * node-gyp reports a missing include as a Python traceback; say which path is wrong and where the erpmod
 * package's gypi is from here instead (a module directory moved after `erpmod new` is the usual cause).
 */
function assertGypIncludesResolve(dir: string): void {
  const text = fs.readFileSync(path.join(dir, 'binding.gyp'), 'utf8');
  for (const match of text.matchAll(/["']includes["']\s*:\s*\[([^\]]*)\]/g)) {
    for (const item of match[1]!.matchAll(/["']([^"']+)["']/g)) {
      const include = item[1]!;
      if (!fs.existsSync(path.resolve(dir, include))) {
        throw new ErpmodError('ERPMOD_BUILD_FAILED',
          `${path.join(dir, 'binding.gyp')}: includes "${include}", which does not exist from ${dir}; the erpmod SDK's gypi is at "${sdkFileFrom(dir, 'gyp', 'erpmod.gypi')}" from there`);
      }
    }
  }
}

/**
 * The same for a CMakeLists.txt that includes the SDK's erpmod.cmake by a path (modules created before
 * the kit was a package): CMake would stop with its own error, which cmake-js buries in its banners.
 */
function assertCmakeIncludesResolve(dir: string): void {
  const file = path.join(dir, 'CMakeLists.txt');
  const text = fs.readFileSync(file, 'utf8');
  for (const match of text.matchAll(/^\s*include\(\s*"?([^")\s]*erpmod\.cmake)"?/gm)) {
    const include = match[1]!;
    const resolved = path.resolve(dir, include.replace(/\$\{CMAKE_CURRENT_SOURCE_DIR\}|\$\{CMAKE_SOURCE_DIR\}/g, dir));
    if (/\$\{/.test(include.replace(/\$\{CMAKE_(CURRENT_)?SOURCE_DIR\}/g, ''))) continue;
    if (!fs.existsSync(resolved)) {
      throw new ErpmodError('ERPMOD_BUILD_FAILED',
        `${file}: includes "${include}", which does not exist from ${dir}; the erpmod SDK's CMake glue is at "\${CMAKE_CURRENT_SOURCE_DIR}/${sdkFileFrom(dir, 'cmake', 'erpmod.cmake')}" from there ` +
          '(or let node find it: see the CMakeLists.txt erpmod new writes)');
    }
  }
}
