import type { IncomingMessage, ServerResponse } from 'node:http';
import FindMyWay from 'find-my-way';
import { ERROR_DEFINITIONS, ErpmodError, messageOf, type ErrorCode } from '../errors';
import type { Logger } from '../logger';
import { isThenable, withTimeout } from '../loader/with-timeout';
import { routeKey, type ModuleGeneration } from '../runtime/module-generation';
import type { ModuleSlot, ModuleTable } from '../runtime/module-slot';
import { readBody, type RequestBody } from './read-body';
import { requestIdOf } from './request-id';
import { sendError } from './send-error';
import { writeModuleReply } from './write-module-reply';

export const MODULE_PREFIX = '/api/v1/';

/** What the router keeps per declared route: which slot, and which entry of its generation's table. */
interface RouteStore {
  readonly slot: ModuleSlot;
  readonly key: string;
  readonly route: string;
}

export interface ModuleDispatcherOptions {
  readonly table: ModuleTable;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
}

const NO_BODY: RequestBody = { body: undefined, rawBody: undefined };
const EMPTY = Object.freeze({});

/**
 * The module hot path: a radix router over every module's declared routes, then the native function of
 * the slot's current generation. No Express, no middleware chain, no per-request closures. Requests it
 * does not own (`handle` returns false) go to the Express app.
 */
