/** Upper bounds (ms) of the latency histogram; the same buckets are exported to Prometheus. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/**
 * The status a request is recorded with when its client closed the connection before the reply was
 * written (nginx's 499): counted as aborted only, not as a request answered nor as an error.
 */
export const CLIENT_CLOSED = 499;

export interface MetricsSnapshot {
  /** Requests answered (aborted ones are not). */
  readonly requests: number;
  /** Replies with a 5xx status. */
  readonly errors: number;
  /** Replies with a 4xx status. */
  readonly clientErrors: number;
  /** Requests whose client closed the connection before the reply was written. */
  readonly aborted: number;
  readonly inFlight: number;
  readonly latencyMs: { readonly avg: number; readonly p50: number; readonly p99: number };
}

/**
 * Request counters and a latency histogram for one module, kept across reloads. Plain numbers and a
 * fixed bucket array: recording a request allocates nothing.
 */
export class ModuleMetrics {
  requests = 0;
  errors = 0;
  clientErrors = 0;
  aborted = 0;
  inFlight = 0;
  totalMs = 0;
  /** Count per bucket (not cumulative); the last one is +Inf. */
  readonly bucketCounts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);

  record(status: number, ms: number): void {
    if (status === CLIENT_CLOSED) {
      this.aborted++;
      return;
    }
    this.requests++;
    this.totalMs += ms;
    if (status >= 500) this.errors++;
    else if (status >= 400) this.clientErrors++;
    let index = 0;
    while (index < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[index]!) index++;
    this.bucketCounts[index]!++;
  }

  /** The q-quantile estimated by linear interpolation inside its histogram bucket. */
  quantile(q: number): number {
    if (this.requests === 0) return 0;
    const rank = q * this.requests;
    let seen = 0;
    for (let index = 0; index < this.bucketCounts.length; index++) {
      const count = this.bucketCounts[index]!;
      if (seen + count >= rank && count > 0) {
        const lower = index === 0 ? 0 : LATENCY_BUCKETS_MS[index - 1]!;
        const upper = LATENCY_BUCKETS_MS[index] ?? lower * 2;
        return lower + ((upper - lower) * (rank - seen)) / count;
      }
      seen += count;
    }
    return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
  }

  snapshot(): MetricsSnapshot {
    const round = (value: number): number => Math.round(value * 1000) / 1000;
    return {
      requests: this.requests,
      errors: this.errors,
      clientErrors: this.clientErrors,
      aborted: this.aborted,
      inFlight: this.inFlight,
      latencyMs: {
        avg: round(this.requests === 0 ? 0 : this.totalMs / this.requests),
        p50: round(this.quantile(0.5)),
        p99: round(this.quantile(0.99)),
      },
    };
  }
}
