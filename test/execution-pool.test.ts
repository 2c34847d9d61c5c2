import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { allowLoopbackPorts, makeModulesDir } from './support/modules-dir';
import { FIXTURE_MODULES_DIR, PLATFORM_KEY } from './support/paths';
import { readManifest } from '../host/compliance';
import { runLoadCheck } from '../host/compliance/load';
import { openModule } from '../native-sdk/testing';
import { eventually } from './support/eventually';
import { withPostgresClient } from './support/postgres-client';
import { startPostgres, type PostgresServer } from './support/postgres-server';

const LAB = '/api/v1/pool-lab';

/** Calls `url` every 25 ms until `done` settles; resolves with every answer's latency (ms), in order. */
async function latenciesWhile(url: string, done: Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => {
    finished = true;
  });
  const latencies: number[] = [];
  while (!finished) {
    const started = performance.now();
    const reply = await call(url);
    assert.equal(reply.status, 200, `${url} answered ${reply.status}`);
    latencies.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return latencies;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The q-quantile of `values` (nearest rank). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

/**
 * The issue's promise — pool handlers that sleep or burn CPU delay neither /healthz nor another module
 * (≤ 20 ms) — checked against the machine as it is right now rather than a fixed number of milliseconds:
 * the same probe is sampled with no pool work just before and just after, and 90% of the probes made
 * while the pool works must answer within the slowest of those quiet probes + 20 ms. A loaded machine
 * slows the quiet and the busy probes alike, so load cannot fail this; a pool that ran its handlers on the
 * JavaScript thread (or blocked it while waiting for them) holds every probe for up to the handler's 1 s,
 * far beyond it. The 10% left out absorb a scheduling hiccup that happens to hit only the busy window.
 */
function assertNotDelayed(label: string, busy: readonly number[], quiet: readonly number[]): void {
  const bound = Math.max(...quiet) + 20;
  const p90 = quantile(busy, 0.9);
  assert.ok(
    p90 <= bound,
    `${label}: 90% of probes answered within ${p90.toFixed(1)} ms while pool handlers ran, expected ≤ ${bound.toFixed(1)} ms ` +
      `(the slowest of ${quiet.length} probes without pool work + 20 ms); busy worst ${Math.max(...busy).toFixed(1)} ms`,
  );
  assert.ok(busy.length >= 10, `${label}: only ${busy.length} probes answered while the pool worked`);
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: performance.now() - started };
}

