import type { Logger } from '../logger';
import { messageOf } from '../errors';

export type EventListener = (payload: unknown, topic: string) => unknown;

interface Subscription {
  readonly code: string;
  readonly listener: EventListener;
}

/** Nested publishes deeper than this are dropped: two modules answering each other forever would otherwise overflow the stack. */
const MAX_DELIVERY_DEPTH = 16;

/**
 * In-process event bus. Delivery is synchronous and in subscription order, inside publish(), so a reply
 * written after publish() already reflects what subscribers did. A subscriber that throws is logged and
 * counted; the publisher never sees the error. Which topics a module may use is checked by its context.
 */
export class EventBus {
  private readonly subscriptions = new Map<string, Subscription[]>();
  private depth = 0;

  constructor(private readonly logger: Logger) {}

  subscribe(code: string, topic: string, listener: EventListener): void {
    const list = this.subscriptions.get(topic) ?? [];
    list.push({ code, listener });
    this.subscriptions.set(topic, list);
  }

  /** Drops every subscription a module made (on unload or before its new generation subscribes). */
  unsubscribeModule(code: string): void {
    for (const [topic, list] of this.subscriptions) {
      const kept = list.filter((subscription) => subscription.code !== code);
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
        try {
          subscription.listener(payload, topic);
        } catch (error) {
          this.logger.error({ publisher, topic, subscriber: subscription.code, err: messageOf(error) }, 'event subscriber failed');
        }
      }
    } finally {
      this.depth--;
    }
  }
}
