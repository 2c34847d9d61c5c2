import pg from 'pg';
import type { Logger } from '../logger';
import { inTransaction } from '../store/postgres/in-transaction';
import { planConnections, type PostgresSettings } from '../store/postgres/connection-settings';
import { isUnavailable, unavailable } from '../store/postgres/translate-pg-error';

/** The channel every instance LISTENs on; the payload is only the new registry version, never the change. */
export const FLEET_CHANNEL = 'erpmod_fleet';

/** A module's fleet-wide operator state: the row is the truth every instance converges to. */
export interface FleetModuleState {
  readonly code: string;
  readonly enabled: boolean;
  /** Bumped by every reload an operator asks of the fleet; an instance reloads when it has seen less. */
  readonly reloadSerial: number;
  /** The build the last fleet reload loaded: every instance must load the same bytes. */
  readonly binarySha256: string | null;
}

export interface FleetSnapshot {
  readonly version: number;
  readonly modules: readonly FleetModuleState[];
}

export interface FleetChange {
  readonly enabled?: boolean;
  readonly reload?: boolean;
  readonly binarySha256?: string;
}

// Created under an advisory lock: instances booting together would otherwise race on CREATE ... IF NOT EXISTS.
const SCHEMA_LOCK = 0x45_52_50_46; // 'ERPF'
const SCHEMA = `
  CREATE SCHEMA IF NOT EXISTS erpmod_fleet;
  CREATE TABLE IF NOT EXISTS erpmod_fleet.module_state (
    code          TEXT PRIMARY KEY,
    enabled       BOOLEAN NOT NULL,
    reload_serial BIGINT NOT NULL DEFAULT 0,
    changed_at    TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS erpmod_fleet.registry_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
  );
  ALTER TABLE erpmod_fleet.module_state ADD COLUMN IF NOT EXISTS binary_sha256 TEXT;
  INSERT INTO erpmod_fleet.registry_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;`;

interface StateRow {
  enabled: boolean;
  reload_serial: string;
  binary_sha256: string | null;
}
const STATE_COLUMNS = 'enabled, reload_serial, binary_sha256';

function stateOf(code: string, row: StateRow): FleetModuleState {
  return { code, enabled: row.enabled, reloadSerial: Number(row.reload_serial), binarySha256: row.binary_sha256 };
}

const RECONNECT_MIN_MS = 200;
const RECONNECT_MAX_MS = 2000;
// A LISTEN connection can die without telling (a cut network): the version is polled too, so a missed
// notification costs at most this long, whatever happened to the connection.
const POLL_MS = 2000;

/**
 * The PostgreSQL side of the fleet: operator changes are written to erpmod_fleet.module_state with a
 * registry version bumped in the same transaction, and a NOTIFY that only wakes the other instances
 * up. Each instance reads the rows again on every wake-up, on every reconnect of its LISTEN connection
 * and whenever the polled version moved, so a notification lost in an outage never leaves it stale.
 */
export class PostgresFleetLink {
  private readonly pool: pg.Pool;
  private readonly plan;
  private listener: pg.Client | undefined;
  private reconnectDelay = RECONNECT_MIN_MS;
  private pollTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastVersion = -1;

  constructor(settings: PostgresSettings, private readonly logger: Logger, private readonly onWake: (reason: string) => void) {
    this.plan = planConnections(settings);
    this.pool = new pg.Pool({ ...this.plan.admin, max: 2, application_name: 'erpmod:fleet' });
    this.pool.on('error', (error) => logger.warn({ err: error.message, database: this.plan.target.where }, 'PostgreSQL connection lost (fleet)'));
  }

  get where(): string {
    return this.plan.target.where;
  }

