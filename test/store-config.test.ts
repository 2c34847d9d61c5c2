import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../host/config/load-config';
import { makeTempDir } from './support/host-process';

describe('the database settings', () => {
  const cwd = makeTempDir('config');

  it('keeps module data on SQLite when database_url is unset, and takes a postgres URL from the environment', () => {
    assert.equal(loadConfig({ cwd, env: {} }).databaseUrl, undefined);
    const config = loadConfig({ cwd, env: { ERPMOD_DATABASE_URL: 'postgres://erp:s3cret@db.internal:5433/erp', ERPMOD_DATABASE_POOL_SIZE: '8', ERPMOD_DATABASE_SSL_MODE: 'verify-full' } });
    assert.deepEqual([config.databaseUrl, config.databasePoolSize, config.databaseSslMode], ['postgres://erp:s3cret@db.internal:5433/erp', 8, 'verify-full']);
  });

  it('runs at least 16 pool threads with a database_url unless pool_threads is set', () => {
    const url = 'postgres://erp@db.internal/erp';
    const sqlite = loadConfig({ cwd, env: {} }).poolThreads;
    assert.ok(loadConfig({ cwd, env: { ERPMOD_DATABASE_URL: url } }).poolThreads >= Math.max(16, sqlite));
    assert.equal(loadConfig({ cwd, env: { ERPMOD_DATABASE_URL: url, ERPMOD_POOL_THREADS: '3' } }).poolThreads, 3);
    assert.equal(loadConfig({ cwd, env: { ERPMOD_DATABASE_URL: url }, overrides: { poolThreads: 5 } }).poolThreads, 5);
  });

  it('refuses a URL that is not postgres or names no database, without echoing the password', () => {
    const refusals = [
      ['mysql://erp:s3cret@db/erp', /expected a postgres:\/\/ or postgresql:\/\/ URL, got a mysql: URL/],
      ['postgres://erp:s3cret@db.internal', /naming a host and a database.*got host "db.internal" and database ""/],
      ['postgres://erp:s3cret@[not a host/erp', /does not parse as a URL/],
    ] as const;
    for (const [url, message] of refusals) {
      assert.throws(() => loadConfig({ cwd, env: { ERPMOD_DATABASE_URL: url } }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'ERPMOD_CONFIG_INVALID');
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /s3cret/);
        return true;
      });
    }
  });

  it('refuses TLS settings without a database_url, and an unknown TLS mode', () => {
    assert.throws(() => loadConfig({ cwd, env: { ERPMOD_DATABASE_SSL_MODE: 'require' } }), /expected database_url \(ERPMOD_DATABASE_URL\) to be set as well/);
    assert.throws(
      () => loadConfig({ cwd, env: { ERPMOD_DATABASE_URL: 'postgres://db/erp', ERPMOD_DATABASE_SSL_MODE: 'prefer' } }),
      /expected one of disable, require, verify-full, got "prefer"/,
    );
  });
});

describe('migration files per engine', () => {
  it('replaces a portable migration by the engine directory’s file of the same name, and adds engine-only ones', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { migrationFiles } = await import('../host/compliance/manifest/list-migration-files');
    const moduleDir = makeTempDir('module');
    const dir = path.join(moduleDir, 'migrations');
    fs.mkdirSync(path.join(dir, 'postgres'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'sqlite'), { recursive: true });
    fs.writeFileSync(path.join(dir, '001-orders.sql'), 'portable');
    fs.writeFileSync(path.join(dir, '002-lines.sql'), 'portable');
    fs.writeFileSync(path.join(dir, 'postgres', '001-orders.sql'), 'postgres');
    fs.writeFileSync(path.join(dir, 'postgres', '003-tuning.sql'), 'postgres only');
    fs.writeFileSync(path.join(dir, 'sqlite', '002-lines.sql'), 'sqlite');
    const loaded = { manifest: { migrations: 'migrations' }, moduleDir, manifestPath: path.join(moduleDir, 'module.yml') } as never;
    const read = (engine: 'sqlite' | 'postgres'): string[][] =>
      migrationFiles(loaded, engine).map((file) => [file.name, fs.readFileSync(file.absolutePath, 'utf8')]);
    assert.deepEqual(read('postgres'), [['001-orders.sql', 'postgres'], ['002-lines.sql', 'portable'], ['003-tuning.sql', 'postgres only']]);
    assert.deepEqual(read('sqlite'), [['001-orders.sql', 'portable'], ['002-lines.sql', 'sqlite']]);
  });
});
