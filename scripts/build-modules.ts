/**
 * Builds every module under modules/ that has sources, offline, into
 * modules/<code>/lib/<platform>-<arch>/<code>.<so|dylib|dll>:
 *
 * - a module directory with a CMakeLists.txt is built with cmake-js in that directory;
 * - a module directory with its own binding.gyp is built with node-gyp there;
 * - otherwise a target named after the module in the top-level binding.gyp is built with node-gyp.
 *
 * A module whose library is newer than its sources, its build files and the SDK is skipped;
 * `--force` rebuilds. Usage: node dist/scripts/build-modules.js [--force] [--quiet] [code...]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, copyFileSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type Builder = 'cmake-js' | 'node-gyp';

export interface BuildOptions {
  /** Build from scratch (node-gyp `rebuild`, cmake-js `rebuild`); for buildModule(s), also ignore freshness. */
  readonly force?: boolean;
  /** Node's headers prefix for node-gyp (`--nodedir`); defaults to resolveNodeDir(). */
  readonly nodeDir?: string;
  /** Parallel compile jobs; defaults to all cores. */
  readonly jobs?: number;
}

export interface BuildResult {
  /** Absolute path of the library the builder produced (inside its build directory). */
  readonly output: string;
  readonly builder: Builder;
  readonly ms: number;
}

export interface ModuleBuildPlan {
  readonly code: string;
  readonly moduleDir: string;
  readonly builder: Builder;
  /** The directory the builder runs in (module directory, or the repository root for the top-level binding.gyp). */
  readonly projectDir: string;
  /** Where the library goes: modules/<code>/lib/<platform>-<arch>/<code>.<ext>. */
  readonly destination: string;
}

export interface ModuleBuildOutcome {
  readonly code: string;
  readonly builder: Builder;
  readonly status: 'built' | 'up-to-date';
  readonly ms: number;
  readonly destination: string;
}

/** A builder failed: the message names the module and carries the builder's output. */
export class ModuleBuildError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'ModuleBuildError';
  }
}

/** `.so`, `.dylib` or `.dll` for a platform. */
export function libraryExtension(platform: NodeJS.Platform = process.platform): string {
  if (platform === 'darwin') return 'dylib';
  if (platform === 'win32') return 'dll';
  return 'so';
}

/** The repository root: the nearest ancestor holding native-sdk/ and package.json. */
export function findRepoRoot(start: string = __dirname): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'native-sdk', 'include', 'erpmod', 'abi.h')) && existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no erpmod repository above ${start}`);
    dir = parent;
  }
}

/**
 * The Node headers prefix (the directory holding include/node/node_api.h) for offline builds:
 * `npm_config_nodedir` when it points at headers, else the running Node's own
 * (path.resolve(process.execPath, '../../include/node') → its prefix).
 */
export function resolveNodeDir(env: NodeJS.ProcessEnv = process.env): string {
  const hasHeaders = (dir: string): boolean => existsSync(join(dir, 'include', 'node', 'node_api.h'));
  const configured = env.npm_config_nodedir ?? env.NPM_CONFIG_NODEDIR;
  if (configured !== undefined && configured !== '' && hasHeaders(resolve(configured))) return resolve(configured);
  const headers = resolve(process.execPath, '../../include/node');
  const prefix = resolve(headers, '../..');
  if (hasHeaders(prefix)) return prefix;
  throw new Error(
    `Node's headers were not found (looked in ${configured ? `npm_config_nodedir=${configured} and ` : ''}${headers}); ` +
      'install them (e.g. the nodejs headers package) or set npm_config_nodedir',
  );
}

/** The directory holding node_api.h, for builds that call the compiler directly (test fixtures, bench copies). */
export function nodeHeadersDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(resolveNodeDir(env), 'include', 'node');
}

function toolPath(request: string): string {
  return require.resolve(request, { paths: [findRepoRoot()] });
}

function run(code: string, builder: Builder, args: string[], cwd: string, env: NodeJS.ProcessEnv): void {
  const result = spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (result.error !== undefined || result.status !== 0) {
    const reason = result.error !== undefined ? result.error.message : result.signal ? `signal ${result.signal}` : `exit code ${result.status}`;
    throw new ModuleBuildError(code, `module "${code}": ${builder} failed in ${cwd} (${reason})\n${output.trim()}`, output);
  }
}

