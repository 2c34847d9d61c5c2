import type { LoadedManifest } from '../compliance/types';
import { ErpmodError, messageOf } from '../errors';
import type { ModuleHandler } from '../loader/load-native-library';
import { routeKey, type RouteFunction } from '../runtime/module-generation';
import { hostExecutionPool, type ExecutionPool, type ModuleLane } from './execution-pool';

export interface BoundRoutes {
  /** `METHOD /declared/path` → what the dispatcher calls with the request. */
  readonly routes: Map<string, RouteFunction>;
  /** The module's share of the pool; undefined when no route runs there. */
  readonly lane: ModuleLane | undefined;
}

export interface BindRoutesOptions {
  /**
   * The module's ctx.db answers with promises (module data on PostgreSQL), which a handler must be able to
   * wait for: `main` routes run suspending (on the JavaScript thread, waiting on a fiber) where the library
   * has getSuspendingHandler, else on the pool like `pool` routes (docs/decisions.md).
   */
  readonly everyRouteOnPool?: boolean;
}

/**
 * The execution model's seam: resolves every declared route to the function the dispatcher calls. A
 * `main` route is the module's own native function, called on the JavaScript thread exactly as before
 * pools existed. A `pool` route is the module's pool handler (getPoolHandler, in SDKs that have execution: pool) behind the pool's
 * admission: it returns a promise, its handler runs on a native thread, and the request is answered 504
 * at timeouts.request_ms whatever the handler does. Where ctx.db answers with promises, a `main` route
 * runs suspending (getSuspendingHandler) behind the same admission and timeout: on the JavaScript thread,
 * on a fiber that waits for each ctx call without holding a thread.
 */
export function bindRoutes(loaded: LoadedManifest, handler: ModuleHandler, pool: ExecutionPool = hostExecutionPool, options: BindRoutesOptions = {}): BoundRoutes {
  const { manifest } = loaded;
  const routes = new Map<string, RouteFunction>();
  const onPool = (route: { execution?: string }): boolean => options.everyRouteOnPool === true || route.execution === 'pool';
  const usesPool = manifest.routes.some(onPool);
  const lane = usesPool ? pool.lane(manifest.code, manifest.maxConcurrency) : undefined;
  if (usesPool && typeof handler.getPoolHandler !== 'function') {
    const first = manifest.routes.find(onPool)!;
    throw new ErpmodError(
      'ERPMOD_ROUTE_UNRESOLVED',
      `module "${manifest.code}": ${first.method} ${first.path} has execution: pool, but the library's handler object has no getPoolHandler ` +
        '(it was built before the SDK had execution: pool, or by hand); rebuild it with the current SDK or set execution: main',
      { details: { method: first.method, path: first.path, execution: 'pool' } },
    );
  }
  const suspends = (route: { execution?: string }): boolean =>
    options.everyRouteOnPool === true && route.execution !== 'pool' && typeof handler.getSuspendingHandler === 'function';
  for (const route of manifest.routes) {
    const pooled = onPool(route);
    const resolver = suspends(route) ? 'getSuspendingHandler' : pooled ? 'getPoolHandler' : 'getHandler';
    let fn: unknown;
    try {
      fn = (handler[resolver] as (path: string, method: string) => unknown).call(handler, route.path, route.method);
    } catch (error) {
      throw new ErpmodError('ERPMOD_ROUTE_UNRESOLVED', `module "${manifest.code}": ${resolver}("${route.path}", "${route.method}") threw: ${messageOf(error)}`, {
        cause: error,
      });
    }
    if (typeof fn !== 'function') {
      throw new ErpmodError(
        'ERPMOD_ROUTE_UNRESOLVED',
        `module "${manifest.code}": module.yml declares ${route.method} ${route.path}, but ${resolver} returned ${fn === null ? 'null' : typeof fn} instead of a function`,
        { details: { method: route.method, path: route.path } },
      );
    }
    const native = fn as RouteFunction;
    const timeoutMs = manifest.timeouts.requestMs;
    routes.set(routeKey(route.method, route.path), pooled ? (request) => pool.run(lane!, () => native(request), timeoutMs) : native);
  }
  return { routes, lane };
}
