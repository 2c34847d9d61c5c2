/**
 * Load a module library the way the host does (process.dlopen with RTLD_NOW, then `Handler()`), give
 * it a fake context built from its module.yml, and call its routes by path.
 *
 * @example
 * const bus = new FakeEventBus();
 * const inventory = openModule('modules/inventory', { bus });
 * const res = inventory.request('POST', '/items', { body: { sku: 'W-1', name: 'Widget', stock: 5 } });
 * assert.equal(res.status, 201);
 * assert.equal(res.json().available, 5);
 */
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { createFakeContext, type FakeContext, type FakeEventBus, type ModuleCtx } from './fake-context';

/** What `Handler()` returns (native-abi.md §3). */
export interface ModuleHandler {
  getModuleCode(): string;
  getModuleVersion(): string;
  initialize(ctx: ModuleCtx): void | Promise<void>;
  getHandler(route: string, method: string): HandlerFunction | null | undefined;
  /** SDKs with execution: pool: the handler for `execution: pool` (runs on a worker thread, returns a promise). */
  getPoolHandler?(route: string, method: string): HandlerFunction | null | undefined;
  cleanup(): void | Promise<void>;
  health?(): { status: 'healthy' | 'degraded' | 'unhealthy'; details?: Record<string, unknown> };
}

export interface ModuleRequest {
  method: string;
  route: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
  rawBody: Buffer | undefined;
  requestId: string;
}

export interface ModuleResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer | object;
}

export type HandlerFunction = (req: ModuleRequest) => ModuleResponse | Promise<ModuleResponse>;

/** The parts of module.yml the harness uses. */
export interface ManifestSubset {
  code: string;
  version: string;
  routes: { method: string; path: string }[];
  events?: { publishes?: string[]; subscribes?: string[] };
  migrations?: string;
  config?: Record<string, unknown>;
  binaries: Record<string, string>;
}

/** process.dlopen(..., RTLD_NOW) and the `Handler` export, as the host loads a module. */
export function loadModuleLibrary(libraryPath: string): { Handler: () => ModuleHandler } {
  if (!isAbsolute(libraryPath)) throw new Error(`loadModuleLibrary: expected an absolute path, got ${libraryPath}`);
  const m = { exports: {} as Record<string, unknown> };
  process.dlopen(m, libraryPath, constants.dlopen.RTLD_NOW);
  if (typeof m.exports.Handler !== 'function') throw new Error(`${libraryPath}: exports no Handler function`);
  return m.exports as { Handler: () => ModuleHandler };
}

export function readManifestSubset(moduleDir: string): ManifestSubset {
  return parse(readFileSync(join(moduleDir, 'module.yml'), 'utf8')) as ManifestSubset;
}

/** modules/<code>/lib/<platform>-<arch>/<code>.<ext>, as module.yml `binaries` names it for this machine. */
export function moduleLibraryPath(moduleDir: string, manifest = readManifestSubset(moduleDir)): string {
  const key = `${process.platform}-${process.arch}`;
  const relative = manifest.binaries[key];
  if (relative === undefined) throw new Error(`${moduleDir}/module.yml: no binary for ${key}`);
  return resolve(moduleDir, relative);
}

export interface OpenModuleOptions {
  bus?: FakeEventBus;
  /** Merged over module.yml `config`. */
  config?: Record<string, unknown>;
  /** Defaults to the binary module.yml names for this platform. */
  libraryPath?: string;
  /** Call initialize (default true). */
  initialize?: boolean;
}

export interface RequestOptions {
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: unknown;
  requestId?: string;
}

export interface HarnessResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON. */
  json(): any;
}

export interface OpenedModule {
  readonly manifest: ManifestSubset;
  readonly handler: ModuleHandler;
  readonly fake: FakeContext;
  /** Finds the declared route matching `path` and calls its handler function on the JavaScript thread. */
  request(method: string, path: string, options?: RequestOptions): HarnessResponse;
  /**
   * The same through getPoolHandler, as the host serves `execution: pool`: the handler runs on one of the
   * module's worker threads and its ctx calls are carried to this thread, so marshalling is tested too.
   */
  requestOnPool(method: string, path: string, options?: RequestOptions): Promise<HarnessResponse>;
  close(): void;
}

