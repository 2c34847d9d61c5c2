import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { eventually } from './support/eventually';

/** A module dir with alpha (its POST /echo declared `accepts: json`) and the SDK-built inventory. */
function modulesWithJsonOnlyEcho(): string {
  const dir = makeModulesDir(['good-alpha', 'example:inventory']);
  const manifest = path.join(dir, 'good-alpha', 'module.yml');
  fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('{ method: POST, path: /echo }', '{ method: POST, path: /echo, accepts: json }'));
  return dir;
}

describe('requests answered in words: 405, 415, request ids in module errors, the access log', () => {
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir: modulesWithJsonOnlyEcho(), env: { ERPMOD_BODY_LIMIT_BYTES: '1024', ERPMOD_BODY_BUDGET_BYTES: '1024' } });
  });
  after(async () => {
    await host.stop();
  });

  it('answers a known path with another method 405, Allow listing the methods it has', async () => {
    const reply = await call(`${host.url}/api/v1/inventory/items`, 'DELETE');
    assert.equal(reply.status, 405);
    assert.equal(reply.headers.get('allow'), 'GET, HEAD, POST');
    assert.equal(reply.json.error.code, 'ERPMOD_METHOD_NOT_ALLOWED');
    assert.match(reply.json.error.message, /serves \/api\/v1\/inventory\/items for GET, HEAD, POST, not DELETE/);
    const param = await call(`${host.url}/api/v1/inventory/items/A-1/stock`, 'GET');
    assert.equal(param.status, 405);
    assert.equal(param.headers.get('allow'), 'PUT');
    // A path no method has stays 404.
    assert.equal((await call(`${host.url}/api/v1/inventory/nowhere`, 'DELETE')).status, 404);
  });

  it('refuses a non-JSON body on a route declared accepts: json with 415, before the module runs', async () => {
    const text = await call(`${host.url}/api/v1/alpha/echo`, 'POST', 'a=1', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(text.status, 415);
    assert.equal(text.json.error.code, 'ERPMOD_UNSUPPORTED_MEDIA_TYPE');
    assert.match(text.json.error.message, /POST \/echo accepts JSON only: expected content-type application\/json, got "application\/x-www-form-urlencoded"/);
    assert.equal((await call(`${host.url}/api/v1/alpha/echo`, 'POST', { a: 1 })).json.a, 1);
    assert.equal((await call(`${host.url}/api/v1/alpha/echo`, 'POST', '{"b":2}', { 'content-type': 'application/vnd.erp+json' })).status, 200);
    // Routes without accepts keep taking any body (it reaches the module as rawBody).
    const raw = await call(`${host.url}/api/v1/inventory/items`, 'POST', 'sku=1', { 'content-type': 'text/plain' });
    assert.notEqual(raw.status, 415);
  });

  it('adds the request id to the error body a module built with the SDK returns', async () => {
    const reply = await call(`${host.url}/api/v1/inventory/items/NO-SUCH`, 'GET', undefined, { 'x-request-id': 'trace-404' });
    assert.equal(reply.status, 404);
    assert.deepEqual(reply.json.error, { code: 'INVENTORY_ITEM_NOT_FOUND', message: 'no item with sku "NO-SUCH"', requestId: 'trace-404' });
    const invalid = await call(`${host.url}/api/v1/inventory/items`, 'POST', {}, { 'x-request-id': 'trace-400' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.json.error.code, 'ERPMOD_VALIDATION');
    assert.equal(invalid.json.error.requestId, 'trace-400');
    assert.ok(invalid.json.error.fields, 'the field errors are kept');
    // Success bodies are left as the module wrote them.
    assert.equal((await call(`${host.url}/api/v1/inventory/items`)).json.error, undefined);
  });

  it('writes one access-log line per module request, with what an operator looks for', async () => {
    await call(`${host.url}/api/v1/alpha/ping?secret=1`, 'GET', undefined, { 'x-request-id': 'access-1' });
    await call(`${host.url}/api/v1/alpha/nowhere`, 'GET', undefined, { 'x-request-id': 'access-2' });
    const lines = (id: string): Record<string, unknown>[] => host.logs.filter((entry) => entry.access === true && entry.requestId === id);
    await eventually('both requests are logged', () => lines('access-1').length === 1 && lines('access-2').length === 1);
    const line = lines('access-1')[0]!;
    assert.equal(line.level, 30);
    assert.equal(line.method, 'GET');
    assert.equal(line.path, '/api/v1/alpha/ping', 'no query string: it may carry personal data');
    assert.equal(line.status, 200);
    assert.equal(line.module, 'alpha');
    assert.equal(line.version, '1.0.0');
    assert.equal(typeof line.durationMs, 'number');
    assert.match(String(line.msg), /^GET \/api\/v1\/alpha\/ping 200 [\d.]+ ms$/);
    for (const entry of [...lines('access-1'), ...lines('access-2')]) {
      // The duration is written as text twice (field and message): both must read as the same number.
      assert.equal(entry.msg, `${String(entry.method)} ${String(entry.path)} ${String(entry.status)} ${String(entry.durationMs)} ms`);
    }
    assert.equal(lines('access-2')[0]!.status, 404);
  });

  it('counts refusals on purpose (ERPMOD_BUSY, a disabled module) as rejected, not as errors', async () => {
    const before = (await host.admin('/api/v1/system/metrics')).json.modules.alpha;
    // The budget holds one body at the limit: a held upload leaves no room for the next one.
    const held = net.connect(host.port, '127.0.0.1');
    held.write(`POST /api/v1/alpha/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1024\r\n\r\n{`);
    try {
      await eventually('the held upload is reading', async () => (await host.admin('/api/v1/system/metrics')).json.modules.alpha.inFlight === 1);
      const busy = await call(`${host.url}/api/v1/alpha/echo`, 'POST', `"${'x'.repeat(1000)}"`);
      assert.equal(busy.status, 503);
      assert.equal(busy.json.error.code, 'ERPMOD_BUSY');
    } finally {
      held.destroy();
    }
    assert.equal((await host.admin('/plugins/alpha/disable', 'POST')).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).json.error.code, 'ERPMOD_MODULE_DISABLED');
    assert.equal((await host.admin('/plugins/alpha/enable', 'POST')).status, 200);

    const metrics = await host.admin('/api/v1/system/metrics');
    const alpha = metrics.json.modules.alpha;
    assert.equal(alpha.rejected - before.rejected, 4);
    assert.equal(alpha.errors, before.errors, 'refusals are not errors');
    assert.equal(alpha.requests - before.requests, 4, 'they were answered');
    assert.equal(metrics.json.host.rejected, alpha.rejected);
    const text = (await host.admin('/metrics')).text;
    assert.match(text, new RegExp(`^erpmod_requests_rejected_total\\{module="alpha"\\} ${alpha.rejected}$`, 'm'));
    assert.match(text, new RegExp(`^erpmod_request_errors_total\\{module="alpha"\\} ${alpha.errors}$`, 'm'));
    assert.match(text, /^erpmod_workers 1$/m);
  });
});

