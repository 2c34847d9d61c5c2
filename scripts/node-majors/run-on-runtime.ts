/**
 * Runs scripts/node-majors/serve-once.js under one Node binary in a child process (a library that crashes
 * Node takes only the child down, and the signal is reported) and reads its one-line JSON report.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { tail, type NodeRuntime } from './obtain-node-runtime';

/** One request as serve-once.js reports it. */
export interface RequestOutcome {
  readonly module: string;
  readonly method: string;
  readonly route: string;
  readonly path: string;
  readonly expected: number;
  readonly status?: number;
  readonly ms?: number;
  readonly ok: boolean;
  readonly problem?: string;
}

export interface ModuleOutcome {
  readonly dir: string;
  readonly code: string;
  readonly version?: string;
  readonly library?: string;
  /** sha256 of the library file this runtime loaded. */
  readonly sha256?: string;
  readonly ok: boolean;
  readonly stage?: string;
  readonly error?: string;
  readonly sqlite?: string;
  readonly load_ms?: number;
  readonly init_ms?: number;
  readonly routes?: number;
  readonly requests: readonly RequestOutcome[];
}

export interface RunnerReport {
  readonly node: string;
  readonly napi: string;
  readonly abi?: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly modules: readonly ModuleOutcome[];
  readonly subscriber_failures?: readonly { publisher: string; topic: string; subscriber: string; error: string }[];
}

export interface RuntimeRun {
  readonly runtime: NodeRuntime;
  /** Extra Node flags the run needed (`--experimental-sqlite` where node:sqlite is still behind one). */
  readonly flags: readonly string[];
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly runMs: number;
  readonly report: RunnerReport | undefined;
  readonly stderrTail: string;
  /** Set when the child timed out or could not be started. */
  readonly error?: string;
}

export interface RunOnRuntimeOptions {
  readonly root: string;
  readonly moduleDirs: readonly string[];
  readonly timeoutMs: number;
}

const RUNNER = path.join('scripts', 'node-majors', 'serve-once.js');
const SQLITE_PROBE = "try { require('node:sqlite'); process.stdout.write('yes') } catch { process.stdout.write('no') }";

/** NODE_OPTIONS meant for the machine's Node may hold flags another major rejects. */
function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** `--experimental-sqlite` when node:sqlite loads only with it; nothing when it loads without, or not at all (Node 20). */
export function sqliteFlags(binary: string): string[] {
  const probe = (flags: string[]): boolean =>
    spawnSync(binary, [...flags, '-e', SQLITE_PROBE], { encoding: 'utf8', env: childEnv(), timeout: 15_000 }).stdout === 'yes';
  if (probe([])) return [];
  return probe(['--experimental-sqlite']) ? ['--experimental-sqlite'] : [];
}

export function runOnRuntime(runtime: NodeRuntime, options: RunOnRuntimeOptions): RuntimeRun {
  const flags = sqliteFlags(runtime.binary);
  const args = [...flags, path.join(options.root, RUNNER), '--root', options.root, ...options.moduleDirs];
  const started = performance.now();
  const child = spawnSync(runtime.binary, args, {
    cwd: options.root,
    encoding: 'utf8',
    env: childEnv(),
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 16 * 1024 * 1024,
  });
  const runMs = Math.round(performance.now() - started);
  const timedOut = (child.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return {
    runtime,
    flags,
    exitCode: child.status,
    signal: child.signal,
    runMs,
    report: parseReport(child.stdout),
    stderrTail: tail(child.stderr, 800),
    error: timedOut ? `no report within ${options.timeoutMs} ms` : child.error?.message,
  };
}

function parseReport(stdout: string | null): RunnerReport | undefined {
  const line = (stdout ?? '')
    .split('\n')
    .reverse()
    .find((candidate) => candidate.startsWith('{'));
  if (line === undefined) return undefined;
  try {
    const report = JSON.parse(line) as RunnerReport;
    return Array.isArray(report.modules) ? report : undefined;
  } catch {
    return undefined;
  }
}

/** Every way this run fell short of "loaded and served every module", one sentence each; empty when it did not. */
export function describeFailures(run: RuntimeRun, moduleCount: number): string[] {
  const who = `Node ${run.runtime.version} (${run.runtime.binary})`;
  const crash: string[] = [];
  if (run.error !== undefined) crash.push(run.error);
  if (run.signal !== null) crash.push(`killed by ${run.signal}`);
  else if (run.exitCode !== 0 && run.exitCode !== null && run.report?.ok !== false) crash.push(`exit code ${run.exitCode}`);
  if (run.report === undefined) crash.push('no JSON report on stdout');
  const problems: string[] = [];
  if (crash.length > 0) problems.push(`${who}: ${crash.join(', ')}; stderr: ${run.stderrTail || '(empty)'}`);
  const report = run.report;
  if (report === undefined) return problems;
  if (report.error !== undefined) problems.push(`${who}: ${report.error}`);
  for (const module of report.modules) {
    if (!module.ok) problems.push(`${who}: module ${module.code} failed at ${module.stage ?? 'an unknown stage'}: ${module.error ?? 'no message'}`);
  }
  for (const failure of report.subscriber_failures ?? []) {
    problems.push(`${who}: ${failure.subscriber} failed on ${failure.topic} from ${failure.publisher}: ${failure.error}`);
  }
  if (report.error === undefined && report.modules.length !== moduleCount) {
    problems.push(`${who}: reported ${report.modules.length} modules, expected ${moduleCount}`);
  }
  if (problems.length === 0 && (run.exitCode !== 0 || !report.ok)) problems.push(`${who}: exit code ${run.exitCode}, report not ok`);
  return problems;
}
