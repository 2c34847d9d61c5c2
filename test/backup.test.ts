import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { CLI } from './support/paths';

/** Runs `erpmod backup` in its own process, as an operator or a cron job would. */
function backup(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'backup', ...args], { env: { ...process.env, ERPMOD_DATABASE_URL: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ORDER = { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 1, unit_price: 1250 }] };

describe('erpmod backup', () => {
  it('copies a running host that keeps writing, and the copy restored serves every order acknowledged before it started', async () => {
    const modulesDir = makeModulesDir(['example:inventory', 'example:sales']);
    const host = await startHostProcess({ modulesDir });
    let before: number[] = [];
    let copied: Awaited<ReturnType<typeof backup>>;
    const target = makeTempDir('backups');
    try {
      assert.equal((await call(`${host.url}/api/v1/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget', stock: 100_000 })).status, 201);
      const acknowledged: number[] = [];
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const reply = await call(`${host.url}/api/v1/sales/orders`, 'POST', ORDER);
          assert.equal(reply.status, 201, reply.text);
          acknowledged.push(reply.json.id as number);
        }
      })();
      while (acknowledged.length < 20) await new Promise((resolve) => setTimeout(resolve, 10));
      before = [...acknowledged];
      copied = await backup(['--to', target, '--data-dir', host.dataDir]);
      writing = false;
      await writer;
      assert.ok(acknowledged.length > before.length, 'orders kept being written while the backup ran');
    } finally {
      assert.equal(await host.stop(), 0);
    }

    assert.equal(copied.code, 0, copied.stderr);
    const [dir] = fs.readdirSync(target);
    assert.match(dir!, /^erpmod-backup-\d{8}T\d{6}Z$/, 'one whole backup directory, no partial one');
    assert.match(copied.stdout, /backed up 3 database\(s\)/);
    const backupDir = path.join(target, dir!);
    const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'backup.json'), 'utf8'));
    assert.deepEqual(manifest.files.map((file: { path: string }) => file.path), ['erpmod.sqlite', 'modules/inventory.sqlite', 'modules/sales.sqlite']);
    for (const file of manifest.files as { path: string; bytes: number; sha256: string }[]) {
      const bytes = fs.readFileSync(path.join(backupDir, file.path));
      assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), file.sha256, `${file.path}: backup.json's digest`);
      assert.ok(!fs.existsSync(path.join(backupDir, `${file.path}-wal`)), `${file.path}: one self-contained file, no -wal beside it`);
    }
    assert.ok(!fs.existsSync(path.join(backupDir, 'admin-token')), 'the admin token (a secret) is not copied');

    // Restored into a fresh data directory, as docs/operations.md says.
    const restored = makeTempDir('restored');
    fs.copyFileSync(path.join(backupDir, 'erpmod.sqlite'), path.join(restored, 'erpmod.sqlite'));
    fs.cpSync(path.join(backupDir, 'modules'), path.join(restored, 'modules'), { recursive: true });
    const again = await startHostProcess({ modulesDir, dataDir: restored });
    try {
      const health = await again.admin('/api/v1/system/modules');
      assert.equal(health.json.status, 'healthy', JSON.stringify(health.json));
      for (const id of before) assert.equal((await call(`${again.url}/api/v1/sales/orders/${id}`)).status, 200, `order ${id}, acknowledged before the backup, is in it`);
      const item = (await call(`${again.url}/api/v1/inventory/items/W-1`)).json;
      assert.ok(item.reserved >= before.length, `the reservations of those orders are in it too (reserved ${item.reserved}, orders ${before.length})`);
    } finally {
      assert.equal(await again.stop(), 0);
    }
  });

  it('refuses what it cannot back up whole, keeps nothing, and says what to do instead', async () => {
    const target = makeTempDir('backups');
    const notData = makeTempDir('not-data');
    const refused = await backup(['--to', target, '--data-dir', notData]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /ERPMOD_BACKUP_FAILED: .*has no erpmod\.sqlite: expected the data directory of a host that ran on SQLite/);
    assert.deepEqual(fs.readdirSync(target), [], 'no directory that looks like a backup');

    // A registry that is not a database (damaged, or something else under its name) is named, and nothing is kept.
    fs.writeFileSync(path.join(notData, 'erpmod.sqlite'), 'not a database at all');
    const damaged = await backup(['--to', target, '--data-dir', notData]);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stderr, /ERPMOD_STORAGE_UNAVAILABLE: .*erpmod\.sqlite: expected a readable and writable SQLite file .*SQLITE_NOTADB/);
    assert.deepEqual(fs.readdirSync(target), []);

    const postgres = await backup(['--to', target, '--data-dir', notData], { ERPMOD_DATABASE_URL: 'postgres://erpmod:secret@127.0.0.1:5432/erp' });
    assert.equal(postgres.code, 1);
    assert.match(postgres.stderr, /ERPMOD_BACKUP_FAILED: .*on PostgreSQL \(database_url\): back that database up with pg_dump/);
    assert.ok(!postgres.stderr.includes('secret'), 'the database password is not printed');

    const usage = await backup([]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /ERPMOD_USAGE: --to: expected the directory/);
  });
});
