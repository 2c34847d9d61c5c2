/**
 * Cross-builds a module's `.dll` for win32-x64 on Linux or macOS with MinGW-w64, calling the compiler
 * directly (node-gyp and cmake-js only build for the machine they run on):
 *
 *   x86_64-w64-mingw32-dlltool -d node.def -l libnode.a        an import library for node.exe
 *   x86_64-w64-mingw32-g++ -shared -static -O2 -DNAPI_VERSION=8 -DNAPI_EXTERN=__declspec(dllimport)
 *       -I<sdk>/include -I<node headers> -I<node-addon-api> src/*.cc libnode.a -o <code>.dll
 *
 * `node.def` lists every function the Node-API headers declare, so whatever the module calls resolves
 * to node.exe; the linker imports only what is used. `-static` links the C and C++ runtimes in, so the
 * .dll needs nothing on the target machine but Windows and node.exe. Sources are every .c / .cc /
 * .cpp / .cxx file under src/; intermediate files go to build/win32-x64/.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ErpmodError } from '../errors';
import { findExecutable } from '../find-executable';
import { findRepoRoot, resolveNodeDir } from '../../scripts/build-modules';

const INSTALL_HINT = 'install MinGW-w64 (Debian/Ubuntu: apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64; macOS: brew install mingw-w64)';
const CXX_EXTENSIONS = ['.cc', '.cpp', '.cxx'];
const ENTRY_POINTS = new Set(['napi_register_module_v1', 'node_api_module_get_api_version_v1']);

/** Returns the absolute path of the .dll it built (inside build/win32-x64/). */
export function crossBuildWindows(moduleDir: string, code: string, napiVersion: number, version: string): string {
  const sources = listSources(path.join(moduleDir, 'src'));
  if (sources.length === 0) throw new ErpmodError('ERPMOD_BUILD_FAILED', `${moduleDir}/src: no .c, .cc, .cpp or .cxx file to cross-build`);
  const cxx = sources.some((s) => CXX_EXTENSIONS.includes(path.extname(s)));
  // The posix threading flavour of MinGW's g++ has std::mutex, which node-addon-api needs.
  const compiler = cxx
    ? requireTool(['x86_64-w64-mingw32-g++-posix', 'x86_64-w64-mingw32-g++'], 'compiling C++ for win32-x64')
    : requireTool(['x86_64-w64-mingw32-gcc'], 'compiling C for win32-x64');
  const dlltool = requireTool(['x86_64-w64-mingw32-dlltool'], 'the import library for node.exe');

  const nodeHeaders = path.join(resolveNodeDir(), 'include', 'node');
  const root = findRepoRoot();
  const workDir = path.join(moduleDir, 'build', 'win32-x64');
  fs.mkdirSync(workDir, { recursive: true });

  const def = path.join(workDir, 'node.def');
  fs.writeFileSync(def, `LIBRARY node.exe\nEXPORTS\n${napiFunctions(nodeHeaders).map((name) => `  ${name}`).join('\n')}\n`);
  const importLibrary = path.join(workDir, 'libnode.a');
  run(dlltool, ['-d', def, '-l', importLibrary], code);

  const output = path.join(workDir, `${code}.dll`);
  const args = [
    '-shared', '-static', '-O2', '-s',
    `-DNAPI_VERSION=${napiVersion}`, '-DNAPI_EXTERN=__declspec(dllimport)',
    // module.yml's identity, as the gyp and CMake glue pass it (erpmod/identity.h).
    `-DERPMOD_BUILD_CODE="${code}"`, `-DERPMOD_BUILD_VERSION="${version}"`,
    `-I${path.join(root, 'native-sdk', 'include')}`, `-I${nodeHeaders}`,
  ];
  if (cxx) {
    args.push('-std=gnu++17', '-fexceptions', '-DNAPI_CPP_EXCEPTIONS', '-DNODE_ADDON_API_CPP_EXCEPTIONS_ALL', '-DNODE_ADDON_API_DISABLE_DEPRECATED',
      `-I${nodeAddonApiDir(moduleDir, root)}`);
  }
  args.push('-o', output, ...sources, importLibrary);
  run(compiler, args, code);
  return output;
}

/** Every napi_* / node_api_* function the Node-API headers declare, but the two a module defines itself. */
export function napiFunctions(nodeHeaders: string): string[] {
  const names = new Set<string>();
  for (const header of ['js_native_api.h', 'node_api.h']) {
    const file = path.join(nodeHeaders, header);
    if (!fs.existsSync(file)) throw new ErpmodError('ERPMOD_TOOLCHAIN_MISSING', `${file} is missing: Node's headers are needed for the import library`);
    for (const match of fs.readFileSync(file, 'utf8').matchAll(/\bNAPI_EXTERN\b[^;{]*?\b((?:napi|node_api)_[a-z0-9_]+)\s*\(/g)) {
      if (!ENTRY_POINTS.has(match[1]!)) names.add(match[1]!);
    }
  }
  return [...names].sort();
}

function listSources(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...listSources(full));
    else if (['.c', ...CXX_EXTENSIONS].includes(path.extname(entry.name))) found.push(full);
  }
  return found.sort();
}

function nodeAddonApiDir(moduleDir: string, root: string): string {
  try {
    return path.dirname(require.resolve('node-addon-api/package.json', { paths: [moduleDir, root] }));
  } catch (error) {
    throw new ErpmodError('ERPMOD_TOOLCHAIN_MISSING', `node-addon-api is not installed next to ${moduleDir} or the erpmod SDK (npm install node-addon-api)`, { cause: error });
  }
}

/** The first of `names` on PATH. @throws ErpmodError ERPMOD_TOOLCHAIN_MISSING naming the tool and how to install it. */
function requireTool(names: readonly string[], purpose: string): string {
  for (const name of names) {
    const found = findExecutable(name, process.env.PATH);
    if (found !== undefined) return found;
  }
  throw new ErpmodError('ERPMOD_TOOLCHAIN_MISSING', `${names[names.length - 1]} is not on PATH (needed for ${purpose}); ${INSTALL_HINT}`);
}

function run(tool: string, args: readonly string[], code: string): void {
  const result = spawnSync(tool, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error !== undefined || result.status !== 0) {
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
    const reason = result.error?.message ?? (result.signal !== null ? `signal ${result.signal}` : `exit code ${result.status}`);
    throw new ErpmodError('ERPMOD_BUILD_FAILED', `module "${code}": ${path.basename(tool)} failed (${reason})\n${output}`);
  }
}
