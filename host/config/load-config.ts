import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ErpmodError, messageOf } from '../errors';
import { checkAdminToken } from './admin-token';
import { LOG_FORMATS, type LogFormat } from '../logger';
import { ACCESS_LOG_LEVELS, type AccessLogLevel } from '../logging/access-log';
import { parsePublicKey, publicKeyText } from '../packaging/signing-keys';

/** Everything the host reads from its environment, validated once at start. */
export interface HostConfig {
  readonly port: number;
  readonly host: string;
  readonly modulesDir: string;
  readonly dataDir: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** `json` or `pretty`; unset: pretty when standard output is a terminal, JSON otherwise. */
  readonly logFormat: LogFormat | undefined;
  /** The level of the one-line-per-module-request access log, or `off`. */
  readonly accessLogLevel: AccessLogLevel;
  /**
   * The bearer token the admin listener requires. When unset, the host uses `<dataDir>/admin-token`,
   * created at first start.
   */
  readonly adminToken: string | undefined;
  /** Address of the admin listener (operator routes); loopback unless deliberately widened. */
  readonly adminHost: string;
  /** Port of the admin listener; 0 picks a free one. */
  readonly adminPort: number;
  /** Largest request body a module route accepts, in bytes. */
  readonly bodyLimitBytes: number;
  /** Request bodies held in memory at once, across all requests (per process: split between workers). */
  readonly bodyBudgetBytes: number;
  /** A client must send its request headers within this time (slow-client protection). */
  readonly headersTimeoutMs: number;
  /** A client must send its whole request within this time. */
  readonly requestTimeoutMs: number;
  /** How long shutdown waits for in-flight requests before closing connections. */
  readonly shutdownTimeoutMs: number;
  /** Worker processes for `serve` (node:cluster); 1 serves from the primary process itself. */
  readonly workers: number;
  /** Forces every module in-process or into its own process, whatever its module.yml says. */
  readonly isolation: 'in-process' | 'process' | undefined;
  /** Crashes of an isolated module within `crashWindowMs` that open its circuit (503 until a reload). */
  readonly crashLimit: number;
  readonly crashWindowMs: number;
  /** Memory ceiling of an isolated module's process (V8 old space, MiB). */
  readonly isolatedMemoryMb: number;
  /** Whether isolated modules' runners start in a bubblewrap sandbox where it works ('auto') or never ('off'). */
  readonly isolatedSandbox: 'auto' | 'off';
  /** Absolute paths a sandboxed runner may also read (an operator's NODE_OPTIONS preload, an agent's files). */
  readonly isolatedSandboxRead: readonly string[];
  /** Ed25519 public keys (base64 of the raw 32 bytes) whose module signatures the host trusts. */
  readonly trustedKeys: readonly string[];
  /** Refuse modules without a valid signature by a trusted key (rule binary/signature). */
  readonly requireSignature: boolean;
  /** The `instance` label on every metric series; unset, `<hostname>:<public port>`. */
  readonly instanceName: string | undefined;
  /** `postgres://…`: module data on PostgreSQL; unset, on SQLite files under dataDir. */
  readonly databaseUrl: string | undefined;
  /** TLS to PostgreSQL: `disable`, `require` (encrypted, certificate not checked) or `verify-full`. */
  readonly databaseSslMode: DatabaseSslMode | undefined;
  /** PEM file of the CA that signed the server's certificate (verify-full). */
  readonly databaseSslCaFile: string | undefined;
  /** Connections each module's pool keeps to PostgreSQL, per host process. */
  readonly databasePoolSize: number;
  /** How long a request waits for a PostgreSQL connection before ERPMOD_DATABASE_UNAVAILABLE. */
  readonly databaseConnectTimeoutMs: number;
  /** PostgreSQL events: how long a claimed delivery is held (and a subscriber may run) before another instance may retry it. */
  readonly eventLeaseMs: number;
  /** PostgreSQL events: attempts per delivery before it fails for good (recorded as event-failed). */
  readonly eventMaxAttempts: number;
  /** `erpmod install` refuses a pack whose files add up to more, or with one file larger. */
  readonly packMaxBytes: number;
  readonly packMaxFileBytes: number;
  /** Pool handlers (`execution: pool`) running at once in this process, across all modules. */
  readonly poolThreads: number;
  /** Pool requests waiting for a thread, across all modules; beyond it 503 ERPMOD_BUSY. */
  readonly poolQueueLimit: number;
  /** Largest response body ctx.http reads for a module. */
  readonly httpMaxResponseBytes: number;
}

