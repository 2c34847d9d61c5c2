import type { IncomingMessage, ServerResponse } from 'node:http';
import FindMyWay from 'find-my-way';
import { ERROR_DEFINITIONS, ErpmodError, messageOf, type ErrorCode } from '../errors';
import { databaseUnavailable } from '../store/database-unavailable';
import type { Logger } from '../logger';
import type { AccessLog } from '../logging/access-log';
import { isThenable, withTimeout } from '../loader/with-timeout';
import { routeKey, type ModuleGeneration, type RouteFunction } from '../runtime/module-generation';
import { CLIENT_CLOSED } from '../runtime/module-metrics';
import type { ModuleSlot, ModuleTable } from '../runtime/module-slot';
import { BodyBudget } from './body-budget';
import { allowedMethods } from './allowed-methods';
import { ClientAborted } from './client-aborted';
import { announcesBody, isJson, readBody, type RequestBody } from './read-body';
import { requestIdOf } from './request-id';
import { sendError } from './send-error';
import { writeModuleReply } from './write-module-reply';

export const MODULE_PREFIX = '/api/v1/';

/** What a module's router keeps per declared route: which entry of the generation's table serves it. */
interface RouteStore {
  readonly key: string;
  readonly route: string;
  /** The route says `accepts: json`: a body of another content type is refused (415). */
  readonly jsonOnly: boolean;
  /**
   * The generation last served through this route and its function for it: no table lookup while the
   * slot keeps that generation; the first request after a swap refreshes both.
   */
  generation: ModuleGeneration | undefined;
  fn: RouteFunction | undefined;
}

/** A route without parameters, found by method and the whole URL. */
interface StaticRoute {
  readonly slot: ModuleSlot;
  readonly store: RouteStore;
}

/** One module's router: the slot it routes to and its routes without the `/api/v1/<code>` prefix. */
interface ModuleRouter {
  readonly slot: ModuleSlot;
  /** Undefined while the module has no generation (failed, skipped): its prefix answers 503. */
  readonly router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1> | undefined;
}

export interface ModuleDispatcherOptions {
  readonly table: ModuleTable;
  readonly logger: Logger;
  readonly bodyLimitBytes: number;
  /** Bytes of request bodies this process holds at once (body_budget_bytes, its share of it). */
  readonly bodyBudgetBytes: number;
  /** One line per module request (access_log_level), undefined when off. */
  readonly accessLog?: AccessLog;
}

const NO_BODY: RequestBody = { body: undefined, rawBody: undefined };
const EMPTY = Object.freeze({});

/**
 * The module hot path: the module code from the URL picks that module's radix router (so lookup cost
 * does not grow with the number of modules), then the native function of the slot's current generation.
 * No Express, no middleware chain, no per-request closures, and no promise at all when neither the body
 * nor the reply is asynchronous. Requests it does not own (`handle` returns false) go to the Express app.
 */
export class ModuleDispatcher {
  private routers: ReadonlyMap<string, ModuleRouter> = new Map();
  /**
   * Every module's routes without parameters, by method then whole URL (`/api/v1/<code><path>`, no
   * query string): such a request is answered after one lookup — no cutting of the URL into code and
   * path, no radix walk, no decoding scan, none of the objects a find allocates. The routers decide
   * everything else (parameters, queries, encoded characters, HEAD as GET, 405).
   */
  private statics: ReadonlyMap<string, ReadonlyMap<string, StaticRoute>> = new Map();
  private inFlight = 0;
  private draining = false;
  private drained: (() => void) | undefined;
  private readonly bodyBudget: BodyBudget;

  constructor(private readonly options: ModuleDispatcherOptions) {
    this.bodyBudget = new BodyBudget(options.bodyBudgetBytes);
  }

