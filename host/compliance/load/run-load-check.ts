/**
 * The load phase's parent side: starts load-child.js in a fresh Node process, enforces the timeout
 * (SIGKILL: a library spinning inside dlopen ignores anything gentler), and turns what the child
 * reported — or how it died — into load/* violations. The checker itself never dlopens vendor code.
 *
 * The child runs inside the strongest sandbox this machine can start (sandbox-plan.ts): a level that fails
 * before the child reported anything — before it could reach dlopen, so before any vendor code ran — is
 * abandoned for the next one, and the report names the level that ran.
 *
 * Call it only for a binary the static phase accepted, for the running platform: a library declaring
 * Node-API 10+ crashes Node 20 inside dlopen, and a library for another platform cannot load at all.
 */

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ErpmodError } from '../../errors';
import { descendantsOf, waitUntilGone } from '../../process-tree';
import { RULES } from '../rules';
import type { LoadedManifest, RuleId, Violation } from '../types';
import { LOAD_STEPS, MAX_REPORT_BYTES, parseChildMessage } from './child-protocol';
import type { ChildMessage, LoadRequest, LoadStep } from './child-protocol';
import { prepareLoadDir, removeLoadDir } from './prepare-load-dir';
import type { LoadDir } from './prepare-load-dir';
import { planSandboxes } from './sandbox-plan';
import type { SandboxInfo, SandboxMechanism, SandboxPlan } from './sandbox-plan';

export const DEFAULT_LOAD_TIMEOUT_MS = 10_000;
const STDERR_TAIL_BYTES = 4096;

export interface LoadCheckOptions {
  /** How long the child may take from start to its last report; default 10 s. */
  readonly timeoutMs?: number;
  /** The compiled child entry; defaults to load-child.js next to this file. */
  readonly childScript?: string;
  /**
   * `auto` (the default): the strongest sandbox that starts. `none` runs the child unconfined; it exists
   * for the tests that prove the sandbox makes a difference and is not offered on the command line.
   */
  readonly sandbox?: 'auto' | 'none';
}

export type LoadOutcome = 'completed' | 'crashed' | 'timed-out' | 'exited';

export interface LoadReport {
  readonly binaryPath: string;
  readonly durationMs: number;
  readonly timeoutMs: number;
  /** How the child ended: it finished its steps, died by a signal, was killed at the timeout, or exited early. */
  readonly outcome: LoadOutcome;
  readonly signal: string | undefined;
  readonly exitCode: number | undefined;
  /** Load rules the child began, in order. */
  readonly ran: readonly LoadStep[];
  readonly passed: readonly LoadStep[];
  /** Load rules never begun because an earlier step failed, with the reason. */
  readonly skipped: readonly { readonly rule: LoadStep; readonly reason: string }[];
  readonly violations: readonly Violation[];
  readonly ok: boolean;
  /** How the child was confined. */
  readonly sandbox: SandboxInfo;
}

const STEP_ACTIVITY: Readonly<Record<LoadStep, string>> = {
  'load/dlopen': 'process.dlopen (the library\'s registration function was running)',
  'load/handler': 'Handler()',
  'load/identity': 'getModuleCode() / getModuleVersion()',
  'load/routes': 'getHandler()',
};

interface ChildEnd {
  /** Set when the command could not be started at all (bwrap or setpriv missing, say). */
  readonly spawnError?: Error;
  readonly messages: readonly ChildMessage[];
  readonly timedOut: boolean;
  readonly signal: NodeJS.Signals | null;
  readonly exitCode: number | null;
  readonly stderrTail: string;
}

/**
 * @example
 *   const report = await runLoadCheck(readManifest('modules/sales'), '/abs/modules/sales/lib/linux-x64/sales.so');
 *   for (const v of report.violations) console.error(`${v.rule}: ${v.message}`);
 * @throws ErpmodError ERPMOD_LOAD_CHECK_FAILED when the child cannot be started at all (the checker's
 *   problem, not the module's).
 */