export const DATABASE_SSL_MODES = ['disable', 'require', 'verify-full'] as const;
export type DatabaseSslMode = (typeof DATABASE_SSL_MODES)[number];

const DEFAULTS: HostConfig = {
  port: 3000,
  host: '0.0.0.0',
  modulesDir: 'modules',
  dataDir: 'data',
  logLevel: 'info',
  logFormat: undefined,
  accessLogLevel: 'info',
  adminToken: undefined,
  adminHost: '127.0.0.1',
  adminPort: 3001,
  bodyLimitBytes: 1024 * 1024,
  bodyBudgetBytes: 64 * 1024 * 1024,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 60_000,
  shutdownTimeoutMs: 30_000,
  workers: 1,
  isolation: undefined,
  crashLimit: 3,
  crashWindowMs: 60_000,
  isolatedMemoryMb: 256,
  isolatedSandbox: 'auto',
  isolatedSandboxRead: [],
  trustedKeys: [],
  requireSignature: false,
  instanceName: undefined,
  databaseUrl: undefined,
  databaseSslMode: undefined,
  databaseSslCaFile: undefined,
  databasePoolSize: 4,
  databaseConnectTimeoutMs: 2000,
  eventLeaseMs: 30_000,
  eventMaxAttempts: 5,
  packMaxBytes: 256 * 1024 * 1024,
  packMaxFileBytes: 128 * 1024 * 1024,
  poolThreads: defaultPoolThreads(),
  poolQueueLimit: 256,
  httpMaxResponseBytes: 8 * 1024 * 1024,
};

/** docs/decisions.md: two per core, at least 4, since pool handlers often wait (ctx.http, sleeps) rather than compute. */
function defaultPoolThreads(): number {
  return Math.max(4, 2 * os.availableParallelism());
}

/**
 * docs/decisions.md: with module data on PostgreSQL every route runs on the pool and mostly waits for the
 * database, so the threads bound the requests in flight, not CPU work: at least 16.
 */
