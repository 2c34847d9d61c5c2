import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../host/config/load-config';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { rawExchange } from './support/raw-exchange';

const OPERATOR_ROUTES = [['GET', '/plugins'], ['GET', '/plugins/alpha'], ['POST', '/plugins/alpha/disable'], ['POST', '/plugins/alpha/reload'], ['GET', '/api/v1/system/metrics'], ['GET', '/api/v1/system/modules'], ['GET', '/metrics']] as const;

describe('the operator surface with no admin token configured', () => {
  const modulesDir = makeModulesDir(['good-alpha']);
  const dataDir = makeTempDir('security-data');
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir, dataDir });
  });
  after(async () => {
    await host.stop();
  });

  it('creates a random token file with mode 0600 and prints its value and path once, on stderr, not in the log', () => {
    const file = path.join(dataDir, 'admin-token');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.match(host.adminToken, /^[0-9a-f]{64}$/, '32 random bytes as hex: a token never starts with a dash a command line would read as a flag');
    assert.ok(host.stderr().includes(file) && host.stderr().includes(`Bearer ${host.adminToken}`), host.stderr());
    assert.ok(!JSON.stringify(host.logs).includes(host.adminToken), 'the token is not in the log');
  });

  it('refuses every operator route on the admin listener without the token, though the client is on loopback', async () => {
    for (const [method, route] of OPERATOR_ROUTES) {
      const reply = await call(`${host.adminUrl}${route}`, method);
      assert.equal(reply.status, 401, `${method} ${route}`);
      assert.equal(reply.json.error.code, 'ERPMOD_UNAUTHORIZED');
      assert.ok(!reply.text.includes(dataDir), 'no path leaks');
    }
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'alpha still serves');
  });

  it('accepts the bearer scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const reply = await call(`${host.adminUrl}/plugins/alpha`, 'GET', undefined, { authorization: `${scheme} ${host.adminToken}` });
      assert.equal(reply.status, 200, scheme);
    }
  });

  it('does not serve operator routes on the public listener, and says where they went', async () => {
    for (const [method, route] of OPERATOR_ROUTES) {
      const reply = await call(`${host.url}${route}`, method, undefined, { authorization: `Bearer ${host.adminToken}` });
      assert.equal(reply.status, 404, `${method} ${route}`);
      assert.equal(reply.json.error.code, 'ERPMOD_OPERATOR_ROUTE_MOVED');
      assert.ok(reply.json.error.message.includes(host.adminUrl), reply.json.error.message);
      assert.ok(reply.json.error.message.includes(path.join(dataDir, 'admin-token')), reply.json.error.message);
      assert.ok(!reply.text.includes(modulesDir), 'no module path leaks');
    }
    const plugin = await host.admin('/plugins/alpha');
    assert.ok(plugin.text.includes(dataDir), 'the operator does see the paths');
  });

  it('keeps /healthz and /readyz public on both listeners', async () => {
    for (const base of [host.url, host.adminUrl]) {
      assert.deepEqual((await call(`${base}/healthz`)).json, { status: 'ok' });
      assert.deepEqual((await call(`${base}/readyz`)).json, { status: 'ready' });
    }
  });

  it('refuses a state change from a foreign Origin (the module stays enabled), and accepts its own', async () => {
    const refused = await host.admin('/plugins/alpha/disable', 'POST', undefined, { origin: 'https://evil.example', 'content-type': 'text/plain' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.error.code, 'ERPMOD_FOREIGN_ORIGIN');
    const json = await host.admin('/plugins/alpha/disable', 'POST', '{}', { origin: 'null' });
    assert.equal(json.status, 403, 'an opaque origin is foreign too');
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'alpha still serves');
    assert.equal((await host.admin('/plugins/alpha')).json.enabled, true);

    const own = await host.admin('/plugins/alpha/toggle', 'POST', undefined, { origin: host.adminUrl });
    assert.equal(own.status, 200, own.text);
    assert.equal((await host.admin('/plugins/alpha/toggle', 'POST')).status, 200, 'back on');
  });

  it('refuses a state change with a content type other than JSON; none and JSON are fine', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const reply = await host.admin('/plugins/alpha/disable', 'POST', 'x', { 'content-type': type });
      assert.equal(reply.status, 415, type);
      assert.equal(reply.json.error.code, 'ERPMOD_UNSUPPORTED_MEDIA_TYPE');
    }
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'alpha still serves');
    assert.equal((await host.admin('/plugins/alpha/reload', 'POST', '{}', { 'content-type': 'application/json; charset=utf-8' })).status, 200);
    assert.equal((await host.admin('/plugins/alpha/reload', 'POST')).status, 200);
  });

  it('refuses a Host header that names no loopback address (DNS rebinding), even with the token', async () => {
    const ask = (hostHeader: string) =>
      rawExchange(host.adminPort, `GET /api/v1/system/metrics HTTP/1.1\r\nHost: ${hostHeader}\r\nAuthorization: Bearer ${host.adminToken}\r\nConnection: close\r\n\r\n`);
    for (const foreign of ['evil.example', `evil.example:${host.adminPort}`, '127.0.0.1.evil.example', '10.0.0.1']) {
      const { reply } = await ask(foreign);
      assert.match(reply, /^HTTP\/1\.1 403/, foreign);
      assert.match(reply, /ERPMOD_FORBIDDEN/);
    }
    for (const own of [`127.0.0.1:${host.adminPort}`, `localhost:${host.adminPort}`, 'localhost', `[::1]:${host.adminPort}`]) {
      assert.match((await ask(own)).reply, /^HTTP\/1\.1 200/, own);
    }
  });
});

