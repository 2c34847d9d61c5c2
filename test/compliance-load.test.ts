import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readManifest } from '../host/compliance';
import { runLoadCheck } from '../host/compliance/load';
import type { LoadReport } from '../host/compliance/load';
import { runCheck } from '../host/compliance/run-check';
import { isErpmodError } from '../host/errors';
import { buildProbeModule } from './fixtures/checker/build-checker-fixtures';
import type { ProbeVariant } from './fixtures/checker/build-checker-fixtures';
import { FIXTURE_MODULES_DIR, PLATFORM_KEY } from './support/paths';

function binaryOf(moduleDir: string): string {
  const loaded = readManifest(moduleDir);
  return path.join(loaded.moduleDir, loaded.manifest.binaries[PLATFORM_KEY]!);
}

async function loadFixture(name: string, timeoutMs = 10_000): Promise<LoadReport> {
  const dir = path.join(FIXTURE_MODULES_DIR, name);
  return runLoadCheck(readManifest(dir), binaryOf(dir), { timeoutMs });
}

async function loadProbe(variants: readonly ProbeVariant[]): Promise<LoadReport> {
  const dir = buildProbeModule(variants);
  return runLoadCheck(readManifest(dir), binaryOf(dir), { timeoutMs: 10_000 });
}

function rulesOf(report: LoadReport): string[] {
  return [...new Set(report.violations.map((v) => v.rule))];
}

