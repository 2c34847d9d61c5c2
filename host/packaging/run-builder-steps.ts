/**
 * Runs a module's builder steps (scripts/build-modules.ts gypSteps / cmakeSteps) as child processes
 * without blocking the event loop, so `erpmod build` can show progress and `erpmod dev` keeps serving
 * while it builds. A failed step becomes ERPMOD_BUILD_FAILED naming the compiler errors once each as
 * file:line; the builder's whole output is kept in build/erpmod-build.log.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BuilderStep } from '../../scripts/build-modules';
import { ErpmodError } from '../errors';
import { compilerErrors, formatCompilerError, withoutBuilderNoise } from './compiler-diagnostics';

export type BuildPhase = 'configure' | 'compile' | 'install';

export interface PhaseEvent {
  readonly phase: BuildPhase;
  readonly state: 'start' | 'done';
  /** Elapsed milliseconds of the phase, when done. */
  readonly ms?: number;
}

export type PhaseListener = (event: PhaseEvent) => void;

/** @throws ErpmodError ERPMOD_BUILD_FAILED */
export async function runBuilderSteps(code: string, moduleDir: string, steps: readonly BuilderStep[], onPhase: PhaseListener = () => {}): Promise<void> {
  const log: string[] = [];
  try {
    for (const step of steps) {
      const started = Date.now();
      onPhase({ phase: step.phase, state: 'start' });
      const result = await runStep(step);
      log.push(`$ node ${step.args.join(' ')}\n${result.output}`);
      if (result.status !== 0) {
        throw new ErpmodError('ERPMOD_BUILD_FAILED', failureMessage(code, moduleDir, step, result, writeLog(moduleDir, log)));
      }
      onPhase({ phase: step.phase, state: 'done', ms: Date.now() - started });
    }
  } finally {
    if (log.length > 0) writeLog(moduleDir, log);
  }
}

interface StepResult {
  readonly status: number | null;
  readonly reason: string;
  readonly output: string;
}

function runStep(step: BuilderStep): Promise<StepResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...step.args], { cwd: step.cwd, env: step.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', (error) => resolve({ status: null, reason: error.message, output: Buffer.concat(chunks).toString('utf8') }));
    child.once('close', (status, signal) => {
      resolve({ status, reason: signal !== null ? `signal ${signal}` : `exit code ${String(status)}`, output: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

function failureMessage(code: string, moduleDir: string, step: BuilderStep, result: StepResult, logFile: string | undefined): string {
  const errors = compilerErrors(result.output, moduleDir, step.cwd);
  const head = `module "${code}": ${step.builder} ${step.phase} failed (${result.reason})`;
  const where = logFile === undefined ? '' : `\n(the builder's whole output: ${logFile})`;
  if (errors.length > 0) return `${head}:\n${errors.map(formatCompilerError).join('\n')}${where}`;
  return `${head}:\n${withoutBuilderNoise(result.output)}${where}`;
}

function writeLog(moduleDir: string, log: readonly string[]): string | undefined {
  const file = path.join(moduleDir, 'build', 'erpmod-build.log');
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, log.join('\n'));
    return file;
  } catch {
    return undefined;
  }
}