function toHarnessResponse(res: ModuleResponse): HarnessResponse {
  const text = typeof res.body === 'string' ? res.body : Buffer.isBuffer(res.body) ? res.body.toString('utf8') : JSON.stringify(res.body ?? '');
  return {
    status: res.status ?? 200,
    headers: { ...(res.headers ?? {}) },
    body: text,
    json: () => JSON.parse(text),
  };
}

/** Matches `/orders/42` against `/orders/:id`; undefined when it does not match. */
export function matchRoute(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(':')) {
      if (g === '') return undefined;
      params[w.slice(1)] = decodeURIComponent(g);
    } else if (w !== g) {
      return undefined;
    }
  }
  return params;
}

/**
 * The host refuses a library whose code or version differ from module.yml's (rule meta/identity); so
 * does the harness, so a unit test cannot pass on a build the host would reject.
 */
function assertIdentity(handler: ModuleHandler, manifest: ManifestSubset, libraryPath: string): void {
  const code = handler.getModuleCode();
  const version = handler.getModuleVersion();
  if (code !== manifest.code || version !== manifest.version) {
    throw new Error(
      `${libraryPath} is ${code} ${version}, but module.yml says ${manifest.code} ${String(manifest.version)}: ` +
        'rebuild it (erpmod build passes module.yml\'s code and version into the library), or make ERPMOD_MODULE\'s literals equal to module.yml\'s',
    );
  }
}

export function openModule(moduleDir: string, options: OpenModuleOptions = {}): OpenedModule {
  const manifest = readManifestSubset(moduleDir);
  const libraryPath = options.libraryPath ?? moduleLibraryPath(moduleDir, manifest);
  if (!existsSync(libraryPath)) throw new Error(`${libraryPath} does not exist: build the module first`);
  const handler = loadModuleLibrary(libraryPath).Handler();
  assertIdentity(handler, manifest, libraryPath);
  const migrationsDir = manifest.migrations === undefined ? undefined : resolve(moduleDir, manifest.migrations);
  const fake = createFakeContext({
    code: manifest.code,
    version: manifest.version,
    config: { ...(manifest.config ?? {}), ...(options.config ?? {}) },
    ...(options.bus === undefined ? {} : { bus: options.bus }),
    ...(migrationsDir === undefined ? {} : { migrationsDir }),
    publishes: manifest.events?.publishes ?? [],
    subscribes: manifest.events?.subscribes ?? [],
  });
  if (options.initialize !== false) void handler.initialize(fake.ctx);
  let requests = 0;
  const prepare = (resolver: 'getHandler' | 'getPoolHandler', method: string, path: string, requestOptions: RequestOptions): { fn: HandlerFunction; req: ModuleRequest } => {
    const upper = method.toUpperCase();
    const route = manifest.routes.find((r) => r.method === upper && matchRoute(r.path, path) !== undefined);
    if (route === undefined) throw new Error(`${manifest.code}: no declared route for ${upper} ${path}`);
    const resolve = handler[resolver];
    if (typeof resolve !== 'function') throw new Error(`${manifest.code}: the handler object has no ${resolver} (rebuild it with an SDK that has execution: pool)`);
    const fn = resolve.call(handler, route.path, upper);
    if (typeof fn !== 'function') throw new Error(`${manifest.code}: ${resolver}(${route.path}, ${upper}) returned no function`);
    const body = requestOptions.body;
    const req: ModuleRequest = {
      method: upper,
      route: route.path,
      path,
      params: matchRoute(route.path, path) ?? {},
      query: requestOptions.query ?? {},
      headers: requestOptions.headers ?? {},
      body,
      rawBody: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      requestId: requestOptions.requestId ?? `test-${++requests}`,
    };
    return { fn, req };
  };

  return {
    manifest,
    handler,
    fake,
    request(method, path, requestOptions = {}) {
      const { fn, req } = prepare('getHandler', method, path, requestOptions);
      const res = fn(req);
      if (res instanceof Promise) throw new Error('request() serves synchronous handlers only; use requestOnPool() for pool handlers');
      return toHarnessResponse(res);
    },
    async requestOnPool(method, path, requestOptions = {}) {
      const { fn, req } = prepare('getPoolHandler', method, path, requestOptions);
      return toHarnessResponse(await fn(req));
    },
    close() {
      void handler.cleanup();
      fake.close();
    },
  };
}
