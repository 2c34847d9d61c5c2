import crypto from 'node:crypto';
import fs from 'node:fs';
import type { PoolConfig } from 'pg';
import type { DatabaseSslMode } from '../../config/load-config';
import { ErpmodError, messageOf } from '../../errors';

export interface PostgresSettings {
  readonly url: string;
  readonly sslMode: DatabaseSslMode | undefined;
  readonly sslCaFile: string | undefined;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
}

/** Where the host connects, as errors and logs may show it: never the password. */
export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** `host:port/database` */
  readonly where: string;
}

export interface ConnectionPlan {
  readonly target: ConnectionTarget;
  /** The host's own connection (the URL's user): schemas, roles, migrations. */
  readonly admin: PoolConfig;
  /** A module's connection: its own role, its schema first on the search path. */
  forModule(code: string, schema: string, role: string): PoolConfig;
}

export function planConnections(settings: PostgresSettings): ConnectionPlan {
  const url = new URL(settings.url);
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 5432 : Number(url.port);
  const user = decodeURIComponent(url.username) || process.env.USER || 'postgres';
  const password = decodeURIComponent(url.password);
  const target: ConnectionTarget = { host, port, database, user, where: `${host}:${port}/${database}` };
  const ssl = tlsOptions(settings, url.searchParams.get('sslmode'), target);
  const common: PoolConfig = {
    host,
    port,
    database,
    ssl,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // A statement that outlives the request is useless; the pool notices a dead server on its own.
    keepAlive: true,
  };
  return {
    target,
    admin: { ...common, user, password, max: 2, application_name: 'erpmod' },
    forModule(code, schema, role) {
      return {
        ...common,
        user: role,
        password: moduleRolePassword(password, code),
        application_name: `erpmod:${code}`,
        options: `-c search_path=${schema} -c timezone=UTC`,
      };
    },
  };
}

/**
 * Each module logs in as its own role. Its password is derived from the host's, so every instance of
 * a fleet computes the same one without storing it anywhere, and rotating the host's password rotates
 * the modules' at the next boot.
 */
export function moduleRolePassword(hostPassword: string, code: string): string {
  return crypto.createHmac('sha256', `erpmod module role:${hostPassword}`).update(code).digest('base64url');
}

function tlsOptions(settings: PostgresSettings, urlMode: string | null, target: ConnectionTarget): PoolConfig['ssl'] {
  const mode = settings.sslMode ?? urlSslMode(urlMode, target);
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  let ca: string | undefined;
  if (settings.sslCaFile !== undefined) {
    try {
      ca = fs.readFileSync(settings.sslCaFile, 'utf8');
    } catch (error) {
      throw new ErpmodError('ERPMOD_CONFIG_INVALID', `database_ssl_ca_file: expected a readable PEM file, got ${settings.sslCaFile}: ${messageOf(error)}`, { cause: error });
    }
  }
  return { rejectUnauthorized: true, ca, servername: target.host };
}

/** libpq's sslmode in the URL, reduced to the three modes the host distinguishes. */
function urlSslMode(raw: string | null, target: ConnectionTarget): DatabaseSslMode {
  if (raw === null || raw === 'disable' || raw === 'allow' || raw === 'prefer') return 'disable';
  if (raw === 'require') return 'require';
  if (raw === 'verify-ca' || raw === 'verify-full') return 'verify-full';
  throw new ErpmodError('ERPMOD_CONFIG_INVALID', `database_url for ${target.where}: expected sslmode disable, require, verify-ca or verify-full, got ${JSON.stringify(raw)}`);
}
