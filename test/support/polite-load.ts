import http from 'node:http';

export interface PoliteLoadResult {
  readonly replies: number;
  /** Requests that got no HTTP reply at all, by error code (ECONNRESET, socket hang up ...). */
  readonly failures: Record<string, number>;
  /** Clients that were told `connection: close` and stopped, as a client behind a balancer would. */
  readonly toldToLeave: number;
}

/**
 * `clients` keep-alive connections, each sending one request after another on its own socket until the
 * server answers `connection: close` (it is draining) or `maxRequests` are sent. Never opens a second
 * connection, so a refused connect cannot hide a reset: every request sent either gets a reply or is
 * counted as failed. Bounded, and aimed only at the loopback host under test.
 */
export function runPoliteLoad(url: string, clients: number, maxRequests = 2000): { done: Promise<PoliteLoadResult>; replies(): number } {
  const failures: Record<string, number> = {};
  let replies = 0;
  let toldToLeave = 0;
  const client = async (): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let sent = 0; sent < maxRequests; sent++) {
        const outcome = await new Promise<'again' | 'leave' | 'failed'>((resolve) => {
          const request = http.get(url, { agent }, (response) => {
            response.resume();
            response.on('end', () => {
              replies++;
              resolve(response.headers.connection === 'close' ? 'leave' : 'again');
            });
          });
          request.on('error', (error: NodeJS.ErrnoException) => {
            const key = error.code ?? error.message;
            failures[key] = (failures[key] ?? 0) + 1;
            resolve('failed');
          });
        });
        if (outcome === 'leave') toldToLeave++;
        if (outcome !== 'again') return;
      }
    } finally {
      agent.destroy();
    }
  };
  const done = Promise.all(Array.from({ length: clients }, client)).then(() => ({ replies, failures, toldToLeave }));
  return { done, replies: () => replies };
}