describe('load phase', () => {
  it('passes good-alpha on every load rule, in a child that finishes its steps', async () => {
    const report = await loadFixture('good-alpha');
    assert.deepEqual(report.violations, []);
    assert.equal(report.ok, true);
    assert.equal(report.outcome, 'completed');
    assert.deepEqual(report.passed, ['load/dlopen', 'load/handler', 'load/identity', 'load/routes']);
  });

  it('reports a segfault inside dlopen as load/dlopen naming SIGSEGV, and survives it', async () => {
    const report = await loadFixture('segfault-at-load');
    assert.equal(report.outcome, 'crashed');
    assert.equal(report.signal, 'SIGSEGV');
    assert.deepEqual(rulesOf(report), ['load/dlopen']);
    assert.match(report.violations[0]!.message, /crashed with SIGSEGV during process\.dlopen/);
    assert.match(report.violations[0]!.fix ?? '', /reproduce it with gdb --args node -e "process\.dlopen\(/);
    assert.deepEqual(report.skipped.map((s) => s.rule), ['load/handler', 'load/identity', 'load/routes']);
    assert.match(report.skipped[0]!.reason, /load\/dlopen failed/);
  });

  it('kills a library that hangs inside dlopen at the timeout and reports it within the bound', async () => {
    const timeoutMs = 700;
    const report = await loadFixture('hang-at-load', timeoutMs);
    assert.equal(report.outcome, 'timed-out');
    assert.deepEqual(rulesOf(report), ['load/dlopen']);
    assert.match(report.violations[0]!.message, /did not finish within 700 ms/);
    assert.ok(report.durationMs >= timeoutMs, `killed too early: ${report.durationMs} ms`);
    assert.ok(report.durationMs < timeoutMs + 2000, `took ${report.durationMs} ms for a ${timeoutMs} ms timeout`);
  });

  it('reports a library without a Handler export under load/handler and skips the later steps', async () => {
    const report = await loadFixture('no-handler-export');
    assert.deepEqual(rulesOf(report), ['load/handler']);
    assert.match(report.violations[0]!.message, /exports no function "Handler"/);
    assert.deepEqual(report.passed, ['load/dlopen']);
    assert.deepEqual(report.skipped.map((s) => s.rule), ['load/identity', 'load/routes']);
  });

  it('names each declared route getHandler does not resolve under load/routes', async () => {
    const report = await loadFixture('route-missing');
    assert.deepEqual(rulesOf(report), ['load/routes']);
    assert.equal(report.violations.length, 1);
    assert.match(report.violations[0]!.message, /POST \/echo is declared in module\.yml, but getHandler\("\/echo", "POST"\) returned null/);
    assert.equal(report.violations[0]!.expected, 'a function');
  });

  it('reports a code other than the manifest\'s under load/identity with both values', async () => {
    const report = await loadFixture('identity-mismatch');
    assert.deepEqual(rulesOf(report), ['load/identity']);
    assert.equal(report.violations[0]!.expected, '"identity-mismatch"');
    assert.equal(report.violations[0]!.found, '"impostor"');
  });

  it('never calls initialize, cleanup or a route function (each aborts the probe)', async () => {
    const report = await loadProbe([]);
    assert.deepEqual(report.violations, []);
    assert.equal(report.outcome, 'completed');
  });

  it('reports an abort inside dlopen as SIGABRT', async () => {
    const report = await loadProbe(['PROBE_ABORT_AT_LOAD']);
    assert.equal(report.signal, 'SIGABRT');
    assert.match(report.violations[0]!.message, /crashed with SIGABRT/);
  });

  it('reports a library that exits the process during dlopen with its exit code', async () => {
    const report = await loadProbe(['PROBE_EXIT_AT_LOAD']);
    assert.equal(report.outcome, 'exited');
    assert.equal(report.exitCode, 3);
    assert.deepEqual(rulesOf(report), ['load/dlopen']);
    assert.match(report.violations[0]!.message, /exited with code 3/);
  });

  it('reports what Handler() and getHandler() throw, with the module\'s message', async () => {
    const handler = await loadProbe(['PROBE_HANDLER_THROWS']);
    assert.deepEqual(rulesOf(handler), ['load/handler']);
    assert.match(handler.violations[0]!.message, /Handler\(\) threw: probe Handler failed on purpose/);
    const routes = await loadProbe(['PROBE_ROUTES_THROW']);
    assert.deepEqual(rulesOf(routes), ['load/routes']);
    assert.match(routes.violations[0]!.message, /threw: probe getHandler failed on purpose/);
  });

  it('refuses to start without its child script instead of blaming the module', async () => {
    const dir = path.join(FIXTURE_MODULES_DIR, 'good-alpha');
    await assert.rejects(
      runLoadCheck(readManifest(dir), binaryOf(dir), { childScript: path.join(dir, 'no-such-child.js') }),
      (error: unknown) => isErpmodError(error) && error.code === 'ERPMOD_LOAD_CHECK_FAILED',
    );
  });
});

describe('runCheck: static, then load', () => {
  it('never loads a library the static phase rejected (Node-API 10 would SIGSEGV the child)', async () => {
    const report = await runCheck([path.join(FIXTURE_MODULES_DIR, 'napi-10')]);
    const target = report.modules[0]!.targets[0]!;
    assert.equal(target.load.ran, false);
    assert.match(target.load.skipReason ?? '', /static phase failed/);
    assert.equal(target.rules.find((r) => r.id === 'abi/napi-version')!.status, 'fail');
    assert.ok(target.rules.filter((r) => r.phase === 'load').every((r) => r.status === 'skip'));
  });

  it('checks every failure fixture in one run, survives them all and keeps each verdict apart', async () => {
    const names = ['good-alpha', 'segfault-at-load', 'hang-at-load', 'no-handler-export', 'route-missing', 'identity-mismatch'];
    const started = performance.now();
    const report = await runCheck(names.map((n) => path.join(FIXTURE_MODULES_DIR, n)), { timeoutMs: 1000 });
    const elapsed = performance.now() - started;
    const failedRules = report.modules.map((m) => m.targets[0]!.rules.filter((r) => r.status === 'fail').map((r) => r.id));
    assert.deepEqual(failedRules, [[], ['load/dlopen'], ['load/dlopen'], ['load/handler'], ['load/routes'], ['load/identity']]);
    assert.deepEqual(report.modules.map((m) => m.ok), [true, false, false, false, false, false]);
    assert.ok(elapsed < 10_000, `took ${Math.round(elapsed)} ms`);
  });

  it('skips the load phase with --static-only and says so', async () => {
    const report = await runCheck([path.join(FIXTURE_MODULES_DIR, 'segfault-at-load')], { staticOnly: true });
    const target = report.modules[0]!.targets[0]!;
    assert.equal(report.ok, true);
    assert.equal(target.load.ran, false);
    assert.ok(target.rules.filter((r) => r.phase === 'load').every((r) => r.status === 'skip' && r.skipReason === 'skipped: --static-only'));
  });
});