describe('execution: pool', () => {
  let host: HostProcess;

  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['pool-lab', 'good-alpha']), env: { ERPMOD_POOL_THREADS: '8' } });
  });
  after(async () => {
    await host?.stop();
  });

  it('keeps /healthz and another module fast while pool handlers sleep and burn CPU, and answers 504 at request_ms', async () => {
    // Warm connections and code paths first: the measurement is about the pool, not a first request.
    for (const url of [`${host.url}/healthz`, `${host.url}/api/v1/alpha/ping`, `${host.url}${LAB}/fast-pool`]) await call(url);
    // The same probes for a second with no pool work: the machine's own latency at this moment.
    const quietProbes = async (): Promise<{ health: number[]; neighbour: number[] }> => {
      const [health, neighbour] = await Promise.all([latenciesWhile(`${host.url}/healthz`, pause(1000)), latenciesWhile(`${host.url}/api/v1/alpha/ping`, pause(1000))]);
      return { health, neighbour };
    };
    const before = await quietProbes();
    // request_ms is 1000: the three sleeps (3 s) time out; the burn (700 ms of wall time) finishes.
    const slow = Promise.all([
      timed(call(`${host.url}${LAB}/sleep?ms=3000`)),
      timed(call(`${host.url}${LAB}/sleep?ms=3000`)),
      timed(call(`${host.url}${LAB}/sleep?ms=3000`)),
      timed(call(`${host.url}${LAB}/burn?ms=700`)),
    ]);
    const [health, neighbour] = await Promise.all([latenciesWhile(`${host.url}/healthz`, slow), latenciesWhile(`${host.url}/api/v1/alpha/ping`, slow)]);
    const after = await quietProbes();
    assertNotDelayed('/healthz', health, [...before.health, ...after.health]);
    assertNotDelayed("another module's route", neighbour, [...before.neighbour, ...after.neighbour]);
    const [first, second, third, burn] = await slow;
    for (const sleep of [first, second, third]) {
      assert.equal(sleep.value.status, 504);
      assert.equal(sleep.value.json.error.code, 'ERPMOD_HANDLER_TIMEOUT');
      assert.ok(sleep.ms >= 900 && sleep.ms < 2500, `a 3 s handler with request_ms 1000 was answered after ${Math.round(sleep.ms)} ms`);
    }
    assert.equal(burn.value.status, 200);
    assert.ok(burn.ms >= 650, `the 700 ms burn was answered after ${Math.round(burn.ms)} ms`);
  });

  it('runs CPU-heavy handlers of one module on separate threads at once', async () => {
    const one = await timed(call(`${host.url}${LAB}/crunch?m=40`));
    const two = await timed(Promise.all([call(`${host.url}${LAB}/crunch?m=40`), call(`${host.url}${LAB}/crunch?m=40`)]));
    assert.equal(one.value.status, 200);
    assert.deepEqual(two.value.map((reply) => reply.status), [200, 200]);
    // They ran at the same time: each started before the other ended. How much faster that is depends on
    // free cores (the benchmark reports it: ≈ 0.5 of one after the other on two idle cores).
    const [a, b] = two.value.map((reply) => reply.json as { startedUs: number; endedUs: number });
    assert.ok(a!.startedUs < b!.endedUs && b!.startedUs < a!.endedUs, `the two handlers did not overlap: ${JSON.stringify([a, b])}`);
    assert.ok((await call(`${host.url}${LAB}/threads`)).json.distinct >= 2, 'the handlers ran on at least two threads');
  });

  it('carries ctx calls from pool threads to the JavaScript thread: db, config, logger, and a copied request', async () => {
    const main = await call(`${host.url}${LAB}/db3`);
    const pooled = await call(`${host.url}${LAB}/db3-pool`);
    assert.equal(pooled.status, 200);
    assert.deepEqual(pooled.json, main.json);
    assert.deepEqual(pooled.json, { a: 'a', b: 'b', n: 3 });

    assert.deepEqual((await call(`${host.url}${LAB}/config`)).json, { greeting: 'hello', answer: 42, answerText: '42', code: 'pool-lab' });
    const logged = host.logs.some((line) => line.msg === 'config read on a pool thread' && line.module === 'pool-lab');
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(logged || host.logs.some((line) => line.msg === 'config read on a pool thread'), 'the pool thread\'s log line reached the host log');

    const body = { name: 'Ada', lines: [{ qty: 1 }, { qty: 7 }], nested: { ok: true, none: null } };
    const echo = await call(`${host.url}${LAB}/echo/42?tag=t1&tag=t2`, 'POST', body, { 'x-lab': 'yes' });
    assert.equal(echo.status, 200);
    assert.deepEqual(echo.json, {
      id: '42', method: 'POST', route: '/echo/:id', path: `${LAB}/echo/42`, tag: 't1', header: 'yes', name: 'Ada', qty: 7,
      rawBytes: Buffer.byteLength(JSON.stringify(body)), detached: true, body,
    });
  });

  it('never interleaves two requests\' transactions, and a handler that throws mid-transaction leaves nothing', async () => {
    const replies = await Promise.all([
      call(`${host.url}${LAB}/transfer`, 'POST', { id: 't1' }),
      call(`${host.url}${LAB}/transfer`, 'POST', { id: 't2', fail: true }),
      call(`${host.url}${LAB}/transfer`, 'POST', { id: 't3' }),
      call(`${host.url}${LAB}/transfer`, 'POST', { id: 't4', fail: true }),
    ]);
    assert.deepEqual(replies.map((reply) => reply.status), [201, 500, 201, 500]);
    assert.equal(replies[1]!.json.error.code, 'ERPMOD_HANDLER_FAILED');
    assert.deepEqual((await call(`${host.url}${LAB}/ledger`)).json, { transfers: { t1: 2, t3: 2 } });
  });

  it('delivers events published from a pool thread to subscribers on the JavaScript thread before Publish returns', async () => {
    const first = await call(`${host.url}${LAB}/note`, 'POST', { text: 'one' });
    const second = await call(`${host.url}${LAB}/note`, 'POST', { text: 'two' });
    assert.equal(first.status, 200);
    assert.equal(first.json.lastOnJsThread, true);
    assert.equal(second.json.seen, first.json.seen + 1, 'the reply reflects the subscriber that ran for its own event');
  });

  it('keeps main routes on the JavaScript thread, where ctx.http refuses to block', async () => {
    assert.deepEqual((await call(`${host.url}${LAB}/fast`)).json, { ok: true });
    assert.deepEqual((await call(`${host.url}${LAB}/fast-pool`)).json, { ok: true });
    const refused = await call(`${host.url}${LAB}/fetch-main?url=http://127.0.0.1:9/`);
    assert.equal(refused.status, 500);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(host.logs.some((line) => String(line.err ?? '').includes('ctx.http() needs a route with execution: pool')));
  });
});

