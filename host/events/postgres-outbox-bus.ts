import os from 'node:os';
import pg from 'pg';
import { ErpmodError, messageOf } from '../errors';
import type { Logger } from '../logger';
import { EventBus, type EventListener, type SubscriptionOwner } from '../loader/event-bus';
import { isThenable, withTimeout } from '../loader/with-timeout';
import type { ContextDb } from '../store/module-store';
import { planConnections, type PostgresSettings } from '../store/postgres/connection-settings';
import { beginDeliveryMark } from '../store/postgres/delivery-marks';
import { openListenConnection } from '../store/postgres/listen-connection';
import { transactionView, type AsyncModuleDbFacade } from '../store/postgres/postgres-db-facade';
import { isUnavailable, unavailable } from '../store/postgres/translate-pg-error';
import { OutboxDeliveries, type ClaimedDelivery, type FailedDelivery, type Published, type PublishedRow } from './outbox-deliveries';
import { EVENTS_CHANNEL, ensureOutboxSchema } from './outbox-schema';

export interface OutboxBusOptions {
  readonly settings: PostgresSettings;
  /** How long a claim holds a delivery, and how long a subscriber may take: a dead holder's claims are retried after this. */
  readonly leaseMs: number;
  /** Attempts per delivery (claims, including ones whose instance died) before it fails for good. */
  readonly maxAttempts: number;
  /** Records a delivery that failed for good in the registry's audit trail (plugin_events, kind event-failed). */
  readonly recordFailure: (failure: FailedDelivery) => void;
}

/** Rows of subscribers live in the publishing instance wait this long before another instance may take them. */
const PUBLISHER_GRACE_MS = 3000;
/** A missed notification (or a grace period that ran out) costs at most this long. */
const POLL_MS = 1000;
const CLAIM_BATCH = 16;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;
const RETENTION_MS = 24 * 3600_000;
const PURGE_EVERY_MS = 60_000;
/** Deliveries nobody subscribes to any more failed per sweep (one sweep per lease), so a backlog ends in bounded steps. */
const ORPHAN_BATCH = 256;

/**
 * Events on PostgreSQL: a transactional outbox. publish() records the event and one delivery per
 * subscribing module through the publisher's own ctx.db, so inside its open transaction the event
 * commits (or rolls back) with the publisher's writes. Any instance with that subscriber live may then
 * claim a delivery (SKIP LOCKED, leased), woken by NOTIFY at commit and by a poll; each subscribing
 * module handles each event once across the fleet, a failure is retried with backoff up to
 * `maxAttempts`, and a delivery that fails for good is recorded as `event-failed`.
 *
 * The publishing instance delivers to its own live subscribers before publish() resolves (when the
 * event committed alone), so a reply written after publish still reflects what they did, as on SQLite.
 */
export class PostgresOutboxBus extends EventBus {
  private readonly pool: pg.Pool;
  private readonly deliveries: OutboxDeliveries;
  private readonly where: string;
  private readonly plan;
  private listener: pg.Client | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private registrations: Promise<unknown> = Promise.resolve();
  /** Events published here whose rows were not visible yet (their transaction had not committed): claimed at the next wake-up, grace or not. */
  private readonly own = new Map<number, number>();
  private draining: Promise<void> | undefined;
  private again = false;
  private housekeeping = false;
  private closed = false;
  private lastPurge = 0;
  private lastOrphanSweep = 0;

  constructor(
    private readonly log: Logger,
    private readonly options: OutboxBusOptions,
  ) {
    super(log);
    this.plan = planConnections(options.settings);
    this.where = this.plan.target.where;
    this.pool = new pg.Pool({ ...this.plan.admin, max: 4, application_name: 'erpmod:events' });
    this.pool.on('error', (error) => log.warn({ err: error.message, database: this.where }, 'PostgreSQL connection lost (events)'));
    const instance = `${os.hostname()}:${process.pid}`;
    this.deliveries = new OutboxDeliveries(this.pool, instance, options.leaseMs, options.maxAttempts);
  }