function defaultPoolThreadsOnPostgres(): number {
  return Math.max(16, defaultPoolThreads());
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** config-file key → env var → how to read the value. */
const FIELDS: Record<keyof HostConfig, { env: string; file: string; parse: (raw: unknown, where: string) => unknown }> = {
  port: { env: 'ERPMOD_PORT', file: 'port', parse: (v, w) => toInteger(v, w, 0, 65535) },
  host: { env: 'ERPMOD_HOST', file: 'host', parse: (v, w) => toText(v, w) },
  modulesDir: { env: 'ERPMOD_MODULES_DIR', file: 'modules_dir', parse: (v, w) => toText(v, w) },
  dataDir: { env: 'ERPMOD_DATA_DIR', file: 'data_dir', parse: (v, w) => toText(v, w) },
  logLevel: { env: 'ERPMOD_LOG_LEVEL', file: 'log_level', parse: (v, w) => toChoice(v, w, LOG_LEVELS) },
  logFormat: { env: 'ERPMOD_LOG_FORMAT', file: 'log_format', parse: (v, w) => toChoice(v, w, LOG_FORMATS) },
  accessLogLevel: { env: 'ERPMOD_ACCESS_LOG_LEVEL', file: 'access_log_level', parse: (v, w) => toChoice(v, w, ACCESS_LOG_LEVELS) },
  adminToken: { env: 'ERPMOD_ADMIN_TOKEN', file: 'admin_token', parse: (v, w) => checkAdminToken(v, w) },
  adminHost: { env: 'ERPMOD_ADMIN_HOST', file: 'admin_host', parse: (v, w) => toText(v, w) },
  adminPort: { env: 'ERPMOD_ADMIN_PORT', file: 'admin_port', parse: (v, w) => toInteger(v, w, 0, 65535) },
  bodyLimitBytes: { env: 'ERPMOD_BODY_LIMIT_BYTES', file: 'body_limit_bytes', parse: (v, w) => toInteger(v, w, 1, 1 << 30) },
  bodyBudgetBytes: { env: 'ERPMOD_BODY_BUDGET_BYTES', file: 'body_budget_bytes', parse: (v, w) => toInteger(v, w, 1, 2 ** 40) },
  headersTimeoutMs: { env: 'ERPMOD_HEADERS_TIMEOUT_MS', file: 'headers_timeout_ms', parse: (v, w) => toInteger(v, w, 100, 600_000) },
  requestTimeoutMs: { env: 'ERPMOD_REQUEST_TIMEOUT_MS', file: 'request_timeout_ms', parse: (v, w) => toInteger(v, w, 100, 3_600_000) },
  shutdownTimeoutMs: { env: 'ERPMOD_SHUTDOWN_TIMEOUT_MS', file: 'shutdown_timeout_ms', parse: (v, w) => toInteger(v, w, 0, 600_000) },
  workers: { env: 'ERPMOD_WORKERS', file: 'workers', parse: (v, w) => toInteger(v, w, 1, 256) },
  isolation: { env: 'ERPMOD_ISOLATION', file: 'isolation', parse: (v, w) => toChoice(v, w, ['in-process', 'process'] as const) },
  crashLimit: { env: 'ERPMOD_CRASH_LIMIT', file: 'crash_limit', parse: (v, w) => toInteger(v, w, 1, 1000) },
  crashWindowMs: { env: 'ERPMOD_CRASH_WINDOW_MS', file: 'crash_window_ms', parse: (v, w) => toInteger(v, w, 1000, 86_400_000) },
  isolatedMemoryMb: { env: 'ERPMOD_ISOLATED_MEMORY_MB', file: 'isolated_memory_mb', parse: (v, w) => toInteger(v, w, 32, 65_536) },
  isolatedSandbox: { env: 'ERPMOD_ISOLATED_SANDBOX', file: 'isolated_sandbox', parse: (v, w) => toChoice(v, w, ['auto', 'off'] as const) },
  isolatedSandboxRead: { env: 'ERPMOD_ISOLATED_SANDBOX_READ', file: 'isolated_sandbox_read', parse: (v, w) => toAbsolutePathList(v, w) },
  trustedKeys: { env: 'ERPMOD_TRUSTED_KEYS', file: 'trusted_keys', parse: (v, w) => toKeyList(v, w) },
  requireSignature: { env: 'ERPMOD_REQUIRE_SIGNATURE', file: 'require_signature', parse: (v, w) => toBoolean(v, w) },
  instanceName: { env: 'ERPMOD_INSTANCE_NAME', file: 'instance_name', parse: (v, w) => toText(v, w) },
  databaseUrl: { env: 'ERPMOD_DATABASE_URL', file: 'database_url', parse: (v, w) => toDatabaseUrl(v, w) },
  databaseSslMode: { env: 'ERPMOD_DATABASE_SSL_MODE', file: 'database_ssl_mode', parse: (v, w) => toChoice(v, w, DATABASE_SSL_MODES) },
  databaseSslCaFile: { env: 'ERPMOD_DATABASE_SSL_CA_FILE', file: 'database_ssl_ca_file', parse: (v, w) => toText(v, w) },
  databasePoolSize: { env: 'ERPMOD_DATABASE_POOL_SIZE', file: 'database_pool_size', parse: (v, w) => toInteger(v, w, 1, 1000) },
  databaseConnectTimeoutMs: { env: 'ERPMOD_DATABASE_CONNECT_TIMEOUT_MS', file: 'database_connect_timeout_ms', parse: (v, w) => toInteger(v, w, 100, 600_000) },
  eventLeaseMs: { env: 'ERPMOD_EVENT_LEASE_MS', file: 'event_lease_ms', parse: (v, w) => toInteger(v, w, 1000, 3_600_000) },
  eventMaxAttempts: { env: 'ERPMOD_EVENT_MAX_ATTEMPTS', file: 'event_max_attempts', parse: (v, w) => toInteger(v, w, 1, 100) },
  packMaxBytes: { env: 'ERPMOD_PACK_MAX_BYTES', file: 'pack_max_bytes', parse: (v, w) => toInteger(v, w, 1, 2 ** 40) },
  packMaxFileBytes: { env: 'ERPMOD_PACK_MAX_FILE_BYTES', file: 'pack_max_file_bytes', parse: (v, w) => toInteger(v, w, 1, 2 ** 40) },
  poolThreads: { env: 'ERPMOD_POOL_THREADS', file: 'pool_threads', parse: (v, w) => toInteger(v, w, 1, 1024) },
  poolQueueLimit: { env: 'ERPMOD_POOL_QUEUE_LIMIT', file: 'pool_queue_limit', parse: (v, w) => toInteger(v, w, 0, 1_000_000) },
  httpMaxResponseBytes: { env: 'ERPMOD_HTTP_MAX_RESPONSE_BYTES', file: 'http_max_response_bytes', parse: (v, w) => toInteger(v, w, 1024, 1 << 30) },
};

export interface LoadConfigOptions {
  /** Directory relative paths are resolved against; defaults to the current directory. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Explicit config file; otherwise `ERPMOD_CONFIG` or `<cwd>/erpmod.config.yml` when it exists. */
  configFile?: string;
  /** Values from the command line, applied last. */
  overrides?: Partial<HostConfig>;
}

/**
 * Defaults, then erpmod.config.yml, then ERPMOD_* variables, then command-line overrides.
 * Throws ERPMOD_CONFIG_INVALID naming the source and the value on the first bad entry.
 */
export function loadConfig(options: LoadConfigOptions = {}): HostConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const merged: Record<string, unknown> = { ...DEFAULTS };

  const configFile = options.configFile ?? env.ERPMOD_CONFIG ?? defaultConfigFile(cwd);
  const fromFile = configFile === undefined ? {} : readConfigFile(path.resolve(cwd, configFile));
  Object.assign(merged, fromFile);

  for (const [key, field] of Object.entries(FIELDS)) {
    const raw = env[field.env];
    if (raw !== undefined && raw !== '') merged[key] = field.parse(raw, `environment variable ${field.env}`);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) merged[key] = value;
  }

  const config = merged as unknown as HostConfig;
  const poolThreadsSet = 'poolThreads' in fromFile || (env.ERPMOD_POOL_THREADS ?? '') !== '' || options.overrides?.poolThreads !== undefined;
  if (config.databaseUrl !== undefined && !poolThreadsSet) (config as { poolThreads: number }).poolThreads = defaultPoolThreadsOnPostgres();
  if (config.requireSignature && config.trustedKeys.length === 0) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', 'require_signature is true: expected at least one trusted_keys entry (ERPMOD_TRUSTED_KEYS), got none');
  }
  if (config.port !== 0 && config.port === config.adminPort) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `admin_port: expected a port other than the public port ${config.port} (operator routes have their own listener), got ${config.adminPort}`);
  }
  if (config.databaseUrl === undefined && (config.databaseSslMode !== undefined || config.databaseSslCaFile !== undefined)) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', 'database_ssl_mode / database_ssl_ca_file: expected database_url (ERPMOD_DATABASE_URL) to be set as well, got no database_url');
  }
  return {
    ...config,
    modulesDir: path.resolve(cwd, config.modulesDir),
    dataDir: path.resolve(cwd, config.dataDir),
    databaseSslCaFile: config.databaseSslCaFile === undefined ? undefined : path.resolve(cwd, config.databaseSslCaFile),
  };
}