describe('execution: pool limits', () => {
  it('answers 503 ERPMOD_BUSY with Retry-After beyond the queue bound, and counts a handler that never returns as lost', async () => {
    // pool_threads 3: pool-lab (max_concurrency 4) gets 2, so that one module cannot take every thread;
    // the queue holds 1.
    const host = await startHostProcess({
      modulesDir: makeModulesDir(['pool-lab']),
      env: { ERPMOD_POOL_THREADS: '3', ERPMOD_POOL_QUEUE_LIMIT: '1' },
    });
    try {
      const running = [call(`${host.url}${LAB}/sleep?ms=600`), call(`${host.url}${LAB}/sleep?ms=600`)];
      await new Promise((resolve) => setTimeout(resolve, 100));
      const queued = call(`${host.url}${LAB}/sleep?ms=100`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const refused = await call(`${host.url}${LAB}/fast-pool`);
      assert.equal(refused.status, 503);
      assert.equal(refused.json.error.code, 'ERPMOD_BUSY');
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.deepEqual((await Promise.all([...running, queued])).map((reply) => reply.status), [200, 200, 200]);

      // A handler that returns after its 504: counted as lost meanwhile, then as a late result, discarded.
      assert.equal((await call(`${host.url}${LAB}/sleep?ms=1300`)).status, 504);
      assert.equal((await host.admin('/plugins/pool-lab')).json.runtime.execution.lost, 1);
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.deepEqual(
        (({ lost, late }) => ({ lost, late }))((await host.admin('/plugins/pool-lab')).json.runtime.execution),
        { lost: 0, late: 1 },
      );

      // Handlers that never return: each is answered 504 and its thread replaced, up to 4 (twice the cap);
      // then the module has no thread to give.
      const hung = [];
      for (const wave of [1, 2]) hung.push(...(await Promise.all([wave, wave].map(() => call(`${host.url}${LAB}/hang`)))));
      assert.deepEqual(hung.map((reply) => reply.status), [504, 504, 504, 504]);
      const exhausted = await call(`${host.url}${LAB}/fast-pool`);
      assert.equal(exhausted.status, 503);
      assert.match(exhausted.json.error.message, /stuck past their timeout/);
      assert.deepEqual((await call(`${host.url}${LAB}/fast`)).json, { ok: true }, 'main routes still answer');
      const health = (await host.admin('/api/v1/system/modules')).json;
      const lab = health.modules.find((module: { code: string }) => module.code === 'pool-lab');
      assert.equal(lab.status, 'degraded');
      assert.equal(lab.details.execution.lost, 4);
      assert.match(lab.details.reason, /isolation: process/);
      const metrics = (await host.admin('/metrics')).text;
      assert.match(metrics, /^erpmod_pool_threads_lost\{module="pool-lab"\} 4$/m);
      assert.match(metrics, /^erpmod_pool_timeouts_total\{module="pool-lab"\} 5$/m);
      assert.match(metrics, /^erpmod_pool_late_results_total\{module="pool-lab"\} 1$/m);
      assert.match(metrics, /^erpmod_pool_rejected_total\{module="pool-lab"\} [1-9]/m);
      assert.equal((await host.admin('/plugins/pool-lab')).json.runtime.execution.lost, 4);
      assert.equal(await host.stop(), 0, 'the host shuts down cleanly although four threads never returned');
    } finally {
      await host.stop();
    }
  });

  it('refuses to load a library without getPoolHandler whose module.yml asks for execution: pool, and says what to do', async () => {
    const modulesDir = makeModulesDir(['good-alpha']);
    const manifest = path.join(modulesDir, 'good-alpha', 'module.yml');
    fs.writeFileSync(manifest, `${fs.readFileSync(manifest, 'utf8')}execution: pool\n`);
    const host = await startHostProcess({ modulesDir });
    try {
      const reply = await call(`${host.url}/api/v1/alpha/ping`);
      assert.equal(reply.status, 503);
      const record = (await host.admin('/plugins/alpha')).json;
      assert.match(record.lastError, /no getPoolHandler/);
      assert.match(record.lastError, /execution: main/);
    } finally {
      await host.stop();
    }
  });
});

describe('execution: pool from plain C (erpmod/pool-c.h)', () => {
  it('runs C pool handlers off the JavaScript thread, with ctx.db calls carried back, and 504 at request_ms', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['pool-c']) });
    try {
      const c = `${host.url}/api/v1/pool-c`;
      assert.deepEqual((await call(`${c}/ping`)).json, { pong: true });
      await call(`${host.url}/healthz`);
      const quietBefore = await latenciesWhile(`${host.url}/healthz`, pause(1000));
      const slow = timed(call(`${c}/sleep?ms=3000`));
      const health = await latenciesWhile(`${host.url}/healthz`, slow);
      const answered = await slow;
      assertNotDelayed('/healthz', health, [...quietBefore, ...(await latenciesWhile(`${host.url}/healthz`, pause(1000)))]);
      assert.equal(answered.value.status, 504);
      assert.ok(answered.ms >= 900 && answered.ms < 2500, `answered after ${Math.round(answered.ms)} ms`);
      assert.equal((await call(`${c}/sleep?ms=50`)).status, 200);

      const stored = await Promise.all([call(`${c}/notes`, 'POST', { text: 'a "quoted" note' }), call(`${c}/notes`, 'POST', { text: 'b' })]);
      assert.deepEqual(stored.map((reply) => [reply.status, reply.json.changes]), [[201, 1], [201, 1]]);
      assert.deepEqual((await call(`${c}/notes/count`)).json, { n: 2 });
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(host.logs.some((line) => line.msg === 'note stored from a C pool thread'));
    } finally {
      await host.stop();
    }
  });
});

