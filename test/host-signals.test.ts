import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnServe } from './support/serve-process';
import { LIMIT, SHUTDOWN_ENV as ENV, STOP_BOUND_MS, modulesWith, startSlowReload, stopAndMeasure } from './support/stop-scenarios';

describe('a single-process host (--workers 1) stops on SIGTERM whatever it is doing', () => {
  it('while modules initialise at boot: exits 0 within the bound without serving, nothing left', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith({ slowInitMs: 3000 }), env: ENV });
    await serve.waitForLog((entry) => entry.msg === 'module alpha loaded');
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM during boot (one process)', () => serve.child.kill('SIGTERM'));
    assert.equal(code, 0);
    assert.ok(ms < STOP_BOUND_MS, `stopping took ${ms} ms`);
    assert.ok(serve.logs.some((entry) => entry.msg === 'boot finished after a stop signal; closing without serving'));
  });

  it('while modules initialise at boot: a second signal exits 1 at once', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith({ slowInitMs: 20_000 }), env: ENV });
    await serve.waitForLog((entry) => entry.msg === 'module alpha loaded');
    serve.child.kill('SIGTERM');
    await serve.waitForLog((entry) => entry.msg === 'signal received');
    const { code, ms } = await stopAndMeasure(t, serve, 'second SIGINT during boot (one process)', () => serve.child.kill('SIGINT'));
    assert.equal(code, 1);
    assert.ok(ms < 2000, `the second signal took ${ms} ms`);
  });

  it('while a boot outlasts the bound: exits 1 at shutdown_timeout_ms plus the grace', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith({ slowInitMs: 30_000 }), env: { ERPMOD_SHUTDOWN_TIMEOUT_MS: '500' } });
    await serve.waitForLog((entry) => entry.msg === 'module alpha loaded');
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM during a 30 s boot (one process)', () => serve.child.kill('SIGTERM'));
    assert.equal(code, 1);
    assert.ok(ms >= 5000 && ms < 500 + 5000 + 4000, `stopping took ${ms} ms`);
  });

  it('while a reload is in flight: exits 0 within the bound, nothing left', LIMIT, async (t) => {
    const modulesDir = modulesWith();
    const serve = spawnServe({ modulesDir, env: ENV });
    const { port, adminPort } = await serve.listening();
    // The reload loads a module dropped in after boot, whose initialise takes 20_000 ms: it stays in flight.
    const reload = await startSlowReload(serve, modulesDir, 20_000);
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM during a reload (one process)', () => serve.child.kill('SIGTERM'), [port, adminPort]);
    assert.equal(code, 0);
    assert.ok(ms < STOP_BOUND_MS, `stopping took ${ms} ms`);
    t.diagnostic(`the reload request ended with: ${await reload.outcome}`);
  });
});
