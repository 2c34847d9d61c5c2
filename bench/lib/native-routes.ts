/**
 * The example modules' native functions, loaded outside the host through the SDK's test harness with a
 * real better-sqlite3 database per module (a file, WAL, the host's pragmas), so the raw node:http and
 * bare Express contenders call exactly the function the host calls for the same route.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  createFakeContext,
  FakeEventBus,
  loadModuleLibrary,
  moduleLibraryPath,
  readManifestSubset,
  type FakeContext,
  type HandlerFunction,
  type ModuleHandler,
  type ModuleRequest,
  type ModuleResponse,
} from '../../native-sdk/testing';
import { MODULES_DIR } from './paths';

export interface NativeRoutes {
  /** sales `GET /summary`. */
  readonly salesSummary: HandlerFunction;
  /** inventory `POST /items`. */
  readonly inventoryCreateItem: HandlerFunction;
  /** The plain-C fixture copy's `GET /ping` (a light route: no SQL), when its library is given. */
  readonly ping: HandlerFunction | undefined;
  close(): void;
}

export type { ModuleRequest, ModuleResponse };

export function openNativeRoutes(dataDir: string, pingModuleDir?: string): NativeRoutes {
  const bus = new FakeEventBus();
  const opened: { handler: ModuleHandler; fake: FakeContext }[] = [];
  const open = (code: string, moduleDir = path.join(MODULES_DIR, code)): ModuleHandler => {
    const manifest = readManifestSubset(moduleDir);
    const handler = loadModuleLibrary(moduleLibraryPath(moduleDir, manifest)).Handler();
    fs.mkdirSync(dataDir, { recursive: true });
    const fake = createFakeContext({
      code,
      version: manifest.version,
      config: manifest.config ?? {},
      bus,
      dataDir,
      dbPath: path.join(dataDir, `${code}.sqlite`),
      ...(manifest.migrations === undefined ? {} : { migrationsDir: path.resolve(moduleDir, manifest.migrations) }),
      publishes: manifest.events?.publishes ?? [],
      subscribes: manifest.events?.subscribes ?? [],
    });
    // The host's pragmas (host/store/sqlite/open-module-database.ts), so both sides pay the same for a write.
    fake.db.pragma('journal_mode = WAL');
    fake.db.pragma('foreign_keys = ON');
    fake.db.pragma('busy_timeout = 5000');
    void handler.initialize(fake.ctx);
    opened.push({ handler, fake });
    return handler;
  };
  // Dependency order, as the host boots them: sales subscribes to inventory's topics.
  const inventory = open('inventory');
  const sales = open('sales');
  const light = pingModuleDir === undefined ? undefined : open(path.basename(pingModuleDir), pingModuleDir);
  const fn = (handler: ModuleHandler, route: string, method: string): HandlerFunction => {
    const found = handler.getHandler(route, method);
    if (typeof found !== 'function') throw new Error(`getHandler(${route}, ${method}) returned no function`);
    return found;
  };
  return {
    salesSummary: fn(sales, '/summary', 'GET'),
    inventoryCreateItem: fn(inventory, '/items', 'POST'),
    ping: light === undefined ? undefined : fn(light, '/ping', 'GET'),
    close() {
      for (const { handler, fake } of opened.reverse()) {
        void handler.cleanup();
        fake.close();
      }
    },
  };
}

/** The reply's body as bytes, and its content type, the way the host serialises a `{status, headers, body}`. */
export function replyPayload(reply: ModuleResponse): { payload: string | Buffer; contentType: string } {
  const body = reply.body;
  if (typeof body === 'string') return { payload: body, contentType: 'text/plain; charset=utf-8' };
  if (Buffer.isBuffer(body)) return { payload: body, contentType: 'application/octet-stream' };
  if (body === undefined || body === null) return { payload: '', contentType: '' };
  return { payload: JSON.stringify(body), contentType: 'application/json; charset=utf-8' };
}