export async function runLoadCheck(loaded: LoadedManifest, binaryPath: string, options: LoadCheckOptions = {}): Promise<LoadReport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS;
  const file = path.resolve(binaryPath);
  const request: LoadRequest = {
    file,
    code: loaded.manifest.code,
    version: loaded.manifest.version,
    routes: loaded.manifest.routes.map((r) => ({ method: r.method, path: r.path, execution: r.execution })),
  };
  const script = options.childScript ?? path.join(__dirname, 'load-child.js');
  // Node would start, fail to find the script and exit 1, which would read as the module's fault.
  if (!fs.existsSync(script)) {
    throw new ErpmodError('ERPMOD_LOAD_CHECK_FAILED', `cannot start the load-phase child: ${script} does not exist (is dist/ fully built?)`);
  }
  let dir: LoadDir;
  try {
    dir = prepareLoadDir(loaded.moduleDir, file, script, process.execPath);
  } catch (error) {
    throw new ErpmodError('ERPMOD_LOAD_CHECK_FAILED', `cannot prepare the load-phase child's private directory: ${(error as Error).message}`, { cause: error });
  }
  try {
    const childArgs = [dir.childScript, JSON.stringify({ ...request, file: dir.file, ...(dir.file === file ? {} : { origin: file }) })];
    const plans = planSandboxes({
      node: process.execPath, childArgs, readDirs: [dir.moduleDir, path.dirname(dir.childScript)], workDir: dir.workDir,
      cwd: dir.moduleDir, dropTo: dir.dropTo, dropProblem: dir.dropProblem,
    });
    const candidates = options.sandbox === 'none' ? plans.slice(-1) : plans.slice(Math.max(0, plans.findIndex((p) => p.info.mechanism === workingMechanism)));
    const failures: string[] = [];
    for (const [i, plan] of candidates.entries()) {
      const last = i === candidates.length - 1;
      if (plan.unavailable !== undefined && !last) {
        failures.push(`${plan.info.mechanism}: ${plan.unavailable}`);
        continue;
      }
      const started = performance.now();
      const end = viaInit(plan, await runChild(plan, childEnv(dir), timeoutMs, dir.moduleDir));
      const durationMs = performance.now() - started;
      if (!stopping && !last && failedToStart(end)) {
        failures.push(`${plan.info.mechanism}: ${end.spawnError?.message ?? (lastLines(end.stderrTail) || `exit code ${String(end.exitCode)}`)}`);
        continue;
      }
      if (end.spawnError !== undefined) {
        throw new ErpmodError('ERPMOD_LOAD_CHECK_FAILED', `cannot start the load-phase child ${script}: ${end.spawnError.message}`, { cause: end.spawnError });
      }
      if (!stopping && failedToStart(end)) {
        // Not even the unconfined child reached dlopen: the checker is broken here, not the module.
        const said = lastLines(end.stderrTail) || `exit code ${String(end.exitCode ?? end.signal)}`;
        throw new ErpmodError('ERPMOD_LOAD_CHECK_FAILED',
          `the load-phase child ${script} ended before it reached dlopen (${said})${failures.length === 0 ? '' : `; sandboxes tried first: ${failures.join('; ')}`}`);
      }
      if (options.sandbox !== 'none') workingMechanism = plan.info.mechanism;
      const sandbox = failures.length === 0 || plan.info.note === null
        ? plan.info
        : { ...plan.info, note: `${plan.info.note} (${failures.join('; ')})` };
      return buildReport(file, end, timeoutMs, durationMs, sandbox);
    }
    throw new ErpmodError('ERPMOD_LOAD_CHECK_FAILED', 'cannot start the load-phase child: no sandbox level was tried');
  } finally {
    removeLoadDir(dir);
  }
}

/**
 * bwrap runs the child under its own PID 1, which exits with 128 + the signal when the child is killed
 * by one: read that back as the signal, as a directly spawned child would report it. (A library that
 * calls exit(139) itself is then reported as SIGSEGV; both are load/dlopen failures.)
 */
