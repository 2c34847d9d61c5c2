import type pg from 'pg';
import { announceChange } from './fleet-schema';

/** How often an instance tells the fleet it is alive. */
export const HEARTBEAT_MS = 5_000;
/** An instance not heard of for this long (three beats missed) is shown as not live. */
export const LIVE_WITHIN_MS = 3 * HEARTBEAT_MS;
/**
 * An instance not heard of for this long is gone: its per-module rows (plugin_instances) are removed,
 * so a fleet's lists do not keep every name it ever had (each restart on an ephemeral port is a new
 * one). Its audit events stay. A stopped instance that comes back writes its rows again as it boots.
 */
export const GONE_AFTER_MS = 60 * 60_000;

/** An instance's last beat, with how long ago it was on the database server's clock (local clocks may differ). */
export interface InstanceBeat {
  readonly instance: string;
  readonly seenAt: Date;
  readonly ageMs: number;
}

/**
 * One beat, inside the caller's transaction: this instance is seen now, instances gone for
 * GONE_AFTER_MS lose their per-module rows (announced, so every instance's mirror drops them too), and
 * every instance's last beat is returned. Rows written by instances that never beat (an earlier erpmod
 * version) are left alone: they cannot say whether they are alive.
 */
export async function beat(client: pg.ClientBase, instance: string): Promise<InstanceBeat[]> {
  await client.query('INSERT INTO erpmod_fleet.instances (instance, seen_at) VALUES ($1, now()) ON CONFLICT (instance) DO UPDATE SET seen_at = now()', [instance]);
  // SKIP LOCKED: a row another instance is writing right now is alive, and two pruning instances never wait on each other.
  const pruned = await client.query(
    `WITH gone AS (
       DELETE FROM erpmod_fleet.instances WHERE instance IN (
         SELECT instance FROM erpmod_fleet.instances WHERE seen_at < now() - make_interval(secs => $1) FOR UPDATE SKIP LOCKED)
       RETURNING instance)
     DELETE FROM erpmod_fleet.plugin_instances p USING gone WHERE p.instance = gone.instance`,
    [GONE_AFTER_MS / 1000],
  );
  if ((pruned.rowCount ?? 0) > 0) await announceChange(client);
  return readBeats(client);
}

/** Every instance's last beat (also read with the registry, so an instance that just joined shows as live at once). */
export async function readBeats(client: pg.ClientBase): Promise<InstanceBeat[]> {
  const beats = await client.query<{ instance: string; seen_at: Date; age_ms: number }>(
    'SELECT instance, seen_at, (extract(epoch FROM now() - seen_at) * 1000)::float8 AS age_ms FROM erpmod_fleet.instances',
  );
  return beats.rows.map((row) => ({ instance: row.instance, seenAt: row.seen_at, ageMs: row.age_ms }));
}