describe('a port in use, found before any module boots', () => {
  it('exits 1 with ERPMOD_PORT_IN_USE naming the listener and the port, having booted nothing', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      for (const [args, listener] of [[['--port', String(port)], 'public'], [['--admin-port', String(port)], 'admin']] as const) {
        const failed = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), args }).then(
          async (running) => {
            await running.stop();
            return undefined;
          },
          (error: { exitCode?: unknown; logs?: Record<string, unknown>[] }) => error,
        );
        assert.ok(failed, `the host started although the ${listener} port ${port} is taken`);
        assert.equal(failed.exitCode, 1);
        const fatal = failed.logs!.find((entry) => entry.level === 60)!;
        assert.equal(fatal.code, 'ERPMOD_PORT_IN_USE');
        assert.match(String(fatal.err), new RegExp(`the ${listener} listener cannot bind 127\\.0\\.0\\.1:${port}: another process already listens on port ${port}`));
        assert.ok(!failed.logs!.some((entry) => entry.module !== undefined), 'no module was discovered or booted');
      }
    } finally {
      taken.close();
    }
  });

  it('in a cluster, the primary finds it before forking any worker', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const failed = (await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), args: ['--admin-port', String(port)], env: { ERPMOD_WORKERS: '2' } }).then(
        async (running) => {
          await running.stop();
          return undefined;
        },
        (error: { exitCode?: unknown; logs?: Record<string, unknown>[]; message: string }) => error,
      ))!;
      assert.ok(failed, 'the cluster started although the admin port is taken');
      assert.equal(failed.exitCode, 1);
      assert.match(failed.message, new RegExp(`erpmod: ERPMOD_PORT_IN_USE: the admin listener cannot bind 127\\.0\\.0\\.1:${port}`));
      assert.deepEqual(failed.logs, [], 'no worker started, no module booted');
    } finally {
      taken.close();
    }
  });
});
