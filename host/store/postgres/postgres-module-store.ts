import pg from 'pg';
import { ErpmodError } from '../../errors';
import type { Logger } from '../../logger';
import type { ModuleDatabase, ModuleStore } from '../module-store';
import { planConnections, moduleRolePassword, type PostgresSettings } from './connection-settings';
import { createPostgresDbFacade } from './postgres-db-facade';
import { rowTypes } from './pg-row-types';
import { lockKey, moduleSchemaNames, provisionModuleSchema } from './provision-module-schema';
import { isUnavailable, unavailable } from './translate-pg-error';

/** Module data on PostgreSQL: a schema and a login role per module, one kept pool per module. */
export function createPostgresModuleStore(settings: PostgresSettings, logger: Logger): ModuleStore & { readonly where: string } {
  const plan = planConnections(settings);
  const { where } = plan.target;
  const admin = new pg.Pool(plan.admin);
  // An idle connection that the server drops emits here; the next query reports it to its caller.
  admin.on('error', (error) => logger.warn({ err: error.message, database: where }, 'PostgreSQL connection lost (host)'));
  const pools = new Set<pg.Pool>();
  const hostPassword = decodeURIComponent(new URL(settings.url).password);

  return {
    engine: 'postgres',
    asyncDb: true,
    where,
    checkModule(manifest, handler) {
      if ((handler as { asyncDb?: unknown }).asyncDb === true) return;
      throw new ErpmodError(
        'ERPMOD_STORE_UNSUPPORTED',
        `module "${manifest.code}" cannot keep its data on PostgreSQL (database_url is set): its library's ctx.db cannot wait for the database without stalling the host ` +
          '(it was built with an SDK before 0.3.0, or by hand); rebuild it with the current SDK, or leave database_url unset to keep module data on SQLite',
        { details: { database: where } },
      );
    },
    checkIsolated(manifest) {
      throw new ErpmodError(
        'ERPMOD_STORE_UNSUPPORTED',
        `module "${manifest.code}" has isolation: process, which does not reach PostgreSQL yet (database_url is set); run it in-process or leave database_url unset`,
        { details: { database: where } },
      );
    },
    async openModule(code, migrations): Promise<ModuleDatabase> {
      const { schema, role } = moduleSchemaNames(code);
      const applied = await provisionModuleSchema({ admin, code, rolePassword: moduleRolePassword(hostPassword, code), migrations, where });
      const pool = new pg.Pool({ ...plan.forModule(code, schema, role), types: rowTypes });
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
        facade: createPostgresDbFacade({ code, schema, pool, where, writeLock: lockKey('write', code) }),
        applied,
        async close() {
          if (closed) return;
          closed = true;
          pools.delete(pool);
          await pool.end().catch(() => undefined);
        },
      };
    },
    async close() {
      await Promise.all([...pools].map((pool) => pool.end().catch(() => undefined)));
      pools.clear();
      await admin.end().catch(() => undefined);
    },
  };
}
