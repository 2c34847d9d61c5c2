import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { runLoad } from './support/load-generator';
import { makeModulesDir } from './support/modules-dir';

/** The runners' memory ceiling (isolated_memory_mb); V8's heap limit is half of it. */
const CEILING_MB = 160;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilServing(url: string, ms = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const reply = await call(url);
    if (reply.status === 200) return Date.now() - started;
    if (Date.now() - started > ms) assert.fail(`${url} did not recover within ${ms} ms (last status ${reply.status})`);
    await sleep(50);
  }
}

interface CrashDetail {
  readonly signal: string | null;
  readonly hung: boolean;
  readonly memory: { readonly residentMb: number; readonly ceilingMb: number } | null;
  readonly lastLines: string[];
}

describe('a module in isolation: process', () => {
  let host: HostProcess;
  let api: string;
  before(async () => {
    host = await startHostProcess({
      modulesDir: makeModulesDir(['good-alpha', 'isolated-faulty', 'example:inventory']),
      env: { ERPMOD_ISOLATED_MEMORY_MB: String(CEILING_MB), ERPMOD_LOG_LEVEL: 'info' },
    });
    api = `${host.url}/api/v1`;
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  it('serves like an in-process module: bodies, errors, bad replies', async () => {
    const echo = await call(`${api}/faulty/echo`, 'POST', { nested: { list: [1, 'two'] } });
    assert.equal(echo.status, 200);
    assert.deepEqual(echo.json, { nested: { list: [1, 'two'] } });
    assert.equal(echo.headers.get('x-erpmod-module'), 'faulty/1.0.0');
    assert.equal((await call(`${api}/faulty/throw`)).json.error.code, 'ERPMOD_HANDLER_FAILED');
    assert.equal((await call(`${api}/faulty/bad-reply`)).json.error.code, 'ERPMOD_BAD_RESPONSE');
    const plugin = (await host.admin('/plugins/faulty')).json;
    assert.equal(plugin.status, 'active');
    assert.ok(host.logs.some((entry) => entry.msg === 'module faulty loaded' && entry.isolation === 'process'));
  });

  // leak: native memory, stopped by the host at the ceiling; leak-js: V8's heap, stopped by V8 at its limit.
  for (const [fault, status, code, signal] of [
    ['crash', 502, 'ERPMOD_MODULE_CRASHED', 'SIGSEGV'],
    ['abort', 502, 'ERPMOD_MODULE_CRASHED', 'SIGABRT'],
    ['leak', 502, 'ERPMOD_MODULE_CRASHED', 'SIGKILL'],
    ['leak-js', 502, 'ERPMOD_MODULE_CRASHED', 'SIGABRT'],
    ['spin', 504, 'ERPMOD_HANDLER_TIMEOUT', 'SIGKILL'],
  ] as const) {
    it(`contains a ${fault}: ${status} ${code}, the other modules keep answering 200 under load, then it recovers`, async () => {
      // Each fault from a serving runner, so that one case's failure does not become the next one's.
      await waitUntilServing(`${api}/faulty/ping`);
      const load = runLoad(`${api}/alpha/ping`, 3.5, 8);
      await sleep(400);
      const reply = await call(`${api}/faulty/${fault}`);
      assert.equal(reply.status, status, reply.text);
      assert.equal(reply.json.error.code, code);
      const recoveredMs = await waitUntilServing(`${api}/faulty/ping`);
      const result = await load.done;
      assert.deepEqual(Object.keys(result.statuses), ['200'], `alpha under load: ${JSON.stringify(result.statuses)}`);
      assert.equal(result.errors + result.timeouts, 0);
      assert.ok(result.requests > 200, `only ${result.requests} requests`);
      // Restarted after 100 ms, then the runner boots: well under a second alone, up to ~3 s on a loaded two-core machine.
      assert.ok(recoveredMs < 5000, `recovered in ${recoveredMs} ms`);

      const events = (await host.admin('/plugins/faulty')).json.events as { kind: string; detail: CrashDetail }[];
      const crash = events.find((event) => event.kind === 'crashed');
      assert.ok(crash, 'the crash is in the audit trail');
      assert.equal(crash.detail.signal, signal);
      assert.equal(crash.detail.hung, fault === 'spin');
      assert.ok(Array.isArray(crash.detail.lastLines));
      if (fault === 'leak') {
        assert.match(reply.json.error.message, new RegExp(`went over its memory ceiling \\(resident \\d+ MB, isolated_memory_mb ${CEILING_MB}\\) and was killed`));
        assert.equal(crash.detail.memory?.ceilingMb, CEILING_MB);
        assert.ok(host.logs.some((entry) => entry.level === 50 && entry.module === 'faulty' && entry.ceilingMb === CEILING_MB), 'the host logs the kill');
        // Stopped at the ceiling, not long after it (measured 0–17 MB over; the bound allows for a loaded machine).
        assert.ok(crash.detail.memory.residentMb > CEILING_MB && crash.detail.memory.residentMb < CEILING_MB + 64, `resident ${crash.detail.memory.residentMb} MB`);
      } else {
        assert.equal(crash.detail.memory, null);
      }
      // V8's report: its first line, or (Node 20, whose native stack trace is longer than 20 lines) the handler's frame.
      if (fault === 'leak-js') assert.ok(crash.detail.lastLines.some((line) => /JavaScript heap out of memory|OOMErrorHandler/.test(line)), crash.detail.lastLines.join('\n'));
      // A reload starts a fresh generation: a new process and a clean crash count.
      assert.equal((await host.admin('/plugins/faulty/reload', 'POST')).status, 200);
      assert.equal((await call(`${api}/faulty/ping`)).status, 200);
    });
  }

  it('opens the circuit after 3 crashes within the window (503) until an operator reloads', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await call(`${api}/faulty/crash`)).status, 502);
      if (i < 2) await waitUntilServing(`${api}/faulty/ping`);
    }
    await sleep(200);
    const open = await call(`${api}/faulty/ping`);
    assert.equal(open.status, 503);
    assert.equal(open.json.error.code, 'ERPMOD_MODULE_UNAVAILABLE');
    assert.match(open.json.error.message, /circuit is open/);
    const plugin = (await host.admin('/plugins/faulty')).json;
    assert.equal(plugin.status, 'failed');
    assert.match(plugin.lastError, /circuit open: 3 crashes/);
    const health = (await host.admin('/api/v1/system/modules')).json;
    assert.equal(health.modules.find((module: { code: string }) => module.code === 'faulty').status, 'unhealthy');

    assert.equal((await host.admin('/plugins/faulty/reload', 'POST')).status, 200);
    assert.equal((await call(`${api}/faulty/ping`)).status, 200);
    assert.equal((await host.admin('/plugins/faulty')).json.status, 'active');
  });
});