describe('the checker and execution: pool', () => {
  it('resolves pool routes through getPoolHandler (C++ SDK and plain C), and names a library that lacks it', async () => {
    for (const name of ['pool-lab', 'pool-c']) {
      const dir = path.join(FIXTURE_MODULES_DIR, name);
      const loaded = readManifest(dir);
      const report = await runLoadCheck(loaded, path.join(loaded.moduleDir, loaded.manifest.binaries[PLATFORM_KEY]!), { timeoutMs: 10_000 });
      assert.deepEqual(report.violations, [], name);
      assert.ok(report.passed.includes('load/routes'), name);
    }
    const modulesDir = makeModulesDir(['good-alpha']);
    const manifest = path.join(modulesDir, 'good-alpha', 'module.yml');
    fs.writeFileSync(manifest, `${fs.readFileSync(manifest, 'utf8')}execution: pool\n`);
    const loaded = readManifest(path.join(modulesDir, 'good-alpha'));
    const report = await runLoadCheck(loaded, path.join(loaded.moduleDir, loaded.manifest.binaries[PLATFORM_KEY]!), { timeoutMs: 10_000 });
    assert.equal(report.ok, false);
    assert.ok(report.violations.some((v) => v.rule === 'load/routes' && /no getPoolHandler/.test(v.message)));
  });
});

