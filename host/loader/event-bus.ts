import type { Logger } from '../logger';
import { messageOf } from '../errors';
import { isThenable } from './with-timeout';
import type { ContextDb } from '../store/module-store';

/** `delivery` (PostgreSQL's outbox): the event being delivered, for the subscriber's transaction to record as handled. */
export type EventListener = (payload: unknown, topic: string, delivery?: number) => unknown;

/**
 * Who a subscription belongs to: one generation of one module. A generation's subscriptions are made
 * during its initialize() but receive nothing until it goes live, so a reload never delivers an event
 * to both the old and the new image, and a disabled module hears nothing.
 */
export class SubscriptionOwner {
  live = false;
  constructor(readonly code: string) {}
}

export interface Subscription {
  readonly owner: SubscriptionOwner;
  readonly listener: EventListener;
}

/** Nested publishes deeper than this are dropped: two modules answering each other forever would otherwise overflow the stack. */
const MAX_DELIVERY_DEPTH = 16;

/**
 * In-process event bus. Delivery is synchronous and in subscription order, inside publish(), so a reply
 * written after publish() already reflects what subscribers did. A subscriber that throws is logged;
 * the publisher never sees the error. Which topics a module may use is checked by its context.
 *
 * A subscriber may return a promise (a module whose ctx.db waits for PostgreSQL runs its subscribers on
 * its pool threads): the next subscriber then runs once it settled, and publish() returns a promise of
 * the whole delivery, which a publisher on a pool thread waits for, keeping the guarantee above.
 */
export class EventBus {
  protected readonly subscriptions = new Map<string, Subscription[]>();
  private depth = 0;

  constructor(private readonly logger: Logger) {}

  subscribe(owner: SubscriptionOwner, topic: string, listener: EventListener): void {
    const list = this.subscriptions.get(topic) ?? [];
    list.push({ owner, listener });
    this.subscriptions.set(topic, list);
  }

  /**
   * `owner`'s generation is now its module's current one, so what it subscribed to is everything the
   * module subscribes to. Nothing to do in one process; an engine that keeps subscriptions (the
   * PostgreSQL outbox) forgets the topics an earlier version subscribed to and this one does not.
   */
  settleSubscriptions(_owner: SubscriptionOwner): void {}

  /** Drops every subscription of one owner (a generation being unloaded or that failed to load). */
  unsubscribe(owner: SubscriptionOwner): void {
    owner.live = false;
    for (const [topic, list] of this.subscriptions) {
      const kept = list.filter((subscription) => subscription.owner !== owner);
      if (kept.length === 0) this.subscriptions.delete(topic);
      else this.subscriptions.set(topic, kept);
    }
  }

  /**
   * `db` is the publisher's ctx.db: an engine that keeps events in the database (the PostgreSQL outbox)
   * records the event through it, inside the publisher's open transaction if there is one.
   */
  publish(publisher: string, topic: string, payload: unknown, _db?: ContextDb, _transaction?: number): void | Promise<void> {
    const list = this.subscriptions.get(topic);
    if (list === undefined) return;
    if (this.depth >= MAX_DELIVERY_DEPTH) {
      this.logger.error({ publisher, topic, depth: this.depth }, 'event dropped: nested publish too deep');
      return;
    }
    // A snapshot, so a subscriber that (un)subscribes during delivery does not disturb this loop.
    return this.deliverFrom(publisher, topic, payload, [...list], 0);
  }

  private deliverFrom(publisher: string, topic: string, payload: unknown, list: readonly Subscription[], from: number): void | Promise<void> {
    this.depth++;
    try {
      for (let i = from; i < list.length; i++) {
        const subscription = list[i]!;
        if (!subscription.owner.live) continue;
        try {
          const result = subscription.listener(payload, topic);
          if (isThenable(result)) {
            return Promise.resolve(result).then(
              () => this.deliverFrom(publisher, topic, payload, list, i + 1),
              (error: unknown) => {
                this.failed(publisher, topic, subscription, error);
                return this.deliverFrom(publisher, topic, payload, list, i + 1);
              },
            );
          }
        } catch (error) {
          this.failed(publisher, topic, subscription, error);
        }
      }
    } finally {
      this.depth--;
    }
  }

  /** Stops delivering; an engine with work of its own (the outbox) finishes it first. */
  async close(): Promise<void> {}

  private failed(publisher: string, topic: string, subscription: Subscription, error: unknown): void {
    this.logger.error({ publisher, topic, subscriber: subscription.owner.code, err: messageOf(error) }, 'event subscriber failed');
  }
}

