import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

interface PluginJson {
  code: string;
  status: string;
  lastError: string | null;
  enabled: boolean;
  binarySha256: string | null;
}

describe('boot with failing non-critical modules', () => {
  let host: HostProcess;
  let plugins: Map<string, PluginJson>;

  before(async () => {
    const modulesDir = makeModulesDir([
      'good-alpha', 'good-beta', 'napi-10', 'no-info-block', 'info-code-mismatch', 'identity-mismatch',
      'init-throws', 'init-hangs', 'missing-dependency', 'route-missing', 'optional-base', 'needs-optional', 'flagged',
    ]);
    fs.mkdirSync(`${modulesDir}/not-a-module`);
    host = await startHostProcess({ modulesDir, env: { FEATURE_FLAG_ENABLE_FLAGGED: 'false' } });
    const reply = await host.admin('/plugins');
    assert.equal(reply.status, 200);
    plugins = new Map((reply.json as PluginJson[]).map((plugin) => [plugin.code, plugin]));
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  const expectStatus = (code: string, status: string, reason?: RegExp): void => {
    const plugin = plugins.get(code);
    assert.ok(plugin, `GET /plugins lists ${code}`);
    assert.equal(plugin.status, status, `${code}: ${plugin.lastError}`);
    if (reason) assert.match(plugin.lastError ?? '', reason);
  };

  it('serves the healthy modules, dependents after their dependency', async () => {
    expectStatus('alpha', 'active');
    expectStatus('beta', 'active');
    const reply = await call(`${host.url}/api/v1/beta/ping`);
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.json, { module: 'beta', version: '1.0.0' });
    const loaded = host.logs.filter((entry) => entry.msg === 'module alpha loaded' || entry.msg === 'module beta loaded');
    assert.deepEqual(loaded.map((entry) => entry.module), ['alpha', 'beta']);
    assert.ok(loaded.every((entry) => typeof entry.loadMs === 'number'), 'each load line carries its load time');
  });

  it('refuses a library declaring Node-API 10 without ever mapping it, and keeps running', async () => {
    expectStatus('napi-ten', 'rejected', /abi\/napi-version: declared Node-API 10, but this Node supports up to \d+/);
    // dlopen of this file would have killed the process with SIGSEGV; it is alive and the file was never mapped.
    const maps = fs.readFileSync(`/proc/${host.child.pid}/maps`, 'utf8');
    assert.ok(maps.includes('/shadow/alpha/'), 'healthy modules are mapped from their shadow copies');
    assert.ok(!maps.includes('/shadow/napi-ten/'), 'the rejected library is not mapped');
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
  });

  it('rejects libraries whose info block is missing or names another module', () => {
    expectStatus('no-info', 'rejected', /meta\/info-block/);
    expectStatus('info-mismatch', 'rejected', /meta\/identity: .*someone-else.*info-mismatch/);
  });

  it('fails modules whose load phase goes wrong, with the reason', () => {
    expectStatus('identity-mismatch', 'failed', /declares identity-mismatch@1\.0\.0, but the library reports impostor@1\.0\.0/);
    expectStatus('init-throws', 'failed', /initialize\(\) failed: fixture initialize failed on purpose/);
    expectStatus('init-hangs', 'failed', /initialize\(\) did not finish within 500 ms/);
    expectStatus('missing-dep', 'failed', /depends on "ghost", but no module/);
    expectStatus('route-missing', 'failed', /declares POST \/echo, but getHandler returned null/);
  });

  it('blocks the dependents of a failed module and skips modules whose feature flag is off', async () => {
    expectStatus('optional-base', 'failed');
    expectStatus('needs-optional', 'blocked', /dependency "optional-base" is failed/);
    expectStatus('flagged', 'inactive', /feature flag enable_flagged is off/);
    const reply = await call(`${host.url}/api/v1/flagged/ping`);
    assert.equal(reply.status, 503);
    assert.equal(reply.json.error.code, 'ERPMOD_MODULE_NOT_ACTIVE');
    // A first boot makes its modules' databases ahead of loading them; not for a module switched off.
    assert.ok(!fs.existsSync(path.join(host.dataDir, 'modules', 'flagged.sqlite')), 'a module whose flag is off gets no database');
    assert.ok(fs.existsSync(path.join(host.dataDir, 'modules', 'alpha.sqlite')), 'a loaded module has its database');
  });

  it('records every outcome in the registry and GET /plugins/:code shows the history', async () => {
    const reply = await host.admin('/plugins/init-throws');
    assert.equal(reply.status, 200);
    assert.equal(reply.json.status, 'failed');
    assert.ok(reply.json.events.some((event: { kind: string }) => event.kind === 'failed'));
    const alpha = await host.admin('/plugins/alpha');
    assert.match(alpha.json.binarySha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(
      alpha.json.endpoints.map((endpoint: { method: string; path: string }) => `${endpoint.method} ${endpoint.path}`).sort(),
      ['GET /bad-reply', 'GET /hang', 'GET /ping', 'GET /slow', 'GET /throw', 'POST /echo'],
    );
    const missing = await host.admin('/plugins/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, 'ERPMOD_NOT_FOUND');
  });

  it('answers /healthz and /readyz', async () => {
    assert.deepEqual((await call(`${host.url}/healthz`)).json, { status: 'ok' });
    assert.deepEqual((await call(`${host.url}/readyz`)).json, { status: 'ready' });
  });
});

describe('boot that cannot finish', () => {
  const bootFailure = async (fixtures: string[]): Promise<{ exitCode: unknown; text: string }> => {
    const error = await startHostProcess({ modulesDir: makeModulesDir(fixtures) }).then(
      async (host) => {
        await host.stop();
        assert.fail('the host started although it should not have');
      },
      (failure: Error & { exitCode?: unknown }) => failure,
    );
    return { exitCode: error.exitCode, text: error.message };
  };

  it('exits non-zero naming the whole dependency cycle', async () => {
    const { exitCode, text } = await bootFailure(['good-alpha', 'cycle-a', 'cycle-b']);
    assert.equal(exitCode, 1);
    assert.match(text, /cycle-a -> cycle-b -> cycle-a/);
  });

  it('exits non-zero with the reason when a critical module fails', async () => {
    const { exitCode, text } = await bootFailure(['good-alpha', 'critical-fails']);
    assert.equal(exitCode, 1);
    assert.match(text, /critical module "critical-fails" is failed: .*fixture initialize failed on purpose/);
  });

  it('exits non-zero with one clear line for a bad configuration value', async () => {
    const failure = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_LOG_LEVEL: 'loud' } }).then(
      () => assert.fail('started with a bad log level'),
      (error: Error & { exitCode?: unknown }) => error,
    );
    assert.equal(failure.exitCode, 1);
    assert.match(failure.message, /ERPMOD_CONFIG_INVALID: environment variable ERPMOD_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
  });
});
