import pg from 'pg';
import { ErpmodError } from '../../errors';
import type { Logger } from '../../logger';
import type { ModuleDatabase, ModuleStore, RunnerStoreSettings } from '../module-store';
import { planConnections, moduleRolePassword, type PostgresSettings } from './connection-settings';
import { createPostgresDbFacade } from './postgres-db-facade';
import { deliveryMarkFor } from './delivery-marks';
import { rowTypes } from './pg-row-types';
import { lockKey, moduleSchemaNames, provisionModuleSchema } from './provision-module-schema';
import { isUnavailable, unavailable } from './translate-pg-error';

/** What an isolated module's runner needs to reach its schema: its own role's connection, nothing of the host's. */
export interface PostgresRunnerSettings {
  readonly engine: 'postgres';
  readonly where: string;
  readonly connection: pg.PoolConfig;
}

/** Module data on PostgreSQL: a schema and a login role per module, one kept pool per module. */
export function createPostgresModuleStore(settings: PostgresSettings, logger: Logger): ModuleStore & { readonly where: string } {
  const plan = planConnections(settings);
  const { where } = plan.target;
  const admin = new pg.Pool(plan.admin);
  // An idle connection that the server drops emits here; the next query reports it to its caller.
  admin.on('error', (error) => logger.warn({ err: error.message, database: where }, 'PostgreSQL connection lost (host)'));
  const pools = new Set<pg.Pool>();
  const hostPassword = decodeURIComponent(new URL(settings.url).password);

  async function provision(code: string, migrations: Parameters<ModuleStore['openModule']>[1]): Promise<{ applied: string[]; connection: pg.PoolConfig }> {
    const { schema, role } = moduleSchemaNames(code);
    const applied = await provisionModuleSchema({ admin, code, rolePassword: moduleRolePassword(hostPassword, code), migrations, where });
    return { applied, connection: plan.forModule(code, schema, role) };
  }

  return {
    engine: 'postgres',
    asyncDb: true,
    where,
    checkModule: refuseWithoutAsyncDb(where),
    async prepareIsolated(code, migrations): Promise<RunnerStoreSettings> {
      const { connection } = await provision(code, migrations);
      const runner: PostgresRunnerSettings = { engine: 'postgres', where, connection };
      return runner;
    },
    async openModule(code, migrations): Promise<ModuleDatabase> {
      const { applied, connection } = await provision(code, migrations);
      return openModulePool(code, connection, where, logger, pools, applied);
    },
    async close() {
      await Promise.all([...pools].map((pool) => pool.end().catch(() => undefined)));
      pools.clear();
      await admin.end().catch(() => undefined);
    },
  };
}

/**
 * The store inside an isolated module's runner: the host already created the schema and applied the
 * migrations; the runner only logs in as the module's role.
 */
export function attachPostgresModuleStore(settings: PostgresRunnerSettings, logger: Logger): ModuleStore {
  const pools = new Set<pg.Pool>();
  return {
    engine: 'postgres',
    asyncDb: true,
    checkModule: refuseWithoutAsyncDb(settings.where),
    async prepareIsolated() {
      throw new Error('a runner does not start runners');
    },
    async openModule(code) {
      return openModulePool(code, settings.connection, settings.where, logger, pools, []);
    },
    async close() {
      await Promise.all([...pools].map((pool) => pool.end().catch(() => undefined)));
      pools.clear();
    },
  };
}

function refuseWithoutAsyncDb(where: string): ModuleStore['checkModule'] {
  return (manifest, handler) => {
    if ((handler as { asyncDb?: unknown }).asyncDb === true) return;
    throw new ErpmodError(
      'ERPMOD_STORE_UNSUPPORTED',
      `module "${manifest.code}" cannot keep its data on PostgreSQL (database_url is set): its library's ctx.db cannot wait for the database without stalling the host ` +
        '(it was built with an SDK before 0.3.0, or by hand); rebuild it with the current SDK, or leave database_url unset to keep module data on SQLite',
      { details: { database: where } },
    );
  };
}

async function openModulePool(code: string, connection: pg.PoolConfig, where: string, logger: Logger, pools: Set<pg.Pool>, applied: string[]): Promise<ModuleDatabase> {
  const { schema } = moduleSchemaNames(code);
  const pool = new pg.Pool({ ...connection, types: rowTypes });
  pool.on('error', (error) => logger.warn({ err: error.message, module: code, database: where }, 'PostgreSQL connection lost'));
  pools.add(pool);
  // Proves the module's own login works before the module is told it has a database.
  try {
    await pool.query('SELECT 1');
  } catch (error) {
    pools.delete(pool);
    await pool.end().catch(() => undefined);
    if (isUnavailable(error)) throw unavailable(where, error);
    throw error;
  }
  let closed = false;
  return {
    facade: createPostgresDbFacade({ code, schema, pool, where, writeLock: lockKey('write', code), markOnCommit: (delivery) => deliveryMarkFor(code, delivery) }),
    applied,
    async close() {
      if (closed) return;
      closed = true;
      pools.delete(pool);
      await pool.end().catch(() => undefined);
    },
  };
}
