import type pg from 'pg';
import { inTransaction } from '../store/postgres/in-transaction';

/** One delivery this instance holds the lease of. */
export interface ClaimedDelivery {
  readonly eventId: number;
  readonly subscriber: string;
  readonly publisher: string;
  readonly topic: string;
  readonly payload: string;
  /** Claims so far, this one included. */
  readonly attempts: number;
  /** The subscriber's transaction already committed it (a previous holder died before recording that). */
  readonly handled: boolean;
}

export interface FailedDelivery {
  readonly eventId: number;
  readonly subscriber: string;
  readonly publisher: string;
  readonly topic: string;
  readonly attempts: number;
  readonly error: string;
}

export interface PublishedRow {
  id: string | number | bigint;
  claimed: string | null | undefined;
}

/** A recorded event, and the deliveries to subscribers here that the same statement claimed. */
export interface Published {
  readonly eventId: number;
  readonly claims: readonly ClaimedDelivery[];
}

interface ClaimRow {
  event_id: string;
  subscriber: string;
  publisher: string;
  topic: string;
  payload: string;
  attempts: number;
  handled: boolean;
}

/** How long the first completion waits for others to go with it, and how many go at most. */
const COMPLETE_WITHIN_MS = 5;
const COMPLETE_BATCH = 64;

const CLAIM_RETURNING = `RETURNING d.event_id, d.subscriber, o.publisher, o.topic, o.payload, d.attempts,
  EXISTS (SELECT 1 FROM erpmod_events.handled h WHERE h.event_id = d.event_id AND h.subscriber = d.subscriber) AS handled`;

function claimed(row: ClaimRow): ClaimedDelivery {
  return { eventId: Number(row.event_id), subscriber: row.subscriber, publisher: row.publisher, topic: row.topic, payload: row.payload, attempts: row.attempts, handled: row.handled };
}

/**
 * The SQL of the outbox's deliveries, on the host's own connection. A claim is one statement: the row is
 * picked with FOR UPDATE SKIP LOCKED (instances never wait for each other) and leased until
 * `claimed_until`; a holder that dies simply lets its lease run out, and whoever claims next retries.
 */
export class OutboxDeliveries {
  constructor(
    private readonly pool: pg.Pool,
    readonly instance: string,
    private readonly leaseMs: number,
    private readonly maxAttempts: number,
  ) {}

  async subscribe(subscriber: string, topic: string): Promise<void> {
    await this.pool.query('INSERT INTO erpmod_events.subscriptions (topic, subscriber) VALUES ($1, $2) ON CONFLICT DO NOTHING', [topic, subscriber]);
  }

  /** Publishes for a module whose ctx.db is not here (an isolated module's runner): the event commits alone. */
  async publish(publisher: string, topic: string, payload: string, here: string, graceMs: number): Promise<Published> {
    const result = await this.pool.query<PublishedRow>(`SELECT id, claimed FROM erpmod_events.publish_claiming($1, $2, $3, $4, $5, $6, $7)`, [
      publisher,
      topic,
      payload,
      here,
      graceMs,
      this.instance,
      this.leaseMs,
    ]);
    return this.published(result.rows[0]!, publisher, topic, payload);
  }

  /** publish_claiming's row as deliveries this instance now holds (attempt 1). */
  published(row: PublishedRow, publisher: string, topic: string, payload: string): Published {
    const eventId = Number(row.id);
    const claimed = row.claimed === null || row.claimed === undefined || row.claimed === '' ? [] : String(row.claimed).split(',');
    return { eventId, claims: claimed.map((subscriber) => ({ eventId, subscriber, publisher, topic, payload, attempts: 1, handled: false })) };
  }