describe('the admin token across starts', () => {
  it('is read back at the next start (and not printed again); a group-readable or malformed file refuses the start', async () => {
    const modulesDir = makeModulesDir(['good-alpha']);
    const dataDir = makeTempDir('token-restart');
    const first = await startHostProcess({ modulesDir, dataDir });
    const token = first.adminToken;
    await first.stop();
    const second = await startHostProcess({ modulesDir, dataDir });
    try {
      assert.equal(second.adminToken, token);
      assert.ok(!second.stderr().includes(token), 'printed only when created');
      assert.equal((await second.admin('/plugins/alpha')).status, 200);
    } finally {
      await second.stop();
    }

    const file = path.join(dataDir, 'admin-token');
    fs.chmodSync(file, 0o640);
    await assert.rejects(startHostProcess({ modulesDir, dataDir }), refusedWith(/admin-token: expected mode 0600 .*got 0640/));
    fs.chmodSync(file, 0o600);
    fs.writeFileSync(file, 'two words\n');
    await assert.rejects(startHostProcess({ modulesDir, dataDir }), refusedWith(/admin-token: expected a token of printable ASCII characters without spaces/));
  });

  it('refuses to start with a configured token that could never match, naming the setting and not the value', async () => {
    const modulesDir = makeModulesDir(['good-alpha']);
    for (const bad of ['s3cret-token  ', 'sécret-token', 'two words']) {
      await assert.rejects(
        startHostProcess({ modulesDir, env: { ERPMOD_ADMIN_TOKEN: bad } }),
        (error: Error) => refusedWith(/ERPMOD_ADMIN_TOKEN: expected a token of printable ASCII characters without spaces/)(error) && !error.message.includes(bad.trim()),
      );
    }
  });

  it('reads admin_host / admin_port (127.0.0.1:3001 by default) and refuses an admin port equal to the public port', () => {
    const cwd = makeTempDir('admin-config');
    assert.deepEqual(pick(loadConfig({ cwd, env: {} })), ['127.0.0.1', 3001]);
    assert.deepEqual(pick(loadConfig({ cwd, env: { ERPMOD_ADMIN_HOST: '::1', ERPMOD_ADMIN_PORT: '4001' } })), ['::1', 4001]);
    fs.writeFileSync(path.join(cwd, 'erpmod.config.yml'), 'admin_host: 10.0.0.5\nadmin_port: 0\n');
    assert.deepEqual(pick(loadConfig({ cwd, env: {} })), ['10.0.0.5', 0]);
    assert.throws(() => loadConfig({ cwd, env: { ERPMOD_ADMIN_PORT: 'x' } }), /ERPMOD_ADMIN_PORT: expected an integer from 0 to 65535/);
    assert.throws(() => loadConfig({ cwd, env: {}, overrides: { port: 4000, adminPort: 4000 } }), /admin_port: expected a port other than the public port 4000/);
  });
});

/** The start failed with ERPMOD_CONFIG_INVALID and a message matching `pattern`. */
function refusedWith(pattern: RegExp): (error: Error & { logs?: Record<string, unknown>[] }) => boolean {
  // Refused while reading the configuration: one line on stderr; at boot: the fatal log line.
  const onStderr = new RegExp(`ERPMOD_CONFIG_INVALID: .*${pattern.source}`);
  return (error) => onStderr.test(error.message) || (error.logs ?? []).some((entry) => entry.code === 'ERPMOD_CONFIG_INVALID' && pattern.test(String(entry.err)));
}

function pick(config: { adminHost: string; adminPort: number }): [string, number] {
  return [config.adminHost, config.adminPort];
}