function defaultConfigFile(cwd: string): string | undefined {
  const candidate = path.join(cwd, 'erpmod.config.yml');
  return fs.existsSync(candidate) ? candidate : undefined;
}

function readConfigFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = YAML.parse(fs.readFileSync(file, 'utf8'), { maxAliasCount: 50 });
  } catch (error) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${file}: expected a readable YAML file, got: ${(error as Error).message}`, { cause: error });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${file}: expected a mapping of settings, got ${Array.isArray(parsed) ? 'a list' : typeof parsed}`);
  }
  const byFileKey = new Map(Object.entries(FIELDS).map(([key, field]) => [field.file, { key, field }]));
  const result: Record<string, unknown> = {};
  for (const [fileKey, value] of Object.entries(parsed)) {
    const entry = byFileKey.get(fileKey);
    if (entry === undefined) {
      const known = [...byFileKey.keys()].join(', ');
      throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${file}: unknown setting "${fileKey}"; expected one of ${known}`);
    }
    result[entry.key] = entry.field.parse(value, `${file}: ${fileKey}`);
  }
  return result;
}

function toInteger(raw: unknown, where: string, min: number, max: number): number {
  const value = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function toText(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a non-empty string, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

function toChoice<T extends string>(raw: unknown, where: string, choices: readonly T[]): T {
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected one of ${choices.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

/** A postgres:// or postgresql:// URL naming a host and a database; the password never appears in the message. */
function toDatabaseUrl(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a postgres:// URL, got ${typeof raw === 'string' ? 'an empty string' : JSON.stringify(raw)}`);
  }
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a postgres://user:password@host:port/database URL, got text that does not parse as a URL`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a postgres:// or postgresql:// URL, got a ${url.protocol} URL (SQLite needs no setting: leave database_url unset)`);
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (url.hostname === '' || database === '') {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a URL naming a host and a database (postgres://user:password@host:port/database), got host "${url.hostname}" and database "${database}"`);
  }
  return raw.trim();
}