describe('the SDK test harness and execution: pool', () => {
  it('serves a pool handler on a worker thread with the fake ctx, as the host does', async () => {
    const mod = openModule(path.join(FIXTURE_MODULES_DIR, 'pool-lab'));
    try {
      assert.deepEqual((await mod.requestOnPool('GET', '/db3-pool')).json(), { a: 'a', b: 'b', n: 3 });
      assert.deepEqual(mod.request('GET', '/db3').json(), { a: 'a', b: 'b', n: 3 });
      const echo = (await mod.requestOnPool('POST', '/echo/7', { body: { name: 'Ada', lines: [{ qty: 1 }, { qty: 2 }] } })).json();
      assert.equal(echo.detached, true);
      assert.equal(echo.qty, 2);
      assert.equal((await mod.requestOnPool('POST', '/transfer', { body: { id: 'h1' } })).status, 201);
      assert.deepEqual(mod.request('GET', '/ledger').json(), { transfers: { h1: 2 } });
    } finally {
      mod.close();
    }
  });
});

describe('execution: pool with module data on PostgreSQL', () => {
  let server: PostgresServer | undefined;
  after(() => server?.stop());

  it('waits for ctx.db promises on pool threads, keeps transactions whole and apart, runs them at once, and serves main routes too', async () => {
    server = await startPostgres();
    const host = await startHostProcess({ modulesDir: makeModulesDir(['pool-lab']), env: { ERPMOD_DATABASE_URL: server.createDatabase('pool_lab') } });
    try {
      assert.deepEqual((await call(`${host.url}${LAB}/db3-pool`)).json, { a: 'a', b: 'b', n: 3 });
      // Declared `main`, it runs where ctx.db may wait: suspended on a fiber of the JavaScript thread (next test).
      assert.deepEqual((await call(`${host.url}${LAB}/db3`)).json, { a: 'a', b: 'b', n: 3 });
      const replies = await Promise.all(['p1', 'p2', 'p3'].map((id, i) => call(`${host.url}${LAB}/transfer`, 'POST', { id, fail: i === 1 })));
      assert.deepEqual(replies.map((reply) => reply.status), [201, 500, 201]);
      assert.deepEqual((await call(`${host.url}${LAB}/ledger`)).json, { transfers: { p1: 2, p3: 2 } });

      // Plain BEGIN: concurrent requests run their transactions at once, each on a connection of its
      // own from BEGIN to COMMIT, never inside another's; the one that throws leaves nothing.
      const plain = await Promise.all(['q1', 'q2', 'q3'].map((id, i) =>
        call(`${host.url}${LAB}/transfer`, 'POST', { id, fail: i === 1, begin: 'BEGIN', pause_ms: 400, backend: true })));
      assert.deepEqual(plain.map((reply) => reply.status), [201, 500, 201]);
      const [a, b] = [plain[0]!.json, plain[2]!.json] as { startedUs: number; endedUs: number; backends: number[] }[];
      assert.ok(a!.startedUs < b!.endedUs && b!.startedUs < a!.endedUs, `the two transactions took turns instead of running at once: ${JSON.stringify([a, b])}`);
      assert.equal(a!.backends[0], a!.backends[1], 'one transaction, one connection');
      assert.equal(b!.backends[0], b!.backends[1], 'one transaction, one connection');
      assert.notEqual(a!.backends[0], b!.backends[0], 'two transactions at once, two connections');
      assert.deepEqual((await call(`${host.url}${LAB}/ledger`)).json, { transfers: { p1: 2, p3: 2, q1: 2, q3: 2 } });
    } finally {
      await host.stop();
    }
  });
  it('runs main routes on the JavaScript thread, suspended while PostgreSQL answers: they overlap, the host stays responsive, request_ms holds', async () => {
    server ??= await startPostgres();
    const rates = http.createServer((_req, res) => res.end('{"rate":1.1}'));
    await new Promise<void>((resolve) => rates.listen(0, '127.0.0.1', resolve));
    const ratesPort = (rates.address() as AddressInfo).port;
    const modulesDir = makeModulesDir(['pool-lab']);
    allowLoopbackPorts(modulesDir, 'pool-lab', [ratesPort]);
    const host = await startHostProcess({ modulesDir, env: { ERPMOD_DATABASE_URL: server.createDatabase('pool_lab_fibers') } });
    try {
      // A main route may wait for ctx.http here too (on SQLite it refuses: see "keeps main routes on the JavaScript thread").
      const fetched = await call(`${host.url}${LAB}/fetch-main?url=http://127.0.0.1:${ratesPort}/`);
      assert.equal(fetched.status, 200, fetched.text);
      assert.equal(fetched.json.body, '{"rate":1.1}');

      const naps = Promise.all([1, 2, 3].map(() => call(`${host.url}${LAB}/nap?ms=500`)));
      const health = await latenciesWhile(`${host.url}/healthz`, naps);
      const replies = (await naps).map((reply) => reply.json as { onJsThread: boolean; startedUs: number; endedUs: number });
      for (const reply of replies) assert.equal(reply.onJsThread, true, 'no pool thread: the handler ran on the JavaScript thread');
      const [first, last] = [Math.min(...replies.map((r) => r.startedUs)), Math.max(...replies.map((r) => r.endedUs))];
      assert.ok(last - first < 1000_000, `three statements of 500 ms each overlapped: ${(last - first) / 1000} ms from the first start to the last end`);
      assert.ok(Math.max(...health) < 250, `the JavaScript thread kept serving while they waited: /healthz took up to ${Math.max(...health).toFixed(0)} ms`);
      assert.equal((await host.admin('/plugins/pool-lab')).json.runtime.execution.served >= 3, true);

      // Transactions on fibers: concurrent requests interleave at their statements, each transaction on a
      // connection of its own from BEGIN to COMMIT; the one that throws between its legs leaves nothing.
      const transfers = await Promise.all(['f1', 'f2', 'f3'].map((id, i) => call(`${host.url}${LAB}/transfer-main`, 'POST', { id, fail: i === 1, begin: 'BEGIN', pause_ms: 0, backend: true })));
      assert.deepEqual(transfers.map((reply) => reply.status), [201, 500, 201], transfers.map((reply) => reply.text).join(' | '));
      const [t1, t3] = [transfers[0]!.json, transfers[2]!.json] as { backends: number[] }[];
      assert.equal(t1!.backends[0], t1!.backends[1], 'one transaction, one connection');
      assert.equal(t3!.backends[0], t3!.backends[1], 'one transaction, one connection');
      assert.deepEqual((await call(`${host.url}${LAB}/ledger`)).json, { transfers: { f1: 2, f3: 2 } }, 'the failed transfer left nothing');

      // Waiting past request_ms (1000): answered 504 then, its late result discarded once the statement ends.
      const startedAt = performance.now();
      const late = await call(`${host.url}${LAB}/nap?ms=1600`);
      assert.equal(late.status, 504);
      assert.ok(performance.now() - startedAt < 1500, `answered at request_ms, not when the statement ended (${(performance.now() - startedAt).toFixed(0)} ms)`);
      assert.deepEqual((await call(`${host.url}${LAB}/db3`)).json, { a: 'a', b: 'b', n: 3 }, 'the host serves on meanwhile');
      await eventually('the late result is counted and discarded', async () => (await host.admin('/plugins/pool-lab')).json.runtime.execution.late === 1);
      assert.equal((await host.admin('/plugins/pool-lab')).json.runtime.execution.lost, 0);
    } finally {
      await host.stop();
      rates.close();
    }
  });

  it('keeps transactions whole and apart for a library built against the SDK before transactions by handle: they take turns', async () => {
    server ??= await startPostgres();
    const host = await startHostProcess({ modulesDir: makeModulesDir(['pool-lab-earlier-sdk']), env: { ERPMOD_DATABASE_URL: server.createDatabase('pool_lab_earlier') } });
    try {
      for (const begin of ['BEGIN', 'BEGIN IMMEDIATE']) {
        const ids = ['1', '2', '3'].map((n) => `${begin === 'BEGIN' ? 'b' : 'i'}${n}`);
        const replies = await Promise.all(ids.map((id, i) => call(`${host.url}${LAB}/transfer`, 'POST', { id, fail: i === 1, begin, pause_ms: 200, backend: true })));
        assert.deepEqual(replies.map((reply) => reply.status), [201, 500, 201], `${begin}: ${replies.map((reply) => reply.text).join(' | ')}`);
        const [a, b] = [replies[0]!.json, replies[2]!.json] as { startedUs: number; endedUs: number; backends: number[] }[];
        // The SDK's database lock: one transaction of the module at a time in the process, whole on one connection.
        assert.ok(a!.endedUs <= b!.startedUs || b!.endedUs <= a!.startedUs, `${begin}: two transactions overlapped: ${JSON.stringify([a, b])}`);
        assert.equal(a!.backends[0], a!.backends[1], `${begin}: one transaction, one connection`);
        assert.equal(b!.backends[0], b!.backends[1], `${begin}: one transaction, one connection`);
      }
      assert.deepEqual((await call(`${host.url}${LAB}/ledger`)).json, { transfers: { b1: 2, b3: 2, i1: 2, i3: 2 } }, 'the failed transfers left nothing');
    } finally {
      await host.stop();
    }
  });

  it('says a request waited in vain for one of its module\'s connections because the pool was full, not that PostgreSQL is down', async () => {
    server ??= await startPostgres();
    // The transfer that holds the connection pauses 3 s, longer than pool-lab's request_ms allows.
    const modulesDir = makeModulesDir(['pool-lab']);
    const manifest = path.join(modulesDir, 'pool-lab', 'module.yml');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('request_ms: 1000', 'request_ms: 10000'));
    const host = await startHostProcess({
      modulesDir,
      env: { ERPMOD_DATABASE_URL: server.createDatabase('pool_lab_small'), ERPMOD_DATABASE_POOL_SIZE: '1', ERPMOD_DATABASE_CONNECT_TIMEOUT_MS: '150' },
    });
    try {
      // One transaction holds the module's only connection for 3 s; a second waits 150 ms for it and
      // gives up (had it waited for the connection, it would have been answered 201).
      const holding = call(`${host.url}${LAB}/transfer`, 'POST', { id: 'hold', begin: 'BEGIN', pause_ms: 3000 });
      await eventually('the first transfer holds the connection, idle in its transaction', () =>
        withPostgresClient(server!.url('pool_lab_small'), async (client) => {
          const sessions = await client.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = 'pool_lab_small' AND state = 'idle in transaction'");
          return sessions.rows[0].n === 1;
        }), 5000);
      const waiting = await call(`${host.url}${LAB}/transfer`, 'POST', { id: 'wait', begin: 'BEGIN', pause_ms: 0 });
      assert.equal(waiting.status, 503, waiting.text);
      assert.equal(waiting.json?.error?.code, 'ERPMOD_DATABASE_UNAVAILABLE', 'the code modules and clients already know');
      assert.equal((await holding).status, 201, 'the transaction holding the connection finished');
      const line = host.logs.find((entry) => entry.msg === 'module request failed' && entry.module === 'pool-lab');
      assert.ok(line !== undefined, 'the failure is logged');
      assert.match(String(line.cause), /no connection to PostgreSQL at 127\.0\.0\.1:\d+\/pool_lab_small came free within 150 ms \(database_connect_timeout_ms\): all 1 \(database_pool_size\) were in use, 1 of them by the module's open transactions; PostgreSQL answered none of the module's statements meanwhile: the server is down or stuck, or the transactions holding the connections are waiting \(on a lock, or on the module's code between statements\)/, String(line.cause));
      assert.doesNotMatch(String(line.cause), /is unavailable/, 'not reported as a server that cannot be reached');
    } finally {
      await host.stop();
    }
  });
});

describe('pool settings in an isolated module (isolation: process)', () => {
  /** Sends `count` sleeps of `ms` at once to the pool-c module and returns the most that ran at once. */
  async function peakOf(hostUrl: string, count: number, ms: number): Promise<number> {
    const c = `${hostUrl}/api/v1/pool-c`;
    await call(`${c}/peak`);
    const replies = await Promise.all(Array.from({ length: count }, () => call(`${c}/sleep?ms=${ms}`)));
    assert.deepEqual(replies.map((reply) => reply.status), replies.map(() => 200));
    return (await call(`${c}/peak`)).json.peak;
  }

  const isolatedPoolC = (logs: readonly Record<string, unknown>[]): boolean => logs.some((entry) => entry.msg === 'module pool-c loaded' && entry.isolation === 'process');

  it('runs the host\'s pool_threads in the runner: pool_threads 2 lets one handler run at a time', async () => {
    // max_concurrency 4, capped at pool_threads − 1 = 1. A runner ignoring the host's setting (its own
    // default of 4 threads) would run both sleeps at once.
    const host = await startHostProcess({ modulesDir: makeModulesDir(['pool-c']), env: { ERPMOD_ISOLATION: 'process', ERPMOD_POOL_THREADS: '2', ERPMOD_LOG_LEVEL: 'info' } });
    try {
      assert.ok(isolatedPoolC(host.logs), 'pool-c runs in its own process');
      assert.equal(await peakOf(host.url, 2, 300), 1);
    } finally {
      await host.stop();
    }
  });

  it('pool_threads 8 lets the module reach its max_concurrency 4, and http_max_response_bytes holds in the runner', async () => {
    const big = http.createServer((_req, res) => res.end(Buffer.alloc(4096, 'x')));
    const port = await new Promise<number>((resolve) => big.listen(0, '127.0.0.1', () => resolve((big.address() as AddressInfo).port)));
    const modulesDir = makeModulesDir(['pool-c']);
    allowLoopbackPorts(modulesDir, 'pool-c', [port]);
    const host = await startHostProcess({
      modulesDir,
      env: { ERPMOD_ISOLATION: 'process', ERPMOD_POOL_THREADS: '8', ERPMOD_HTTP_MAX_RESPONSE_BYTES: '1024', ERPMOD_LOG_LEVEL: 'info' },
    });
    try {
      assert.ok(isolatedPoolC(host.logs), 'pool-c runs in its own process');
      // A runner on its own default of 4 threads would cap the module at 3.
      assert.equal(await peakOf(host.url, 4, 700), 4);
      const fetched = await call(`${host.url}/api/v1/pool-c/fetch?url=${encodeURIComponent(`http://127.0.0.1:${port}/`)}`);
      assert.equal(fetched.status, 502, fetched.text);
      assert.equal(fetched.json.code, 'ERPMOD_HTTP_RESPONSE_TOO_LARGE');
    } finally {
      await host.stop();
      big.close();
    }
  });
});
