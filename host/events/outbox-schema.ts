import type pg from 'pg';

/** Wakes every instance when deliveries may be waiting; carries nothing (the rows are the truth). */
export const EVENTS_CHANNEL = 'erpmod_events';

// Created under an advisory lock: instances booting together would otherwise race on CREATE ... IF NOT EXISTS.
const SCHEMA_LOCK = 0x45_52_50_45; // 'ERPE'

/**
 * The outbox lives in its own schema, owned by the host's role. Modules read none of it: their roles
 * get USAGE on the schema (to name its functions) and nothing on its tables; they act only through two
 * SECURITY DEFINER functions that check the caller is the module it claims to be.
 *
 * - `subscriptions`: which module subscribes to which topic, written by every instance that loads it.
 * - `outbox`: one row per published event.
 * - `deliveries`: one row per (event, subscribing module), claimed by one instance at a time with a
 *   lease (`claimed_until`); `attempts` counts claims, so a delivery whose instance keeps dying also ends.
 * - `handled`: what earlier versions' mark_handled wrote; mark_handled now sets the delivery itself
 *   to done in the subscriber's own transaction, so its work and "done" commit together.
 */
const SCHEMA = `
  CREATE SCHEMA IF NOT EXISTS erpmod_events;
  DROP FUNCTION IF EXISTS erpmod_events.publish(TEXT, TEXT, TEXT, TEXT, INTEGER);
  REVOKE ALL ON SCHEMA erpmod_events FROM PUBLIC;
  GRANT USAGE ON SCHEMA erpmod_events TO PUBLIC;
  CREATE TABLE IF NOT EXISTS erpmod_events.subscriptions (
    topic      TEXT NOT NULL,
    subscriber TEXT NOT NULL,
    PRIMARY KEY (topic, subscriber)
  );
  CREATE TABLE IF NOT EXISTS erpmod_events.outbox (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    publisher    TEXT NOT NULL,
    topic        TEXT NOT NULL,
    payload      TEXT NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS erpmod_events.deliveries (
    event_id      BIGINT NOT NULL REFERENCES erpmod_events.outbox (id) ON DELETE CASCADE,
    subscriber    TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    available_at  TIMESTAMPTZ NOT NULL,
    claimed_by    TEXT,
    claimed_until TIMESTAMPTZ,
    last_error    TEXT,
    finished_at   TIMESTAMPTZ,
    PRIMARY KEY (event_id, subscriber)
  );
  CREATE INDEX IF NOT EXISTS deliveries_pending ON erpmod_events.deliveries (available_at) WHERE state = 'pending';
  CREATE TABLE IF NOT EXISTS erpmod_events.handled (
    event_id   BIGINT NOT NULL REFERENCES erpmod_events.outbox (id) ON DELETE CASCADE,
    subscriber TEXT NOT NULL,
    PRIMARY KEY (event_id, subscriber)
  );

  -- p_here: the subscribers live in the publishing instance (comma-separated). It delivers to them
  -- itself before the publish returns, so their rows wait out a grace period before anyone else may
  -- claim them; every other row is available at once. The NOTIFY is sent at commit: to everyone ('')
  -- when some row is available now, else naming the publishing instance, whom alone it concerns.
  CREATE OR REPLACE FUNCTION erpmod_events.publish(p_publisher TEXT, p_topic TEXT, p_payload TEXT, p_here TEXT, p_grace_ms INTEGER, p_instance TEXT)
  RETURNS BIGINT LANGUAGE plpgsql SECURITY DEFINER SET search_path = erpmod_events, pg_temp AS $fn$
  DECLARE
    v_id BIGINT;
    v_here TEXT[] := string_to_array(coalesce(p_here, ''), ',');
    v_elsewhere BOOLEAN;
  BEGIN
    IF session_user <> current_user AND session_user <> 'erpmod_' || replace(p_publisher, '-', '_') THEN
      RAISE EXCEPTION 'role % may not publish events as module %', session_user, p_publisher USING ERRCODE = '42501';
    END IF;
    INSERT INTO outbox (publisher, topic, payload) VALUES (p_publisher, p_topic, p_payload) RETURNING id INTO v_id;
    INSERT INTO deliveries (event_id, subscriber, available_at)
      SELECT v_id, s.subscriber,
             CASE WHEN s.subscriber = ANY (v_here) THEN clock_timestamp() + p_grace_ms * interval '1 millisecond' ELSE clock_timestamp() END
        FROM subscriptions s WHERE s.topic = p_topic;
    IF FOUND THEN
      v_elsewhere := EXISTS (SELECT 1 FROM subscriptions s WHERE s.topic = p_topic AND NOT s.subscriber = ANY (v_here));
      PERFORM pg_notify('${EVENTS_CHANNEL}', CASE WHEN v_elsewhere THEN '' ELSE p_instance END);
    END IF;
    RETURN v_id;
  END $fn$;

  -- publish_claiming: publish; p_lease_ms given (only when the event commits alone: this statement is
  -- its own transaction) means the rows of p_here come back already claimed by p_instance with that
  -- lease, so the publisher delivers them without a separate claim, and no NOTIFY is sent unless some
  -- subscriber lives elsewhere. With p_lease_ms NULL (inside a larger transaction) it behaves as
  -- publish: nothing claimed, the rows of p_here wait out the grace period, NOTIFY at commit.
  CREATE OR REPLACE FUNCTION erpmod_events.publish_claiming(p_publisher TEXT, p_topic TEXT, p_payload TEXT, p_here TEXT, p_grace_ms INTEGER, p_instance TEXT, p_lease_ms INTEGER)
  RETURNS TABLE (id BIGINT, claimed TEXT) LANGUAGE plpgsql SECURITY DEFINER SET search_path = erpmod_events, pg_temp AS $fn$
  DECLARE
    v_id BIGINT;
    v_here TEXT[] := string_to_array(coalesce(p_here, ''), ',');
    v_alone BOOLEAN := p_lease_ms IS NOT NULL;
    v_claimed TEXT;
    v_elsewhere BOOLEAN;
    v_later BOOLEAN;
  BEGIN
    IF session_user <> current_user AND session_user <> 'erpmod_' || replace(p_publisher, '-', '_') THEN
      RAISE EXCEPTION 'role % may not publish events as module %', session_user, p_publisher USING ERRCODE = '42501';
    END IF;
    INSERT INTO outbox (publisher, topic, payload) VALUES (p_publisher, p_topic, p_payload) RETURNING outbox.id INTO v_id;
    WITH inserted AS (
      INSERT INTO deliveries (event_id, subscriber, available_at, attempts, claimed_by, claimed_until)
        SELECT v_id, s.subscriber,
               CASE WHEN s.subscriber = ANY (v_here) AND NOT v_alone THEN clock_timestamp() + p_grace_ms * interval '1 millisecond' ELSE clock_timestamp() END,
               CASE WHEN s.subscriber = ANY (v_here) AND v_alone THEN 1 ELSE 0 END,
               CASE WHEN s.subscriber = ANY (v_here) AND v_alone THEN p_instance END,
               CASE WHEN s.subscriber = ANY (v_here) AND v_alone THEN clock_timestamp() + p_lease_ms * interval '1 millisecond' END
          FROM subscriptions s WHERE s.topic = p_topic
        RETURNING deliveries.subscriber, deliveries.claimed_by IS NOT NULL AS taken, deliveries.subscriber = ANY (v_here) AS local)
    SELECT string_agg(i.subscriber, ',') FILTER (WHERE i.taken), bool_or(NOT i.local), bool_or(i.local AND NOT i.taken)
      INTO v_claimed, v_elsewhere, v_later FROM inserted i;
    IF v_elsewhere THEN
      PERFORM pg_notify('${EVENTS_CHANNEL}', '');
    ELSIF v_later THEN
      PERFORM pg_notify('${EVENTS_CHANNEL}', p_instance);
    END IF;
    RETURN QUERY SELECT v_id, v_claimed;
  END $fn$;

  -- The subscriber's own transaction completes its delivery (one UPDATE, committed with its work);
  -- claimed_by and attempts stay, so a holder whose subscriber then fails can still reopen it.
  -- Rows marked in erpmod_events.handled by earlier versions are still honoured at claim time.
  CREATE OR REPLACE FUNCTION erpmod_events.mark_handled(p_event BIGINT, p_subscriber TEXT)
  RETURNS VOID LANGUAGE plpgsql SECURITY DEFINER SET search_path = erpmod_events, pg_temp AS $fn$
  BEGIN
    IF session_user <> current_user AND session_user <> 'erpmod_' || replace(p_subscriber, '-', '_') THEN
      RAISE EXCEPTION 'role % may not mark deliveries of module %', session_user, p_subscriber USING ERRCODE = '42501';
    END IF;
    UPDATE deliveries SET state = 'done', finished_at = clock_timestamp(), claimed_until = NULL, last_error = NULL
     WHERE event_id = p_event AND subscriber = p_subscriber AND state = 'pending';
  END $fn$;`;

/** Creates or updates the outbox schema; safe to run from every instance at once. */
export async function ensureOutboxSchema(client: pg.PoolClient): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await client.query(SCHEMA);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
