import type { Worker } from 'node:cluster';
import { collectProcessMetrics, type ProcessMetrics } from '../runtime/process-metrics';
import type { ModuleTable } from '../runtime/module-slot';
import { isMessage } from './operator-messages';

/**
 * One metrics scrape covers every worker: the worker that took it asks the primary (`metrics-ask`), the
 * primary asks every serving worker for its counts (`metrics-collect` → `metrics-counts`) and answers
 * the asking worker with all of them (`metrics-all`), which merges them. Counts are plain numbers and
 * raw histogram buckets, so merging is adding.
 */
interface AskMessage {
  readonly t: 'erpmod:metrics-ask';
  readonly id: string;
}
interface CollectMessage {
  readonly t: 'erpmod:metrics-collect';
  readonly id: string;
}
interface CountsMessage {
  readonly t: 'erpmod:metrics-counts';
  readonly id: string;
  readonly metrics: ProcessMetrics;
}
interface AllMessage {
  readonly t: 'erpmod:metrics-all';
  readonly id: string;
  readonly processes: readonly ProcessMetrics[];
}

/** A worker busy for longer than this is left out of the scrape rather than holding it up. */
const COLLECT_TIMEOUT_MS = 2000;

/** The primary's side: answers a worker's scrape with every serving worker's counts. */
export class MetricsGatherer {
  private readonly pending = new Map<string, (metrics: ProcessMetrics) => void>();

  constructor(private readonly serving: () => readonly Worker[]) {}

  /** Takes the metrics messages among a worker's messages; false for any other message. */
  handle(origin: Worker, message: unknown): boolean {
    if (isMessage<AskMessage>(message, 'erpmod:metrics-ask')) {
      void this.gather(origin, message.id);
      return true;
    }
    if (isMessage<CountsMessage>(message, 'erpmod:metrics-counts')) {
      this.pending.get(`${origin.id}:${message.id}`)?.(message.metrics);
      return true;
    }
    return false;
  }

  private async gather(origin: Worker, id: string): Promise<void> {
    const workers = this.serving().includes(origin) ? [...this.serving()] : [...this.serving(), origin];
    const processes = await Promise.all(workers.map((worker) => this.collect(worker, id)));
    const reply: AllMessage = { t: 'erpmod:metrics-all', id, processes: processes.filter((one): one is ProcessMetrics => one !== undefined) };
    if (!origin.isDead()) origin.send(reply);
  }

  private collect(worker: Worker, id: string): Promise<ProcessMetrics | undefined> {
    const key = `${worker.id}:${id}`;
    return new Promise((resolve) => {
      const done = (metrics: ProcessMetrics | undefined): void => {
        clearTimeout(timer);
        this.pending.delete(key);
        worker.off('exit', gone);
        resolve(metrics);
      };
      const gone = (): void => done(undefined);
      const timer = setTimeout(gone, COLLECT_TIMEOUT_MS);
      this.pending.set(key, done);
      worker.once('exit', gone);
      const ask: CollectMessage = { t: 'erpmod:metrics-collect', id };
      worker.send(ask);
    });
  }
}

/** A worker's side: gives its counts when the primary collects, and gathers the cluster's for a scrape. */
export class WorkerMetrics {
  private readonly waiting = new Map<string, (processes: readonly ProcessMetrics[]) => void>();
  private next = 0;

  constructor(private readonly table: ModuleTable, private readonly startedAt: number) {
    process.on('message', (message: unknown) => {
      if (isMessage<CollectMessage>(message, 'erpmod:metrics-collect')) {
        const reply: CountsMessage = { t: 'erpmod:metrics-counts', id: message.id, metrics: this.local() };
        process.send?.(reply);
      } else if (isMessage<AllMessage>(message, 'erpmod:metrics-all')) {
        this.waiting.get(message.id)?.(message.processes);
      }
    });
  }

  /** Every serving worker's counts; this worker's alone when the primary does not answer in time. */
  gather(): Promise<readonly ProcessMetrics[]> {
    const id = `${process.pid}-${++this.next}`;
    return new Promise((resolve) => {
      const finish = (processes: readonly ProcessMetrics[]): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(processes.length > 0 ? processes : [this.local()]);
      };
      const timer = setTimeout(() => finish([]), COLLECT_TIMEOUT_MS * 2);
      this.waiting.set(id, finish);
      const ask: AskMessage = { t: 'erpmod:metrics-ask', id };
      process.send?.(ask);
    });
  }

  private local(): ProcessMetrics {
    return collectProcessMetrics(this.table, this.startedAt);
  }
}