describe('the same crash in an in-process module', () => {
  it('ends the whole host, which is why isolation exists', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha', 'inprocess-crashy']) });
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
    await call(`${host.url}/api/v1/crashy/crash`).catch(() => undefined);
    assert.equal(await host.stop(), 'SIGSEGV', 'the host process died with the module');
  });
});

describe('the example modules, both isolated', () => {
  it('keep their ctx: database, config and events crossing both process boundaries', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['example:inventory', 'example:sales']), env: { ERPMOD_ISOLATION: 'process', ERPMOD_SALES_TAX_RATE_BP: '1000' } });
    const api = `${host.url}/api/v1`;
    assert.ok(host.logs.filter((entry) => String(entry.msg).endsWith(' loaded')).every((entry) => entry.isolation === 'process'));
    assert.equal((await call(`${api}/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget', stock: 10 })).status, 201);
    const order = await call(`${api}/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 3, unit_price: 1250 }] });
    assert.equal(order.status, 201);
    assert.equal(order.json.tax, 375, 'ERPMOD_SALES_TAX_RATE_BP reached the isolated module: 10 % of 37.50');
    // Across processes, events are delivered asynchronously: the reservation lands a moment later.
    const deadline = Date.now() + 3000;
    let status = order.json.status;
    while (status !== 'confirmed' && Date.now() < deadline) {
      await sleep(25);
      status = (await call(`${api}/sales/orders/${order.json.id}`)).json.status;
    }
    assert.equal(status, 'confirmed', 'sales published order.created, inventory reserved and answered stock.reserved');
    assert.equal((await call(`${api}/inventory/items/W-1`)).json.reserved, 3);
    assert.equal(await host.stop(), 0);
    assert.ok(host.logs.some((entry) => entry.msg === 'module sales unloaded'));
  });
});