function buildEnv(nodeDir: string): NodeJS.ProcessEnv {
  return { ...process.env, npm_config_nodedir: nodeDir };
}

/** One run of a builder: `node <args>` in `cwd`. */
export interface BuilderStep {
  readonly phase: 'configure' | 'compile';
  readonly builder: Builder;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface StepOptions extends BuildOptions {
  /** cmake-js only: CMake cache variables passed at configure time (`--CD<name>=<value>`). */
  readonly cmakeDefines?: Readonly<Record<string, string>>;
}

/**
 * The node-gyp runs that build `dir` (which holds a binding.gyp): configure only when needed (no
 * build/Makefile yet, or a .gyp/.gypi or module.yml is newer than it), then build.
 */
export function gypSteps(projectDir: string, options: StepOptions = {}): BuilderStep[] {
  const dir = resolve(projectDir);
  const nodeDir = options.nodeDir ?? resolveNodeDir();
  const gyp = toolPath('node-gyp/bin/node-gyp.js');
  const env = buildEnv(nodeDir);
  const common = [`--nodedir=${nodeDir}`, '--loglevel=warn'];
  const jobs = `--jobs=${options.jobs ?? 'max'}`;
  if (options.force === true) return [{ phase: 'compile', builder: 'node-gyp', args: [gyp, 'rebuild', jobs, ...common], cwd: dir, env }];
  const steps: BuilderStep[] = [];
  if (needsGypConfigure(dir)) steps.push({ phase: 'configure', builder: 'node-gyp', args: [gyp, 'configure', ...common], cwd: dir, env });
  steps.push({ phase: 'compile', builder: 'node-gyp', args: [gyp, 'build', jobs, ...common], cwd: dir, env });
  return steps;
}

/**
 * The cmake-js runs that build `dir` (which holds a CMakeLists.txt calling erpmod_add_module): configure
 * when there is no CMake cache yet or CMakeLists.txt is newer than it, then build. Not `compile`, which
 * retries a failed build from scratch and so reports every error twice. Offline: the directory's
 * package.json should carry `"binary": {"napi_versions": [8]}`; npm_config_nodedir is set as well.
 */
export function cmakeSteps(projectDir: string, options: StepOptions = {}): BuilderStep[] {
  const dir = resolve(projectDir);
  const env = buildEnv(options.nodeDir ?? resolveNodeDir());
  const cmakeJs = toolPath('cmake-js/bin/cmake-js');
  const common = ['-d', dir, '-l', 'warn'];
  const defines = Object.entries(options.cmakeDefines ?? {}).map(([name, value]) => `--CD${name}=${value}`);
  const parallel = options.jobs === undefined ? [] : ['--parallel', String(options.jobs)];
  const cache = join(dir, 'build', 'CMakeCache.txt');
  const steps: BuilderStep[] = [];
  // A directory moved (or copied) after a build keeps a cache naming the old source directory, which
  // CMake refuses: configure that one from scratch.
  const moved = existsSync(cache) && cachedSourceDir(cache) !== dir;
  if (options.force === true || moved || !existsSync(cache) || statSync(join(dir, 'CMakeLists.txt')).mtimeMs > statSync(cache).mtimeMs) {
    const fresh = options.force === true || moved;
    steps.push({ phase: 'configure', builder: 'cmake-js', args: [cmakeJs, fresh ? 'reconfigure' : 'configure', ...common, ...defines], cwd: dir, env });
  }
  steps.push({ phase: 'compile', builder: 'cmake-js', args: [cmakeJs, 'build', ...common, ...parallel], cwd: dir, env });
  return steps;
}

function cachedSourceDir(cache: string): string | undefined {
  const match = /^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$/m.exec(readFileSync(cache, 'utf8'));
  return match === null ? undefined : resolve(match[1]!.trim());
}

/** build/Release/<target>.<ext>, where both builders put the library. */
export function builtLibrary(projectDir: string, target: string): string {
  return join(resolve(projectDir), 'build', 'Release', `${target}.${libraryExtension()}`);
}

/** Runs node-gyp in `dir` (which holds a binding.gyp) and returns build/Release/<target>.<ext>. */
export function buildGypProject(projectDir: string, target: string, options: BuildOptions = {}): BuildResult {
  const started = Date.now();
  for (const step of gypSteps(projectDir, options)) run(target, step.builder, [...step.args], step.cwd, step.env);
  const output = builtLibrary(projectDir, target);
  if (!existsSync(output)) throw new ModuleBuildError(target, `module "${target}": node-gyp succeeded but ${output} is missing (is "${target}" a target of ${join(resolve(projectDir), 'binding.gyp')}?)`, '');
  return { output, builder: 'node-gyp', ms: Date.now() - started };
}

function needsGypConfigure(dir: string): boolean {
  const makefile = ['Makefile', 'binding.sln', 'binding.xcodeproj'].map((f) => join(dir, 'build', f)).find((f) => existsSync(f));
  if (makefile === undefined || !existsSync(join(dir, 'build', 'config.gypi'))) return true;
  const configured = statSync(makefile).mtimeMs;
  const gypFiles = [join(dir, 'binding.gyp'), join(dir, 'module.yml'), join(findRepoRoot(), 'native-sdk', 'gyp', 'erpmod.gypi')];
  return gypFiles.some((f) => existsSync(f) && statSync(f).mtimeMs > configured);
}

/** Runs cmake-js in `dir` (see cmakeSteps) and returns build/Release/<target>.<ext>. */
export function buildCmakeProject(projectDir: string, target: string, options: StepOptions = {}): BuildResult {
  const started = Date.now();
  for (const step of cmakeSteps(projectDir, options)) run(target, step.builder, [...step.args], step.cwd, step.env);
  const output = builtLibrary(projectDir, target);
  if (!existsSync(output)) throw new ModuleBuildError(target, `module "${target}": cmake-js succeeded but ${output} is missing (does CMakeLists.txt call erpmod_add_module(${target} ...)?)`, '');
  return { output, builder: 'cmake-js', ms: Date.now() - started };
}

/** Copies `source` to `destination` through a temporary name and a rename: never writes into a file a process may have mapped. */
export function installLibrary(source: string, destination: string): void {
  mkdirSync(dirname(destination), { recursive: true });
  const temporary = `${destination}.tmp-${process.pid}-${Date.now()}`;
  try {
    copyFileSync(source, temporary);
    renameSync(temporary, destination);
  } catch (error) {
    if (existsSync(temporary)) unlinkSync(temporary);
    throw error;
  }
}

function topLevelGypTargets(root: string): string[] {
  const file = join(root, 'binding.gyp');
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/["']target_name["']\s*:\s*["']([^"']+)["']/g)].map((m) => m[1] as string);
}

function readCode(moduleDir: string): string | undefined {
  const file = join(moduleDir, 'module.yml');
  if (!existsSync(file)) return undefined;
  const match = /^code:\s*["']?([a-z0-9-]+)["']?\s*(#.*)?$/m.exec(readFileSync(file, 'utf8'));
  return match?.[1];
}

/** Which modules can be built here, and how. */
export function planModuleBuilds(root: string = findRepoRoot()): ModuleBuildPlan[] {
  const modulesDir = join(root, 'modules');
  if (!existsSync(modulesDir)) return [];
  const gypTargets = topLevelGypTargets(root);
  const plans: ModuleBuildPlan[] = [];
  for (const entry of readdirSync(modulesDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const moduleDir = join(modulesDir, entry.name);
    const code = readCode(moduleDir);
    if (code === undefined) continue;
    let builder: Builder | undefined;
    let projectDir = moduleDir;
    if (existsSync(join(moduleDir, 'CMakeLists.txt'))) builder = 'cmake-js';
    else if (existsSync(join(moduleDir, 'binding.gyp'))) builder = 'node-gyp';
    else if (gypTargets.includes(code)) {
      builder = 'node-gyp';
      projectDir = root;
    }
    if (builder === undefined) continue; // A binary-only module: nothing to build.
    const destination = join(moduleDir, 'lib', `${process.platform}-${process.arch}`, `${code}.${libraryExtension()}`);
    plans.push({ code, moduleDir, builder, projectDir, destination });
  }
  return plans.sort((a, b) => a.code.localeCompare(b.code));
}

function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (path: string): void => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) {
        if (entry === 'build' || entry === 'lib' || entry === 'node_modules') continue;
        visit(join(path, entry));
      }
    } else {
      newest = Math.max(newest, stat.mtimeMs);
    }
  };
  paths.forEach(visit);
  return newest;
}

/** The files whose change makes a module's library stale. */
export function buildInputs(plan: ModuleBuildPlan, root: string = findRepoRoot()): string[] {
  const inputs = [
    join(plan.moduleDir, 'src'),
    join(plan.moduleDir, 'CMakeLists.txt'),
    join(plan.moduleDir, 'binding.gyp'),
    join(plan.moduleDir, 'package.json'),
    join(root, 'native-sdk', 'include'),
    join(root, 'native-sdk', 'gyp'),
    join(root, 'native-sdk', 'cmake'),
    join(root, 'native-sdk', 'link'),
  ];
  if (plan.projectDir === root) inputs.push(join(root, 'binding.gyp'));
  return inputs;
}

export function isUpToDate(plan: ModuleBuildPlan, root: string = findRepoRoot()): boolean {
  if (!existsSync(plan.destination)) return false;
  return statSync(plan.destination).mtimeMs > newestMtime(buildInputs(plan, root));
}

/**
 * Builds one planned module and installs its library. `options.force` skips the freshness check;
 * `clean` (default: options.force) also makes the builder start from scratch.
 */
export function buildModule(plan: ModuleBuildPlan, options: BuildOptions = {}, clean = options.force === true): ModuleBuildOutcome {
  const started = Date.now();
  if (options.force !== true && isUpToDate(plan)) {
    return { code: plan.code, builder: plan.builder, status: 'up-to-date', ms: Date.now() - started, destination: plan.destination };
  }
  const builderOptions = { ...options, force: clean };
  const result =
    plan.builder === 'cmake-js'
      ? buildCmakeProject(plan.projectDir, plan.code, builderOptions)
      : buildGypProject(plan.projectDir, plan.code, builderOptions);
  installLibrary(result.output, plan.destination);
  return { code: plan.code, builder: plan.builder, status: 'built', ms: Date.now() - started, destination: plan.destination };
}

/** Builds every module (or those named in `codes`), in code order; stops at the first failure. */
export function buildModules(options: BuildOptions & { codes?: readonly string[]; root?: string } = {}): ModuleBuildOutcome[] {
  const root = options.root ?? findRepoRoot();
  const plans = planModuleBuilds(root);
  const wanted = options.codes !== undefined && options.codes.length > 0 ? new Set(options.codes) : undefined;
  if (wanted !== undefined) {
    const unknown = [...wanted].filter((code) => !plans.some((plan) => plan.code === code));
    if (unknown.length > 0) throw new Error(`no buildable module named ${unknown.join(', ')} (buildable: ${plans.map((p) => p.code).join(', ') || 'none'})`);
  }
  // Modules sharing the top-level binding.gyp are built by the same node-gyp project: a forced
  // build cleans it once, not once per module.
  const cleaned = new Set<string>();
  const outcomes: ModuleBuildOutcome[] = [];
  for (const plan of plans) {
    if (wanted !== undefined && !wanted.has(plan.code)) continue;
    const clean = options.force === true && !cleaned.has(plan.projectDir);
    cleaned.add(plan.projectDir);
    outcomes.push(buildModule(plan, options, clean));
  }
  return outcomes;
}

function main(argv: string[]): number {
  const force = argv.includes('--force');
  const quiet = argv.includes('--quiet');
  const codes = argv.filter((arg) => !arg.startsWith('--'));
  const started = Date.now();
  try {
    const outcomes = buildModules({ force, codes });
    for (const o of outcomes) {
      if (quiet && o.status === 'up-to-date') continue;
      const what = o.status === 'built' ? `built with ${o.builder} in ${(o.ms / 1000).toFixed(1)} s` : 'up to date';
      process.stdout.write(`${o.code.padEnd(16)} ${what} -> ${o.destination}\n`);
    }
    if (!quiet) process.stdout.write(`${outcomes.length} module(s) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`build-modules: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