  /** Rebuilds every module's router from the table's declared routes and swaps them in with one assignment. */
  rebuildRoutes(): void {
    const routers = new Map<string, ModuleRouter>();
    const everyStatic = new Map<string, Map<string, StaticRoute>>();
    for (const slot of this.options.table.slots.values()) {
      const generation = slot.generation;
      if (generation === undefined) {
        routers.set(slot.code, { slot, router: undefined });
        continue;
      }
      const router = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 256 });
      for (const route of generation.loaded.manifest.routes) {
        const key = routeKey(route.method, route.path);
        const store: RouteStore = { key, route: route.path, jsonOnly: route.accepts === 'json', generation, fn: generation.routes.get(key) };
        router.on(route.method, route.path, noop, store);
        // A path with a parameter, a wildcard or a character the router would decode stays with the router.
        if (!/[:*%?#;]/.test(route.path)) {
          const byUrl = everyStatic.get(route.method) ?? new Map<string, StaticRoute>();
          byUrl.set(`${MODULE_PREFIX}${slot.code}${route.path}`, { slot, store });
          // `/api/v1/<code>` alone is the module's `/`, as handle() reads it.
          if (route.path === '/') byUrl.set(`${MODULE_PREFIX}${slot.code}`, { slot, store });
          everyStatic.set(route.method, byUrl);
        }
      }
      routers.set(slot.code, { slot, router });
    }
    this.routers = routers;
    this.statics = everyStatic;
  }

  /** Returns true when the request is a module request (answered here), false to hand it on. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '/';
    const exact = this.statics.get(req.method!)?.get(url);
    if (exact !== undefined) {
      this.dispatch(req, res, exact.slot, exact.store, {}, EMPTY);
      return true;
    }
    if (!url.startsWith(MODULE_PREFIX)) return false;
    let end = MODULE_PREFIX.length;
    while (end < url.length && url.charCodeAt(end) !== 0x2f /* / */ && url.charCodeAt(end) !== 0x3f /* ? */) end++;
    const entry = this.routers.get(url.slice(MODULE_PREFIX.length, end));
    if (entry === undefined) return false;
    const rest = end === url.length || url.charCodeAt(end) === 0x3f ? `/${url.slice(end)}` : url.slice(end);
    let found = entry.router?.find(req.method as FindMyWay.HTTPMethod, rest) ?? null;
    // HEAD is GET without the body (RFC 9110 §9.3.2): Node drops the body and keeps every header.
    if (found === null && req.method === 'HEAD') found = entry.router?.find('GET', rest) ?? null;
    if (found === null) {
      this.answerUnmatched(req, res, entry.slot, entry.router, rest, url);
      return true;
    }
    this.dispatch(req, res, entry.slot, found.store as RouteStore, found.params, found.searchParams);
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

  private dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    slot: ModuleSlot,
    store: RouteStore,
    params: Record<string, string | undefined>,
    query: Record<string, string | string[]>,
  ): void {
    const requestId = requestIdOf(req);
    if (this.answerNotServing(req, res, slot, requestId)) return;
    const generation = slot.generation!;
    if (store.generation !== generation) {
      store.generation = generation;
      store.fn = generation.routes.get(store.key);
    }
    const fn = store.fn;
    if (fn === undefined) return this.finishEarly(req, slot, this.reject(res, 'ERPMOD_NOT_FOUND', `module "${slot.code}" no longer serves ${store.key}`, requestId), requestId);

    const started = performance.now();
    slot.metrics.inFlight++;
    generation.inFlight++;
    this.inFlight++;
    try {
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      if (hasBody && store.jsonOnly && announcesBody(req) && !isJson(req)) throw unsupportedType(req, slot.code, store.route);
      const received = hasBody ? readBody(req, res, this.options.bodyLimitBytes, this.bodyBudget) : NO_BODY;
      if (isThenable(received)) {
        void this.settleBody(received, req, res, slot, generation, store, fn, params, query, requestId, started);
        return;
      }
      const value = callNative(fn, req, store, params, query, received, requestId);
      // The fast path: a synchronous native function answered, and no promise is made for this request.
      if (!isThenable(value)) return this.finish(req, slot, generation, started, writeModuleReply(res, value, requestId, generation.identity, this.draining), requestId);
      void this.settleReply(value, req, res, slot, generation, requestId, started);
    } catch (error) {
      this.finish(req, slot, generation, started, this.fail(res, error, requestId, generation), requestId, isRefusal(error));
    }
  }

  private async settleBody(
    received: Promise<RequestBody>,
    req: IncomingMessage,
    res: ServerResponse,
    slot: ModuleSlot,
    generation: ModuleGeneration,
    store: RouteStore,
    fn: RouteFunction,
    params: Record<string, string | undefined>,
    query: Record<string, string | string[]>,
    requestId: string,
    started: number,
  ): Promise<void> {
    let value: unknown;
    try {
      value = callNative(fn, req, store, params, query, await received, requestId);
    } catch (error) {
      return this.finish(req, slot, generation, started, this.fail(res, error, requestId, generation), requestId, isRefusal(error));
    }
    await this.settleReply(value, req, res, slot, generation, requestId, started);
  }

  private async settleReply(value: unknown, req: IncomingMessage, res: ServerResponse, slot: ModuleSlot, generation: ModuleGeneration, requestId: string, started: number): Promise<void> {
    let status: number;
    let refused = false;
    try {
      const settled = await withTimeout(value, generation.requestTimeoutMs, () => timeoutError(slot.code, generation));
      // The client left while the module worked: there is no one to answer, and nothing failed.
      status = res.destroyed ? this.aborted(generation, requestId) : writeModuleReply(res, settled, requestId, generation.identity, this.draining);
    } catch (error) {
      // A module failure is logged even when its client has left; the request still counts as aborted.
      const gone = res.destroyed;
      status = this.fail(res, error, requestId, generation);
      refused = isRefusal(error);
      if (gone) status = this.aborted(generation, requestId);
    }
    this.finish(req, slot, generation, started, status, requestId, refused);
  }

  /** `refused`: the reply is a refusal on purpose (ERPMOD_BUSY), counted as rejected rather than as an error. */
  private finish(req: IncomingMessage, slot: ModuleSlot, generation: ModuleGeneration, started: number, status: number, requestId: string, refused = false): void {
    const endedAt = performance.now();
    const ms = endedAt - started;
    slot.metrics.inFlight--;
    slot.metrics.record(status, ms, refused);
    generation.inFlight--;
    this.inFlight--;
    this.options.accessLog?.(req, status, ms, endedAt, slot.code, generation.loaded.manifest.version, requestId);
    if (this.draining && this.inFlight === 0) this.drained?.();
  }

  /**
   * A request for a known module that no route of it matches: 405 with `Allow` when the path exists for
   * other methods, 404 when it does not, 503 when the module is not serving.
   */
  private answerUnmatched(req: IncomingMessage, res: ServerResponse, slot: ModuleSlot, router: ModuleRouter['router'], rest: string, url: string): void {
    const requestId = requestIdOf(req);
    if (this.answerNotServing(req, res, slot, requestId)) return;
    const path = url.split('?', 1)[0];
    const allowed = router === undefined ? [] : allowedMethods(router, rest);
    if (allowed.length > 0) {
      res.setHeader('allow', allowed.join(', '));
      return this.finishEarly(req, slot, this.reject(res, 'ERPMOD_METHOD_NOT_ALLOWED', `module "${slot.code}" serves ${path} for ${allowed.join(', ')}, not ${req.method}`, requestId), requestId);
    }
    this.finishEarly(req, slot, this.reject(res, 'ERPMOD_NOT_FOUND', `module "${slot.code}" has no route ${req.method} ${path}`, requestId), requestId);
  }

  /** Answers 503 for a module that is disabled or has nothing loaded (counted as rejected); false when it is serving. */
  private answerNotServing(req: IncomingMessage, res: ServerResponse, slot: ModuleSlot, requestId: string): boolean {
    if (slot.state === 'disabled') {
      this.finishEarly(req, slot, this.reject(res, 'ERPMOD_MODULE_DISABLED', `module "${slot.code}" is disabled by an operator`, requestId), requestId, true);
      return true;
    }
    if (slot.generation === undefined) {
      this.finishEarly(req, slot, this.reject(res, 'ERPMOD_MODULE_NOT_ACTIVE', `module "${slot.code}" is not serving requests`, requestId), requestId, true);
      return true;
    }
    return false;
  }

  /** Counts (and logs) a request answered before any module code ran. */
  private finishEarly(req: IncomingMessage, slot: ModuleSlot, status: number, requestId: string, refused = false): void {
    slot.metrics.record(status, 0, refused);
    this.options.accessLog?.(req, status, 0, performance.now(), slot.code, slot.generation?.loaded.manifest.version, requestId);
  }

  private reject(res: ServerResponse, code: ErrorCode, message: string, requestId: string): number {
    sendError(res, code, message, requestId);
    return ERROR_DEFINITIONS[code].status;
  }

  /** Counts and logs (at debug: it is the client's doing) a request whose client went away. */
  private aborted(generation: ModuleGeneration, requestId: string): number {
    this.options.logger.debug({ module: generation.loaded.manifest.code, requestId }, 'client closed the connection before the reply');
    return CLIENT_CLOSED;
  }

  private fail(res: ServerResponse, error: unknown, requestId: string, generation: ModuleGeneration): number {
    if (error instanceof ClientAborted) return this.aborted(generation, requestId);
    const module = generation.loaded.manifest.code;
    error = databaseUnavailable(module, error) ?? error;
    if (error instanceof ErpmodError) {
      // A body left unread cannot be skipped on a keep-alive connection: close it after the reply.
      if (!res.req.complete) res.setHeader('connection', 'close');
      const retryAfter = error.details?.retryAfterSeconds;
      if (typeof retryAfter === 'number') res.setHeader('retry-after', String(retryAfter));
      // Refusals for capacity are expected under load; logging each would add to it (the 5xx counter shows them).
      const log = error.status >= 500 && error.code !== 'ERPMOD_BUSY' ? 'error' : 'debug';
      // The reply keeps the host's internals out; the log has the cause (for a database, what it said).
      const cause = error.cause === undefined ? {} : { cause: messageOf(error.cause) };
      this.options.logger[log]({ module, requestId, code: error.code, err: error.message, ...cause }, 'module request failed');
      sendError(res, error.code, error.message, requestId);
      return error.status;
    }
    // The vendor's message may carry internals: it goes to the log, the client gets the request id.
    this.options.logger.error({ module, requestId, err: messageOf(error) }, 'module handler threw');
    return this.reject(res, 'ERPMOD_HANDLER_FAILED', `module "${module}" failed to handle the request; the log has the details under request id ${requestId}`, requestId);
  }
}

