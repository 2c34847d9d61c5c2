import pg from 'pg';
import { ErpmodError, messageOf } from '../../errors';
import type { Logger } from '../../logger';
import { planConnections, type PostgresSettings } from '../../store/postgres/connection-settings';
import { inTransaction } from '../../store/postgres/in-transaction';
import { isUnavailable, unavailable } from '../../store/postgres/translate-pg-error';
import type {
  ModuleDatabaseRecord,
  ModuleEventRecord,
  PluginEventKind,
  PluginEventRecord,
  PluginRecord,
  PluginRepository,
  RegistryWrites,
} from '../plugin-repository';
import { announceChange, ensureFleetSchema, REGISTRY_LOCK } from './fleet-schema';
import { beat, HEARTBEAT_MS, LIVE_WITHIN_MS, readBeats } from './instance-heartbeat';
import { MIRRORED_EVENTS, RegistryMirror, type FleetEndpointRow, type FleetEventRow, type FleetInstanceRow, type FleetPluginRow } from './registry-mirror';

/** One write of a batch, as PostgreSQL statements; collected first so the whole batch is one transaction. */
type Statement = readonly [text: string, values: readonly unknown[]];

/**
 * Instances writing the same module's shared rows at once (three booting together replace its endpoints)
 * take turns: each batch first locks every module it touches, in one statement, in hash order.
 */
const LOCK_MODULES = `SELECT count(pg_advisory_xact_lock($1, h)) FROM (SELECT DISTINCT hashtext(code) AS h FROM unnest($2::text[]) AS code ORDER BY 1) AS locks`;

/**
 * The registry of a fleet on PostgreSQL (erpmod_fleet.plugins, plugin_endpoints, plugin_instances,
 * plugin_events). Identity, version, the operator's switch, endpoints and migrations are shared; each
 * instance writes its own status, module directory and binary into plugin_instances, and its events
 * carry its name. Reads are served from a mirror refreshed after each write and whenever the fleet
 * announces a change (refresh()); a write goes to PostgreSQL in one transaction and resolves only once
 * committed there, or rejects with ERPMOD_DATABASE_UNAVAILABLE having written nothing.
 */
export class PostgresRegistry implements PluginRepository {
  readonly engine = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly mirror: RegistryMirror;
  private readonly where: string;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private beatFailing = false;

  private constructor(settings: PostgresSettings, readonly instance: string, private readonly logger: Logger) {
    const plan = planConnections(settings);
    this.where = plan.target.where;
    this.pool = new pg.Pool({ ...plan.admin, max: 2, application_name: 'erpmod:registry' });
    this.pool.on('error', (error) => logger.warn({ err: error.message, database: this.where }, 'PostgreSQL connection lost (registry)'));
    // A connection that dies while checked out also emits 'error' on its client; the query it was running
    // rejects and reports it, so the event itself must not become an uncaught exception.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
    this.mirror = new RegistryMirror(this.file);
  }

  /** Creates the fleet's tables when absent and reads the registry; throws when PostgreSQL cannot be reached. */
  static async open(settings: PostgresSettings, instance: string, logger: Logger): Promise<PostgresRegistry> {
    const registry = new PostgresRegistry(settings, instance, logger);
    try {
      await registry.transaction((client) => ensureFleetSchema(client));
      await registry.refresh();
      await registry.beat();
      registry.heartbeat = setInterval(() => void registry.beat().catch(() => undefined), HEARTBEAT_MS).unref();
    } catch (error) {
      await registry.close();
      throw error;
    }
    return registry;
  }

  get file(): string {
    return `PostgreSQL ${this.where} (erpmod_fleet)`;
  }

