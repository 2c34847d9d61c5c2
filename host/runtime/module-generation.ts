import type { LoadedManifest } from '../compliance/types';
import type { SubscriptionOwner } from '../loader/event-bus';
import type { LoadModuleInput } from '../loader/load-module';
import type { ModuleHandler } from '../loader/load-native-library';
import type { ModuleLane } from '../execution/execution-pool';

/** A native function that serves one declared route. */
export type RouteFunction = (request: unknown) => unknown;

/**
 * One loaded image of a module: what a reload replaces as a whole. Requests hold the generation they
 * started on, so swapping a slot's generation never disturbs a request already running.
 */
export interface ModuleGeneration {
  readonly number: number;
  readonly loaded: LoadedManifest;
  readonly handler: ModuleHandler;
  readonly shadowPath: string;
  readonly sha256: string;
  readonly loadedAt: string;
  /** `code/version`, sent as `x-erpmod-module` so an operator sees which build answered. */
  readonly identity: string;
  readonly loadMs: number;
  /** `METHOD /declared/path` → the native function. */
  readonly routes: ReadonlyMap<string, RouteFunction>;
  readonly requestTimeoutMs: number;
  /** Closes what the generation holds open in this process (its database); the isolated kind holds none. */
  readonly closeDatabase: () => void;
  /** `in-process`, or `process` when the module runs in a runner child. */
  readonly isolation: 'in-process' | 'process';
  /** Its event subscriptions; live only while this generation is the slot's active one. */
  readonly subscriptions: SubscriptionOwner;
  /** Its share of the execution pool, when a route has `execution: pool`. */
  readonly lane: ModuleLane | undefined;
  inFlight: number;
}

export function routeKey(method: string, path: string): string {
  return `${method} ${path}`;
}

/** What each kind of loader supplies; the rest of a generation comes from the load input. */
export interface GenerationParts {
  readonly handler: ModuleHandler;
  readonly routes: ReadonlyMap<string, RouteFunction>;
  readonly lane?: ModuleLane;
  readonly subscriptions: SubscriptionOwner;
  readonly closeDatabase: () => void;
  readonly isolation: 'in-process' | 'process';
  /** performance.now() when loading began. */
  readonly started: number;
}

/** A new generation, stamped now, as both loaders (in-process and isolated) build it. */
export function newGeneration(input: LoadModuleInput, parts: GenerationParts): ModuleGeneration {
  const { manifest } = input.loaded;
  return {
    number: input.generationNumber,
    loaded: input.loaded,
    handler: parts.handler,
    shadowPath: input.shadowPath,
    sha256: input.sha256,
    loadedAt: new Date().toISOString(),
    identity: `${manifest.code}/${manifest.version}`,
    // Rounded once here to 0.01 ms: every log line, registry row and reply reports the same figure.
    loadMs: Math.round((performance.now() - parts.started) * 100) / 100,
    routes: parts.routes,
    requestTimeoutMs: manifest.timeouts.requestMs,
    closeDatabase: parts.closeDatabase,
    isolation: parts.isolation,
    subscriptions: parts.subscriptions,
    lane: parts.lane,
    inFlight: 0,
  };
}
