/**
 * `erpmod check` without the command line: for each module directory, the static phase for the running
 * platform's binary (or, with allPlatforms, every declared binary), then the load phase in a throw-away
 * child — only for the running platform's binary, and only when its static phase passed, since the static
 * phase is what keeps a library that would crash Node inside dlopen (Node-API 10+) away from dlopen.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ErpmodError, isErpmodError } from '../errors';
import { checkModule } from './check-module';
import { checkStatic } from './check-static';
import { defaultCheckTarget, platformKeyOf } from './default-check-target';
import { DEFAULT_LOAD_TIMEOUT_MS, runLoadCheck } from './load/run-load-check';
import type { LoadReport } from './load/run-load-check';
import { MANIFEST_FILE, readManifest } from './manifest/read-manifest';
import { CHECK_REPORT_SCHEMA_VERSION } from './report/check-report';
import type { CheckReport, LoadPhaseSummary, ModuleResult, ReportedViolation, RuleResult, TargetResult } from './report/check-report';
import { RULES, RULE_IDS } from './rules';
import type { CheckTarget, LoadedManifest, RuleId, StaticReport, Violation } from './types';

export interface RunCheckOptions {
  /** Skip the load phase entirely. */
  readonly staticOnly?: boolean;
  /** Check every binary module.yml declares, for any OS, instead of only this machine's. */
  readonly allPlatforms?: boolean;
  /** Warnings fail a module. */
  readonly strict?: boolean;
  /** Load-phase timeout per module, in ms. */
  readonly timeoutMs?: number;
  /** Defaults to the running process. */
  readonly target?: CheckTarget;
  /** Load phases run at once; defaults to the machine's parallelism, at most 4. */
  readonly concurrency?: number;
}

/** Rules that, when they did not run, always have the same reason. */
const FIXED_SKIP_REASONS: Partial<Record<RuleId, string>> = {
  'binary/signature': 'the host does not require signatures',
};

/**
 * Every `<modulesDir>/<dir>` that holds a module.yml, sorted by name.
 * @throws ErpmodError ERPMOD_CHECK_PATH_UNREADABLE when the directory cannot be read or holds no module.
 */
export function listModuleDirs(modulesDir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modulesDir, { withFileTypes: true });
  } catch (error) {
    throw new ErpmodError('ERPMOD_CHECK_PATH_UNREADABLE',
      `modules directory ${modulesDir}: expected a readable directory, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const dirs = entries
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(modulesDir, e.name, MANIFEST_FILE)))
    .map((e) => path.join(modulesDir, e.name))
    .sort();
  if (dirs.length === 0) {
    throw new ErpmodError('ERPMOD_CHECK_PATH_UNREADABLE', `modules directory ${modulesDir}: expected at least one <dir>/${MANIFEST_FILE}, found none`);
  }
  return dirs;
}

/** @throws ErpmodError ERPMOD_CHECK_PATH_UNREADABLE naming the first argument that is not a readable directory. */
export function assertModuleDirs(dirs: readonly string[]): void {
  for (const dir of dirs) {
    try {
      if (!fs.statSync(dir).isDirectory()) throw new ErpmodError('ERPMOD_CHECK_PATH_UNREADABLE', `${dir}: expected a module directory, got a file`);
      fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
    } catch (error) {
      if (isErpmodError(error)) throw error;
      throw new ErpmodError('ERPMOD_CHECK_PATH_UNREADABLE',
        `${dir}: expected a readable module directory, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
  }
}

/**
 * Checks each module directory; the result is ready for any of the report formatters.
 * @example
 *   const report = await runCheck(['modules/sales'], { strict: true });
 *   process.exitCode = report.ok ? 0 : 1;
 */
