import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

/** Copies good-alpha under a new directory name with its module.yml rewritten by `edit`. */
function hostileCopy(modulesDir: string, name: string, edit: (manifest: string) => string): void {
  const dir = path.join(modulesDir, name);
  fs.cpSync(path.join(modulesDir, 'good-alpha'), dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'module.yml'), edit(fs.readFileSync(path.join(dir, 'module.yml'), 'utf8')));
}

describe('hostile manifests', () => {
  it('rejects path escapes, prefix escapes, YAML bombs and huge files, and loads the good module', async () => {
    const modulesDir = makeModulesDir(['good-alpha']);
    const recode = (code: string) => (text: string): string => text.replace('code: alpha', `code: ${code}`);
    hostileCopy(modulesDir, 'escape-dotdot', (t) => recode('escape-dotdot')(t).replace('lib/linux-x64/alpha.so', '../good-alpha/lib/linux-x64/alpha.so'));
    hostileCopy(modulesDir, 'escape-absolute', (t) => recode('escape-absolute')(t).replace('lib/linux-x64/alpha.so', '/etc/passwd'));
    hostileCopy(modulesDir, 'escape-symlink', recode('escape-symlink'));
    const linked = path.join(modulesDir, 'escape-symlink', 'lib', 'linux-x64', 'alpha.so');
    fs.rmSync(linked);
    fs.symlinkSync(path.join(modulesDir, 'good-alpha', 'lib', 'linux-x64', 'alpha.so'), linked);
    hostileCopy(modulesDir, 'escape-migrations', (t) => `${recode('escape-migrations')(t)}migrations: ../../..\n`);
    hostileCopy(modulesDir, 'escape-prefix', recode('"../plugins"'));
    hostileCopy(modulesDir, 'reserved-code', recode('system'));
    hostileCopy(modulesDir, 'route-escape', (t) => recode('route-escape')(t).replace('path: /ping', 'path: /../../plugins'));
    hostileCopy(modulesDir, 'yaml-bomb', () => {
      const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
      for (let i = 1; i < 12; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
      return `code: yaml-bomb\n${lines.join('\n')}\n`;
    });
    hostileCopy(modulesDir, 'huge-manifest', (t) => `${t}description: "${'d'.repeat(400_000)}"\n`);

    const started = Date.now();
    const host = await startHostProcess({ modulesDir });
    assert.ok(Date.now() - started < 10_000, 'hostile manifests do not slow the boot down');
    const plugins = new Map(((await host.admin('/plugins')).json as { code: string; status: string; lastError: string }[]).map((p) => [p.code, p]));
    assert.equal(plugins.get('alpha')?.status, 'active');
    const expectRejected = (code: string, reason: RegExp): void => {
      const plugin = plugins.get(code);
      assert.ok(plugin, `${code} is listed`);
      assert.equal(plugin.status, 'rejected', `${code}: ${plugin.lastError}`);
      assert.match(plugin.lastError, reason, code);
    };
    expectRejected('escape-dotdot', /binaries\.linux-x64/);
    expectRejected('escape-absolute', /binaries\.linux-x64/);
    expectRejected('escape-symlink', /binaries\.linux-x64/);
    expectRejected('escape-migrations', /migrations/);
    expectRejected('escape-prefix', /code/);
    expectRejected('reserved-code', /code/);
    expectRejected('route-escape', /routes\[0\]\.path/);
    expectRejected('yaml-bomb', /alias|Excessive/i);
    expectRejected('huge-manifest', /256 KiB|bytes/);
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
    assert.equal(await host.stop(), 0);
  });
});
