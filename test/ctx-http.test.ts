import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { freePort } from './support/free-port';
import { allowLoopbackPorts, makeModulesDir } from './support/modules-dir';

const LAB = '/api/v1/pool-lab';

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A self-signed certificate no trust store accepts. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = makeTempDir('tls');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) };
}

describe('ctx.http from pool handlers', () => {
  let host: HostProcess;
  const servers: (http.Server | https.Server)[] = [];
  const ports = { ok: 0, silent: 0, big: 0, closed: 0, tls: 0, denied: 0 };
  const seen: http.IncomingHttpHeaders[] = [];

  before(async () => {
    const ok = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rate: 1.0842, path: req.url }));
    });
    const silent = http.createServer(() => {
      // Never answers: the request must time out.
    });
    const big = http.createServer((_req, res) => res.end(Buffer.alloc(64 * 1024, 'x')));
    const tls = https.createServer(selfSigned(), (_req, res) => res.end('secret'));
    const denied = http.createServer((_req, res) => res.end('should never be reached'));
    servers.push(ok, silent, big, tls, denied);
    ports.ok = await listen(ok);
    ports.silent = await listen(silent);
    ports.big = await listen(big);
    ports.tls = await listen(tls);
    ports.denied = await listen(denied);
    ports.closed = await freePort();

    const modulesDir = makeModulesDir(['pool-lab']);
    allowLoopbackPorts(modulesDir, 'pool-lab', [ports.ok, ports.silent, ports.big, ports.closed, ports.tls]);
    host = await startHostProcess({ modulesDir, env: { ERPMOD_HTTP_MAX_RESPONSE_BYTES: '16384' } });
  });
  after(async () => {
    await host?.stop();
    for (const server of servers) server.close();
  });

  const fetchVia = (url: string, ms?: number) => call(`${host.url}${LAB}/fetch?url=${encodeURIComponent(url)}${ms ? `&ms=${ms}` : ''}`);

  it('returns the status, headers and body of an allowed service, with the headers the handler set', async () => {
    const reply = await fetchVia(`http://127.0.0.1:${ports.ok}/rates/EUR`);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { status: 200, body: JSON.stringify({ rate: 1.0842, path: '/rates/EUR' }), type: 'application/json' });
    assert.equal(seen.at(-1)?.['x-from'], 'pool-lab');
  });

  it('refuses a host:port that module.yml does not allow, without connecting', async () => {
    const before = seen.length;
    const reply = await fetchVia(`http://127.0.0.1:${ports.denied}/`);
    assert.equal(reply.status, 502);
    assert.equal(reply.json.code, 'ERPMOD_HTTP_NOT_ALLOWED');
    assert.match(reply.json.message, new RegExp(`127\\.0\\.0\\.1:${ports.denied} is not in module.yml http.allow`));
    assert.equal((await fetchVia('file:///etc/passwd')).json.code, 'ERPMOD_HTTP_NOT_ALLOWED');
    assert.equal(seen.length, before);
  });

  it('surfaces connection refused, timeout, TLS failure and an oversized body as typed errors the handler turns into 502 / 504', async () => {
    const refused = await fetchVia(`http://127.0.0.1:${ports.closed}/`);
    assert.equal(refused.status, 502);
    assert.deepEqual([refused.json.code, refused.json.cause], ['ERPMOD_HTTP_UNREACHABLE', 'ECONNREFUSED']);

    const started = performance.now();
    const slow = await fetchVia(`http://127.0.0.1:${ports.silent}/`, 300);
    assert.equal(slow.status, 504);
    assert.equal(slow.json.code, 'ERPMOD_HTTP_TIMEOUT');
    assert.ok(performance.now() - started < 900, 'the timeout the handler asked for held');

    const tls = await fetchVia(`https://127.0.0.1:${ports.tls}/`);
    assert.equal(tls.status, 502);
    assert.equal(tls.json.code, 'ERPMOD_HTTP_UNREACHABLE');
    assert.match(tls.json.cause, /CERT|SELF_SIGNED/);

    const big = await fetchVia(`http://127.0.0.1:${ports.big}/`);
    assert.equal(big.status, 502);
    assert.equal(big.json.code, 'ERPMOD_HTTP_RESPONSE_TOO_LARGE');
  });

  it('keeps the host serving while a pool handler waits on a slow service', async () => {
    const waiting = fetchVia(`http://127.0.0.1:${ports.silent}/`, 800);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    assert.equal((await call(`${host.url}/healthz`)).status, 200);
    assert.equal((await call(`${host.url}${LAB}/fast`)).status, 200);
    assert.ok(performance.now() - started < 500);
    assert.equal((await waiting).status, 504);
  });
});

