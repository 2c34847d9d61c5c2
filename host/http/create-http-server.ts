import http from 'node:http';
import net from 'node:net';
import type express from 'express';
import type { ModuleDispatcher } from './module-dispatcher';

export interface HttpServer {
  readonly server: http.Server;
  /**
   * Stops accepting connections, lets requests in flight finish and connections wind down, then closes
   * whatever is left once `timeoutMs` has passed. Resolves true when everything finished in time.
   */
  drainAndClose(timeoutMs: number): Promise<boolean>;
}

/** How long a draining server leaves idle keep-alive connections open for one last request. */
const IDLE_GRACE_MS = 1000;

export interface HttpServerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * One node:http server, two paths: module routes straight to the dispatcher (the public listener has
 * one, the admin listener none), everything else to the Express app.
 */
export function createHttpServer(dispatcher: ModuleDispatcher | undefined, app: express.Express, limits: HttpServerLimits): HttpServer {
  let draining = false;
  // Node checks those timeouts on this interval (30 s by default, which would let slow clients linger).
  const checkEveryMs = Math.max(100, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2)));
  const server = http.createServer({ connectionsCheckingInterval: checkEveryMs }, (req, res) => {
    // While draining, every reply tells the client to reconnect (to another worker or instance).
    if (draining) res.setHeader('connection', 'close');
    if (dispatcher === undefined || !dispatcher.handle(req, res)) app(req, res);
  });
  // Slow or stalled clients must not hold sockets forever.
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs);
  server.keepAliveTimeout = 5_000;

  const drainAndClose = async (timeoutMs: number): Promise<boolean> => {
    draining = true;
    // net.Server's close stops accepting without http.Server's immediate sweep of idle keep-alive
    // connections: a client may be sending on one of them right now, and would see a reset.
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    const deadline = Date.now() + timeoutMs;
    const requestsDone = dispatcher?.drain() ?? Promise.resolve();
    let finished = false;
    void requestsDone.then(() => {
      finished = true;
    });
    const graceEnds = Date.now() + Math.min(IDLE_GRACE_MS, timeoutMs);
    while (Date.now() < deadline) {
      if (finished && (await connectionCount(server)) === 0) break;
      // After the grace, a connection still idle is not about to be used: close it.
      if (finished && Date.now() >= graceEnds) server.closeIdleConnections();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const inTime = finished;
    server.closeAllConnections();
    await closed;
    return inTime;
  };

  return { server, drainAndClose };
}

function connectionCount(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
}
