import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';

export interface LoadResult {
  readonly requests: number;
  /** Count of replies per status code. */
  readonly statuses: Record<string, number>;
  /** Connection errors and timeouts: requests that got no HTTP reply at all. */
  readonly errors: number;
  readonly timeouts: number;
  /** Every distinct x-erpmod-module value seen, in the order first seen. */
  readonly identities: string[];
}

/**
 * Keep-alive load on one URL for `seconds`, counting every reply by status and every request that got
 * none. Bounded in time and aimed only at the loopback host under test.
 */
export function runLoad(url: string, seconds: number, connections = 10): { done: Promise<LoadResult> } {
  const statuses: Record<string, number> = {};
  const identities: string[] = [];
  let finish: (result: LoadResult) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const done = new Promise<LoadResult>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  autocannon(
    {
      url,
      connections,
      duration: seconds,
      pipelining: 1,
      timeout: 5,
    setupClient(client) {
      // The parser's raw view: { statusCode, headers: [name, value, name, value, ...] }.
      (client as unknown as EventEmitter).on('headers', ({ statusCode, headers }: { statusCode: number; headers: string[] }) => {
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
        for (let i = 0; i < headers.length; i += 2) {
          if (String(headers[i]).toLowerCase() === 'x-erpmod-module' && !identities.includes(String(headers[i + 1]))) identities.push(String(headers[i + 1]));
        }
      });
    },
    },
    (error, result) => {
      if (error) return fail(error);
      finish({ requests: result.requests.total, statuses, errors: result.errors, timeouts: result.timeouts, identities });
    },
  );
  return { done };
}
