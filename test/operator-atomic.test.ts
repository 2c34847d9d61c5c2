import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { mountSmallDisk, smallDiskUnavailable, type SmallDisk } from './support/small-disk';

const skip = smallDiskUnavailable();

/**
 * What GET /plugins/<code> says and what the module's routes answer must be the same thing: enabled and
 * active with routes answering, or disabled with routes answering 503 ERPMOD_MODULE_DISABLED.
 */
async function assertAgree(host: HostProcess, code: string, route: string, expected: 'active' | 'disabled'): Promise<{ generation: number | undefined }> {
  const plugin = (await host.admin(`/plugins/${code}`)).json;
  const served = await call(`${host.url}/api/v1/${code}${route}`);
  if (expected === 'active') {
    assert.equal(plugin.enabled, true, `${code}: registry enabled`);
    assert.equal(plugin.status, 'active', `${code}: registry status`);
    assert.equal(plugin.runtime?.state, 'active', `${code}: runtime state`);
    assert.equal(served.status, 200, `${code}${route} served: ${served.text}`);
  } else {
    assert.equal(plugin.enabled, false, `${code}: registry enabled`);
    assert.equal(plugin.status, 'inactive', `${code}: registry status`);
    assert.ok(plugin.runtime === null || plugin.runtime.state === 'disabled', `${code}: runtime ${JSON.stringify(plugin.runtime)}`);
    assert.equal(served.status, 503, `${code}${route} served: ${served.text}`);
    assert.equal(served.json.error.code, 'ERPMOD_MODULE_DISABLED');
  }
  return { generation: plugin.runtime?.generation as number | undefined };
}

async function assertStorageFull(host: HostProcess, code: string, action: string): Promise<void> {
  const reply = await host.admin(`/plugins/${code}/${action}`, 'POST');
  assert.equal(reply.status, 507, `${action} ${code} on a full disk: ${reply.text}`);
  assert.equal(reply.json.error.code, 'ERPMOD_STORAGE_FULL');
  assert.match(reply.json.error.message, /disk is full/);
  assert.match(reply.json.error.message, /SQLITE_[A-Z_]+|ENOSPC/, 'the cause is kept');
  assert.match(reply.json.error.message, /erpmod\.sqlite|\.sqlite|shadow/, 'names the file');
}

describe('operator actions on a full disk', { skip }, () => {
  let disk: SmallDisk;
  let host: HostProcess;
  const modulesDir = makeModulesDir(['example:inventory', 'example:sales', 'good-alpha']);

  before(async () => {
    disk = mountSmallDisk(24);
    host = await startHostProcess({ modulesDir, dataDir: disk.dir, env: { ERPMOD_LOG_LEVEL: 'info' } });
  });
  after(async () => {
    await host?.stop();
    disk?.free();
    disk?.unmount();
  });

  it('answers 507 ERPMOD_STORAGE_FULL to disable, toggle and reload, changes nothing, and works again once space is freed', async () => {
    const before = await assertAgree(host, 'sales', '/orders', 'active');
    assert.ok(disk.fill() > 0);
    for (const action of ['disable', 'toggle', 'reload']) {
      await assertStorageFull(host, 'sales', action);
      const now = await assertAgree(host, 'sales', '/orders', 'active');
      assert.equal(now.generation, before.generation, `${action}: the same generation keeps serving`);
    }
    const reload = await host.admin('/plugins/sales/reload', 'POST');
    assert.match(reload.json.error.message, /previous generation keeps serving/);

    disk.free();
    const disabled = await host.admin('/plugins/sales/disable', 'POST');
    assert.equal(disabled.status, 200, disabled.text);
    await assertAgree(host, 'sales', '/orders', 'disabled');

    disk.fill();
    for (const action of ['enable', 'toggle']) {
      await assertStorageFull(host, 'sales', action);
      await assertAgree(host, 'sales', '/orders', 'disabled');
    }

    disk.free();
    const enabled = await host.admin('/plugins/sales/enable', 'POST');
    assert.equal(enabled.status, 200, enabled.text);
    await assertAgree(host, 'sales', '/orders', 'active');
    const reloaded = await host.admin('/plugins/sales/reload', 'POST');
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.equal(reloaded.json.generation, (before.generation ?? 0) + 1);
    await assertAgree(host, 'sales', '/orders', 'active');
  });

  it('discards a module loaded for an enable whose registry write fails, and the module stays disabled', async () => {
    assert.equal((await host.admin('/plugins/alpha/disable', 'POST')).status, 200);
    assert.equal(await host.stop(), 0);
    host = await startHostProcess({ modulesDir, dataDir: disk.dir, env: { ERPMOD_LOG_LEVEL: 'info' } });
    assert.equal((await host.admin('/plugins/alpha')).json.runtime, null, 'disabled at boot: never loaded in this process');

    disk.fill();
    await assertStorageFull(host, 'alpha', 'enable');
    await assertAgree(host, 'alpha', '/ping', 'disabled');
    assert.equal((await host.admin('/plugins/alpha')).json.runtime, null, 'the generation loaded for the enable was discarded');

    disk.free();
    const enabled = await host.admin('/plugins/alpha/enable', 'POST');
    assert.equal(enabled.status, 200, enabled.text);
    await assertAgree(host, 'alpha', '/ping', 'active');
  });
});
