import path from 'node:path';
import { ErpmodError } from '../errors';
import { executionSettings } from '../execution/configure-execution';
import { SubscriptionOwner } from '../loader/event-bus';
import type { LoadModuleInput } from '../loader/load-module';
import type { ModuleHandler } from '../loader/load-native-library';
import { newGeneration, type ModuleGeneration, type RouteFunction } from '../runtime/module-generation';
import { IsolatedModule, type CrashRecord } from './isolated-module';
import { runnerEnvironment } from './runner-environment';
import { sandboxSupport, type RunnerSandboxInput } from './runner-sandbox';

export interface IsolationSettings {
  readonly memoryMb: number;
  readonly crashLimit: number;
  readonly crashWindowMs: number;
  readonly logLevel: string;
  readonly onCrash: (code: string, record: CrashRecord) => void;
  readonly onCircuitOpen: (code: string, reason: string) => void;
  /** Where the runner's log lines go (the host logger's destination); standard output by default. */
  readonly logLine?: (text: string) => void;
  /** `isolated_sandbox`: 'auto' confines runners with bubblewrap where it works; 'off' never does. */
  readonly sandbox?: 'auto' | 'off';
  /** `isolated_sandbox_read`: further paths every sandboxed runner may read. */
  readonly sandboxReadPaths?: readonly string[];
}

/** The host warns once, not once per module, that runners cannot be confined. */
let warnedUnconfined = false;

/** Where the runner's PostgreSQL connection goes through a Unix socket: its directory. */
function socketDirs(input: LoadModuleInput): string[] {
  const connection = (input.runnerStore as { connection?: { host?: unknown } } | undefined)?.connection;
  return [connection?.host, input.env.PGHOST].filter((host): host is string => typeof host === 'string' && path.isAbsolute(host));
}

function sandboxFor(input: LoadModuleInput, settings: IsolationSettings): { readonly bwrap: string; readonly input: RunnerSandboxInput } | undefined {
  const { manifest, moduleDir } = input.loaded;
  if (settings.sandbox === 'off') return undefined;
  const support = sandboxSupport(input.env);
  if ('missing' in support) {
    if (!warnedUnconfined) {
      warnedUnconfined = true;
      input.logger.warn({ sandbox: 'none', missing: support.missing }, `isolated modules run unconfined, with the host's view of the filesystem: ${support.missing}`);
    }
    return undefined;
  }
  const sandboxInput: RunnerSandboxInput = {
    code: manifest.code,
    moduleDir,
    shadowPath: input.shadowPath,
    migrationPaths: input.migrations.map((migration) => migration.absolutePath),
    dataDir: input.dataDir,
    sqlite: input.runnerStore === undefined,
    // SQLite is opened by the runner itself, as a file: only ctx.http or a database server needs the network.
    network: manifest.http.allow.length > 0 || input.runnerStore !== undefined,
    socketDirs: socketDirs(input),
    extraReadPaths: settings.sandboxReadPaths ?? [],
  };
  return { bwrap: support.bwrap, input: sandboxInput };
}

/**
 * The `isolation: process` counterpart of loadModule: the same load sequence runs in a runner process,
 * and the generation's route functions forward each request to it. The dispatcher cannot tell the two
 * kinds apart, so reload, toggle, metrics and timeouts work the same for both.
 */
export async function loadIsolatedModule(input: LoadModuleInput, settings: IsolationSettings): Promise<ModuleGeneration> {
  const { manifest } = input.loaded;
  const started = performance.now();
  const subscriptions = new SubscriptionOwner(manifest.code);
  const env = runnerEnvironment(manifest, input.env);
  const { logger } = input;
  const sandbox = sandboxFor(input, settings);
  logger.info(
    { sandbox: sandbox === undefined ? 'none' : 'bwrap', network: sandbox === undefined || sandbox.input.network },
    sandbox === undefined
      ? `isolated module ${manifest.code}: its process runs unconfined`
      : `isolated module ${manifest.code}: its process runs in a bubblewrap sandbox (${sandbox.input.network ? 'with' : 'without'} network)`,
  );
  const isolated = new IsolatedModule({
    ...(sandbox === undefined ? {} : { sandbox }),
    input: {
      loaded: input.loaded,
      shadowPath: input.shadowPath,
      sha256: input.sha256,
      migrations: input.migrations,
      dataDir: input.dataDir,
      env,
      generationNumber: input.generationNumber,
      logLevel: settings.logLevel,
      execution: executionSettings(),
      store: input.runnerStore,
    },
    memoryMb: settings.memoryMb,
    env,
    crashLimit: settings.crashLimit,
    crashWindowMs: settings.crashWindowMs,
    logger,
    bus: input.bus,
    owner: subscriptions,
    onCrash: (record) => settings.onCrash(manifest.code, record),
    onCircuitOpen: (reason) => settings.onCircuitOpen(manifest.code, reason),
    output: {
      line: (line) => (settings.logLine === undefined ? process.stdout.write(`${line}\n`) : settings.logLine(`${line}\n`)),
      truncated: (stream, head, maxLineBytes) =>
        logger.warn({ stream, truncatedAt: maxLineBytes, line: head }, `isolated module output: a line longer than ${maxLineBytes} bytes, truncated at ${maxLineBytes} bytes; the rest of it was dropped`),
      dropped: (lines, bytes) => logger.warn({ droppedLines: lines, droppedBytes: bytes }, `isolated module output over its rate limit: ${lines} lines (${bytes} bytes) dropped`),
    },
  });

  const limit = manifest.timeouts.initMs;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      isolated.start(),
      new Promise<never>((_, reject) => {
        // Process start-up (~50 ms) comes on top of the module's own initialisation.
        timer = setTimeout(() => reject(new ErpmodError('ERPMOD_INIT_TIMEOUT', `module "${manifest.code}": its process did not become ready within ${limit + 2000} ms`)), limit + 2000);
      }),
    ]);
  } catch (error) {
    await isolated.stop(1000);
    throw error;
  } finally {
    clearTimeout(timer);
  }

  const timeoutMs = manifest.timeouts.requestMs;
  const routes = new Map<string, RouteFunction>(isolated.routes.map((key) => [key, (request: unknown) => isolated.call(key, request, timeoutMs)]));
  const handler: ModuleHandler = {
    getModuleCode: () => manifest.code,
    getModuleVersion: () => manifest.version,
    initialize: () => undefined,
    getHandler: () => undefined,
    cleanup: () => isolated.stop(),
    health: () => isolated.health(1000),
  };
  return newGeneration(input, { handler, routes, subscriptions, closeDatabase: () => undefined, isolation: 'process', started });
}
