import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { rawExchange } from './support/raw-exchange';
import { seededRandom } from './support/seeded-random';



describe('the HTTP edge', () => {
  let host: HostProcess;
  let api: string;
  before(async () => {
    host = await startHostProcess({
      modulesDir: makeModulesDir(['edge-cases', 'example:inventory']),
      env: { ERPMOD_HEADERS_TIMEOUT_MS: '600', ERPMOD_BODY_LIMIT_BYTES: '65536' },
    });
    api = `${host.url}/api/v1`;
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  it('refuses JSON nested deeper than 64 levels with 400, and accepts 64', async () => {
    const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    assert.equal((await call(`${api}/edge/echo`, 'POST', nested(64))).status, 200);
    const deep = await call(`${api}/edge/echo`, 'POST', nested(5000));
    assert.equal(deep.status, 400);
    assert.equal(deep.json.error.code, 'ERPMOD_BAD_JSON');
    assert.match(deep.json.error.message, /at most 64 levels deep/);
    const inString = await call(`${api}/edge/echo`, 'POST', JSON.stringify({ text: '['.repeat(5000) }));
    assert.equal(inString.status, 200, 'brackets inside strings are not nesting');
  });

  it('answers malformed module replies with 500 ERPMOD_BAD_RESPONSE and never splits a response', async () => {
    for (const route of ['bad-reply', 'bad-status', 'bad-header', 'crlf-header']) {
      const reply = await call(`${api}/edge/${route}`);
      assert.equal(reply.status, 500, route);
      assert.equal(reply.json.error.code, 'ERPMOD_BAD_RESPONSE', route);
      assert.equal(reply.headers.get('set-cookie'), null);
    }
  });

  it('refuses oversized headers and URLs (431) and keeps serving', async () => {
    const hugeUrl = await rawExchange(host.port, `GET /api/v1/edge/ping?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.match(hugeUrl.reply, /^HTTP\/1\.1 431/);
    const hugeHeader = await rawExchange(host.port, `GET /api/v1/edge/ping HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`);
    assert.match(hugeHeader.reply, /^HTTP\/1\.1 431/);
    const longParam = await call(`${api}/edge/items/${'s'.repeat(300)}`);
    assert.equal(longParam.status, 404, 'a path parameter over 256 characters matches no route');
    assert.equal((await call(`${api}/edge/ping`)).status, 200);
  });

  it('drops a client that sends its headers too slowly, while serving the others', async () => {
    const slow = rawExchange(host.port, 'GET /api/v1/edge/ping HTTP/1.1\r\nHost: x\r\n', 5000);
    for (let i = 0; i < 5; i++) assert.equal((await call(`${api}/edge/ping`)).status, 200);
    const { reply, closedAfterMs } = await slow;
    assert.match(reply, /^HTTP\/1\.1 408/);
    assert.ok(closedAfterMs < 3000, `closed after ${closedAfterMs} ms`);
  });

  it('survives a few thousand random requests with no undocumented 5xx, and the databases stay intact', async () => {
    const random = seededRandom(20261124);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
    const paths = ['/api/v1/edge/ping', '/api/v1/edge/echo', '/api/v1/edge/items/', '/api/v1/inventory/items', '/api/v1/inventory/items/', '/api/v1/', '/api/v1/system/metrics', '/plugins', '/plugins/edge', '/readyz', '/', '/api/v1/%2e%2e/plugins', '/api/v1/edge/../../plugins'];
    const bodies = ['', '{}', '{"sku":"F-1","name":"fuzz","stock":1}', 'null', '[1,2', '{"a":"\u0000"}', 'x'.repeat(70_000), '{"sku":' + '9'.repeat(400) + '}', '\u00ff\u00fe garbage'];
    const types = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/vnd.api+json', ''];
    const seen = new Map<number, number>();
    let inventoryCreates = 0;
    for (let i = 0; i < 2000; i++) {
      const method = pick(methods);
      let url = pick(paths);
      if (url.endsWith('/')) url += encodeURIComponent(String.fromCharCode(...Array.from({ length: 1 + Math.floor(random() * 12) }, () => 32 + Math.floor(random() * 200))));
      if (random() < 0.3) url += `?limit=${Math.floor(random() * 1000) - 100}&x=${pick(['', '%zz', 'a&a=b'])}`;
      const headers: Record<string, string> = { 'x-request-id': pick(['ok-1', 'bad id', '', 'x'.repeat(200)]) };
      const type = pick(types);
      if (type !== '') headers['content-type'] = type;
      const body = method === 'GET' || method === 'HEAD' ? undefined : pick(bodies);
      if (url === '/api/v1/inventory/items' && method === 'POST') inventoryCreates++;
      const response = await fetch(`${host.url}${url}`, { method, headers, body }).catch((error: Error) => error);
      assert.ok(!(response instanceof Error), `request ${i} ${method} ${url} got no reply: ${String(response)}`);
      seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
      const text = await response.text();
      if (response.status >= 500) {
        assert.fail(`request ${i} ${method} ${url} answered ${response.status}: ${text.slice(0, 300)}`);
      }
    }
    assert.ok(inventoryCreates > 0);
    assert.equal((await call(`${api}/edge/ping`)).status, 200, 'still serving');
    assert.ok((seen.get(404) ?? 0) > 0 && (seen.get(200) ?? 0) > 0, JSON.stringify([...seen]));

    for (const file of [path.join(host.dataDir, 'erpmod.sqlite'), path.join(host.dataDir, 'modules', 'inventory.sqlite')]) {
      assert.ok(fs.existsSync(file));
      const db = new Database(file, { readonly: true });
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', file);
      db.close();
    }
  });
});