/** `true`/`false` in YAML; `true`, `false`, `1`, `0` in a variable. */
function toBoolean(raw: unknown, where: string): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && /^(true|1)$/i.test(raw.trim())) return true;
  if (typeof raw === 'string' && /^(false|0)$/i.test(raw.trim())) return false;
  throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected true or false, got ${JSON.stringify(raw)}`);
}

/** A YAML list (or one string) of absolute paths; in a variable, paths separated by ':' as in PATH. */
function toAbsolutePathList(raw: unknown, where: string): string[] {
  const items = typeof raw === 'string' ? raw.split(path.delimiter).filter((item) => item.trim() !== '') : raw;
  if (!Array.isArray(items)) throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a list of absolute paths, got ${JSON.stringify(raw)}`);
  return items.map((item, index) => {
    if (typeof item !== 'string' || !path.isAbsolute(item)) {
      throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}[${index}]: expected an absolute path, got ${JSON.stringify(item)}`);
    }
    return path.normalize(item);
  });
}

/** A YAML list (or one string) of keys; in a variable, keys separated by commas. Each is normalised to base64 raw. */
function toKeyList(raw: unknown, where: string): string[] {
  const items = typeof raw === 'string' ? raw.split(',').filter((item) => item.trim() !== '') : raw;
  if (!Array.isArray(items)) throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a list of Ed25519 public keys, got ${JSON.stringify(raw)}`);
  return items.map((item, index) => {
    if (typeof item !== 'string') throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}[${index}]: expected a public key string, got ${JSON.stringify(item)}`);
    try {
      return publicKeyText(parsePublicKey(item, `${where}[${index}]`));
    } catch (error) {
      throw new ErpmodError('ERPMOD_CONFIG_INVALID', messageOf(error), { cause: error });
    }
  });
}