  /** Creates the outbox schema if needed and starts listening; throws ERPMOD_DATABASE_UNAVAILABLE when PostgreSQL cannot be reached. */
  async open(): Promise<void> {
    try {
      const client = await this.pool.connect();
      try {
        await ensureOutboxSchema(client);
      } finally {
        client.release();
      }
      await this.listen();
    } catch (error) {
      await this.pool.end().catch(() => undefined);
      throw isUnavailable(error) ? unavailable(this.where, error) : error;
    }
    this.pollTimer = setInterval(() => this.wake(true), POLL_MS);
    this.pollTimer.unref();
  }

  override subscribe(owner: SubscriptionOwner, topic: string, listener: EventListener): void {
    super.subscribe(owner, topic, listener);
    const registered = this.deliveries.subscribe(owner.code, topic).catch((error: unknown) => {
      this.log.error({ module: owner.code, topic, err: messageOf(error) }, 'events: could not record the subscription; events published before the next boot may miss it');
    });
    this.registrations = Promise.all([this.registrations, registered]);
  }

  override settleSubscriptions(owner: SubscriptionOwner): void {
    const topics = [...this.subscriptions].filter(([, list]) => list.some((subscription) => subscription.owner === owner)).map(([topic]) => topic);
    // After this owner's own subscriptions were recorded (they are in `registrations`).
    this.registrations = this.registrations
      .then(() => this.deliveries.keepSubscriptions(owner.code, topics))
      .catch((error: unknown) => {
        this.log.warn({ module: owner.code, topics, err: messageOf(error) }, 'events: could not forget the topics this version no longer subscribes to; deliveries may be made for them until its next load');
      });
  }

  /** `transaction`: the publisher's open transaction by handle, which the event is recorded in. */
  override publish(publisher: string, topic: string, payload: unknown, db?: ContextDb, transaction?: number): Promise<void> {
    const through = transaction !== undefined && db !== undefined && (db as Partial<AsyncModuleDbFacade>).transactions !== undefined ? transactionView(db as AsyncModuleDbFacade, transaction) : db;
    return this.publishToOutbox(publisher, topic, payload, through).catch((error: unknown) => {
      // The SDK does not hand a publish failure to the module; inside a transaction its COMMIT fails anyway.
      this.log.error({ publisher, topic, err: messageOf(error) }, 'event not recorded in the outbox');
    });
  }

