import type { Request, Response } from 'express';
import type { PluginRepository } from '../registry/plugin-repository';
import type { ModuleTable } from '../runtime/module-slot';

/** How often the registry is read for new audit entries and metrics are sent. */
export const LIVE_TICK_MS = 500;
const METRICS_EVERY_TICKS = 2;
const HEARTBEAT_EVERY_TICKS = 30;
/** Audit entries a new stream starts with. */
const BACKLOG = 50;

interface Subscriber {
  readonly res: Response;
  lastId: number;
}

/**
 * `GET /console/api/live`: Server-Sent Events. `audit` events are new plugin_events rows, read from the
 * registry (so in a cluster they include what other workers recorded); `metrics` events are this
 * process's per-module snapshots. One timer serves every open stream and runs only while one is open.
 * Streams end when the host starts shutting down, so an open console never holds a drain up.
 */
export class LiveStream {
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;

  constructor(private readonly registry: PluginRepository, private readonly table: ModuleTable, private readonly isOpen: () => boolean) {}

  open(req: Request, res: Response): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
    const resumeFrom = Number(req.headers['last-event-id']);
    const backlog = Number.isSafeInteger(resumeFrom) && resumeFrom >= 0
      ? this.registry.eventsAfter(resumeFrom, BACKLOG)
      : this.registry.latestEvents(BACKLOG).reverse();
    const subscriber: Subscriber = { res, lastId: Number.isSafeInteger(resumeFrom) && resumeFrom >= 0 ? resumeFrom : 0 };
    res.write('retry: 2000\n\n');
    this.sendAudit(subscriber, backlog);
    if (subscriber.lastId === 0) subscriber.lastId = this.registry.latestEvents(1)[0]?.id ?? 0;
    this.sendMetrics(subscriber);
    this.subscribers.add(subscriber);
    req.on('close', () => this.drop(subscriber));
    this.timer ??= setInterval(() => this.tick(), LIVE_TICK_MS);
    this.timer.unref();
  }

  private tick(): void {
    this.ticks++;
    if (!this.isOpen()) {
      for (const subscriber of this.subscribers) subscriber.res.end();
      this.subscribers.clear();
    }
    for (const subscriber of this.subscribers) {
      this.sendAudit(subscriber, this.registry.eventsAfter(subscriber.lastId));
      if (this.ticks % METRICS_EVERY_TICKS === 0) this.sendMetrics(subscriber);
      if (this.ticks % HEARTBEAT_EVERY_TICKS === 0) subscriber.res.write(': keep-alive\n\n');
    }
    if (this.subscribers.size === 0) this.stop();
  }

  private sendAudit(subscriber: Subscriber, events: readonly { id: number }[]): void {
    for (const event of events) {
      subscriber.res.write(`id: ${event.id}\nevent: audit\ndata: ${JSON.stringify(event)}\n\n`);
      subscriber.lastId = Math.max(subscriber.lastId, event.id);
    }
  }

  private sendMetrics(subscriber: Subscriber): void {
    const modules: Record<string, unknown> = {};
    for (const [code, slot] of this.table.slots) modules[code] = slot.metrics.snapshot();
    subscriber.res.write(`event: metrics\ndata: ${JSON.stringify({ at: Date.now(), pid: process.pid, modules })}\n\n`);
  }

  private drop(subscriber: Subscriber): void {
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
