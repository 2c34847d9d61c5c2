import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { makeModulesDir } from './support/modules-dir';
import { runPoliteLoad } from './support/polite-load';
import { assertNothingLeft, spawnServe } from './support/serve-process';
import { LIMIT, SHUTDOWN_ENV as ENV, STOP_BOUND_MS, modulesWith, startSlowReload, stopAndMeasure } from './support/stop-scenarios';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const workersListening = (entry: Record<string, unknown>): boolean => entry.msg === 'erpmod primary: 2 workers listening';

describe('a cluster stops on SIGTERM whatever it is doing', () => {
  for (const delay of [0, 100, 300, 800]) {
    it(`during a SIGHUP roll (SIGTERM ${delay} ms after SIGHUP): exits 0 within the bound, nothing left`, LIMIT, async (t) => {
      const serve = spawnServe({ modulesDir: modulesWith(), args: ['--workers', '2'], env: ENV });
      const { port, adminPort } = await serve.listening();
      await serve.waitForLog(workersListening);
      const { code, ms } = await stopAndMeasure(t, serve, `SIGHUP, ${delay} ms, SIGTERM`, () => {
        serve.child.kill('SIGHUP');
        setTimeout(() => serve.child.kill('SIGTERM'), delay);
      }, [port, adminPort]);
      assert.equal(code, 0);
      assert.ok(ms - delay < STOP_BOUND_MS, `stopping took ${ms - delay} ms`);
      assert.ok(!serve.logs.some((entry) => entry.msg === 'rolling restart complete' && serve.logs.indexOf(entry) > serve.logs.findIndex((e) => String(e.msg).startsWith('stopping'))), 'the roll did not carry on after the stop');
    });
  }

  it('while the workers boot (modules still initialising): exits 0 within the bound, nothing left', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith({ slowInitMs: 1500 }), args: ['--workers', '2'], env: ENV });
    const { port, adminPort } = await serve.listening();
    const first = serve.logs.find((entry) => String(entry.msg).startsWith('erpmod listening'))!.pid;
    // The primary starts workers one at a time: the second is now initialising its modules (1.5 s).
    await serve.waitForLog((entry) => entry.msg === 'module alpha loaded' && entry.pid !== first);
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM during cluster boot', () => serve.child.kill('SIGTERM'), [port, adminPort]);
    assert.equal(code, 0);
    assert.ok(ms < STOP_BOUND_MS, `stopping took ${ms} ms`);
    assert.ok(!serve.logs.some(workersListening), 'the primary did not finish booting after the stop');
  });

  it('while a reload is in flight in every worker: exits 0 within the bound, nothing left', LIMIT, async (t) => {
    const modulesDir = modulesWith();
    const serve = spawnServe({ modulesDir, args: ['--workers', '2'], env: ENV });
    const { port, adminPort } = await serve.listening();
    await serve.waitForLog(workersListening);
    // The reload loads a module dropped in after boot, whose initialise takes 3000 ms: it stays in flight.
    const reload = await startSlowReload(serve, modulesDir, 3000);
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM during a reload', () => serve.child.kill('SIGTERM'), [port, adminPort]);
    assert.equal(code, 0);
    assert.ok(ms < STOP_BOUND_MS, `stopping took ${ms} ms`);
    t.diagnostic(`the reload request ended with: ${await reload.outcome}`);
  });

  it('sent to the whole process group under keep-alive load: drains with no failed request, nothing left', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: makeModulesDir(['example:inventory', 'example:sales']), args: ['--workers', '2'], env: ENV });
    const { port, adminPort } = await serve.listening();
    await serve.waitForLog(workersListening);
    const load = runPoliteLoad(`http://127.0.0.1:${port}/api/v1/sales/summary`, 6);
    // Under way on every connection before the signal, however busy the machine is.
    for (let waited = 0; load.replies() < 60 && waited < 20_000; waited += 20) await sleep(20);
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM to the process group', () => serve.signalGroup('SIGTERM'), [port, adminPort]);
    const result = await load.done;
    t.diagnostic(`load: ${result.replies} replies, failures ${JSON.stringify(result.failures)}, ${result.toldToLeave} clients told to leave`);
    assert.deepEqual(result.failures, {}, 'every request sent got a reply');
    const workers = serve.logs.filter((entry) => String(entry.msg).startsWith('erpmod listening')).map((entry) => entry.pid);
    const drained = serve.logs.filter((entry) => entry.msg === 'shutdown complete').map((entry) => entry.pid);
    assert.deepEqual(drained.sort(), workers.sort(), 'every worker drained and cleaned its modules up rather than exiting at once');
    assert.ok(result.replies > 50, `only ${result.replies} replies`);
    assert.equal(code, 0);
    assert.ok(ms < STOP_BOUND_MS, `stopping took ${ms} ms`);
  });

  it('a signal reaching the workers before the primary (as a group signal can) still drains every worker', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith(), args: ['--workers', '2'], env: ENV });
    const { port, adminPort } = await serve.listening();
    await serve.waitForLog(workersListening);
    const workers = serve.logs.filter((entry) => String(entry.msg).startsWith('erpmod listening')).map((entry) => entry.pid as number);
    // New connections are dealt to the workers in turn: each worker has requests in flight to finish.
    const inFlight = Array.from({ length: 4 }, () => fetch(`http://127.0.0.1:${port}/api/v1/alpha/slow?ms=1000`).then((reply) => reply.status, (error: Error) => error.message));
    await sleep(300);
    const { code } = await stopAndMeasure(t, serve, 'SIGTERM to each worker, then the primary', () => {
      for (const pid of workers) process.kill(pid, 'SIGTERM');
      setTimeout(() => serve.child.kill('SIGTERM'), 30);
    }, [port, adminPort]);
    assert.equal(code, 0);
    const drained = serve.logs.filter((entry) => entry.msg === 'shutdown complete').map((entry) => entry.pid as number);
    assert.deepEqual(await Promise.all(inFlight), [200, 200, 200, 200], 'every request in flight was answered');
    assert.deepEqual(drained.sort(), workers.sort(), 'the primary asking too did not make a worker exit without draining');
  });

  it('escalates on a second signal: exits 1 at once with every worker killed', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith({ requestMs: 60_000 }), args: ['--workers', '2'], env: { ERPMOD_SHUTDOWN_TIMEOUT_MS: '60000' } });
    const { port, adminPort } = await serve.listening();
    await serve.waitForLog(workersListening);
    // A request that never finishes holds the first, graceful stop open for a minute.
    const hanging = fetch(`http://127.0.0.1:${port}/api/v1/alpha/hang`).catch((error: Error) => error);
    await sleep(300);
    serve.child.kill('SIGTERM');
    await serve.waitForLog((entry) => String(entry.msg).startsWith('stopping'));
    await sleep(300);
    const { code, ms } = await stopAndMeasure(t, serve, 'second SIGTERM', () => serve.child.kill('SIGTERM'), [port, adminPort]);
    assert.equal(code, 1);
    assert.ok(ms < 3000, `the second signal took ${ms} ms to end the cluster`);
    assert.ok((await hanging) instanceof Error, 'the hanging request was cut off');
  });

  it('kills a worker that does not exit within the bound (a native job outlasting the drain)', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith({ requestMs: 60_000 }), args: ['--workers', '2'], env: { ERPMOD_SHUTDOWN_TIMEOUT_MS: '1000' } });
    const { port, adminPort } = await serve.listening();
    await serve.waitForLog(workersListening);
    // Thread-pool work Node waits for before the worker can exit: 40 s, far past the bound.
    const slow = fetch(`http://127.0.0.1:${port}/api/v1/alpha/slow?ms=40000`).catch((error: Error) => error);
    await sleep(300);
    const { code, ms } = await stopAndMeasure(t, serve, 'SIGTERM with a 40 s native job in flight', () => serve.child.kill('SIGTERM'), [port, adminPort]);
    assert.equal(code, 1, 'a worker had to be killed');
    assert.ok(ms < 1000 + 5000 + 4000, `stopping took ${ms} ms`);
    assert.ok((await slow) instanceof Error);
    assert.ok(serve.logs.some((entry) => String(entry.msg).includes('killing')), 'the kill is logged');
  });
});

describe('a cluster leaves nothing behind when it cannot go on', () => {
  it('a worker that fails to boot ends the cluster at once with exit 1', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: makeModulesDir(['good-alpha', 'critical-fails']), args: ['--workers', '2'], env: ENV });
    const started = Date.now();
    const code = await serve.exited;
    await assertNothingLeft(serve);
    t.diagnostic(`boot failure: exit ${code} after ${Date.now() - started} ms`);
    assert.equal(code, 1);
    assert.ok(Date.now() - started < 20_000, 'not held until the 60 s boot timeout');
  });

  it('SIGKILL to the primary: its workers exit on their own', LIMIT, async (t) => {
    const serve = spawnServe({ modulesDir: modulesWith(), args: ['--workers', '2'], env: ENV });
    const { port, adminPort } = await serve.listening();
    await serve.waitForLog(workersListening);
    serve.child.kill('SIGKILL');
    await serve.exited;
    const started = Date.now();
    for (;;) {
      try {
        await assertNothingLeft(serve, [port, adminPort]);
        break;
      } catch (error) {
        if (Date.now() - started > 5000) throw error;
        await sleep(50);
      }
    }
    t.diagnostic(`SIGKILL to the primary: its workers were gone ${Date.now() - started} ms after it`);
  });
});
