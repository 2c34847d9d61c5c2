import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess } from './support/host-process';
import { environOf, processInfo, runnerNodePids } from './support/linux-processes';
import { makeModulesDir } from './support/modules-dir';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  /** From the host's death to the runner's, in ms; undefined when the runner outlived the bound. */
  readonly goneMs: number | undefined;
  /** How long the runner was alive with a parent other than the host. */
  readonly orphanMs: number;
}

/** Polls the runner until it is gone (or `boundMs` passes), from the moment the host is dead. */
async function watchRunner(runnerPid: number, parentPid: number, hostDead: Promise<unknown>, boundMs: number): Promise<Outcome> {
  await hostDead;
  const died = performance.now();
  let orphanSince: number | undefined;
  while (performance.now() - died < boundMs) {
    const info = processInfo(runnerPid);
    const now = performance.now();
    if (info === undefined || info.state === 'Z') return { goneMs: now - died, orphanMs: orphanSince === undefined ? 0 : now - orphanSince };
    if (info.ppid !== parentPid) orphanSince ??= now;
    await sleep(5);
  }
  return { goneMs: undefined, orphanMs: orphanSince === undefined ? 0 : performance.now() - orphanSince };
}

// Without setpriv on the PATH the host falls back to the runner's own parent watchdog.
const mechanisms = [
  ['setpriv --pdeathsig', {}],
  ['the parent watchdog', { PATH: makeTempDir('no-setpriv') }],
] as const;

describe('isolated runners never outlive the host', () => {
  for (const [mechanism, env] of mechanisms) {
    for (const ending of ['SIGKILL', 'a second SIGTERM'] as const) {
      it(`with ${mechanism}: the host ends by ${ending} while the runner's thread is stuck in native code`, async (t) => {
        const host = await startHostProcess({ modulesDir: makeModulesDir(['isolated-noisy']), env: { ...env, ERPMOD_LOG_LEVEL: 'info' } });
        const hostPid = host.child.pid!;
        // The process that runs Node: the host's child, or with bubblewrap the child of bwrap's init.
        const [runnerPid] = runnerNodePids(hostPid);
        assert.ok(runnerPid !== undefined, 'the runner runs below the host');
        const runnerParent = processInfo(runnerPid)!.ppid;
        const watchdog = fs.readFileSync(`/proc/${runnerPid}/cmdline`, 'utf8').split('\0').includes('--watchdog');
        assert.equal(watchdog, mechanism === 'the parent watchdog');

        // The runner's JavaScript thread sleeps in C for 30 s: it cannot notice its IPC channel close.
        const blocked = call(`${host.url}/api/v1/noisy/block?ms=30000`).catch(() => undefined);
        await sleep(300);
        const hostDead = host.stop(ending === 'SIGKILL' ? 'SIGKILL' : 'SIGTERM');
        if (ending === 'a second SIGTERM') {
          await sleep(100);
          host.child.kill('SIGTERM');
        }
        const outcome = await watchRunner(runnerPid, runnerParent, hostDead, 5000);
        t.diagnostic(`${mechanism}, ${ending}: runner gone ${outcome.goneMs?.toFixed(0)} ms after the host, orphaned for ${outcome.orphanMs.toFixed(0)} ms`);
        if (outcome.goneMs === undefined) process.kill(runnerPid, 'SIGKILL');
        assert.ok(outcome.goneMs !== undefined && outcome.goneMs < 2000, `runner ${runnerPid} still alive ${outcome.goneMs ?? '>5000'} ms after the host died`);
        assert.ok(outcome.orphanMs < 2000);
        await blocked;
      });
    }
  }
});

describe("an isolated runner's environment", () => {
  it('carries neither the admin token nor the host settings, but keeps the module its own config overrides', async () => {
    const host = await startHostProcess({
      modulesDir: makeModulesDir(['example:inventory', 'example:sales']),
      env: { ERPMOD_ISOLATION: 'process', ERPMOD_ADMIN_TOKEN: 'admin-secret-1234', ERPMOD_SALES_TAX_RATE_BP: '1000', ERPMOD_INVENTORY_UNDECLARED: 'x', FIXTURE_PASSES_THROUGH: 'yes' },
    });
    try {
      const runners = runnerNodePids(host.child.pid!);
      assert.equal(runners.length, 2);
      for (const pid of runners) {
        const env = environOf(pid);
        assert.ok(!Object.values(env).some((value) => value.includes('admin-secret-1234')), `runner ${pid} sees the admin token`);
        assert.deepEqual(Object.keys(env).filter((name) => name.startsWith('ERPMOD_') && name !== 'ERPMOD_SALES_TAX_RATE_BP'), []);
        assert.equal(env.FIXTURE_PASSES_THROUGH, 'yes', 'variables outside the ERPMOD_ namespace pass through');
      }
      assert.ok(runners.some((pid) => environOf(pid).ERPMOD_SALES_TAX_RATE_BP === '1000'), "the sales runner has its own override");
      const order = await call(`${host.url}/api/v1/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 3, unit_price: 1250 }] });
      assert.equal(order.status, 201, order.text);
      assert.equal(order.json.tax, 375, 'the override reached the isolated module: 10 % of 37.50');
    } finally {
      assert.equal(await host.stop(), 0);
    }
  });
});