  /** Creates the fleet tables when absent and starts listening; throws when PostgreSQL cannot be reached. */
  async open(): Promise<FleetSnapshot> {
    await this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await client.query(SCHEMA);
    });
    await this.listen();
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS);
    this.pollTimer.unref();
    const snapshot = await this.snapshot();
    this.lastVersion = snapshot.version;
    return snapshot;
  }

  /** Every module's fleet state and the version it belongs to, read in one statement. */
  async snapshot(): Promise<FleetSnapshot> {
    const result = await this.query<{ version: string; code: string | null; enabled: boolean | null; reload_serial: string | null; binary_sha256: string | null }>(
      `SELECT v.version, m.code, m.enabled, m.reload_serial, m.binary_sha256
         FROM erpmod_fleet.registry_version v LEFT JOIN erpmod_fleet.module_state m ON true WHERE v.id = 1 ORDER BY m.code`,
    );
    const version = Number(result.rows[0]?.version ?? 0);
    const modules = result.rows
      .filter((row) => row.code !== null)
      .map((row) => ({ code: row.code!, enabled: row.enabled!, reloadSerial: Number(row.reload_serial), binarySha256: row.binary_sha256 }));
    return { version, modules };
  }

  /** The module's fleet state, or undefined when no operator has changed it through the fleet yet. */
  async moduleState(code: string): Promise<FleetModuleState | undefined> {
    const result = await this.query<StateRow>(`SELECT ${STATE_COLUMNS} FROM erpmod_fleet.module_state WHERE code = $1`, [code]);
    const row = result.rows[0];
    return row === undefined ? undefined : stateOf(code, row);
  }

  /**
   * Runs `apply` (the local action) while holding the module's fleet lock, then records `change` and
   * wakes the fleet, all in one transaction: concurrent actions on one module anywhere in the fleet
   * take turns, and a local action that fails records nothing. Resolves with the action's result and
   * the module's row as committed.
   */
  async change<T>(code: string, changeOf: (result: T) => FleetChange, apply: (current: FleetModuleState | undefined) => Promise<T>): Promise<{ result: T; state: FleetModuleState; version: number }> {
    return this.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SCHEMA_LOCK, code]);
      const current = await client.query<StateRow>(`SELECT ${STATE_COLUMNS} FROM erpmod_fleet.module_state WHERE code = $1`, [code]);
      const row = current.rows[0];
      const result = await apply(row === undefined ? undefined : stateOf(code, row));
      const change = changeOf(result);
      const written = await client.query<StateRow>(
        `INSERT INTO erpmod_fleet.module_state (code, enabled, reload_serial, binary_sha256) VALUES ($1, COALESCE($2, true), CASE WHEN $3 THEN 1 ELSE 0 END, $4)
         ON CONFLICT (code) DO UPDATE SET enabled = COALESCE($2, module_state.enabled),
           reload_serial = module_state.reload_serial + CASE WHEN $3 THEN 1 ELSE 0 END,
           binary_sha256 = COALESCE($4, module_state.binary_sha256), changed_at = now()
         RETURNING ${STATE_COLUMNS}`,
        [code, change.enabled ?? null, change.reload === true, change.binarySha256 ?? null],
      );
      const version = await client.query<{ version: string }>('UPDATE erpmod_fleet.registry_version SET version = version + 1 WHERE id = 1 RETURNING version');
      // Delivered at commit, to every listener (this instance included); never before the rows are visible.
      await client.query('SELECT pg_notify($1, $2)', [FLEET_CHANNEL, version.rows[0]!.version]);
      const state = stateOf(code, written.rows[0]!);
      return { result, state, version: Number(version.rows[0]!.version) };
    });
  }

  /** Remembers the version this instance has converged to, so the poll only wakes it for newer ones. */
  converged(version: number): void {
    this.lastVersion = Math.max(this.lastVersion, version);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.reconnectTimer);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ ...this.plan.admin, application_name: `erpmod:fleet-listen:${process.pid}`, keepAlive: true });
    const lost = (reason: string): void => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn({ database: this.where, reason, retryInMs: this.reconnectDelay }, 'fleet: lost the LISTEN connection; reconnecting, then reconciling from the registry');
      this.scheduleReconnect();
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('connection ended'));
    client.on('notification', (message) => {
      if (message.channel === FLEET_CHANNEL) this.onWake(`notification ${message.payload ?? ''}`);
    });
    this.listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${FLEET_CHANNEL}`);
    } catch (error) {
      this.listener = undefined;
      void client.end().catch(() => undefined);
      throw error;
    }
    this.reconnectDelay = RECONNECT_MIN_MS;
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      void this.listen().then(
        () => {
          this.logger.info({ database: this.where }, 'fleet: listening again; reconciling from the registry');
          this.onWake('reconnected');
        },
        () => {
          this.reconnectDelay = Math.min(this.reconnectDelay * 2, RECONNECT_MAX_MS);
          if (!this.closed) this.scheduleReconnect();
        },
      );
    }, this.reconnectDelay);
    this.reconnectTimer.unref();
  }

  private async poll(): Promise<void> {
    try {
      const result = await this.query<{ version: string }>('SELECT version FROM erpmod_fleet.registry_version WHERE id = 1');
      const version = Number(result.rows[0]?.version ?? 0);
      if (version !== this.lastVersion) this.onWake(`version ${version} polled`);
    } catch {
      // The listener's reconnect reports the outage; the next poll tries again.
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (error) {
      throw isUnavailable(error) ? unavailable(this.where, error) : error;
    }
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    try {
      return await inTransaction(this.pool, work);
    } catch (error) {
      throw isUnavailable(error) ? unavailable(this.where, error) : error;
    }
  }
}
