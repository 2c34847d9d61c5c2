import { ErpmodError } from '../errors';

export interface ExecutionPoolOptions {
  /** Pool handlers running at once across every module of this process (`pool_threads`). */
  readonly threads: number;
  /** Requests waiting for a thread across every module (`pool_queue_limit`). */
  readonly queueLimit: number;
}

/** What one module (one generation) may use of the pool, and what it has lost to stuck handlers. */
export class ModuleLane {
  running = 0;
  /** Handlers answered 504 that have not returned yet: their threads are counted as lost. */
  lost = 0;
  /** Results that arrived after their request was answered 504, discarded. */
  late = 0;
  timedOut = 0;
  rejectedBusy = 0;
  served = 0;

  constructor(
    readonly code: string,
    /** `max_concurrency`, already capped so one module cannot take every thread. */
    readonly cap: number,
  ) {}

  /** Lost threads are replaced up to this many; then the module gets no thread until one returns. */
  get lostLimit(): number {
    return Math.max(4, 2 * this.cap);
  }

  get exhausted(): boolean {
    return this.lost >= this.lostLimit;
  }

  stats(): Record<string, number> {
    return { running: this.running, lost: this.lost, lostLimit: this.lostLimit, late: this.late, timedOut: this.timedOut, rejectedBusy: this.rejectedBusy, served: this.served, cap: this.cap };
  }
}

interface Job {
  readonly lane: ModuleLane;
  readonly start: () => void;
  /** Set once the job left the queue (started or timed out there). */
  done: boolean;
}

/**
 * Admission for `execution: pool` routes: the host decides when a pool handler may start, the SDK's threads
 * only run what was admitted. Host-wide at most `threads` handlers run; a module at most its lane's cap;
 * the rest wait in one FIFO queue (bounded) where a job whose module is at its cap is skipped, not blocking
 * the others. A request that times out is answered then (504): still queued, it never runs; running, its
 * thread is counted as lost and its slot handed on, so the module keeps serving until it has lost
 * `lostLimit` threads (twice its cap, at least 4).
 */
export class ExecutionPool {
  private running = 0;
  private readonly queue: Job[] = [];

  constructor(private options: ExecutionPoolOptions) {}

  configure(options: ExecutionPoolOptions): void {
    this.options = options;
    this.pump();
  }

  get threads(): number {
    return this.options.threads;
  }

  get queueLimit(): number {
    return this.options.queueLimit;
  }

  /** A lane for a module declaring `max_concurrency`: never all threads when there are two or more. */
  lane(code: string, maxConcurrency: number): ModuleLane {
    const ceiling = this.options.threads > 1 ? this.options.threads - 1 : 1;
    return new ModuleLane(code, Math.max(1, Math.min(maxConcurrency, ceiling)));
  }

  /**
   * Runs `call` (which starts the native handler and returns its promise) once admitted; settles with its
   * result, or rejects with ERPMOD_HANDLER_TIMEOUT at `timeoutMs` or ERPMOD_BUSY when there is no room.
   */
  run(lane: ModuleLane, call: () => unknown, timeoutMs: number): Promise<unknown> {
    if (lane.exhausted) {
      lane.rejectedBusy++;
      return Promise.reject(busy(`module "${lane.code}" has ${lane.lost} handler(s) stuck past their timeout (at most ${lane.lostLimit} are replaced); it gets no thread until one returns`));
    }
    if (!this.canStart(lane) && this.queue.length >= this.options.queueLimit) {
      lane.rejectedBusy++;
      return Promise.reject(busy(`the execution pool's queue is full (${this.options.queueLimit} waiting, pool_queue_limit)`));
    }
    return new Promise((resolve, reject) => {
      let state: 'queued' | 'running' | 'answered' = 'queued';
      const timer = setTimeout(() => {
        if (state === 'running') {
          lane.lost++;
          this.release(lane);
        }
        if (state === 'queued') {
          job.done = true;
          const at = this.queue.indexOf(job);
          if (at !== -1) this.queue.splice(at, 1);
        }
        state = 'answered';
        lane.timedOut++;
        reject(new ErpmodError('ERPMOD_HANDLER_TIMEOUT', `module "${lane.code}" did not answer within ${timeoutMs} ms (timeouts.request_ms)`, {
          details: { execution: 'pool' },
        }));
      }, timeoutMs);
      const settle = (ok: boolean, value: unknown): void => {
        if (state === 'answered') {
          // A handler counted as lost came back: its thread is free again; its result is discarded.
          lane.lost--;
          lane.late++;
          return;
        }
        state = 'answered';
        clearTimeout(timer);
        this.release(lane);
        lane.served++;
        if (ok) resolve(value);
        else reject(value);
      };
      const job: Job = {
        lane,
        done: false,
        start: () => {
          state = 'running';
          this.running++;
          lane.running++;
          let pending: unknown;
          try {
            pending = call();
          } catch (error) {
            return settle(false, error);
          }
          Promise.resolve(pending).then((value) => settle(true, value), (error: unknown) => settle(false, error));
        },
      };
      if (this.canStart(lane)) {
        job.done = true;
        job.start();
      } else {
        this.queue.push(job);
      }
    });
  }

  private canStart(lane: ModuleLane): boolean {
    return this.running < this.options.threads && lane.running < lane.cap && !lane.exhausted;
  }

  private release(lane: ModuleLane): void {
    this.running--;
    lane.running--;
    this.pump();
  }

  /** Starts queued jobs in order while there is room, skipping those whose module is at its cap. */
  private pump(): void {
    for (let i = 0; i < this.queue.length && this.running < this.options.threads; ) {
      const job = this.queue[i]!;
      if (job.done) {
        this.queue.splice(i, 1);
        continue;
      }
      if (this.canStart(job.lane)) {
        this.queue.splice(i, 1);
        job.done = true;
        job.start();
        continue;
      }
      i++;
    }
  }
}

function busy(message: string): ErpmodError {
  return new ErpmodError('ERPMOD_BUSY', message, { details: { retryAfterSeconds: 1 } });
}

/** The process's pool; start-host configures it from pool_threads / pool_queue_limit. */
export const hostExecutionPool = new ExecutionPool({ threads: 4, queueLimit: 256 });
