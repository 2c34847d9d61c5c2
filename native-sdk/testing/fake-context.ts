/**
 * A stand-in for the `ctx` the erpmod host hands to a module's `initialize(ctx)` (native-abi.md §3),
 * so a vendor can unit-test a module library without the host: an in-memory SQLite database with the
 * module's migrations applied, a logger that records lines, and an event bus that records what was
 * published and delivers synchronously, in subscription order, like the host's.
 *
 * @example
 * const bus = new FakeEventBus();
 * const fake = createFakeContext({ code: 'inventory', migrationsDir: 'modules/inventory/migrations', bus });
 * handler.initialize(fake.ctx);
 * // ... call handler functions ...
 * assert.deepEqual(bus.topics(), ['stock.reserved']);
 */
import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (msg: string, fields?: Record<string, unknown>) => void;
export type EventListener = (payload: unknown, topic: string) => unknown;
export type SqlParams = readonly unknown[] | undefined;

export interface LogLine {
  readonly level: LogLevel;
  readonly msg: string;
  readonly fields: Record<string, unknown> | undefined;
  /** The module whose logger wrote the line. */
  readonly code: string;
}

export interface PublishedEvent {
  readonly publisher: string;
  readonly topic: string;
  readonly payload: unknown;
}

export interface SubscriberFailure {
  readonly subscriber: string;
  readonly topic: string;
  readonly error: unknown;
}

/** The shape of `ctx`, as the host builds it. */
export interface ModuleCtx {
  readonly code: string;
  readonly version: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly dataDir: string;
  readonly logger: { readonly debug: LogFn; readonly info: LogFn; readonly warn: LogFn; readonly error: LogFn };
  readonly db: {
    exec(sql: string): void;
    run(sql: string, params?: SqlParams): { changes: number; lastInsertRowid: number };
    get(sql: string, params?: SqlParams): unknown;
    all(sql: string, params?: SqlParams): unknown[];
  };
  readonly events: {
    publish(topic: string, payload: unknown): void;
    subscribe(topic: string, listener: EventListener): void;
  };
}

/**
 * Synchronous event bus shared by several fake contexts, so two modules can be wired together.
 * Like the host's: delivery happens inside publish(), in subscription order; a subscriber that throws
 * is recorded in `failures` and never reaches the publisher.
 */
export class FakeEventBus {
  readonly published: PublishedEvent[] = [];
  readonly failures: SubscriberFailure[] = [];
  private readonly subscriptions = new Map<string, { code: string; listener: EventListener }[]>();

  subscribe(code: string, topic: string, listener: EventListener): void {
    const list = this.subscriptions.get(topic) ?? [];
    list.push({ code, listener });
    this.subscriptions.set(topic, list);
  }

  publish(publisher: string, topic: string, payload: unknown): void {
    this.published.push({ publisher, topic, payload });
    for (const { code, listener } of [...(this.subscriptions.get(topic) ?? [])]) {
      try {
        listener(payload, topic);
      } catch (error) {
        this.failures.push({ subscriber: code, topic, error });
      }
    }
  }

  /** Topics published so far, in order. */
  topics(): string[] {
    return this.published.map((event) => event.topic);
  }

  /** Payloads published on `topic`, in order. */
  payloads(topic: string): unknown[] {
    return this.published.filter((event) => event.topic === topic).map((event) => event.payload);
  }

  clear(): void {
    this.published.length = 0;
    this.failures.length = 0;
  }
}

export interface FakeContextOptions {
  readonly code: string;
  readonly version?: string;
  readonly config?: Record<string, unknown>;
  /** Defaults to a fresh temporary directory, created when the module first reads ctx.dataDir. */
  readonly dataDir?: string;
  /** Share one bus between modules to wire their events together. */
  readonly bus?: FakeEventBus;
  /** A directory of NNN-name.sql files applied in name order before the context is returned. */
  readonly migrationsDir?: string;
  /** When given, publishing an undeclared topic throws, as the host does (ERPMOD_EVENT_NOT_DECLARED). */
  readonly publishes?: readonly string[];
  /** When given, subscribing to an undeclared topic throws, as the host does. */
  readonly subscribes?: readonly string[];
  /** SQLite file; defaults to an in-memory database. */
  readonly dbPath?: string;
}

