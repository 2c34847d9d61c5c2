import pg from 'pg';
import type { Logger } from '../logger';
import { inTransaction } from '../store/postgres/in-transaction';
import { planConnections, type PostgresSettings } from '../store/postgres/connection-settings';
import { openListenConnection } from '../store/postgres/listen-connection';
import { isUnavailable, unavailable } from '../store/postgres/translate-pg-error';
import { announceChange, ensureFleetSchema, FLEET_CHANNEL, SCHEMA_LOCK } from '../registry/postgres/fleet-schema';

export { FLEET_CHANNEL };

/** A module's fleet-wide operator state: the row is the truth every instance converges to. */
export interface FleetModuleState {
  readonly code: string;
  readonly enabled: boolean;
  /** Bumped by every reload an operator asks of the fleet; an instance reloads when it has seen less. */
  readonly reloadSerial: number;
  /** The build the last fleet reload loaded: every instance must load the same bytes. */
  readonly binarySha256: string | null;
  /** The pack (erpmod_fleet.packs) that build came from, when it was installed from one: every instance installs it first. */
  readonly packSha256: string | null;
}

export interface FleetSnapshot {
  readonly version: number;
  readonly modules: readonly FleetModuleState[];
}

export interface FleetChange {
  readonly enabled?: boolean;
  readonly reload?: boolean;
  readonly binarySha256?: string;
  /** The pack the reloaded build was installed from: stored (when the fleet does not hold it yet) with the change. */
  readonly pack?: SharedPack;
}

/** A pack as the fleet keeps it: its bytes, their sha256, and what the installing instance's checks found. */
export interface SharedPack {
  readonly code: string;
  readonly version: string;
  readonly sha256: string;
  readonly signedBy: string | null;
  readonly installedBy: string;
  readonly bytes: () => Buffer;
}

export interface StoredPack {
  readonly sha256: string;
  readonly version: string;
  readonly signedBy: string | null;
  readonly installedBy: string;
  readonly bytes: Buffer;
}

interface StateRow {
  enabled: boolean;
  reload_serial: string;
  binary_sha256: string | null;
  pack_sha256: string | null;
}
const STATE_COLUMNS = 'enabled, reload_serial, binary_sha256, pack_sha256';

function stateOf(code: string, row: StateRow): FleetModuleState {
  return { code, enabled: row.enabled, reloadSerial: Number(row.reload_serial), binarySha256: row.binary_sha256, packSha256: row.pack_sha256 };
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
    // A connection that dies while checked out also emits 'error' on its client; the query it was running
    // rejects and reports it, so the event itself must not become an uncaught exception.
    this.pool.on('connect', (client) => client.on('error', () => undefined));
  }

  get where(): string {
    return this.plan.target.where;
  }

  /** Creates the fleet tables when absent and starts listening; throws when PostgreSQL cannot be reached. */
  async open(): Promise<FleetSnapshot> {
    await this.transaction((client) => ensureFleetSchema(client));
    await this.listen();
    this.pollTimer = setInterval(() => void this.poll(), POLL_MS);
    this.pollTimer.unref();
    const snapshot = await this.snapshot();
    this.lastVersion = snapshot.version;
    return snapshot;
  }

  /** Every module's fleet state and the version it belongs to, read in one statement. */
  async snapshot(): Promise<FleetSnapshot> {
    const result = await this.query<{ version: string; code: string | null; enabled: boolean | null; reload_serial: string | null; binary_sha256: string | null; pack_sha256: string | null }>(
      `SELECT v.version, m.code, m.enabled, m.reload_serial, m.binary_sha256, m.pack_sha256
         FROM erpmod_fleet.registry_version v LEFT JOIN erpmod_fleet.module_state m ON true WHERE v.id = 1 ORDER BY m.code`,
    );
    const version = Number(result.rows[0]?.version ?? 0);
    const modules = result.rows
      .filter((row) => row.code !== null)
      .map((row) => ({ code: row.code!, enabled: row.enabled!, reloadSerial: Number(row.reload_serial), binarySha256: row.binary_sha256, packSha256: row.pack_sha256 }));
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
      if (change.pack !== undefined) await storePack(client, change.pack);
      const written = await client.query<StateRow>(
        `INSERT INTO erpmod_fleet.module_state (code, enabled, reload_serial, binary_sha256, pack_sha256) VALUES ($1, COALESCE($2, true), CASE WHEN $3 THEN 1 ELSE 0 END, $4, $5)
         ON CONFLICT (code) DO UPDATE SET enabled = COALESCE($2, module_state.enabled),
           reload_serial = module_state.reload_serial + CASE WHEN $3 THEN 1 ELSE 0 END,
           binary_sha256 = COALESCE($4, module_state.binary_sha256),
           pack_sha256 = CASE WHEN $3 THEN $5 ELSE module_state.pack_sha256 END, changed_at = now()
         RETURNING ${STATE_COLUMNS}`,
        [code, change.enabled ?? null, change.reload === true, change.binarySha256 ?? null, change.pack?.sha256 ?? null],
      );
      const version = await announceChange(client);
      return { result, state: stateOf(code, written.rows[0]!), version };
    });
  }

  /** The pack the fleet keeps for a module, or undefined when it keeps none. */
  async pack(code: string): Promise<StoredPack | undefined> {
    const result = await this.query<{ sha256: string; version: string; signed_by: string | null; installed_by: string; bytes: Buffer }>(
      'SELECT sha256, version, signed_by, installed_by, bytes FROM erpmod_fleet.packs WHERE code = $1',
      [code],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : { sha256: row.sha256, version: row.version, signedBy: row.signed_by, installedBy: row.installed_by, bytes: row.bytes };
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
    const client = await openListenConnection({
      connection: this.plan.admin,
      name: `erpmod:fleet-listen:${process.pid}`,
      channel: FLEET_CHANNEL,
      onNotification: (payload) => this.onWake(`notification ${payload}`),
      onLost: (reason) => {
        this.listener = undefined;
        if (this.closed) return;
        this.logger.warn({ database: this.where, reason, retryInMs: this.reconnectDelay }, 'fleet: lost the LISTEN connection; reconnecting, then reconciling from the registry');
        this.scheduleReconnect();
      },
    });
    if (this.closed) {
      // Closed while a reconnect was connecting: this connection must not outlive the link.
      void client.end().catch(() => undefined);
      throw new Error('fleet link closed');
    }
    this.listener = client;
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

/** Stores the pack's bytes unless the fleet holds these already (a reload of an unchanged install sends nothing). */
async function storePack(client: pg.PoolClient, pack: SharedPack): Promise<void> {
  const held = await client.query<{ sha256: string }>('SELECT sha256 FROM erpmod_fleet.packs WHERE code = $1', [pack.code]);
  if (held.rows[0]?.sha256 === pack.sha256) return;
  await client.query(
    `INSERT INTO erpmod_fleet.packs (code, sha256, version, signed_by, bytes, installed_by, installed_at) VALUES ($1, $2, $3, $4, $5, $6, now())
     ON CONFLICT (code) DO UPDATE SET sha256 = excluded.sha256, version = excluded.version, signed_by = excluded.signed_by,
       bytes = excluded.bytes, installed_by = excluded.installed_by, installed_at = excluded.installed_at`,
    [pack.code, pack.sha256, pack.version, pack.signedBy, pack.bytes(), pack.installedBy],
  );
}
