import path from 'node:path';
import type { LoadedManifest } from '../compliance/types';
import { ErpmodError, messageOf } from '../errors';
import type { Logger } from '../logger';
import { bindRoutes } from '../execution/bind-routes';
import { newGeneration, type ModuleGeneration } from '../runtime/module-generation';
import { createModuleContext } from './create-module-context';
import { SubscriptionOwner, type EventBus } from './event-bus';
import { loadNativeLibrary, type ModuleHandler } from './load-native-library';
import type { MigrationFile } from '../compliance/manifest/list-migration-files';
import type { ModuleDatabase, ModuleStore, RunnerStoreSettings } from '../store/module-store';
import { createSqliteModuleStore } from '../store/sqlite/sqlite-module-store';
import { withTimeout } from './with-timeout';

export interface LoadModuleInput {
  readonly loaded: LoadedManifest;
  /** The shadow copy that passed the static checks. */
  readonly shadowPath: string;
  readonly sha256: string;
  readonly migrations: readonly MigrationFile[];
  readonly dataDir: string;
  /** The module's own logger: its lines carry the module's code and version already. */
  readonly logger: Logger;
  readonly bus: EventBus;
  readonly env: NodeJS.ProcessEnv;
  readonly generationNumber: number;
  /** Where the module's data lives; SQLite files under dataDir when not given. */
  readonly store?: ModuleStore;
  /** For an isolated module: what its runner opens its database with (the host's store prepared it). */
  readonly runnerStore?: RunnerStoreSettings;
}

/**
 * The load phase for one module, as a sequence: dlopen, Handler(), identity, migrations, initialize
 * (bounded by timeouts.init_ms), resolve every declared route. Whatever fails, nothing is left half
 * mounted: the module's database is closed and its subscriptions dropped. The generation returned is not
 * live yet: its event subscriptions start receiving when the caller swaps it in (goLive).
 */
export async function loadModule(input: LoadModuleInput): Promise<ModuleGeneration> {
  const { manifest } = input.loaded;
  const started = performance.now();
  const handler = loadNativeLibrary(manifest.code, input.shadowPath);
  verifyIdentity(input.loaded, handler);

  const store = input.store ?? createSqliteModuleStore(input.dataDir);
  store.checkModule(manifest, handler);
  const db = await store.openModule(manifest.code, input.migrations);
  if (db.applied.length > 0) input.logger.info({ migrations: db.applied }, `module ${manifest.code}: applied ${db.applied.length} migration(s)`);
  const subscriptions = new SubscriptionOwner(manifest.code);
  let initialized = false;
  try {
    await initializeModule(input, handler, db, subscriptions);
    initialized = true;
    const { routes, lane } = bindRoutes(input.loaded, handler, undefined, { everyRouteOnPool: store.asyncDb });
    return newGeneration(input, { handler, routes, lane, subscriptions, closeDatabase: () => void db.close(), isolation: 'in-process', started });
  } catch (error) {
    if (initialized) await cleanupQuietly(handler, input.logger);
    input.bus.unsubscribe(subscriptions);
    await db.close();
    throw error;
  }
}

function verifyIdentity(loaded: LoadedManifest, handler: ModuleHandler): void {
  const { manifest, manifestPath } = loaded;
  const code = callForString(manifest.code, 'getModuleCode', () => handler.getModuleCode());
  const version = callForString(manifest.code, 'getModuleVersion', () => handler.getModuleVersion());
  if (code !== manifest.code || version !== manifest.version) {
    throw new ErpmodError(
      'ERPMOD_IDENTITY_MISMATCH',
      `module "${manifest.code}": ${manifestPath} declares ${manifest.code}@${manifest.version}, but the library reports ${code}@${version}`,
      { details: { expected: `${manifest.code}@${manifest.version}`, found: `${code}@${version}` } },
    );
  }
}

function callForString(code: string, method: string, call: () => unknown): string {
  let value: unknown;
  try {
    value = call();
  } catch (error) {
    throw new ErpmodError('ERPMOD_HANDLER_INVALID', `module "${code}": ${method}() threw: ${messageOf(error)}`, { cause: error });
  }
  if (typeof value !== 'string') {
    throw new ErpmodError('ERPMOD_HANDLER_INVALID', `module "${code}": expected ${method}() to return a string, got ${typeof value}`);
  }
  return value;
}

async function initializeModule(
  input: LoadModuleInput,
  handler: ModuleHandler,
  db: ModuleDatabase,
  owner: SubscriptionOwner,
): Promise<void> {
  const { manifest, moduleDir } = input.loaded;
  const ctx = createModuleContext({
    manifest,
    logger: input.logger,
    db: db.facade,
    bus: input.bus,
    owner,
    dataDir: path.join(input.dataDir, 'modules', manifest.code),
    env: input.env,
  });
  const limit = manifest.timeouts.initMs;
  try {
    await withTimeout(handler.initialize(ctx), limit, () =>
      new ErpmodError('ERPMOD_INIT_TIMEOUT', `module "${manifest.code}": initialize() did not finish within ${limit} ms (timeouts.init_ms in ${moduleDir}/module.yml)`),
    );
  } catch (error) {
    if (error instanceof ErpmodError) throw error;
    throw new ErpmodError('ERPMOD_INIT_FAILED', `module "${manifest.code}": initialize() failed: ${messageOf(error)}`, { cause: error });
  }
}

export async function cleanupQuietly(handler: ModuleHandler, logger: Logger): Promise<void> {
  try {
    await withTimeout(handler.cleanup(), 10_000, () => new Error('cleanup() did not finish within 10000 ms'));
  } catch (error) {
    logger.error({ err: messageOf(error) }, 'module cleanup failed');
  }
}