export class ModuleDispatcher {
  private router = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 256 });
  private inFlight = 0;
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(private readonly options: ModuleDispatcherOptions) {}

  /** Rebuilds the router from the table's declared routes and swaps it in with one assignment. */
  rebuildRoutes(): void {
    const router = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 256 });
    for (const slot of this.options.table.slots.values()) {
      const generation = slot.generation;
      if (generation === undefined) continue;
      for (const route of generation.loaded.manifest.routes) {
        const store: RouteStore = { slot, key: routeKey(route.method, route.path), route: route.path };
        router.on(route.method, `${MODULE_PREFIX}${slot.code}${route.path}`, noop, store);
      }
    }
    this.router = router;
  }

  /** Returns true when the request is a module request (answered here), false to hand it on. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    if (!url.startsWith(MODULE_PREFIX)) return false;
    const found = this.router.find(req.method as FindMyWay.HTTPMethod, url);
    if (found === null) return this.handleUnmatched(req, res, url);
    void this.dispatch(req, res, found.store as RouteStore, found.params, found.searchParams);
    return true;
  }

  /**
   * Resolves once the requests in flight have finished. Requests that still arrive on open keep-alive
   * connections meanwhile are served, with `connection: close`, rather than refused: a client that sent
   * on a connection it believed open would otherwise see a failure for a request the host could serve.
   */
  drain(): Promise<void> {
    this.draining = true;
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = resolve;
    });
  }

  get requestsInFlight(): number {
    return this.inFlight;
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    store: RouteStore,
    params: Record<string, string | undefined>,
    query: Record<string, string | string[]>,
  ): Promise<void> {
    const started = performance.now();
    const metrics = store.slot.metrics;
    metrics.inFlight++;
    this.inFlight++;
    let status = 500;
    try {
      status = await this.serve(req, res, store, params, query);
    } finally {
      metrics.inFlight--;
      metrics.record(status, performance.now() - started);
      this.inFlight--;
      if (this.draining && this.inFlight === 0) this.drained?.();
    }
  }

  /** Answers one module request; resolves with the status sent. */
  private async serve(
    req: IncomingMessage,
    res: ServerResponse,
    store: RouteStore,
    params: Record<string, string | undefined>,
    query: Record<string, string | string[]>,
  ): Promise<number> {
    const requestId = requestIdOf(req);
    const slot = store.slot;
    const generation = slot.generation;
    if (slot.state === 'disabled') return this.reject(res, 'ERPMOD_MODULE_DISABLED', `module "${slot.code}" is disabled by an operator`, requestId);
    if (generation === undefined) return this.reject(res, 'ERPMOD_MODULE_NOT_ACTIVE', `module "${slot.code}" is not serving requests`, requestId);
    const fn = generation.routes.get(store.key);
    if (fn === undefined) return this.reject(res, 'ERPMOD_NOT_FOUND', `module "${slot.code}" no longer serves ${store.key}`, requestId);

    generation.inFlight++;
    try {
      const received = req.method === 'GET' || req.method === 'HEAD' ? NO_BODY : readBody(req, this.options.bodyLimitBytes);
      const { body, rawBody } = isThenable(received) ? await received : received;
      const url = req.url!;
      const queryAt = url.indexOf('?');
      let reply = fn({
        method: req.method,
        route: store.route,
        path: queryAt === -1 ? url : url.slice(0, queryAt),
        params,
        query: queryAt === -1 ? EMPTY : flattenQuery(query),
        headers: req.headers,
        body,
        rawBody,
        requestId,
      });
      if (isThenable(reply)) reply = await withTimeout(reply, generation.requestTimeoutMs, () => timeoutError(slot.code, generation));
      return writeModuleReply(res, reply, requestId, generation.identity, this.draining);
    } catch (error) {
      return this.fail(res, error, requestId, generation);
    } finally {
      generation.inFlight--;
    }
  }

  private handleUnmatched(req: IncomingMessage, res: ServerResponse, url: string): boolean {
    const end = url.slice(MODULE_PREFIX.length).search(/[/?]/);
    const code = end === -1 ? url.slice(MODULE_PREFIX.length) : url.slice(MODULE_PREFIX.length, MODULE_PREFIX.length + end);
    const slot = this.options.table.slots.get(code);
    if (slot === undefined) return false;
    const requestId = requestIdOf(req);
    const status =
      slot.state === 'disabled'
        ? this.reject(res, 'ERPMOD_MODULE_DISABLED', `module "${code}" is disabled by an operator`, requestId)
        : slot.generation === undefined
          ? this.reject(res, 'ERPMOD_MODULE_NOT_ACTIVE', `module "${code}" is not serving requests`, requestId)
          : this.reject(res, 'ERPMOD_NOT_FOUND', `module "${code}" has no route ${req.method} ${url.split('?', 1)[0]}`, requestId);
    slot.metrics.record(status, 0);
    return true;
  }

  private reject(res: ServerResponse, code: ErrorCode, message: string, requestId: string): number {
    sendError(res, code, message, requestId);
    return ERROR_DEFINITIONS[code].status;
  }

  private fail(res: ServerResponse, error: unknown, requestId: string, generation: ModuleGeneration): number {
    const module = generation.loaded.manifest.code;
    if (error instanceof ErpmodError) {
      if (error.code === 'ERPMOD_BODY_TOO_LARGE') res.setHeader('connection', 'close');
      const log = error.status >= 500 ? 'error' : 'debug';
      this.options.logger[log]({ module, requestId, code: error.code, err: error.message }, 'module request failed');
      sendError(res, error.code, error.message, requestId);
      return error.status;
    }
    // The vendor's message may carry internals: it goes to the log, the client gets the request id.
    this.options.logger.error({ module, requestId, err: messageOf(error) }, 'module handler threw');
    return this.reject(res, 'ERPMOD_HANDLER_FAILED', `module "${module}" failed to handle the request; the log has the details under request id ${requestId}`, requestId);
  }
}

function noop(): void {}

/** `?a=1&a=2` gives arrays; modules receive plain strings (the first value). */
function flattenQuery(query: Record<string, string | string[]>): Record<string, string> {
  for (const key in query) {
    const value = query[key];
    if (Array.isArray(value)) (query as Record<string, string>)[key] = value[0] ?? '';
  }
  return query as Record<string, string>;
}

function timeoutError(code: string, generation: ModuleGeneration): ErpmodError {
  return new ErpmodError(
    'ERPMOD_HANDLER_TIMEOUT',
    `module "${code}" did not answer within ${generation.requestTimeoutMs} ms (timeouts.request_ms)`,
  );
}