export async function runCheck(moduleDirs: readonly string[], options: RunCheckOptions = {}): Promise<CheckReport> {
  const started = performance.now();
  const target = options.target ?? defaultCheckTarget();
  const strict = options.strict ?? false;
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
  assertModuleDirs(moduleDirs);

  const planned = moduleDirs.map((dir) => checkModuleStatically(path.resolve(dir), target, options.allPlatforms ?? false));
  const loadJobs: (() => Promise<void>)[] = [];
  for (const module of planned) {
    for (const t of module.targets) {
      const skip = loadSkipReason(t, target, options.staticOnly ?? false);
      if (skip !== undefined || module.loaded === undefined || t.report.binaryPath === undefined) {
        t.loadSkip = skip ?? 'not run: the static phase failed';
        continue;
      }
      const { loaded } = module;
      const binaryPath = t.report.binaryPath;
      loadJobs.push(async () => {
        t.load = await runLoadCheck(loaded, binaryPath, { timeoutMs });
      });
    }
  }
  await runLimited(loadJobs, options.concurrency ?? Math.min(4, Math.max(1, os.availableParallelism())));

  const modules = planned.map((m) => toModuleResult(m, strict));
  const failed = modules.filter((m) => !m.ok).length;
  return {
    schemaVersion: CHECK_REPORT_SCHEMA_VERSION,
    tool: { name: 'erpmod', version: toolVersion() },
    host: { platform: target.platform, arch: target.arch, node: process.versions.node, napi: target.maxNapi, erpmodAbis: [...target.erpmodAbis] },
    options: { staticOnly: options.staticOnly ?? false, allPlatforms: options.allPlatforms ?? false, strict, timeoutMs },
    modules,
    summary: {
      modules: modules.length,
      passed: modules.length - failed,
      failed,
      errors: modules.reduce((n, m) => n + m.errors, 0),
      warnings: modules.reduce((n, m) => n + m.warnings, 0),
      durationMs: round(performance.now() - started),
    },
    ok: failed === 0,
  };
}

interface PlannedTarget {
  readonly platformKey: string;
  readonly report: StaticReport;
  readonly staticMs: number;
  load?: LoadReport;
  loadSkip?: string;
}

interface PlannedModule {
  readonly dir: string;
  readonly loaded: LoadedManifest | undefined;
  readonly targets: PlannedTarget[];
}

function checkModuleStatically(dir: string, target: CheckTarget, allPlatforms: boolean): PlannedModule {
  const runningKey = platformKeyOf(target);
  let loaded: LoadedManifest;
  try {
    loaded = readManifest(dir);
  } catch (error) {
    if (!isErpmodError(error)) throw error;
    // checkModule turns the manifest's problems into manifest/schema violations.
    const t0 = performance.now();
    const report = checkModule(dir, target);
    return { dir, loaded: undefined, targets: [{ platformKey: runningKey, report, staticMs: performance.now() - t0 }] };
  }
  const declared = Object.keys(loaded.manifest.binaries);
  const keys = allPlatforms && declared.length > 0 ? declared : [runningKey];
  const targets = keys.map((platformKey) => {
    const t0 = performance.now();
    const report = checkStatic(loaded, target, { platformKey });
    return { platformKey, report, staticMs: performance.now() - t0 };
  });
  return { dir, loaded, targets };
}

function loadSkipReason(t: PlannedTarget, target: CheckTarget, staticOnly: boolean): string | undefined {
  if (staticOnly) return 'skipped: --static-only';
  const running = platformKeyOf(target);
  if (t.platformKey !== running) return `skipped: ${t.platformKey} binaries cannot be loaded on ${running}`;
  if (!t.report.ok) return 'not run: the static phase failed, so the library is never loaded';
  return undefined;
}

async function runLimited(jobs: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
}

function toModuleResult(m: PlannedModule, strict: boolean): ModuleResult {
  const targets = m.targets.map((t) => toTargetResult(t, strict));
  const errors = targets.reduce((n, t) => n + t.errors, 0);
  const warnings = targets.reduce((n, t) => n + t.warnings, 0);
  return {
    dir: m.dir,
    manifestPath: m.loaded?.manifestPath ?? path.join(m.dir, MANIFEST_FILE),
    code: m.loaded?.manifest.code ?? null,
    version: m.loaded?.manifest.version ?? null,
    targets,
    errors,
    warnings,
    ok: errors === 0 && (!strict || warnings === 0),
  };
}

