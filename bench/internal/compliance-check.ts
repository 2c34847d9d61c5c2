/**
 * Compliance-check cost per module binary: the static phase (`checkStaticFile`, what the host runs
 * before every dlopen) timed in this process, and the CLI's load phase (`erpmod check` without
 * `--static-only`, a throw-away child per module) from its JSON report — skipped, with the reason,
 * where the CLI cannot run it.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { checkStaticFile, defaultCheckTarget } from '../../host/compliance/check-static';
import { readManifest } from '../../host/compliance/manifest/read-manifest';
import { HOST_CLI } from '../lib/paths';
import { median, percentile } from '../lib/stats';

export interface StaticCheckFigure {
  readonly module: string;
  readonly binaryBytes: number;
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly ok: boolean;
}

export interface LoadPhaseFigure {
  readonly module: string;
  /** The CLI's own staticMs for the binary. */
  readonly staticMs: number;
  /** load.durationMs: the child that dlopens and initializes the module. */
  readonly loadMs: number;
  /** Wall time of `erpmod check <dir>` and of `erpmod check --static-only <dir>` (Node start included). */
  readonly cliWallMs: number;
  readonly cliStaticOnlyWallMs: number;
}

export interface ComplianceFigures {
  readonly staticChecks: StaticCheckFigure[];
  readonly loadPhase: LoadPhaseFigure[] | { skipped: string };
}

export function measureStaticChecks(moduleDirs: readonly string[], iterations: number): StaticCheckFigure[] {
  const target = defaultCheckTarget();
  const key = `${process.platform}-${process.arch}`;
  return moduleDirs.map((dir) => {
    const loaded = readManifest(dir);
    const binary = path.resolve(dir, loaded.manifest.binaries[key]!);
    let report = checkStaticFile(loaded, binary, target);
    for (let i = 0; i < 3; i++) checkStaticFile(loaded, binary, target);
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const started = performance.now();
      report = checkStaticFile(loaded, binary, target);
      times.push(performance.now() - started);
    }
    return {
      module: loaded.manifest.code,
      binaryBytes: fs.statSync(binary).size,
      medianMs: median(times),
      p90Ms: percentile(times, 90),
      ok: report.ok,
    };
  });
}

interface CheckJson {
  modules?: { code?: string; targets?: { staticMs?: number; load?: { ran?: boolean; durationMs?: number; skipReason?: string | null } }[] }[];
}

export function measureLoadPhase(moduleDirs: readonly string[], repeats: number): LoadPhaseFigure[] | { skipped: string } {
  const figures: LoadPhaseFigure[] = [];
  for (const dir of moduleDirs) {
    const full = runCheck(['check', '--format', 'json', dir], repeats);
    if ('skipped' in full) return full;
    const staticOnly = runCheck(['check', '--static-only', '--format', 'json', dir], repeats);
    if ('skipped' in staticOnly) return staticOnly;
    const targets = full.reports.map((r) => r.modules?.[0]?.targets?.[0]);
    if (targets.some((t) => t?.load?.ran !== true || typeof t.load.durationMs !== 'number')) {
      return { skipped: `erpmod check ran no load phase for ${path.basename(dir)} (${targets[0]?.load?.skipReason ?? 'no load block in the JSON report'})` };
    }
    figures.push({
      module: full.reports[0]!.modules?.[0]?.code ?? path.basename(dir),
      staticMs: median(targets.map((t) => t!.staticMs ?? Number.NaN)),
      loadMs: median(targets.map((t) => t!.load!.durationMs!)),
      cliWallMs: median(full.wallMs),
      cliStaticOnlyWallMs: median(staticOnly.wallMs),
    });
  }
  return figures;
}

function runCheck(args: string[], repeats: number): { reports: CheckJson[]; wallMs: number[] } | { skipped: string } {
  const reports: CheckJson[] = [];
  const wallMs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    const result = spawnSync(process.execPath, [HOST_CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
    wallMs.push(performance.now() - started);
    if (result.error !== undefined) return { skipped: `erpmod ${args.join(' ')}: ${result.error.message}` };
    if (result.status !== 0 && result.status !== 1) {
      return { skipped: `erpmod ${args.join(' ')} exited ${result.status}: ${(result.stderr || result.stdout).trim().split('\n')[0] ?? ''}` };
    }
    try {
      reports.push(JSON.parse(result.stdout) as CheckJson);
    } catch {
      return { skipped: `erpmod ${args.join(' ')} printed no JSON report` };
    }
  }
  return { reports, wallMs };
}