describe('ctx.http from a plain-C pool handler (erpmod/pool-c.h)', () => {
  let host: HostProcess;
  const servers: http.Server[] = [];
  const ports = { ok: 0, silent: 0, closed: 0, denied: 0 };
  const seen: { method?: string; url?: string; from?: string | string[]; body: string }[] = [];

  before(async () => {
    const ok = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, from: req.headers['x-from'], body: Buffer.concat(chunks).toString() });
        res.writeHead(201, { 'content-type': 'application/json', 'x-rate-source': 'test' }).end(JSON.stringify({ rate: 1.0842, path: req.url }));
      });
    });
    const silent = http.createServer(() => {
      // Never answers: the request must time out.
    });
    const denied = http.createServer((req, res) => {
      seen.push({ method: req.method, url: req.url, body: 'denied server reached' });
      res.end();
    });
    servers.push(ok, silent, denied);
    ports.ok = await listen(ok);
    ports.silent = await listen(silent);
    ports.denied = await listen(denied);
    ports.closed = await freePort();

    const modulesDir = makeModulesDir(['pool-c']);
    allowLoopbackPorts(modulesDir, 'pool-c', [ports.ok, ports.silent, ports.closed]);
    host = await startHostProcess({ modulesDir });
  });
  after(async () => {
    await host?.stop();
    for (const server of servers) server.close();
  });

  const fetchVia = (url: string, query = '', body?: unknown) =>
    call(`${host.url}/api/v1/pool-c/fetch?url=${encodeURIComponent(url)}${query}`, body === undefined ? 'GET' : 'POST', body);

  it('sends method, headers and body and returns status, headers and body', async () => {
    const got = await fetchVia(`http://127.0.0.1:${ports.ok}/rates/EUR?at="noon"`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.status, 201);
    assert.equal(got.json.headers['x-rate-source'], 'test');
    assert.deepEqual(JSON.parse(got.json.body), { rate: 1.0842, path: '/rates/EUR?at=%22noon%22' });
    assert.deepEqual(seen.at(-1), { method: 'GET', url: '/rates/EUR?at=%22noon%22', from: 'pool-c', body: '' });

    const posted = await fetchVia(`http://127.0.0.1:${ports.ok}/orders`, '&method=POST', { note: 'a "quoted"\nline' });
    assert.equal(posted.status, 200, posted.text);
    assert.deepEqual(seen.at(-1), { method: 'POST', url: '/orders', from: 'pool-c', body: JSON.stringify({ note: 'a "quoted"\nline' }) });
  });

  it('gets ERPMOD_HTTP_NOT_ALLOWED for a host:port off the allow-list, without connecting', async () => {
    const before = seen.length;
    const refused = await fetchVia(`http://127.0.0.1:${ports.denied}/`);
    assert.equal(refused.status, 502, refused.text);
    assert.equal(refused.json.code, 'ERPMOD_HTTP_NOT_ALLOWED');
    assert.match(refused.json.message, new RegExp(`^ERPMOD_HTTP_NOT_ALLOWED: .*127\\.0\\.0\\.1:${ports.denied} is not in module.yml http.allow`));
    assert.equal(seen.length, before);
  });

  it('gets ERPMOD_HTTP_UNREACHABLE for a refused connection and ERPMOD_HTTP_TIMEOUT for a silent service', async () => {
    const unreachable = await fetchVia(`http://127.0.0.1:${ports.closed}/`);
    assert.equal(unreachable.status, 502, unreachable.text);
    assert.equal(unreachable.json.code, 'ERPMOD_HTTP_UNREACHABLE');
    assert.match(unreachable.json.message, /ECONNREFUSED/);

    const slow = await fetchVia(`http://127.0.0.1:${ports.silent}/`, '&ms=300');
    assert.equal(slow.status, 504, slow.text);
    assert.equal(slow.json.code, 'ERPMOD_HTTP_TIMEOUT');
  });
});
