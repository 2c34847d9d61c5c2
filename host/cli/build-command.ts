/**
 * `erpmod build [MODULE_DIR]`: builds the module with its own builder (node-gyp or cmake-js), offline,
 * into the path module.yml declares for the target; `--target win32-x64` cross-builds with MinGW-w64.
 * Exit 0 built, 1 the build failed or a toolchain is missing, 2 usage.
 */

import path from 'node:path';
import { ARCHES, PLATFORMS } from '../compliance/manifest/manifest-schema';
import { ErpmodError } from '../errors';
import { buildModuleDir, NATIVE_TARGET } from '../packaging/build-module-dir';
import { positionalArgs, runVendorCommand, stringOption } from '../packaging/run-vendor-command';
import { buildProgress } from './build-progress';
import { parseOptions } from './parse-options';

export const BUILD_USAGE = `usage: erpmod build [MODULE_DIR] [--target <platform>-<arch>]

Builds the module in MODULE_DIR (default: the current directory) with the builder its build file names
(CMakeLists.txt: cmake-js; binding.gyp: node-gyp), offline, and writes the library to the path
module.yml declares for the target (by convention lib/<platform>-<arch>/<code>.<so|dylib|dll>).
The builders' own files stay in build/ (their whole output of the last build in build/erpmod-build.log);
nothing else changes. On a terminal each phase (configure, compile, install) is shown with its time;
otherwise one summary line is printed. A compiler error is shown once, as file:line.

options:
  --target <platform>-<arch>   default ${NATIVE_TARGET} (this machine); win32-x64 cross-builds with
                               MinGW-w64 (x86_64-w64-mingw32-gcc/g++ and -dlltool on PATH)

exit codes: 0 built, 1 build failed or toolchain missing, 2 usage
`;

export function buildCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(BUILD_USAGE, argv, async () => {
    const { values, positionals } = parseOptions(argv, { target: { type: 'string' } });
    const [dir = '.'] = positionalArgs(positionals, 0, 1, 'at most one module directory');
    const target = stringOption(values.target);
    if (target !== undefined) {
      const [platform, arch, ...rest] = target.split('-');
      if (rest.length > 0 || !(PLATFORMS as readonly string[]).includes(platform ?? '') || !(ARCHES as readonly string[]).includes(arch ?? '')) {
        throw new ErpmodError('ERPMOD_USAGE', `--target: expected <platform>-<arch> with platform ${PLATFORMS.join('|')} and arch ${ARCHES.join('|')}, got "${target}"`);
      }
    }
    const progress = buildProgress();
    let result;
    try {
      result = await buildModuleDir(dir, { target, onPhase: progress.listener });
    } finally {
      progress.stop();
    }
    const shown = path.relative(process.cwd(), result.destination) || result.destination;
    process.stdout.write(`built ${result.code} for ${result.target} with ${result.builder} in ${(result.ms / 1000).toFixed(1)} s -> ${shown}\n`);
    if (result.undeclared) {
      process.stdout.write(`note: module.yml declares no binaries.${result.target}; add "${result.target}: ${path.relative(path.resolve(dir), result.destination).split(path.sep).join('/')}" to ship it\n`);
    }
    return 0;
  });
}