  async batch(work: (writes: RegistryWrites) => void): Promise<void> {
    const statements: Statement[] = [];
    const codes = new Set<string>();
    work(this.collector(statements, codes));
    if (statements.length === 0) return;
    try {
      await this.transaction(async (client) => {
        await client.query(LOCK_MODULES, [REGISTRY_LOCK, [...codes]]);
        for (const [text, values] of statements) await client.query(text, values as unknown[]);
        await announceChange(client);
      });
    } catch (error) {
      if (error instanceof ErpmodError && error.code === 'ERPMOD_DATABASE_UNAVAILABLE') {
        throw new ErpmodError('ERPMOD_DATABASE_UNAVAILABLE', `the registry could not be written, nothing of this change was kept: ${error.message}`, { cause: error, details: error.details });
      }
      throw error;
    }
    // Committed: the mirror catches up now so this instance reads its own write. A failure here only
    // delays that to the next announced change; the write itself is safe.
    await this.refresh().catch((error: unknown) => this.logger.warn({ database: this.where, err: messageOf(error) }, 'registry: committed, but could not read it back; the next change refreshes'));
  }

  recordEvent(code: string, kind: PluginEventKind, detail: Record<string, unknown> = {}): Promise<void> {
    return this.batch((writes) => writes.recordEvent(code, kind, detail));
  }

  list(): PluginRecord[] {
    return this.mirror.reads.list();
  }

  find(code: string): PluginRecord | undefined {
    return this.mirror.reads.find(code);
  }

  isEnabled(code: string): boolean {
    return this.mirror.reads.isEnabled(code);
  }

  events(code: string, limit?: number): PluginEventRecord[] {
    return this.mirror.reads.events(code, limit);
  }

  eventsAfter(afterId: number, limit?: number): ModuleEventRecord[] {
    return this.mirror.reads.eventsAfter(afterId, limit);
  }

  latestEvents(limit?: number): ModuleEventRecord[] {
    return this.mirror.reads.latestEvents(limit);
  }

  // Module data on PostgreSQL has no file to guard (store/sqlite/guard-module-data.ts returns before
  // these); they keep the guard's contract on the mirror so a caller never meets a missing method.
  moduleDatabase(code: string): ModuleDatabaseRecord | undefined {
    return this.mirror.reads.moduleDatabase(code);
  }

  claimModuleDatabase(code: string, databaseId: string, file: string): ModuleDatabaseRecord {
    return this.mirror.reads.claimModuleDatabase(code, databaseId, file);
  }

  acceptModuleDatabase(code: string, detail: Record<string, unknown>): void {
    void this.recordEvent(code, 'data-accepted', detail).catch((error: unknown) => this.logger.error({ module: code, err: messageOf(error) }, 'registry: could not record data-accepted'));
  }

  /** Reads the fleet's registry into the mirror; concurrent calls share one read and one follow-up. */
  refresh(): Promise<void> {
    if (this.refreshing !== undefined) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    const run = async (): Promise<void> => {
      do {
        this.refreshAgain = false;
        await this.readIntoMirror();
      } while (this.refreshAgain);
    };
    this.refreshing = run().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.beating?.catch(() => undefined);
    await this.refreshing?.catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    this.mirror.close();
  }

  /**
   * Tells the fleet this instance is alive and reads when every other one last did (instance-heartbeat.ts).
   * One beat at a time; a failed one is logged once per outage and tried again at the next.
   */
  private beat(): Promise<void> {
    this.beating ??= (async () => {
      try {
        this.mirror.applyBeats(await this.transaction((client) => beat(client, this.instance)), LIVE_WITHIN_MS);
        if (this.beatFailing) this.logger.info({ database: this.where }, 'registry: telling the fleet this instance is alive again');
        this.beatFailing = false;
      } catch (error) {
        if (!this.beatFailing) this.logger.warn({ database: this.where, err: messageOf(error) }, 'registry: could not tell the fleet this instance is alive; other instances will show it as not live until the next beat succeeds');
        this.beatFailing = true;
        throw error;
      } finally {
        this.beating = undefined;
      }
    })();
    return this.beating;
  }

