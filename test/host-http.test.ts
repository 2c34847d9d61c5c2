import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { rawExchange } from './support/raw-exchange';
import { eventually } from './support/eventually';

describe('the module routes over HTTP', () => {
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_BODY_LIMIT_BYTES: '1024' } });
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  it('hands the parsed JSON body to the native function and sends its reply', async () => {
    const reply = await call(`${host.url}/api/v1/alpha/echo`, 'POST', { order: { lines: [1, 2, 3] }, note: 'é' });
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { order: { lines: [1, 2, 3] }, note: 'é' });
    assert.match(reply.headers.get('content-type') ?? '', /application\/json/);
  });

  it('echoes a sane x-request-id and makes one up otherwise', async () => {
    const given = await call(`${host.url}/api/v1/alpha/ping`, 'GET', undefined, { 'x-request-id': 'trace-123' });
    assert.equal(given.headers.get('x-request-id'), 'trace-123');
    const made = await call(`${host.url}/api/v1/alpha/ping`, 'GET', undefined, { 'x-request-id': 'bad id\twith spaces' });
    assert.match(made.headers.get('x-request-id') ?? '', /^[0-9a-f]{8}-[0-9a-z]+$/);
  });

  it('answers malformed JSON with 400 ERPMOD_BAD_JSON', async () => {
    const reply = await call(`${host.url}/api/v1/alpha/echo`, 'POST', '{"lines": [1, 2', { 'content-type': 'application/json' });
    assert.equal(reply.status, 400);
    assert.equal(reply.json.error.code, 'ERPMOD_BAD_JSON');
    assert.match(reply.json.error.message, /expected a JSON request body/);
    assert.equal(reply.json.error.requestId, reply.headers.get('x-request-id'));
  });

  it('answers a body over the limit with 413, by Content-Length and while streaming', async () => {
    const declared = await call(`${host.url}/api/v1/alpha/echo`, 'POST', { blob: 'x'.repeat(2000) });
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error.code, 'ERPMOD_BODY_TOO_LARGE');
    assert.match(declared.json.error.message, /at most 1024 bytes/);

    const { reply: chunked } = await rawExchange(host.port, [
      'POST /api/v1/alpha/echo HTTP/1.1', 'Host: x', 'Content-Type: application/json', 'Transfer-Encoding: chunked', '', '',
    ].join('\r\n') + `800\r\n${'y'.repeat(0x800)}\r\n0\r\n\r\n`, 5000);
    assert.match(chunked, /^HTTP\/1\.1 413/);
  });

  it('answers unknown routes of a known module with 404 and unknown paths with the JSON 404', async () => {
    const route = await call(`${host.url}/api/v1/alpha/nowhere`);
    assert.equal(route.status, 404);
    assert.equal(route.json.error.code, 'ERPMOD_NOT_FOUND');
    // A path the module has, with another method: 405 naming the methods it has.
    const method = await call(`${host.url}/api/v1/alpha/ping`, 'DELETE');
    assert.equal(method.status, 405);
    assert.equal(method.headers.get('allow'), 'GET, HEAD');
    const other = await call(`${host.url}/api/v1/nobody/ping`);
    assert.equal(other.status, 404);
    assert.equal(other.json.error.code, 'ERPMOD_NOT_FOUND');
  });

  it('turns a throwing handler into a 500 that does not leak the vendor message', async () => {
    const reply = await call(`${host.url}/api/v1/alpha/throw`);
    assert.equal(reply.status, 500);
    assert.equal(reply.json.error.code, 'ERPMOD_HANDLER_FAILED');
    assert.ok(!reply.text.includes('internal detail 42'), 'the vendor message stays in the log');
    const requestId = reply.json.error.requestId;
    await eventually('the log has the handler\'s error under the request id', () => host.logs.some((entry) => entry.requestId === requestId && String(entry.err).includes('internal detail 42')), 2000);
  });

  it('answers a malformed handler reply with 500 ERPMOD_BAD_RESPONSE', async () => {
    const reply = await call(`${host.url}/api/v1/alpha/bad-reply`);
    assert.equal(reply.status, 500);
    assert.equal(reply.json.error.code, 'ERPMOD_BAD_RESPONSE');
  });

  it('answers 504 when an async handler does not settle within timeouts.request_ms, and keeps serving', async () => {
    const started = Date.now();
    const reply = await call(`${host.url}/api/v1/alpha/hang`);
    assert.equal(reply.status, 504);
    assert.equal(reply.json.error.code, 'ERPMOD_HANDLER_TIMEOUT');
    assert.ok(Date.now() - started >= 1900, 'waited for the declared 2000 ms');
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
  });

  it('serves asynchronous native work (a thread-pool job) concurrently', async () => {
    const started = Date.now();
    const replies = await Promise.all([1, 2, 3].map(() => call(`${host.url}/api/v1/alpha/slow?ms=300`)));
    assert.deepEqual(replies.map((reply) => reply.status), [200, 200, 200]);
    assert.ok(Date.now() - started < 900, 'the three 300 ms jobs overlapped');
  });
});

