import type { Logger } from '../logger';
import { messageOf } from '../errors';

export type EventListener = (payload: unknown, topic: string) => unknown;

/**
 * Who a subscription belongs to: one generation of one module. A generation's subscriptions are made
 * during its initialize() but receive nothing until it goes live, so a reload never delivers an event
 * to both the old and the new image, and a disabled module hears nothing.
 */
export class SubscriptionOwner {
  live = false;
  constructor(readonly code: string) {}
}

interface Subscription {
  readonly owner: SubscriptionOwner;
  readonly listener: EventListener;
}

/** Nested publishes deeper than this are dropped: two modules answering each other forever would otherwise overflow the stack. */
const MAX_DELIVERY_DEPTH = 16;

/**
 * In-process event bus. Delivery is synchronous and in subscription order, inside publish(), so a reply
 * written after publish() already reflects what subscribers did. A subscriber that throws is logged;
 * the publisher never sees the error. Which topics a module may use is checked by its context.
 */
export class EventBus {
  private readonly subscriptions = new Map<string, Subscription[]>();
  private depth = 0;

  constructor(private readonly logger: Logger) {}

  subscribe(owner: SubscriptionOwner, topic: string, listener: EventListener): void {
    const list = this.subscriptions.get(topic) ?? [];
    list.push({ owner, listener });
    this.subscriptions.set(topic, list);
  }

  /** Drops every subscription of one owner (a generation being unloaded or that failed to load). */
  unsubscribe(owner: SubscriptionOwner): void {
    owner.live = false;
    for (const [topic, list] of this.subscriptions) {
      const kept = list.filter((subscription) => subscription.owner !== owner);
      if (kept.length === 0) this.subscriptions.delete(topic);
      else this.subscriptions.set(topic, kept);
    }
  }

  publish(publisher: string, topic: string, payload: unknown): void {
    const list = this.subscriptions.get(topic);
    if (list === undefined) return;
    if (this.depth >= MAX_DELIVERY_DEPTH) {
      this.logger.error({ publisher, topic, depth: this.depth }, 'event dropped: nested publish too deep');
      return;
    }
    this.depth++;
    try {
      // A snapshot, so a subscriber that (un)subscribes during delivery does not disturb this loop.
      for (const subscription of [...list]) {
        if (!subscription.owner.live) continue;
        try {
          subscription.listener(payload, topic);
        } catch (error) {
          this.logger.error({ publisher, topic, subscriber: subscription.owner.code, err: messageOf(error) }, 'event subscriber failed');
        }
      }
    } finally {
      this.depth--;
    }
  }
}