function noop(): void {}

/** The request object native-abi.md §3 promises, handed to the module's function. */
function callNative(
  fn: RouteFunction,
  req: IncomingMessage,
  store: RouteStore,
  params: Record<string, string | undefined>,
  query: Record<string, string | string[]>,
  received: RequestBody,
  requestId: string,
): unknown {
  const url = req.url!;
  const queryAt = url.indexOf('?');
  return fn({
    method: req.method,
    route: store.route,
    path: queryAt === -1 ? url : url.slice(0, queryAt),
    params,
    query: queryAt === -1 ? EMPTY : flattenQuery(query),
    headers: req.headers,
    body: received.body,
    rawBody: received.rawBody,
    requestId,
  });
}

/** `?a=1&a=2` gives arrays; modules receive plain strings (the first value). */
function flattenQuery(query: Record<string, string | string[]>): Record<string, string> {
  for (const key in query) {
    const value = query[key];
    if (Array.isArray(value)) (query as Record<string, string>)[key] = value[0] ?? '';
  }
  return query as Record<string, string>;
}

/** Refusals on purpose, counted as rejected rather than as errors: the host is at a capacity limit. */
function isRefusal(error: unknown): boolean {
  return error instanceof ErpmodError && error.code === 'ERPMOD_BUSY';
}

function unsupportedType(req: IncomingMessage, code: string, route: string): ErpmodError {
  const type = req.headers['content-type'];
  return new ErpmodError(
    'ERPMOD_UNSUPPORTED_MEDIA_TYPE',
    `module "${code}" route ${req.method} ${route} accepts JSON only: expected content-type application/json, got ${type === undefined ? 'none' : JSON.stringify(type)}`,
  );
}

function timeoutError(code: string, generation: ModuleGeneration): ErpmodError {
  return new ErpmodError(
    'ERPMOD_HANDLER_TIMEOUT',
    `module "${code}" did not answer within ${generation.requestTimeoutMs} ms (timeouts.request_ms)`,
  );
}