  override async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    await this.draining;
    await this.deliveries.flushCompletions();
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
    await this.pool.end().catch(() => undefined);
  }

  private async publishToOutbox(publisher: string, topic: string, payload: unknown, db: ContextDb | undefined): Promise<void> {
    await this.registrations;
    const here = this.liveSubscribers(topic);
    const text = JSON.stringify(payload ?? null);
    const hereList = here.join(',');
    let published: Published;
    if (db !== undefined && (db as AsyncModuleDbFacade).promises === true) {
      // Through the module's ctx.db: inside its open transaction if it has one, alone otherwise. Only
      // an event committing alone may come back claimed (asked and sent in the same tick: see inTransaction).
      const facade = db as AsyncModuleDbFacade;
      const alone = facade.inTransaction?.() === false;
      const row = (await facade.get('SELECT id, claimed FROM erpmod_events.publish_claiming(?, ?, ?, ?, ?, ?, ?)', [
        publisher,
        topic,
        text,
        hereList,
        PUBLISHER_GRACE_MS,
        this.deliveries.instance,
        alone ? this.options.leaseMs : null,
      ])) as PublishedRow;
      published = this.deliveries.published(row, publisher, topic, text);
    } else {
      published = await this.deliveries.publish(publisher, topic, text, hereList, PUBLISHER_GRACE_MS);
    }
    const { eventId, claims } = published;
    const claimedAt = Date.now();
    for (const subscriber of here) {
      const claim = claims.find((taken) => taken.subscriber === subscriber);
      if (this.closed) {
        if (claim !== undefined) await this.deliveries.release(claim);
        continue;
      }
      if (claim !== undefined) {
        // Claimed by the publishing statement itself (the event committed alone).
        await this.deliver(claim, claimedAt);
        continue;
      }
      if (claims.length > 0) continue; // committed alone, yet no row for it: subscribed after the event (as before, not delivered)
      const start = Date.now();
      const late = await this.deliveries.claimOne(eventId, subscriber);
      if (late === undefined) {
        // Not committed yet (published inside a transaction): delivered when its NOTIFY wakes us.
        this.own.set(eventId, Date.now() + PUBLISHER_GRACE_MS);
        continue;
      }
      await this.deliver(late, start);
    }
  }

  /** Modules with a live generation subscribed to `topic` here, in subscription order. */
  private liveSubscribers(topic: string): string[] {
    const codes: string[] = [];
    for (const subscription of this.subscriptions.get(topic) ?? []) {
      if (subscription.owner.live && !codes.includes(subscription.owner.code)) codes.push(subscription.owner.code);
    }
    return codes;
  }

  /** "subscriber topic" for everything live here: what this instance may claim. */
  private livePairs(): string[] {
    const pairs = new Set<string>();
    for (const [topic, list] of this.subscriptions) {
      for (const subscription of list) if (subscription.owner.live) pairs.add(`${subscription.owner.code} ${topic}`);
    }
    return [...pairs];
  }

  /** A notification or the poll (`housekeeping`: also reconnects, fails exhausted deliveries, purges). */
  private wake(housekeeping = false): void {
    if (this.closed) return;
    this.housekeeping ||= housekeeping;
    if (this.draining !== undefined) {
      this.again = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again && !this.closed) this.wake();
    });
  }

  private async drain(): Promise<void> {
    this.again = false;
    const housekeeping = this.housekeeping;
    this.housekeeping = false;
    try {
      const now = Date.now();
      const pairs = this.livePairs();
      if (housekeeping) {
        if (this.listener === undefined) await this.listen().catch(() => undefined);
        for (const [eventId, until] of this.own) if (until < now) this.own.delete(eventId);
        const subscribers = [...new Set(pairs.map((pair) => pair.slice(0, pair.indexOf(' '))))];
        for (const failure of await this.deliveries.failExhausted(subscribers)) this.failedForGood(failure);
        if (now - this.lastOrphanSweep > this.options.leaseMs) {
          this.lastOrphanSweep = now;
          const orphans = await this.deliveries.failOrphans(2 * this.options.leaseMs, ORPHAN_BATCH);
          if (orphans.length > 0) this.log.warn({ deliveries: orphans.length, topics: [...new Set(orphans.map((orphan) => `${orphan.subscriber} ${orphan.topic}`))] }, 'events: deliveries for topics their module no longer subscribes to are failed');
          for (const failure of orphans) this.failedForGood(failure);
        }
        if (now - this.lastPurge > PURGE_EVERY_MS) {
          this.lastPurge = now;
          await this.deliveries.purge(RETENTION_MS);
        }
      }
      for (;;) {
        if (this.closed) return;
        const batch = await this.deliveries.claimDue(pairs, [...this.own.keys()], CLAIM_BATCH);
        const claimedAt = Date.now();
        for (const claim of batch) {
          this.own.delete(claim.eventId);
          // Claims of a batch share one lease: one that waited too long behind the others goes back.
          if (this.closed || Date.now() - claimedAt > this.options.leaseMs / 2) await this.deliveries.release(claim);
          else await this.deliver(claim, claimedAt);
        }
        if (batch.length < CLAIM_BATCH) break;
      }
    } catch (error) {
      // An outage: the next poll tries again; claims taken meanwhile expire and are retried.
      this.log.warn({ database: this.where, err: messageOf(error) }, 'events: could not deliver from the outbox; retrying');
    }
  }

  /** Runs one claimed delivery's subscriber and records the outcome. */
  private async deliver(claim: ClaimedDelivery, claimedAt = Date.now()): Promise<void> {
    if (claim.handled) return this.completeLater(claim);
    const listeners = this.listenersOf(claim.subscriber, claim.topic);
    if (listeners.length === 0) return this.deliveries.release(claim);
    const clearMark = beginDeliveryMark(claim.subscriber, claim.eventId);
    let failure: unknown;
    let marked = false;
    try {
      const payload = JSON.parse(claim.payload) as unknown;
      // Within the lease, or another instance may already be retrying it.
      const timeoutMs = Math.max(100, this.options.leaseMs - (Date.now() - claimedAt) - 1000);
      for (const listener of listeners) {
        // The third argument names the delivery: the subscriber's transaction (by handle) records it as handled.
        const result = clearMark === undefined ? listener(payload, claim.topic) : listener(payload, claim.topic, claim.eventId);
        if (isThenable(result)) {
          await withTimeout(result, timeoutMs, () => new ErpmodError('ERPMOD_HANDLER_TIMEOUT', `module "${claim.subscriber}": subscriber of ${claim.topic} did not finish within ${timeoutMs} ms (event_lease_ms)`));
        }
      }
    } catch (error) {
      failure = error;
    } finally {
      marked = clearMark?.() ?? false;
    }
    // A transaction of the subscriber marked it: its COMMIT already completed the delivery.
    if (failure === undefined) return marked ? undefined : this.completeLater(claim);
    const error = messageOf(failure);
    const backoffMs = Math.min(RETRY_BASE_MS * 2 ** (claim.attempts - 1), RETRY_MAX_MS);
    const final = await this.deliveries.fail(claim, error, backoffMs);
    this.log.error(
      { publisher: claim.publisher, topic: claim.topic, subscriber: claim.subscriber, eventId: claim.eventId, attempt: claim.attempts, maxAttempts: this.options.maxAttempts, err: error, ...(final ? {} : { retryInMs: backoffMs }) },
      final ? 'event subscriber failed; no attempts left' : 'event subscriber failed; will retry',
    );
    if (final) this.failedForGood({ eventId: claim.eventId, subscriber: claim.subscriber, publisher: claim.publisher, topic: claim.topic, attempts: claim.attempts, error });
  }

  /**
   * Records a delivery done without waiting for the record: it goes with others in a few milliseconds
   * (OutboxDeliveries.complete). If it is lost, the lease runs out and the subscriber runs again, as for
   * any delivery its holder did not record (subscribers writing outside a transaction are at-least-once).
   */
  private completeLater(claim: ClaimedDelivery): void {
    this.deliveries.complete(claim).catch((error: unknown) => {
      this.log.warn({ subscriber: claim.subscriber, eventId: claim.eventId, database: this.where, err: messageOf(error) }, 'events: could not record a delivery as done; it will run again when its lease ends');
    });
  }

  private listenersOf(code: string, topic: string): EventListener[] {
    return (this.subscriptions.get(topic) ?? []).filter((subscription) => subscription.owner.live && subscription.owner.code === code).map((subscription) => subscription.listener);
  }

  private failedForGood(failure: FailedDelivery): void {
    try {
      this.options.recordFailure(failure);
    } catch (error) {
      this.log.error({ subscriber: failure.subscriber, eventId: failure.eventId, err: messageOf(error) }, 'events: could not record a failed delivery in the registry');
    }
  }

  private async listen(): Promise<void> {
    this.listener = await openListenConnection({
      connection: this.plan.admin,
      name: `erpmod:events-listen:${process.pid}`,
      channel: EVENTS_CHANNEL,
      // Naming this instance: only its own subscribers are concerned, and only for events it could not
      // deliver at once (published inside a transaction, which has now committed).
      onNotification: (only) => {
        if (only === '' || (only === this.deliveries.instance && this.own.size > 0)) this.wake();
      },
      // The poll reconnects; until then it alone finds new deliveries.
      onLost: () => {
        this.listener = undefined;
      },
    });
  }
}