function viaInit(plan: SandboxPlan, end: ChildEnd): ChildEnd {
  if (plan.info.mechanism !== 'bwrap' || end.signal !== null || end.exitCode === null || end.exitCode <= 128) return end;
  const signal = Object.entries(os.constants.signals).find(([, n]) => n === end.exitCode! - 128)?.[0] as NodeJS.Signals | undefined;
  return signal === undefined ? end : { ...end, signal, exitCode: null };
}

/** The first level that started, so later modules in this process do not retry the ones that cannot. */
let workingMechanism: SandboxMechanism | undefined;

/** The child reported nothing, so it never reached dlopen: the sandbox around it failed, not the module. */
function failedToStart(end: ChildEnd): boolean {
  if (end.spawnError !== undefined) return true;
  return !end.timedOut && end.messages.length === 0 && (end.exitCode !== 0 || end.signal !== null);
}

/**
 * Vendor code sees none of the checker's environment (CI secrets live there): only a search path, its
 * private directory as HOME and TMPDIR, and the caller's library search path for the library's own
 * dependencies.
 */
function childEnv(dir: LoadDir): NodeJS.ProcessEnv {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: dir.workDir,
    TMPDIR: dir.workDir,
    ...(process.env.LD_LIBRARY_PATH === undefined ? {} : { LD_LIBRARY_PATH: process.env.LD_LIBRARY_PATH }),
    ...(process.platform === 'win32' ? { SystemRoot: process.env.SystemRoot, PATH: process.env.PATH } : {}),
  };
}

/** Children still running, killed if the checker exits first so that a hanging library is not orphaned. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
/** Set once the command is being stopped: a killed child is then not a reason to try the next level. */
let stopping = false;

/**
 * SIGKILLs every load-phase child still running and every process below it; for a process that exits
 * now (it cannot wait). Returns their pids.
 */
export function killRunningLoadChecks(): number[] {
  stopping = true;
  const pids = [...running].flatMap((child) => (child.pid === undefined ? [] : [child.pid, ...descendantsOf(child.pid)]));
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already, or inside a namespace whose init took it down first
    }
  }
  return pids;
}

/** How long a stopped checker waits for its killed children to be gone before it exits anyway. */
const STOP_WAIT_MS = 2000;

/**
 * killRunningLoadChecks(), then resolves once they have stopped: a command being stopped exits only
 * then, so nothing it started still spins in a hanging library's dlopen after it is gone (bwrap's PID
 * namespace dies after bwrap itself, asynchronously).
 */
export async function stopRunningLoadChecks(): Promise<void> {
  await waitUntilGone(killRunningLoadChecks(), STOP_WAIT_MS);
}

function runChild(plan: SandboxPlan, env: NodeJS.ProcessEnv, timeoutMs: number, cwd: string): Promise<ChildEnd> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killRunningLoadChecks);
  }
  return new Promise((resolve) => {
    const child = spawn(plan.command, plan.args, {
      cwd,
      env,
      // stdout is the vendor's to print on; fd 3 carries the report.
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    running.add(child);
    let report = '';
    let reportBytes = 0;
    let stderr = '';
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    const channel = child.stdio[3] as NodeJS.ReadableStream | null;
    channel?.setEncoding('utf8');
    channel?.on('data', (chunk: string) => {
      reportBytes += Buffer.byteLength(chunk);
      if (reportBytes <= MAX_REPORT_BYTES) report += chunk;
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
    });
    child.on('error', (error) => {
      running.delete(child);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ spawnError: error, messages: [], timedOut: false, signal: null, exitCode: null, stderrTail: stderr.trim() });
    });
    child.on('close', (exitCode, signal) => {
      running.delete(child);
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const messages = report.split('\n').flatMap((line) => {
        const message = line === '' ? undefined : parseChildMessage(line);
        return message === undefined ? [] : [message];
      });
      resolve({ messages, timedOut, signal, exitCode, stderrTail: stderr.trim() });
    });
  });
}

