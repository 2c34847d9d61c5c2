import type { ModuleManifest } from '../compliance/types';
import { ErpmodError } from '../errors';
import { configuredHttpMaxResponseBytes } from '../execution/configure-execution';
import { createModuleHttpClient } from '../execution/module-http-client';
import type { Logger } from '../logger';
import type { EventBus, EventListener, SubscriptionOwner } from './event-bus';
import type { ContextDb } from '../store/module-store';

type LogFn = (msg: string, fields?: Record<string, unknown>) => void;

/** The `ctx` handed to a module's initialize() (native-abi.md §3). */
export interface ModuleContext {
  readonly code: string;
  readonly version: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly logger: { readonly debug: LogFn; readonly info: LogFn; readonly warn: LogFn; readonly error: LogFn };
  readonly db: ContextDb;
  readonly events: {
    /** A promise when a subscriber runs on a pool thread (module data on PostgreSQL): the SDK waits for it there. */
    readonly publish: (topic: string, payload: unknown) => void | Promise<void>;
    readonly subscribe: (topic: string, listener: EventListener) => void;
  };
  readonly dataDir: string;
  /** Outbound HTTP (module.yml http.allow); used by pool handlers through the SDK. */
  readonly http: ReturnType<typeof createModuleHttpClient>;
}

export interface ModuleContextParts {
  readonly manifest: ModuleManifest;
  readonly logger: Logger;
  readonly db: ContextDb;
  readonly bus: EventBus;
  readonly owner: SubscriptionOwner;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
}

export function createModuleContext(parts: ModuleContextParts): ModuleContext {
  const { manifest, logger, bus } = parts;
  const publishes = new Set(manifest.events.publishes);
  const subscribes = new Set(manifest.events.subscribes);
  const log = (level: 'debug' | 'info' | 'warn' | 'error'): LogFn => (msg, fields) => {
    if (fields !== null && typeof fields === 'object') logger[level](fields, String(msg));
    else logger[level](String(msg));
  };

  return Object.freeze({
    code: manifest.code,
    version: manifest.version,
    config: Object.freeze(resolveModuleConfig(manifest, parts.env)),
    logger: Object.freeze({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }),
    db: parts.db,
    events: Object.freeze({
      /** `transaction`: the publisher's open transaction by handle (the SDK names it), which the event commits with. */
      publish(topic: string, payload: unknown, transaction?: unknown) {
        if (!publishes.has(topic)) throw undeclaredTopic(manifest, 'publish', topic, [...publishes]);
        return bus.publish(manifest.code, topic, payload, parts.db, typeof transaction === 'number' ? transaction : undefined);
      },
      subscribe(topic: string, listener: EventListener) {
        if (!subscribes.has(topic)) throw undeclaredTopic(manifest, 'subscribe to', topic, [...subscribes]);
        if (typeof listener !== 'function') throw new TypeError(`ctx.events.subscribe: expected a function, got ${typeof listener}`);
        bus.subscribe(parts.owner, topic, listener);
      },
    }),
    dataDir: parts.dataDir,
    http: createModuleHttpClient({
      code: manifest.code,
      allow: manifest.http.allow,
      defaultTimeoutMs: manifest.timeouts.requestMs,
      maxResponseBytes: configuredHttpMaxResponseBytes(),
    }),
  });
}

/**
 * module.yml `config`, each key overridable by ERPMOD_<CODE>_<KEY> (upper case, dashes as underscores).
 * An override keeps the declared value's type: a number stays a number, a boolean a boolean.
 */
export function resolveModuleConfig(manifest: ModuleManifest, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const config: Record<string, unknown> = { ...manifest.config };
  for (const [key, declared] of Object.entries(manifest.config)) {
    const variable = configVariable(manifest.code, key);
    const raw = env[variable];
    if (raw === undefined) continue;
    config[key] = coerceLike(declared, raw, variable);
  }
  return config;
}

/** The environment variable that overrides config key `key` of module `code`: ERPMOD_<CODE>_<KEY>. */
export function configVariable(code: string, key: string): string {
  return `ERPMOD_${code.toUpperCase().replace(/-/g, '_')}_${key.toUpperCase().replace(/-/g, '_')}`;
}

function coerceLike(declared: unknown, raw: string, variable: string): unknown {
  if (typeof declared === 'number') {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value)) {
      throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${variable}: expected a number like the declared ${declared}, got ${JSON.stringify(raw)}`);
    }
    return value;
  }
  if (typeof declared === 'boolean') {
    if (raw !== 'true' && raw !== 'false') {
      throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${variable}: expected true or false, got ${JSON.stringify(raw)}`);
    }
    return raw === 'true';
  }
  return raw;
}

function undeclaredTopic(manifest: ModuleManifest, verb: string, topic: string, declared: string[]): ErpmodError {
  return new ErpmodError(
    'ERPMOD_EVENT_NOT_DECLARED',
    `module "${manifest.code}" may not ${verb} "${topic}": module.yml declares ${declared.length === 0 ? 'no topics' : declared.join(', ')}`,
  );
}
