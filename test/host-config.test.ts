import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../host/config/load-config';
import { ErpmodError } from '../host/errors';
import { makeTempDir, startHostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

describe('host configuration', () => {
  it('runs on defaults with nothing set', () => {
    const cwd = makeTempDir('config');
    const config = loadConfig({ cwd, env: {} });
    assert.equal(config.port, 3000);
    assert.equal(config.modulesDir, path.join(cwd, 'modules'));
    assert.equal(config.dataDir, path.join(cwd, 'data'));
    assert.equal(config.logLevel, 'info');
    assert.equal(config.adminToken, undefined);
  });

  it('layers erpmod.config.yml, then ERPMOD_* variables, then command-line overrides', () => {
    const cwd = makeTempDir('config');
    fs.writeFileSync(path.join(cwd, 'erpmod.config.yml'), 'port: 4000\nlog_level: warn\nmodules_dir: /opt/modules\ndata_dir: var\n');
    const fromFile = loadConfig({ cwd, env: {} });
    assert.deepEqual([fromFile.port, fromFile.logLevel, fromFile.modulesDir, fromFile.dataDir], [4000, 'warn', '/opt/modules', path.join(cwd, 'var')]);
    const fromEnv = loadConfig({ cwd, env: { ERPMOD_PORT: '4100', ERPMOD_LOG_LEVEL: 'debug' } });
    assert.deepEqual([fromEnv.port, fromEnv.logLevel, fromEnv.modulesDir], [4100, 'debug', '/opt/modules']);
    const fromCli = loadConfig({ cwd, env: { ERPMOD_PORT: '4100' }, overrides: { port: 4200 } });
    assert.equal(fromCli.port, 4200);
  });

  it('stops with one line naming the source, the expectation and the value', () => {
    const cwd = makeTempDir('config');
    const expectFailure = (env: NodeJS.ProcessEnv, message: RegExp): void => {
      assert.throws(() => loadConfig({ cwd, env }), (error: unknown) => {
        assert.ok(error instanceof ErpmodError);
        assert.equal(error.code, 'ERPMOD_CONFIG_INVALID');
        assert.match(error.message, message);
        assert.ok(!error.message.includes('\n'), 'one line');
        return true;
      });
    };
    expectFailure({ ERPMOD_PORT: 'eighty' }, /ERPMOD_PORT: expected an integer from 0 to 65535, got "eighty"/);
    expectFailure({ ERPMOD_PORT: '70000' }, /got "70000"/);
    fs.writeFileSync(path.join(cwd, 'erpmod.config.yml'), 'prot: 80\n');
    expectFailure({}, /unknown setting "prot"; expected one of port, /);
    fs.writeFileSync(path.join(cwd, 'erpmod.config.yml'), '- just\n- a list\n');
    expectFailure({}, /expected a mapping of settings, got a list/);
  });
});

describe('a configuration file given with --config', () => {
  it('is the one the trust policy is read from: require_signature refuses an unsigned module', async () => {
    const dir = makeTempDir('config');
    const file = path.join(dir, 'strict.yml');
    const { publicKey } = crypto.generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    fs.writeFileSync(file, `require_signature: true\ntrusted_keys: ["${raw}"]\n`);
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), args: ['--config', file] });
    const alpha = (await host.admin('/plugins/alpha')).json;
    assert.equal(alpha.status, 'rejected');
    assert.match(alpha.lastError, /binary\/signature/);
    assert.equal(await host.stop(), 0);
  });
});