function buildReport(file: string, end: ChildEnd, timeoutMs: number, durationMs: number, sandbox: SandboxInfo): LoadReport {
  const violations: Violation[] = [];
  const ran: LoadStep[] = [];
  let done = false;
  for (const message of end.messages) {
    if (message.type === 'done') done = true;
    else if (message.type === 'step') {
      if (!ran.includes(message.rule)) ran.push(message.rule);
    } else {
      violations.push(violation(message.rule, file, message.message, message.expected, message.found));
    }
  }
  const current = ran.at(-1) ?? 'load/dlopen';
  if (ran.length === 0) ran.push('load/dlopen');
  const stderrNote = end.stderrTail === '' ? '' : `; its last output: ${lastLines(end.stderrTail)}`;

  let outcome: LoadOutcome = 'completed';
  if (end.timedOut) {
    outcome = 'timed-out';
    violations.push(violation(current, file,
      `the load did not finish within ${timeoutMs} ms: the child was still in ${STEP_ACTIVITY[current]} and was killed`,
      `finishes within ${timeoutMs} ms`, `still running after ${timeoutMs} ms`,
      `${RULES[current].fix}; if the machine is merely slow, raise --timeout`));
  } else if (!done && end.signal !== null) {
    outcome = 'crashed';
    violations.push(violation(current, file,
      `the child process crashed with ${end.signal} during ${STEP_ACTIVITY[current]}${stderrNote}`,
      'no crash', `killed by ${end.signal}`, crashFix(file, current)));
  } else if (!done) {
    outcome = 'exited';
    violations.push(violation(current, file,
      `the child process exited with code ${String(end.exitCode)} during ${STEP_ACTIVITY[current]}${stderrNote}`,
      'the load steps run to the end', `exit code ${String(end.exitCode)}`,
      `the library ended the process during ${STEP_ACTIVITY[current]}: a library must not call exit(), _exit() or abort(); report errors by throwing`));
  } else if (end.signal !== null || (end.exitCode ?? 0) !== 0) {
    // Every step finished, then the process died on the way out (an env cleanup hook, a static
    // destructor): a real defect, but none of the load rules' own checks failed.
    violations.push({
      ...violation('load/dlopen', file,
        `every load step finished, but the child then ${end.signal === null ? `exited with code ${String(end.exitCode)}` : `crashed with ${end.signal}`} while exiting${stderrNote}`,
        'a clean exit', end.signal ?? `exit code ${String(end.exitCode)}`,
        'check the library\'s cleanup hooks and static destructors'),
      severity: 'warning',
    });
  }

  const failed = new Set(violations.filter((v) => v.severity === 'error').map((v) => v.rule));
  const firstFailed = LOAD_STEPS.find((s) => failed.has(s));
  const skipped = LOAD_STEPS.filter((s) => !ran.includes(s)).map((rule) => ({
    rule, reason: firstFailed === undefined ? 'not reached' : `not run: ${firstFailed} failed`,
  }));
  return {
    binaryPath: file,
    durationMs,
    timeoutMs,
    outcome,
    signal: end.signal ?? undefined,
    exitCode: end.exitCode ?? undefined,
    ran,
    passed: ran.filter((s) => !violations.some((v) => v.rule === s)),
    skipped,
    violations,
    ok: failed.size === 0,
    sandbox,
  };
}

function violation(rule: RuleId, file: string, message: string, expected?: string, found?: string, fix?: string): Violation {
  return {
    rule,
    severity: RULES[rule].severity,
    message,
    ...(expected === undefined ? {} : { expected }),
    ...(found === undefined ? {} : { found }),
    fix: fix ?? RULES[rule].fix,
    file,
  };
}

/** A crash's fix: how to see it outside the checker, where a debugger can show the faulting frame. */
function crashFix(file: string, step: LoadStep): string {
  const reproduce = `gdb --args node -e "process.dlopen({ exports: {} }, '${file}', require('os').constants.dlopen.RTLD_NOW)"`;
  return step === 'load/dlopen'
    ? `the library crashes while it loads (its registration function or a static constructor): reproduce it with ${reproduce} and fix the faulting code`
    : `the library crashes in ${STEP_ACTIVITY[step]}: reproduce it under a debugger (dlopen as in: ${reproduce}, then call that method) and fix the faulting code`;
}

function lastLines(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.slice(-3).join(' | ').slice(-500);
}
