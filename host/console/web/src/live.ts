import type { AuditEvent, MetricsSnapshot } from './types';

/** Per-module figures computed from two successive snapshots. */
export interface ModuleRates {
  readonly requestsPerS: number;
  /** Share of the interval's requests that answered 5xx, 0..1. */
  readonly errorRate: number;
  readonly snapshot: MetricsSnapshot;
  /** Requests per second over the last minute or so, oldest first. */
  readonly history: readonly number[];
}

type Listener = () => void;
const HISTORY = 60;
const AUDIT_KEPT = 300;

/**
 * The one EventSource the console keeps open (GET /console/api/live): the registry's audit trail as it
 * grows, and each module's metrics, turned into rates. Pages subscribe and read the latest state.
 */
export class LiveFeed {
  audit: AuditEvent[] = [];
  rates = new Map<string, ModuleRates>();
  connected = false;
  private source: EventSource | undefined;
  private previous: { at: number; modules: Record<string, MetricsSnapshot> } | undefined;
  private readonly listeners = new Set<Listener>();

  start(): void {
    if (this.source !== undefined) return;
    const source = new EventSource('/console/api/live');
    this.source = source;
    source.addEventListener('open', () => this.update(() => (this.connected = true)));
    source.addEventListener('error', () => this.update(() => (this.connected = false)));
    source.addEventListener('audit', (message) => {
      const event = JSON.parse((message as MessageEvent<string>).data) as AuditEvent;
      this.update(() => {
        if (this.audit.some((known) => known.id === event.id)) return;
        this.audit = [event, ...this.audit].slice(0, AUDIT_KEPT);
      });
    });
    source.addEventListener('metrics', (message) => {
      const sample = JSON.parse((message as MessageEvent<string>).data) as { at: number; modules: Record<string, MetricsSnapshot> };
      this.update(() => this.addSample(sample));
    });
  }

  stop(): void {
    this.source?.close();
    this.source = undefined;
    this.connected = false;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private addSample(sample: { at: number; modules: Record<string, MetricsSnapshot> }): void {
    const previous = this.previous;
    this.previous = sample;
    const next = new Map<string, ModuleRates>();
    for (const [code, snapshot] of Object.entries(sample.modules)) {
      const before = previous?.modules[code];
      const seconds = previous === undefined ? 0 : (sample.at - previous.at) / 1000;
      const requests = before === undefined ? 0 : Math.max(0, snapshot.requests - before.requests);
      const errors = before === undefined ? 0 : Math.max(0, snapshot.errors - before.errors);
      const requestsPerS = seconds > 0 ? requests / seconds : 0;
      const history = [...(this.rates.get(code)?.history ?? []), requestsPerS].slice(-HISTORY);
      next.set(code, { requestsPerS, errorRate: requests === 0 ? 0 : errors / requests, snapshot, history });
    }
    this.rates = next;
  }

  private update(change: () => void): void {
    change();
    for (const listener of this.listeners) listener();
  }
}

export const live = new LiveFeed();
