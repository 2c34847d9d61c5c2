import crypto from 'node:crypto';
import type pg from 'pg';
import type { MigrationFile } from '../../compliance/manifest/list-migration-files';
import { ErpmodError, messageOf } from '../../errors';
import { alreadyApplied, readMigration } from '../migration-checksum';
import { isUnavailable, unavailable } from './translate-pg-error';

/** First key of every advisory lock the host takes ('erpm'), so they never collide with a module's own. */
export const LOCK_NAMESPACE = 0x6572706d;
/** Second keys are derived from the module code, offset by purpose. */
const MIGRATE = 'migrate:';
const WRITE = 'write:';

export interface ModuleSchemaNames {
  readonly schema: string;
  readonly role: string;
}

/** `erpmod_<code>` (dashes as underscores: codes are lowercase kebab-case, so no two codes collide). */
export function moduleSchemaNames(code: string): ModuleSchemaNames {
  const name = `erpmod_${code.replace(/-/g, '_')}`;
  return { schema: name, role: name };
}

export function lockKey(purpose: 'migrate' | 'write', code: string): [number, number] {
  const digest = crypto.createHash('sha256').update((purpose === 'migrate' ? MIGRATE : WRITE) + code).digest();
  return [LOCK_NAMESPACE, digest.readInt32BE(0)];
}

export interface ProvisionInput {
  readonly admin: pg.Pool;
  readonly code: string;
  readonly rolePassword: string;
  readonly migrations: readonly MigrationFile[];
  readonly where: string;
}

/**
 * Creates the module's role and schema if needed and applies its migrations, under an advisory lock on
 * the module so that N hosts booting together run each migration exactly once: the first applies, the
 * others wait and then find it recorded. Each migration runs in its own transaction as the module's role,
 * so what it creates belongs to the module. Returns the names applied now.
 */
export async function provisionModuleSchema(input: ProvisionInput): Promise<string[]> {
  const { admin, code, where } = input;
  const { schema, role } = moduleSchemaNames(code);
  let client: pg.PoolClient;
  try {
    client = await admin.connect();
  } catch (error) {
    throw unavailable(where, error);
  }
  const onError = (): void => {};
  client.on('error', onError);
  let broken = false;
  try {
    const [k1, k2] = lockKey('migrate', code);
    await client.query('SELECT pg_advisory_lock($1, $2)', [k1, k2]);
    try {
      await ensureRole(client, role, input.rolePassword, where);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(schema)} AUTHORIZATION ${quote(role)}`);
      await client.query(`REVOKE ALL ON SCHEMA ${quote(schema)} FROM PUBLIC`);
      await asModule(client, schema, role, () =>
        client.query(`CREATE TABLE IF NOT EXISTS _erpmod_migrations (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`),
      );
      return await applyMigrations(client, code, schema, role, input.migrations);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [k1, k2]).catch(() => undefined);
    }
  } catch (error) {
    broken = isUnavailable(error);
    if (broken) throw unavailable(where, error);
    throw error;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

async function applyMigrations(client: pg.PoolClient, code: string, schema: string, role: string, migrations: readonly MigrationFile[]): Promise<string[]> {
  const recorded = new Map(
    (await client.query(`SELECT name, checksum FROM ${quote(schema)}._erpmod_migrations`)).rows.map((row: { name: string; checksum: string }) => [row.name, row.checksum]),
  );
  const applied: string[] = [];
  for (const migration of migrations) {
    const { sql, checksum } = readMigration(migration);
    if (alreadyApplied(code, migration, recorded.get(migration.name), checksum)) continue;
    try {
      await asModule(client, schema, role, async () => {
        await client.query(sql);
        await client.query('INSERT INTO _erpmod_migrations (name, checksum, applied_at) VALUES ($1, $2, $3)', [migration.name, checksum, new Date().toISOString()]);
      });
    } catch (error) {
      if (isUnavailable(error)) throw error;
      throw new ErpmodError('ERPMOD_MIGRATION_FAILED', `module "${code}": migration ${migration.name} (${migration.absolutePath}) failed on PostgreSQL: ${messageOf(error)}`, {
        cause: error,
        details: { migration: migration.name },
      });
    }
    applied.push(migration.name);
  }
  return applied;
}

/** One transaction as the module's role, its schema alone on the search path. */
async function asModule<T>(client: pg.PoolClient, schema: string, role: string, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL ROLE ${quote(role)}`);
    await client.query(`SET LOCAL search_path = ${quote(schema)}`);
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function ensureRole(client: pg.PoolClient, role: string, password: string, where: string): Promise<void> {
  const exists = (await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
  try {
    // The password is a literal in DDL (no parameters there); it is base64url, so it needs no escaping.
    if (!exists) await client.query(`CREATE ROLE ${quote(role)} LOGIN PASSWORD '${password}'`);
    else await client.query(`ALTER ROLE ${quote(role)} LOGIN PASSWORD '${password}'`);
    // The host must act as the role to create its schema and run its migrations.
    const member = (await client.query('SELECT pg_has_role(current_user, $1, $2) AS yes', [role, 'MEMBER'])).rows[0] as { yes: boolean };
    if (!member.yes) await client.query(`GRANT ${quote(role)} TO CURRENT_USER`);
  } catch (error) {
    if ((error as { code?: string }).code === '42501') {
      throw new ErpmodError(
        'ERPMOD_DATABASE_SETUP_FAILED',
        `PostgreSQL at ${where}: the database_url user may not create or change the module role ${role} (${messageOf(error)}); it needs CREATEROLE, or a superuser must create the role once`,
        { cause: error, details: { database: where, role } },
      );
    }
    throw error;
  }
}

export function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}