  private async readIntoMirror(): Promise<void> {
    const after = this.mirror.newestEventId;
    const rows = await this.transaction(async (client) => {
      const plugins = await client.query<FleetPluginRow>(
        `SELECT p.code, p.name, p.description, p.version, p.vendor, p.type, p.enabled, p.created_at, p.updated_at,
                i.module_dir, i.status, i.last_error, i.loaded_at, i.binary_path, i.binary_sha256, i.napi_version, i.erpmod_abi
           FROM erpmod_fleet.plugins p LEFT JOIN erpmod_fleet.plugin_instances i ON i.code = p.code AND i.instance = $1 ORDER BY p.code`,
        [this.instance],
      );
      const endpoints = await client.query<FleetEndpointRow>('SELECT code, method, path, type, created_at FROM erpmod_fleet.plugin_endpoints');
      const instances = await client.query<FleetInstanceRow>('SELECT code, instance, status, last_error, loaded_at, binary_sha256, updated_at FROM erpmod_fleet.plugin_instances');
      const events = await client.query<FleetEventRow>(
        'SELECT id, code, instance, kind, detail, at FROM erpmod_fleet.plugin_events WHERE id > $1 ORDER BY id DESC LIMIT $2',
        [after, MIRRORED_EVENTS],
      );
      const beats = await readBeats(client);
      return { rows: { plugins: plugins.rows, endpoints: endpoints.rows, instances: instances.rows, events: events.rows.reverse() }, beats };
    });
    this.mirror.apply(rows.rows);
    this.mirror.applyBeats(rows.beats, LIVE_WITHIN_MS);
  }

  /** The writes of one batch, as statements run later in one transaction. */
  private collector(into: Statement[], codes: Set<string>): RegistryWrites {
    const instance = this.instance;
    // Every statement's first value is the module's code.
    const add = (text: string, code: string, ...values: unknown[]): void => {
      codes.add(code);
      into.push([text, [code, ...values]]);
    };
    return {
      recordIdentity: (identity) => {
        const at = now();
        add(
          `INSERT INTO erpmod_fleet.plugins (code, name, description, version, vendor, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
           ON CONFLICT (code) DO UPDATE SET name = excluded.name, description = excluded.description, version = excluded.version,
             vendor = excluded.vendor, updated_at = excluded.updated_at`,
          identity.code, identity.name, identity.description ?? null, identity.version, identity.vendor ?? null, at,
        );
        add(
          `INSERT INTO erpmod_fleet.plugin_instances (code, instance, module_dir, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (code, instance) DO UPDATE SET module_dir = excluded.module_dir, updated_at = excluded.updated_at`,
          identity.code, instance, identity.moduleDir, at,
        );
      },
      recordBinary: (code, binary) =>
        add(
          `UPDATE erpmod_fleet.plugin_instances SET binary_path = $3, binary_sha256 = $4, napi_version = $5, erpmod_abi = $6, updated_at = $7
            WHERE code = $1 AND instance = $2`,
          code, instance, binary.binaryPath ?? null, binary.binarySha256 ?? null, binary.napiVersion ?? null, binary.erpmodAbi ?? null, now(),
        ),
      setStatus: (code, status, lastError = null) =>
        add(
          `UPDATE erpmod_fleet.plugin_instances SET status = $3, last_error = $4, updated_at = $5,
             loaded_at = CASE WHEN $3 = 'active' THEN $5::timestamptz ELSE loaded_at END WHERE code = $1 AND instance = $2`,
          code, instance, status, lastError, now(),
        ),
      setEnabled: (code, enabled) => add('UPDATE erpmod_fleet.plugins SET enabled = $2, updated_at = $3 WHERE code = $1', code, enabled, now()),
      replaceEndpoints: (code, endpoints) => {
        add('DELETE FROM erpmod_fleet.plugin_endpoints WHERE code = $1', code);
        const at = now();
        for (const endpoint of endpoints) {
          add(`INSERT INTO erpmod_fleet.plugin_endpoints (code, method, path, type, created_at) VALUES ($1, $2, $3, 'REST', $4)`, code, endpoint.method, endpoint.path, at);
        }
      },
      recordEvent: (code, kind, detail = {}) =>
        add('INSERT INTO erpmod_fleet.plugin_events (code, instance, kind, detail, at) VALUES ($1, $2, $3, $4, $5)', code, instance, kind, JSON.stringify(detail), now()),
      recordModuleMigrations: (code, migrations) =>
        add('UPDATE erpmod_fleet.plugins SET migrations = $2 WHERE code = $1', code, JSON.stringify(migrations)),
    };
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.pool, work);
    } catch (error) {
      throw isUnavailable(error) ? unavailable(this.where, error) : error;
    }
  }
}

function now(): string {
  return new Date().toISOString();
}
