import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { makeModulesDir } from './modules-dir';
import { assertNothingLeft, type ServeProcess } from './serve-process';

/** What the signal tests share: a short shutdown_timeout_ms and the bound a stop must keep with it. */

/** Short enough to keep the tests quick, long enough that a drain never needs all of it here. */
export const SHUTDOWN_MS = 2000;
/** shutdown_timeout_ms, the host's fixed grace for cleanup after it, and room for a busy machine. */
export const STOP_BOUND_MS = SHUTDOWN_MS + 5000 + 4000;
/** A test that hangs would be the bug itself (a host that never stops): fail it instead. */
export const LIMIT = { timeout: 60_000 };
export const SHUTDOWN_ENV = { ERPMOD_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS) };

/** A modules directory with `good-alpha` and, when asked, a module whose initialise never settles (bounded by init_ms). */
export function modulesWith(options: { slowInitMs?: number; requestMs?: number } = {}): string {
  const dir = makeModulesDir(options.slowInitMs === undefined ? ['good-alpha'] : ['good-alpha', 'init-hangs']);
  if (options.slowInitMs !== undefined) rewriteTimeout(path.join(dir, 'init-hangs'), 'init_ms', options.slowInitMs);
  if (options.requestMs !== undefined) rewriteTimeout(path.join(dir, 'good-alpha'), 'request_ms', options.requestMs);
  return dir;
}

function rewriteTimeout(moduleDir: string, key: string, ms: number): void {
  const file = path.join(moduleDir, 'module.yml');
  const text = fs.readFileSync(file, 'utf8');
  const changed = text.includes(`${key}:`) ? text.replace(new RegExp(`${key}: \\d+`), `${key}: ${ms}`) : text.replace('timeouts:\n', `timeouts:\n  ${key}: ${ms}\n`);
  assert.notEqual(changed, text, `${file} has a timeouts block`);
  fs.writeFileSync(file, changed);
}

/** Sends the signal(s), waits for the exit, and checks that nothing of the host is left. */
export async function stopAndMeasure(t: TestContext, serve: ServeProcess, label: string, send: () => void, ports: readonly number[] = []): Promise<{ code: number | string; ms: number }> {
  const started = Date.now();
  send();
  const code = await serve.exited;
  const ms = Date.now() - started;
  await assertNothingLeft(serve, ports);
  t.diagnostic(`${label}: exit ${code} after ${ms} ms, ${serve.descendants.size} child processes, all gone`);
  return { code, ms };
}

/**
 * Drops a module whose initialise takes `initMs` into the modules directory of a running host and asks
 * for a reload of it (which loads it): returns once the host is working on it, with the reload's
 * eventual status (or error) to await.
 */
export async function startSlowReload(serve: ServeProcess, modulesDir: string, initMs: number): Promise<{ outcome: Promise<number | string> }> {
  fs.cpSync(path.join(modulesWith({ slowInitMs: initMs }), 'init-hangs'), path.join(modulesDir, 'init-hangs'), { recursive: true });
  const outcome = serve.adminPost('/plugins/init-hangs/reload');
  await serve.waitForLog((entry) => entry.msg === 'module init-hangs discovered by a reload');
  return { outcome };
}