export interface FakeContext {
  readonly ctx: ModuleCtx;
  readonly logs: LogLine[];
  readonly bus: FakeEventBus;
  /** The module's database, for assertions. */
  readonly db: Database.Database;
  /** Migration files applied, in order. */
  readonly migrations: readonly string[];
  close(): void;
}

const MIGRATION_FILE = /^\d{3,}-[A-Za-z0-9_.-]+\.sql$/;

/** Applies every NNN-name.sql file of `dir` in name order, each in its own transaction. */
export function applyMigrations(db: Database.Database, dir: string): string[] {
  // As the host does on SQLite: a file in `sqlite/` replaces the portable one of the same name.
  const paths = new Map(readdirSync(dir).filter((name) => MIGRATION_FILE.test(name)).map((name) => [name, join(dir, name)]));
  const overrides = join(dir, 'sqlite');
  if (existsSync(overrides)) {
    for (const name of readdirSync(overrides).filter((entry) => MIGRATION_FILE.test(entry))) paths.set(name, join(overrides, name));
  }
  const files = [...paths.keys()].sort();
  for (const file of files) {
    const sql = readFileSync(paths.get(file)!, 'utf8');
    db.transaction(() => db.exec(sql))();
  }
  return files;
}

export function createFakeContext(options: FakeContextOptions): FakeContext {
  const code = options.code;
  const bus = options.bus ?? new FakeEventBus();
  const db = new Database(options.dbPath ?? ':memory:');
  const migrations = options.migrationsDir === undefined ? [] : applyMigrations(db, options.migrationsDir);
  const logs: LogLine[] = [];
  let dataDir: string | undefined;
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
  const bind = (params: SqlParams): unknown[] => {
    if (params === undefined || params === null) return [];
    if (!Array.isArray(params)) throw new TypeError(`ctx.db: expected parameters as an array, got ${typeof params}`);
    return params;
  };
  const log =
    (level: LogLevel): LogFn =>
    (msg, fields) => {
      logs.push({ level, msg: String(msg), fields, code });
    };
  const declared = (list: readonly string[] | undefined, verb: string, topic: string): void => {
    if (list !== undefined && !list.includes(topic)) {
      const error = new Error(`module "${code}" may not ${verb} "${topic}": module.yml declares ${list.join(', ') || 'no topics'}`);
      (error as Error & { code: string }).code = 'ERPMOD_EVENT_NOT_DECLARED';
      throw error;
    }
  };

  const ctx: ModuleCtx = Object.freeze({
    code,
    version: options.version ?? '0.0.0',
    config: Object.freeze({ ...(options.config ?? {}) }),
    // Created on first read, so tests that never write files leave no directories behind.
    get dataDir(): string {
      dataDir ??= options.dataDir ?? mkdtempSync(join(tmpdir(), `erpmod-${code}-`));
      return dataDir;
    },
    logger: Object.freeze({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }),
    db: Object.freeze({
      exec(sql: string): void {
        db.exec(sql);
      },
      run(sql: string, params?: SqlParams) {
        const result = prepare(sql).run(...bind(params));
        return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
      },
      get(sql: string, params?: SqlParams): unknown {
        return prepare(sql).get(...bind(params));
      },
      all(sql: string, params?: SqlParams): unknown[] {
        return prepare(sql).all(...bind(params));
      },
    }),
    events: Object.freeze({
      publish(topic: string, payload: unknown): void {
        declared(options.publishes, 'publish', topic);
        bus.publish(code, topic, payload);
      },
      subscribe(topic: string, listener: EventListener): void {
        declared(options.subscribes, 'subscribe to', topic);
        if (typeof listener !== 'function') throw new TypeError(`ctx.events.subscribe: expected a function, got ${typeof listener}`);
        bus.subscribe(code, topic, listener);
      },
    }),
  });

  return { ctx, logs, bus, db, migrations, close: () => db.close() };
}
