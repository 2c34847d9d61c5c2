import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

describe('operator routes with an admin token', () => {
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_ADMIN_TOKEN: 's3cret-token' } });
  });
  after(async () => {
    await host.stop();
  });

  it('refuses every operator route on the admin listener without the right bearer token, loopback or not', async () => {
    for (const [method, route] of [['POST', '/plugins/alpha/reload'], ['POST', '/plugins/alpha/toggle'], ['GET', '/plugins'], ['GET', '/plugins/alpha'], ['GET', '/api/v1/system/metrics'], ['GET', '/api/v1/system/modules'], ['GET', '/metrics']] as const) {
      const none = await call(`${host.adminUrl}${route}`, method);
      assert.equal(none.status, 401, `${method} ${route}`);
      assert.equal(none.json.error.code, 'ERPMOD_UNAUTHORIZED');
      const wrong = await call(`${host.adminUrl}${route}`, method, undefined, { authorization: 'Bearer s3cret-tokeN' });
      assert.equal(wrong.status, 401, `${method} ${route} with a wrong token`);
    }
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'module routes stay open');
  });

  it('accepts the right token', async () => {
    const auth = { authorization: 'Bearer s3cret-token' };
    assert.equal((await call(`${host.adminUrl}/api/v1/system/metrics`, 'GET', undefined, auth)).status, 200);
    assert.equal((await call(`${host.adminUrl}/metrics`, 'GET', undefined, auth)).status, 200);
    assert.equal((await call(`${host.adminUrl}/plugins`, 'GET', undefined, auth)).status, 200);
    const reload = await call(`${host.adminUrl}/plugins/alpha/reload`, 'POST', undefined, auth);
    assert.equal(reload.status, 200, reload.text);
  });
});

describe('metrics and health', () => {
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['example:inventory', 'good-alpha', 'init-throws']) });
  });
  after(async () => {
    await host.stop();
  });

  it('counts exactly the requests sent, in JSON and in Prometheus text', async () => {
    const sends: [string, string, unknown, number][] = [
      ...Array.from({ length: 7 }, () => ['GET', '/ping', undefined, 200] as [string, string, unknown, number]),
      ...Array.from({ length: 3 }, () => ['GET', '/throw', undefined, 500] as [string, string, unknown, number]),
      ['GET', '/nowhere', undefined, 404],
      ['GET', '/nowhere/else', undefined, 404],
      ['POST', '/echo', '{"broken', 400],
    ];
    for (const [method, route, body, status] of sends) {
      assert.equal((await call(`${host.url}/api/v1/alpha${route}`, method, body, { 'content-type': 'application/json' })).status, status);
    }
    const json = (await host.admin('/api/v1/system/metrics')).json;
    const alpha = json.modules.alpha;
    assert.equal(alpha.requests, 13);
    assert.equal(alpha.errors, 3);
    assert.equal(alpha.clientErrors, 3);
    assert.equal(alpha.inFlight, 0);
    assert.ok(alpha.latencyMs.p50 > 0 && alpha.latencyMs.p50 <= alpha.latencyMs.p99, JSON.stringify(alpha.latencyMs));
    assert.equal(json.modules.inventory.requests, 0);
    assert.equal(json.host.requests, 13);

    const text = (await host.admin('/metrics')).text;
    assert.match(text, /^erpmod_requests_total\{module="alpha"\} 13$/m);
    assert.match(text, /^erpmod_request_errors_total\{module="alpha"\} 3$/m);
    assert.match(text, /^erpmod_request_client_errors_total\{module="alpha"\} 3$/m);
    assert.match(text, /^erpmod_request_duration_seconds_count\{module="alpha"\} 13$/m);
    assert.match(text, /^erpmod_request_duration_seconds_bucket\{module="alpha",le="\+Inf"\} 13$/m);
    assert.match(text, /^erpmod_module_up\{module="init-throws"\} 0$/m);
    assert.match(text, /^# TYPE erpmod_request_duration_seconds histogram$/m);
  });

  it('aggregates module health: a failed module degrades the host, a module health() is reported', async () => {
    const reply = await host.admin('/api/v1/system/modules');
    assert.equal(reply.status, 200);
    assert.equal(reply.json.status, 'degraded');
    const byCode = new Map(reply.json.modules.map((module: { code: string }) => [module.code, module]));
    assert.equal((byCode.get('alpha') as { status: string }).status, 'healthy');
    assert.equal((byCode.get('init-throws') as { status: string }).status, 'unhealthy');
    const inventory = byCode.get('inventory') as { status: string; details: unknown };
    assert.equal(inventory.status, 'healthy');
    assert.ok(inventory.details, 'inventory reports details from its native health()');
  });
});