function toTargetResult(t: PlannedTarget, strict: boolean): TargetResult {
  const { report, load } = t;
  const violations = [...report.violations, ...(load?.violations ?? [])];
  const ran = new Set<RuleId>([...report.passed, ...report.violations.map((v) => v.rule), ...(load?.ran ?? [])]);
  const firstStaticFailure = RULE_IDS.find((id) => report.violations.some((v) => v.rule === id && v.severity === 'error'));
  const loadSkips = new Map(load?.skipped.map((s) => [s.rule as RuleId, s.reason]) ?? []);

  const rules: RuleResult[] = RULE_IDS.map((id) => {
    const definition = RULES[id];
    const mine = violations.filter((v) => v.rule === id).map(toReported);
    const status = mine.some((v) => v.severity === 'error') ? 'fail' : mine.length > 0 ? 'warn' : ran.has(id) ? 'pass' : 'skip';
    let skipReason: string | null = null;
    if (status === 'skip') {
      if (definition.phase === 'load') skipReason = loadSkips.get(id) ?? t.loadSkip ?? 'not run';
      else skipReason = FIXED_SKIP_REASONS[id] ?? staticSkipReason(id, report, firstStaticFailure);
    }
    return { id, phase: definition.phase, title: definition.title, status, skipReason, violations: mine };
  });
  const errors = violations.filter((v) => v.severity === 'error').length;
  const warnings = violations.length - errors;
  const info = report.binary;
  const napiFromInfo = Number(info?.infoBlock?.fields.napi);
  const loadSummary: LoadPhaseSummary = load === undefined
    ? { ran: false, skipReason: t.loadSkip ?? 'not run', durationMs: null, outcome: null, signal: null, exitCode: null, sandbox: null }
    : {
      ran: true, skipReason: null, durationMs: round(load.durationMs), outcome: load.outcome, signal: load.signal ?? null, exitCode: load.exitCode ?? null,
      sandbox: { ...load.sandbox },
    };
  return {
    platformKey: t.platformKey,
    binaryPath: report.binaryPath ?? null,
    binarySha256: report.binarySha256 ?? null,
    binary: info === undefined ? null : {
      format: info.format, bits: info.bits, endian: info.endian, arch: info.arch, machine: info.machine,
      sharedLibrary: info.isSharedLibrary, napiFromCode: info.declaredNapiFromCode ?? null,
      napiFromInfoBlock: Number.isInteger(napiFromInfo) && napiFromInfo > 0 ? napiFromInfo : null,
    },
    staticMs: round(t.staticMs),
    load: loadSummary,
    rules,
    errors,
    warnings,
    ok: errors === 0 && (!strict || warnings === 0),
  };
}

function staticSkipReason(id: RuleId, report: StaticReport, firstFailure: RuleId | undefined): string {
  if (id === 'binary/sha256' && report.binaryPath !== undefined && report.binary !== undefined) return 'no digest pinned in module.yml';
  if (id === 'meta/identity' && report.binary !== undefined && report.binary.infoBlock === undefined) return 'no info block to compare';
  if (firstFailure !== undefined) return `not run: ${firstFailure} failed`;
  return 'not applicable';
}

function toReported(v: Violation): ReportedViolation {
  return {
    rule: v.rule, severity: v.severity, message: v.message,
    expected: v.expected ?? null, found: v.found ?? null, fix: v.fix ?? null, file: v.file ?? null,
  };
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

let cachedVersion: string | undefined;

/** The package version, found from the compiled file's location (dist/host/compliance → the root). */
function toolVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0';
  for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'erpmod' && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        break;
      }
    } catch {
      // not here: keep climbing
    }
  }
  return cachedVersion;
}