  /** The delivery of `eventId` to `subscriber`, whatever its grace period says; undefined when not visible (not committed yet) or held. */
  async claimOne(eventId: number, subscriber: string): Promise<ClaimedDelivery | undefined> {
    const result = await this.pool.query<ClaimRow>(
      `UPDATE erpmod_events.deliveries d SET attempts = d.attempts + 1, claimed_by = $3, claimed_until = clock_timestamp() + $4 * interval '1 millisecond'
         FROM erpmod_events.outbox o
        WHERE o.id = d.event_id AND (d.event_id, d.subscriber) IN (
              SELECT event_id, subscriber FROM erpmod_events.deliveries
               WHERE event_id = $1 AND subscriber = $2 AND state = 'pending' AND attempts < $5
                 AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
               FOR UPDATE SKIP LOCKED)
        ${CLAIM_RETURNING}`,
      [eventId, subscriber, this.instance, this.leaseMs, this.maxAttempts],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : claimed(row);
  }

  /**
   * Up to `limit` deliveries due now, oldest first, among `pairs` ("subscriber topic": what is live
   * here); `own` are events this instance published, which it may claim before their grace ends.
   */
  async claimDue(pairs: readonly string[], own: readonly number[], limit: number): Promise<ClaimedDelivery[]> {
    if (pairs.length === 0) return [];
    const result = await this.pool.query<ClaimRow>(
      `UPDATE erpmod_events.deliveries d SET attempts = d.attempts + 1, claimed_by = $3, claimed_until = clock_timestamp() + $4 * interval '1 millisecond'
         FROM erpmod_events.outbox o
        WHERE o.id = d.event_id AND (d.event_id, d.subscriber) IN (
              SELECT p.event_id, p.subscriber FROM erpmod_events.deliveries p JOIN erpmod_events.outbox e ON e.id = p.event_id
               WHERE p.state = 'pending' AND p.attempts < $5 AND p.subscriber || ' ' || e.topic = ANY ($1::text[])
                 AND (p.available_at <= clock_timestamp() OR p.event_id = ANY ($2::bigint[]))
                 AND (p.claimed_until IS NULL OR p.claimed_until < clock_timestamp())
               ORDER BY p.event_id LIMIT $6
               FOR UPDATE OF p SKIP LOCKED)
        ${CLAIM_RETURNING}`,
      [pairs, own, this.instance, this.leaseMs, this.maxAttempts, limit],
    );
    return result.rows.map(claimed).sort((a, b) => a.eventId - b.eventId);
  }

  /**
   * Done, if this instance still holds the lease (a holder whose lease ran out records nothing).
   * Completions go together: the first waits up to COMPLETE_WITHIN_MS for others (or until
   * COMPLETE_BATCH wait), so under load they cost one round trip per batch instead of one each. The
   * promise settles when its batch is written; the bus does not wait for it (the subscriber's work is
   * done — only its record follows), and flushCompletions() writes what waits before the pool closes.
   */
  complete(delivery: ClaimedDelivery): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.completions.push({ delivery, resolve, reject }));
    if (this.completions.length >= COMPLETE_BATCH) void this.flushCompletions();
    else this.completeTimer ??= setTimeout(() => void this.flushCompletions(), COMPLETE_WITHIN_MS);
    return done;
  }

  private readonly completions: { delivery: ClaimedDelivery; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private completeTimer: NodeJS.Timeout | undefined;

  /** Writes every completion waiting now, in one statement. */
  async flushCompletions(): Promise<void> {
    clearTimeout(this.completeTimer);
    this.completeTimer = undefined;
    const batch = this.completions.splice(0, this.completions.length);
    if (batch.length === 0) return;
    try {
      await this.pool.query(
        `UPDATE erpmod_events.deliveries d SET state = 'done', finished_at = clock_timestamp(), claimed_until = NULL, last_error = NULL
           FROM unnest($1::bigint[], $2::text[], $3::int[]) AS c (event_id, subscriber, attempts)
          WHERE d.event_id = c.event_id AND d.subscriber = c.subscriber AND d.attempts = c.attempts AND d.state = 'pending' AND d.claimed_by = $4`,
        [batch.map((entry) => entry.delivery.eventId), batch.map((entry) => entry.delivery.subscriber), batch.map((entry) => entry.delivery.attempts), this.instance],
      );
      for (const entry of batch) entry.resolve();
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }

  /** Gives a claim back untouched (the subscriber was not live here after all). */
  async release(delivery: ClaimedDelivery): Promise<void> {
    await this.pool.query(
      `UPDATE erpmod_events.deliveries SET attempts = attempts - 1, claimed_until = NULL
        WHERE event_id = $1 AND subscriber = $2 AND state = 'pending' AND claimed_by = $3 AND attempts = $4`,
      [delivery.eventId, delivery.subscriber, this.instance, delivery.attempts],
    );
  }

  /**
   * A failed attempt: retried after `backoffMs`, or failed for good at the last attempt. Anything the
   * subscriber's transactions marked as handled (done, this attempt) is forgotten, so the retry runs it again. Resolves true
   * when this was the last attempt.
   */
  async fail(delivery: ClaimedDelivery, error: string, backoffMs: number): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      const result = await client.query<{ state: string }>(
        `UPDATE erpmod_events.deliveries
            SET state = CASE WHEN attempts >= $5 THEN 'failed' ELSE 'pending' END,
                finished_at = CASE WHEN attempts >= $5 THEN clock_timestamp() END,
                available_at = clock_timestamp() + $6 * interval '1 millisecond', claimed_until = NULL, last_error = $7
          WHERE event_id = $1 AND subscriber = $2 AND claimed_by = $3 AND attempts = $4
            AND (state = 'pending' OR (state = 'done' AND claimed_until IS NULL))
          RETURNING state`,
        [delivery.eventId, delivery.subscriber, this.instance, delivery.attempts, this.maxAttempts, backoffMs, error],
      );
      if (result.rows.length === 0) return false;
      await client.query('DELETE FROM erpmod_events.handled WHERE event_id = $1 AND subscriber = $2', [delivery.eventId, delivery.subscriber]);
      return result.rows[0]!.state === 'failed';
    });
  }

  /** Deliveries whose every attempt was claimed by instances that died: failed for good. */
  async failExhausted(subscribers: readonly string[]): Promise<FailedDelivery[]> {
    if (subscribers.length === 0) return [];
    const result = await this.pool.query<{ event_id: string; subscriber: string; publisher: string; topic: string; attempts: number }>(
      `UPDATE erpmod_events.deliveries d SET state = 'failed', finished_at = clock_timestamp(), claimed_until = NULL,
              last_error = coalesce(d.last_error, 'every attempt ended with its instance (lease expired)')
         FROM erpmod_events.outbox o
        WHERE o.id = d.event_id AND d.state = 'pending' AND d.attempts >= $1 AND d.claimed_until < clock_timestamp() AND d.subscriber = ANY ($2::text[])
        RETURNING d.event_id, d.subscriber, o.publisher, o.topic, d.attempts`,
      [this.maxAttempts, subscribers],
    );
    return result.rows.map((row) => ({
      eventId: Number(row.event_id),
      subscriber: row.subscriber,
      publisher: row.publisher,
      topic: row.topic,
      attempts: row.attempts,
      error: 'every attempt ended with its instance (lease expired)',
    }));
  }

  /**
   * Makes `topics` everything `subscriber` subscribes to: rows of topics an earlier version subscribed
   * to and the current one does not are removed, so no further deliveries are made for them.
   */
  async keepSubscriptions(subscriber: string, topics: readonly string[]): Promise<void> {
    await this.pool.query('DELETE FROM erpmod_events.subscriptions WHERE subscriber = $1 AND NOT (topic = ANY ($2::text[]))', [subscriber, topics]);
  }

  /**
   * Fails deliveries nobody will claim: pending for longer than `graceMs`, unclaimed, and for a topic
   * their subscriber no longer subscribes to (no row in `subscriptions`). An instance still running an
   * earlier version that does subscribe claims them within a poll; what waits longer waits for nothing.
   * At most `limit` per call.
   */
  async failOrphans(graceMs: number, limit: number): Promise<FailedDelivery[]> {
    const result = await this.pool.query<{ event_id: string; subscriber: string; publisher: string; topic: string; attempts: number; last_error: string }>(
      `UPDATE erpmod_events.deliveries d SET state = 'failed', finished_at = clock_timestamp(), claimed_until = NULL,
              last_error = 'module ' || d.subscriber || ' no longer subscribes to ' || o.topic || ' (its loaded version does not, or its subscription was removed)'
         FROM erpmod_events.outbox o
        WHERE o.id = d.event_id AND (d.event_id, d.subscriber) IN (
                SELECT d2.event_id, d2.subscriber FROM erpmod_events.deliveries d2 JOIN erpmod_events.outbox o2 ON o2.id = d2.event_id
                 WHERE d2.state = 'pending' AND d2.available_at < clock_timestamp() - $1 * interval '1 millisecond'
                   AND (d2.claimed_until IS NULL OR d2.claimed_until < clock_timestamp())
                   AND NOT EXISTS (SELECT 1 FROM erpmod_events.subscriptions s WHERE s.subscriber = d2.subscriber AND s.topic = o2.topic)
                 LIMIT $2 FOR UPDATE OF d2 SKIP LOCKED)
        RETURNING d.event_id, d.subscriber, o.publisher, o.topic, d.attempts, d.last_error`,
      [graceMs, limit],
    );
    return result.rows.map((row) => ({ eventId: Number(row.event_id), subscriber: row.subscriber, publisher: row.publisher, topic: row.topic, attempts: row.attempts, error: row.last_error }));
  }

  /** Events older than `retentionMs` with no delivery left pending or failed (those stay for the operator). */
  async purge(retentionMs: number): Promise<void> {
    await this.pool.query(
      `DELETE FROM erpmod_events.outbox o WHERE o.published_at < clock_timestamp() - $1 * interval '1 millisecond'
          AND NOT EXISTS (SELECT 1 FROM erpmod_events.deliveries d WHERE d.event_id = o.id AND d.state <> 'done')`,
      [retentionMs],
    );
  }
}
