import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { call } from './support/http-client';
import { formatLogs, makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { mountSmallDisk, smallDiskUnavailable } from './support/small-disk';
import { createLogger } from '../host/logger';
import { openRegistryDatabase } from '../host/registry/sqlite/open-sqlite-database';
import { SqliteRegistry } from '../host/registry/sqlite/sqlite-registry';
import { guardModuleData } from '../host/store/sqlite/guard-module-data';
import { createSqliteModuleStore } from '../host/store/sqlite/sqlite-module-store';
import { createModuleDatabase, createModuleDatabases } from '../host/store/sqlite/create-module-database';
import { moduleDatabasePath } from '../host/store/sqlite/open-module-database';

const modulesDir = makeModulesDir(['example:inventory', 'example:sales']);

function inventoryFile(dataDir: string): string {
  return path.join(dataDir, 'modules', 'inventory.sqlite');
}

/** A data directory where inventory holds one item and sales one order, as a host left it. */
async function seededDataDir(): Promise<string> {
  const host = await startHostProcess({ modulesDir, env: { ERPMOD_LOG_LEVEL: 'info' } });
  assert.equal((await call(`${host.url}/api/v1/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget', stock: 10 })).status, 201);
  assert.equal((await call(`${host.url}/api/v1/sales/orders`, 'POST', { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 2, unit_price: 500 }] })).status, 201);
  assert.equal(await host.stop(), 0);
  return host.dataDir;
}

/** Starts a host that must refuse to boot; returns its fatal log line. */
async function refusedBoot(dataDir: string, args: readonly string[] = []): Promise<Record<string, unknown>> {
  const error = await startHostProcess({ modulesDir, dataDir, args, env: { ERPMOD_LOG_LEVEL: 'info' } }).then(
    async (host: HostProcess) => {
      await host.stop();
      assert.fail(`the host booted; logs:\n${formatLogs(host.logs)}`);
    },
    (error: unknown) => error as { exitCode: number | string; logs: Record<string, unknown>[] },
  );
  assert.equal(error.exitCode, 1, 'exits non-zero');
  const fatal = error.logs.find((entry) => entry.level === 60);
  assert.ok(fatal !== undefined, `a fatal line; logs:\n${formatLogs(error.logs)}`);
  return fatal;
}

async function assertInventoryRefused(dataDir: string, found: RegExp): Promise<void> {
  const fatal = await refusedBoot(dataDir);
  assert.equal(fatal.code, 'ERPMOD_CRITICAL_MODULE_FAILED', 'inventory is critical: sales depends on it');
  const message = String(fatal.msg);
  assert.ok(message.includes(inventoryFile(dataDir)), `names the file: ${message}`);
  assert.match(message, found);
  assert.match(message, /--accept-new-data inventory/, 'says the way out');
}

describe('module data guard', () => {
  it('gives a first boot with no data new databases, each carrying its identity, recorded by the registry', async () => {
    const dataDir = await seededDataDir();
    const registry = new Database(path.join(dataDir, 'erpmod.sqlite'), { readonly: true });
    const recorded = registry.prepare('SELECT code, database_id, migrations FROM module_databases ORDER BY code').all() as { code: string; database_id: string; migrations: string }[];
    registry.close();
    assert.deepEqual(recorded.map((row) => row.code), ['inventory', 'sales']);
    for (const row of recorded) {
      assert.ok(JSON.parse(row.migrations).length > 0, `${row.code}: migrations recorded`);
      const db = new Database(path.join(dataDir, 'modules', `${row.code}.sqlite`), { readonly: true });
      assert.deepEqual(db.prepare('SELECT module_code, database_id FROM _erpmod_identity').get(), { module_code: row.code, database_id: row.database_id });
      db.close();
    }
  });

  it('refuses an inventory database truncated to zero bytes, or deleted, and the boot stops naming the file', async () => {
    const dataDir = await seededDataDir();
    fs.truncateSync(inventoryFile(dataDir), 0);
    await assertInventoryRefused(dataDir, /file is empty \(0 bytes\)/);
    assert.equal(fs.statSync(inventoryFile(dataDir)).size, 0, 'the refused file is left as it was');

    fs.rmSync(inventoryFile(dataDir));
    await assertInventoryRefused(dataDir, /no file is there/);
    assert.ok(!fs.existsSync(inventoryFile(dataDir)), 'no fresh file was made');
  });

  it('refuses swapped sales and inventory databases, naming the file and whose it is', async () => {
    const dataDir = await seededDataDir();
    const sales = path.join(dataDir, 'modules', 'sales.sqlite');
    const parked = `${sales}.parked`;
    fs.renameSync(sales, parked);
    fs.renameSync(inventoryFile(dataDir), sales);
    fs.renameSync(parked, inventoryFile(dataDir));
    const fatal = await refusedBoot(dataDir);
    assert.equal(fatal.code, 'ERPMOD_CRITICAL_MODULE_FAILED');
    assert.ok(String(fatal.msg).includes(inventoryFile(dataDir)), String(fatal.msg));
    assert.match(String(fatal.msg), /found the database of module "sales"/);
    // Accepting new data does not make another module's file inventory's.
    assert.match(String((await refusedBoot(dataDir, ['--accept-new-data', 'inventory'])).msg), /found the database of module "sales"/);
  });

  it('starts a module on a new database only when the operator says so with --accept-new-data, once', async () => {
    const dataDir = await seededDataDir();
    fs.rmSync(inventoryFile(dataDir));
    let host = await startHostProcess({ modulesDir, dataDir, args: ['--accept-new-data', 'inventory'], env: { ERPMOD_LOG_LEVEL: 'info' } });
    assert.equal((await call(`${host.url}/api/v1/inventory/items`)).json.count, 0);
    assert.ok(host.logs.some((entry) => entry.level === 40 && String(entry.msg).includes('--accept-new-data')), 'warns');
    const events = (await host.admin('/plugins/inventory')).json.events as { kind: string }[];
    assert.ok(events.some((event) => event.kind === 'data-accepted'), JSON.stringify(events));
    assert.equal(await host.stop(), 0);

    host = await startHostProcess({ modulesDir, dataDir, env: { ERPMOD_LOG_LEVEL: 'info' } });
    assert.equal((await call(`${host.url}/api/v1/sales/orders`)).json.total, 1, 'sales kept its data');
    assert.equal(await host.stop(), 0);
    fs.truncateSync(inventoryFile(dataDir), 0);
    await assertInventoryRefused(dataDir, /file is empty/);
  });

  it('upgrades a registry from before the guard in place and adopts the module databases already there', async () => {
    const dataDir = await seededDataDir();
    const registry = new Database(path.join(dataDir, 'erpmod.sqlite'));
    registry.exec('DROP TABLE module_databases');
    registry.pragma('user_version = 1');
    registry.close();
    for (const code of ['inventory', 'sales']) {
      const db = new Database(path.join(dataDir, 'modules', `${code}.sqlite`));
      db.exec('DROP TABLE _erpmod_identity');
      db.close();
    }
    const host = await startHostProcess({ modulesDir, dataDir, env: { ERPMOD_LOG_LEVEL: 'info' } });
    assert.equal((await call(`${host.url}/api/v1/inventory/items`)).json.count, 1, 'inventory kept its item');
    assert.equal((await call(`${host.url}/api/v1/sales/orders`)).json.total, 1, 'sales kept its order');
    assert.ok(host.logs.some((entry) => String(entry.msg).includes('adopted its existing database')));
    assert.equal(await host.stop(), 0);
    fs.rmSync(inventoryFile(dataDir));
    await assertInventoryRefused(dataDir, /no file is there/);
  });

  it('names an inventory database that is not a database', async () => {
    const dataDir = await seededDataDir();
    fs.writeFileSync(inventoryFile(dataDir), Buffer.alloc(8192, 0x41));
    const fatal = await refusedBoot(dataDir);
    assert.equal(fatal.code, 'ERPMOD_CRITICAL_MODULE_FAILED');
    assert.ok(String(fatal.msg).includes(inventoryFile(dataDir)), String(fatal.msg));
    assert.match(String(fatal.msg), /SQLITE_NOTADB/);
  });
});

describe('registry file problems at boot', () => {
  it('names a half-truncated registry and exits non-zero', async () => {
    const dataDir = await seededDataDir();
    const file = path.join(dataDir, 'erpmod.sqlite');
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    const fatal = await refusedBoot(dataDir);
    assert.equal(fatal.code, 'ERPMOD_STORAGE_UNAVAILABLE');
    assert.ok(String(fatal.msg).includes(file), String(fatal.msg));
  });

  it('names a registry on a read-only disk and exits non-zero', { skip: smallDiskUnavailable() }, async () => {
    const disk = mountSmallDisk(16);
    try {
      const dataDir = path.join(disk.dir, 'data');
      fs.cpSync(await seededDataDir(), dataDir, { recursive: true });
      disk.readOnly();
      const fatal = await refusedBoot(dataDir);
      assert.equal(fatal.code, 'ERPMOD_STORAGE_UNAVAILABLE');
      assert.ok(String(fatal.msg).includes(path.join(dataDir, 'erpmod.sqlite')), String(fatal.msg));
    } finally {
      disk.unmount();
    }
  });

  it('names a registry path that cannot be a file', async () => {
    const dataDir = makeTempDir('data');
    fs.mkdirSync(path.join(dataDir, 'erpmod.sqlite'));
    const fatal = await refusedBoot(dataDir);
    assert.ok(String(fatal.msg).includes(path.join(dataDir, 'erpmod.sqlite')), String(fatal.msg));
  });
});

describe('module data guard, inside the host process', () => {
  const guarded = async (dataDir: string, code: string): Promise<void> => {
    const registry = new SqliteRegistry(openRegistryDatabase(dataDir));
    guardModuleData({ registry, dataDir, code, logger: createLogger('silent') });
    await registry.close();
  };
  const openFiles = (file: string): number => fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  }).length;

  it('loads the module on the database it checked, without opening the file a second time', async () => {
    const dataDir = makeTempDir('guard-handover');
    await guarded(dataDir, 'alpha');
    const file = moduleDatabasePath(dataDir, 'alpha');
    assert.equal(openFiles(file), 1, 'the checked database stays open for the load');
    const db = await createSqliteModuleStore(dataDir).openModule('alpha', []);
    assert.equal(openFiles(file), 1, 'the load took the checked database rather than opening another');
    assert.deepEqual(db.facade.all('SELECT module_code FROM _erpmod_identity', []), [{ module_code: 'alpha' }]);
    await db.close();
    assert.equal(openFiles(file), 0);
  });

  it('closes a checked database no load takes by the next turn (a load that failed first, an isolated module)', async () => {
    const dataDir = makeTempDir('guard-untaken');
    await guarded(dataDir, 'beta');
    const file = moduleDatabasePath(dataDir, 'beta');
    assert.equal(openFiles(file), 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(openFiles(file), 0, 'no file handle is left behind');
    const db = await createSqliteModuleStore(dataDir).openModule('beta', []);
    assert.deepEqual(db.facade.all('SELECT module_code FROM _erpmod_identity', []), [{ module_code: 'beta' }], 'a later load opens the file itself');
    await db.close();
  });

  it('makes a first database whole before it takes its name: identity, migrations table and WAL in place, no temporary file left', async () => {
    const dataDir = makeTempDir('guard-first');
    await guarded(dataDir, 'gamma');
    const file = moduleDatabasePath(dataDir, 'gamma');
    assert.deepEqual(fs.readdirSync(path.dirname(file)).filter((name) => !name.startsWith('gamma.sqlite-')), ['gamma.sqlite']);
    await new Promise((resolve) => setImmediate(resolve));
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.deepEqual(db.prepare('SELECT module_code FROM _erpmod_identity').all(), [{ module_code: 'gamma' }]);
      assert.deepEqual(db.prepare('SELECT count(*) AS applied FROM _erpmod_migrations').get(), { applied: 0 });
    } finally {
      db.close();
    }
  });

  it('keeps the database a host booting alongside made first (its identity, not a second one)', () => {
    const dataDir = makeTempDir('guard-race');
    const file = moduleDatabasePath(dataDir, 'delta');
    const identityOf = (): unknown => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare('SELECT database_id FROM _erpmod_identity').get();
      } finally {
        db.close();
      }
    };
    createModuleDatabase(file, 'delta');
    const first = identityOf();
    createModuleDatabase(file, 'delta');
    assert.deepEqual(identityOf(), first);
    assert.deepEqual(fs.readdirSync(path.dirname(file)).filter((name) => !name.startsWith('delta.sqlite-')), ['delta.sqlite'], 'no temporary file left');
  });

  it("makes a first boot's databases together, each whole with its own identity, keeping one a host booting alongside made first", async () => {
    const dataDir = makeTempDir('guard-together');
    const codes = ['kappa', 'lambda', 'mu', 'nu'];
    createModuleDatabase(moduleDatabasePath(dataDir, 'mu'), 'mu');
    const identityOf = (code: string): { module_code: string; database_id: string } => {
      const db = new Database(moduleDatabasePath(dataDir, code), { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal', `${code}: WAL`);
        assert.deepEqual(db.prepare('SELECT count(*) AS applied FROM _erpmod_migrations').get(), { applied: 0 }, `${code}: migrations table`);
        return db.prepare('SELECT module_code, database_id FROM _erpmod_identity').get() as { module_code: string; database_id: string };
      } finally {
        db.close();
      }
    };
    const muBefore = identityOf('mu');
    await createModuleDatabases(codes.map((code) => ({ code, file: moduleDatabasePath(dataDir, code) })));
    const identities = codes.map(identityOf);
    assert.deepEqual(identities.map((identity) => identity.module_code), codes);
    assert.equal(new Set(identities.map((identity) => identity.database_id)).size, codes.length, 'each its own database id');
    assert.deepEqual(identityOf('mu'), muBefore, 'the database already there is kept');
    assert.deepEqual(fs.readdirSync(path.join(dataDir, 'modules')).filter((name) => !/\.sqlite-(wal|shm)$/.test(name)).sort(), codes.map((code) => `${code}.sqlite`), 'no temporary file left');

    // The guard then claims them as they are, and the registry records the identities the files carry.
    const registry = new SqliteRegistry(openRegistryDatabase(dataDir));
    try {
      for (const code of codes) guardModuleData({ registry, dataDir, code, logger: createLogger('silent') });
      assert.deepEqual(codes.map((code) => registry.moduleDatabase(code)?.databaseId), identities.map((identity) => identity.database_id));
    } finally {
      await registry.close();
    }
  });

  it('leaves a database it cannot make to the guard, and makes the others', async () => {
    const dataDir = makeTempDir('guard-together-blocked');
    const blocked = path.join(dataDir, 'not-a-directory');
    fs.writeFileSync(blocked, 'a file where a directory would be');
    await createModuleDatabases([
      { code: 'xi', file: path.join(blocked, 'xi.sqlite') },
      { code: 'omicron', file: moduleDatabasePath(dataDir, 'omicron') },
    ]);
    assert.ok(fs.existsSync(moduleDatabasePath(dataDir, 'omicron')), 'the other database is made');
    assert.equal(fs.readFileSync(blocked, 'utf8'), 'a file where a directory would be', 'nothing written where it could not go');
  });

  it('makes none of a first boot\'s databases on a full disk, leaves no temporary file, and leaves the error to the guard', { skip: smallDiskUnavailable() }, async () => {
    const disk = mountSmallDisk(1);
    try {
      const dataDir = path.join(disk.dir, 'data');
      fs.mkdirSync(path.join(dataDir, 'modules'), { recursive: true });
      disk.fill();
      await createModuleDatabases(['pi', 'rho'].map((code) => ({ code, file: moduleDatabasePath(dataDir, code) })));
      assert.deepEqual(fs.readdirSync(path.join(dataDir, 'modules')), [], 'no half-made database, no temporary file');
      // The registry on a disk with room: only the module databases' disk is full.
      const registry = new SqliteRegistry(openRegistryDatabase(makeTempDir('guard-full-registry')));
      try {
        assert.throws(
          () => guardModuleData({ registry, dataDir, code: 'pi', logger: createLogger('silent') }),
          (error: { code?: string; message?: string }) => error.code === 'ERPMOD_STORAGE_FULL' && String(error.message).includes(moduleDatabasePath(dataDir, 'pi')),
          'the guard names the full disk and the file',
        );
      } finally {
        await registry.close();
      }
    } finally {
      disk.unmount();
    }
  });

  it("leaves nothing under the module database's name when the disk fills while it is made, and names the file", { skip: smallDiskUnavailable() }, async () => {
    const disk = mountSmallDisk(1);
    try {
      const dataDir = path.join(disk.dir, 'data');
      const registry = new SqliteRegistry(openRegistryDatabase(dataDir));
      disk.fill();
      try {
        assert.throws(
          () => guardModuleData({ registry, dataDir, code: 'epsilon', logger: createLogger('silent') }),
          (error: { code?: string; message?: string }) => error.code === 'ERPMOD_STORAGE_FULL' && String(error.message).includes(moduleDatabasePath(dataDir, 'epsilon')),
        );
      } finally {
        await registry.close();
      }
      assert.deepEqual(fs.readdirSync(path.join(dataDir, 'modules')), [], 'no half-made database, no temporary file');
    } finally {
      disk.unmount();
    }
  });
});
