/** Upper bounds (ms) of the latency histogram; the same buckets are exported to Prometheus. */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/**
 * The status a request is recorded with when its client closed the connection before the reply was
 * written (nginx's 499): counted as aborted only, not as a request answered nor as an error.
 */
export const CLIENT_CLOSED = 499;

/**
 * A module's raw counters: plain numbers that add up, so the counts of several processes (cluster
 * workers) merge into one by summing, histogram buckets included.
 */
export interface MetricsCounts {
  /** Requests answered (aborted ones are not). */
  readonly requests: number;
  /** Replies with a 5xx status, not counting the refusals in `rejected`. */
  readonly errors: number;
  /** Replies with a 4xx status. */
  readonly clientErrors: number;
  /** Requests whose client closed the connection before the reply was written. */
  readonly aborted: number;
  /**
   * Replies refused on purpose (module disabled by an operator, module not serving — feature flag off or
   * failed boot —, host at a capacity limit): counted in `requests`, not in `errors`.
   */
  readonly rejected: number;
  readonly inFlight: number;
  readonly totalMs: number;
  /** Count per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: readonly number[];
}

/** What GET /api/v1/system/metrics shows per module: the counters, and latency instead of raw buckets. */
export interface MetricsSnapshot extends Omit<MetricsCounts, 'totalMs' | 'buckets'> {
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
  rejected = 0;
  inFlight = 0;
  totalMs = 0;
  /** Count per bucket (not cumulative); the last one is +Inf. */
  readonly bucketCounts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);

  /** `rejected`: the host refused the request on purpose (see MetricsSnapshot.rejected). */
  record(status: number, ms: number, rejected = false): void {
    if (status === CLIENT_CLOSED) {
      this.aborted++;
      return;
    }
    this.requests++;
    this.totalMs += ms;
    if (rejected) this.rejected++;
    else if (status >= 500) this.errors++;
    else if (status >= 400) this.clientErrors++;
    let index = 0;
    while (index < LATENCY_BUCKETS_MS.length && ms > LATENCY_BUCKETS_MS[index]!) index++;
    this.bucketCounts[index]!++;
  }

  counts(): MetricsCounts {
    const { requests, errors, clientErrors, aborted, rejected, inFlight, totalMs } = this;
    return { requests, errors, clientErrors, aborted, rejected, inFlight, totalMs, buckets: [...this.bucketCounts] };
  }

  snapshot(): MetricsSnapshot {
    return snapshotOf(this.counts());
  }
}

/** The sum of several processes' counts of one module. */
export function addCounts(all: readonly MetricsCounts[]): MetricsCounts {
  const buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  let requests = 0, errors = 0, clientErrors = 0, aborted = 0, rejected = 0, inFlight = 0, totalMs = 0;
  for (const counts of all) {
    requests += counts.requests;
    errors += counts.errors;
    clientErrors += counts.clientErrors;
    aborted += counts.aborted;
    rejected += counts.rejected;
    inFlight += counts.inFlight;
    totalMs += counts.totalMs;
    counts.buckets.forEach((count, index) => (buckets[index] = (buckets[index] ?? 0) + count));
  }
  return { requests, errors, clientErrors, aborted, rejected, inFlight, totalMs, buckets };
}

export function snapshotOf(counts: MetricsCounts): MetricsSnapshot {
  const round = (value: number): number => Math.round(value * 1000) / 1000;
  return {
    requests: counts.requests,
    errors: counts.errors,
    clientErrors: counts.clientErrors,
    aborted: counts.aborted,
    rejected: counts.rejected,
    inFlight: counts.inFlight,
    latencyMs: {
      avg: round(counts.requests === 0 ? 0 : counts.totalMs / counts.requests),
      p50: round(quantile(counts, 0.5)),
      p99: round(quantile(counts, 0.99)),
    },
  };
}

/** The q-quantile estimated by linear interpolation inside its histogram bucket. */
export function quantile(counts: MetricsCounts, q: number): number {
  if (counts.requests === 0) return 0;
  const rank = q * counts.requests;
  let seen = 0;
  for (let index = 0; index < counts.buckets.length; index++) {
    const count = counts.buckets[index]!;
    if (seen + count >= rank && count > 0) {
      const lower = index === 0 ? 0 : LATENCY_BUCKETS_MS[index - 1]!;
      const upper = LATENCY_BUCKETS_MS[index] ?? lower * 2;
      return lower + ((upper - lower) * (rank - seen)) / count;
    }
    seen += count;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]!;
}
