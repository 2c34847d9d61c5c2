import cluster from 'node:cluster';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { WorkerMetrics } from './cluster/cluster-metrics';
import { resolveAdminToken } from './config/admin-token';
import type { HostConfig } from './config/load-config';
import { messageOf } from './errors';
import { openOperatorTransport, type OperatorTransport } from './fleet/operator-transport';
import { bodyBudgetPerProcess } from './http/body-budget';
import { configureExecution } from './execution/configure-execution';
import { checkPortsFree, listenError, type ListenerName } from './http/check-ports-free';
import { createHttpServer } from './http/create-http-server';
import { createOperatorApp } from './http/operator-app';
import { ModuleDispatcher } from './http/module-dispatcher';
import { listenerUrl } from './http/listener-url';
import { createPublicApp } from './http/public-app';
import { bootModules, type ModuleOutcome } from './loader/boot-modules';
import { openEventBus } from './events/open-event-bus';
import type { EventBus } from './loader/event-bus';
import type { GenerationSettings } from './loader/load-generation';
import { openModuleStore } from './store/open-module-store';
import { cleanupQuietly } from './loader/load-module';
import { createLogger, lineWriter, type Logger } from './logger';
import { createAccessLog } from './logging/access-log';
import { ModuleOperator } from './operations/module-operator';
import { openRegistry } from './registry/open-registry';
import type { PluginRepository } from './registry/plugin-repository';
import { HealthReporter } from './runtime/module-health';
import { ModuleTable } from './runtime/module-slot';
import { readTrustPolicy, type TrustPolicy } from './packaging/trust-policy';

export interface StartHostOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly logger?: Logger;
  /**
   * Reads the current configuration again (the same file and overrides): the trust policy is taken from
   * it at every check, so a key added while the host runs counts at the next reload. Defaults to the
   * configuration the host started with.
   */
  readonly rereadConfig?: () => HostConfig;
  /** Where the one-time notice of a newly created admin token goes; stderr by default (not the log). */
  readonly announce?: (text: string) => void;
  /** Modules whose recorded database the operator lets go for this boot (`erpmod serve --accept-new-data`). */
  readonly acceptNewData?: ReadonlySet<string>;
}

export interface RunningHost {
  /** The public listener: module routes, /healthz, /readyz. */
  readonly server: http.Server;
  readonly port: number;
  readonly url: string;
  /** The admin listener: operator routes, behind the admin token. */
  readonly adminServer: http.Server;
  readonly adminPort: number;
  readonly adminUrl: string;
  /** The admin token file, or undefined when admin_token is configured. */
  readonly adminTokenFile: string | undefined;
  readonly outcomes: readonly ModuleOutcome[];
  readonly registry: PluginRepository;
  readonly table: ModuleTable;
  /** Graceful stop: refuse new work, finish what is in flight (bounded), clean modules up in reverse order. */
  close(): Promise<void>;
}

/** host.md "Boot", steps 1–8, as one sequence. Throws (after undoing what it did) when boot cannot finish. */
export async function startHost(config: HostConfig, options: StartHostOptions = {}): Promise<RunningHost> {
  const started = performance.now();
  const logger = options.logger ?? createLogger(config.logLevel);
  configureExecution(config);
  const env = options.env ?? process.env;
  // A taken port is found before any module boots (a cluster primary checked before forking).
  if (!cluster.isWorker) await checkPortsFree(config);
  const adminToken = resolveAdminToken(config.adminToken, config.dataDir);
  if (adminToken.created) {
    const announce = options.announce ?? ((text: string) => process.stderr.write(text));
    announce(`erpmod: created the admin token file ${adminToken.file} (mode 0600); operator routes need "Authorization: Bearer ${adminToken.token}"\n`);
  }
  const registry = await openRegistry(config, logger);
  const table = new ModuleTable();
  let bus: EventBus;
  try {
    bus = await openEventBus(config, logger, registry);
  } catch (error) {
    await registry.close();
    throw error;
  }
  const store = openModuleStore(config, logger);
  /** What a failed start and a shutdown both give back, in the reverse of the order it was taken. */
  const releaseAll = async (): Promise<void> => {
    await bus.close();
    await unloadModules(table, logger);
    await store.close();
    await registry.close();
  };

  const generations: GenerationSettings = {
    store,
    isolationOverride: config.isolation,
    memoryMb: config.isolatedMemoryMb,
    sandbox: config.isolatedSandbox,
    sandboxReadPaths: config.isolatedSandboxRead,
    crashLimit: config.crashLimit,
    crashWindowMs: config.crashWindowMs,
    logLevel: config.logLevel,
    logLine: lineWriter(logger),
    onCrash: (code, record) => {
      registry.recordEvent(code, 'crashed', { ...record }).catch((error: unknown) => logger.error({ module: code, err: messageOf(error) }, `could not record the crash of ${code} in the registry`));
      logger.error({ module: code, signal: record.signal, exitCode: record.exitCode, hung: record.hung, restartInMs: record.restartInMs }, `isolated module ${code} crashed`);
    },
    onCircuitOpen: (code, reason) => {
      registry.batch((writes) => writes.setStatus(code, 'failed', reason)).catch((error: unknown) => logger.error({ module: code, err: messageOf(error) }, `could not record ${code} as failed in the registry`));
      logger.error({ module: code, reason }, `isolated module ${code}: ${reason}`);
    },
  };

  const rereadConfig = options.rereadConfig ?? (() => config);
  const trustPolicy = (): TrustPolicy => readTrustPolicy(rereadConfig);

  let outcomes: ModuleOutcome[];
  try {
    outcomes = await bootModules({ modulesDir: config.modulesDir, dataDir: config.dataDir, logger, registry, bus, table, env, generations, trustPolicy, acceptNewData: options.acceptNewData });
  } catch (error) {
    await releaseAll();
    throw error;
  }

  let ready = false;
  const accessLog = createAccessLog(logger, config.accessLogLevel);
  const dispatcher = new ModuleDispatcher({ table, logger, bodyLimitBytes: config.bodyLimitBytes, bodyBudgetBytes: bodyBudgetPerProcess(config), ...(accessLog === undefined ? {} : { accessLog: accessLog.log }) });
  dispatcher.rebuildRoutes();
  const operator = new ModuleOperator({
    table,
    bus,
    registry,
    dispatcher,
    dataDir: config.dataDir,
    logger,
    env,
    drainTimeoutMs: config.shutdownTimeoutMs,
    generations,
    trustPolicy,
    modulesDir: config.modulesDir,
  });
  const health = new HealthReporter(table, registry);
  // How an action reaches the other workers and instances: the transport decides (IPC, PostgreSQL, none).
  let transport: OperatorTransport;
  try {
    transport = await openOperatorTransport({ config, operator, registry, table, logger, trustPolicy });
  } catch (error) {
    await releaseAll();
    throw error;
  }
  const actions = transport.actions;
  // One metrics scrape covers every worker: a worker gathers the others' counts through the primary.
  const clusterMetrics = cluster.isWorker ? new WorkerMetrics(table, Date.now()) : undefined;
  const isReady = (): boolean => ready;
  // Which instance of a fleet answered a scrape: configured, or this machine and the public port once
  // bound. Only a fleet (or an operator who names the instance) gets the label: a lone host's series
  // stay exactly as they were.
  let instance = config.instanceName ?? os.hostname();
  const labelInstance = config.instanceName !== undefined || config.databaseUrl !== undefined;
  const adminApp = createOperatorApp({ instance: labelInstance ? () => instance : undefined, registry, table, logger, operator: actions, health, adminToken: adminToken.token, listenHost: config.adminHost, isReady,
    modulesDir: config.modulesDir, dataDir: config.dataDir, trustPolicy, ...(clusterMetrics === undefined ? {} : { metrics: () => clusterMetrics.gather() }) });
  const admin = createHttpServer(undefined, adminApp, config);
  let publicServer: ReturnType<typeof createHttpServer> | undefined;
  let adminPort: number;
  let adminUrl: string;
  let port: number;
  try {
    // The admin listener first: the public one's answer on operator paths names its port. The order is
    // the same in every cluster worker, which is what lets them share both (ephemeral) ports.
    adminPort = await listen(admin.server, 'admin', config.adminPort, config.adminHost);
    adminUrl = listenerUrl(config.adminHost, adminPort);
    const publicApp = createPublicApp({ logger, isReady, adminAddress: adminUrl, adminTokenFile: adminToken.file });
    publicServer = createHttpServer(dispatcher, publicApp, config);
    port = await listen(publicServer.server, 'public', config.port, config.host);
    if (config.instanceName === undefined) instance = `${os.hostname()}:${port}`;
  } catch (error) {
    admin.server.close();
    await transport.close();
    await releaseAll();
    throw error;
  }
  const { server, drainAndClose } = publicServer;
  ready = true;
  const active = outcomes.filter((outcome) => outcome.status === 'active').length;
  logger.info(
    { port, adminPort, adminHost: config.adminHost, adminTokenFile: adminToken.file, modules: outcomes.length, active, notActive: outcomes.length - active, bootMs: Math.round(performance.now() - started) },
    `erpmod listening on port ${port}, operator routes on ${adminUrl}: ${active} of ${outcomes.length} modules active`,
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      logger.info({ inFlight: dispatcher.requestsInFlight }, 'shutting down: draining in-flight requests');
      const [drained] = await Promise.all([drainAndClose(config.shutdownTimeoutMs), admin.drainAndClose(config.shutdownTimeoutMs)]);
      if (!drained) logger.warn(`requests still in flight after ${config.shutdownTimeoutMs} ms; their connections were closed`);
      await transport.close();
      await releaseAll();
      accessLog?.close();
      logger.info('shutdown complete');
    })();
    return closing;
  };

  return { server, port, url: `http://127.0.0.1:${port}`, adminServer: admin.server, adminPort, adminUrl, adminTokenFile: adminToken.file, outcomes, registry, table, close };
}

function listen(server: http.Server, name: ListenerName, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const refuse = (error: Error): void => reject(listenError(error, name, host, port));
    server.once('error', refuse);
    server.listen(port, host, () => {
      server.off('error', refuse);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** cleanup() every loaded module in reverse load order; one module's failure does not stop the others. */
async function unloadModules(table: ModuleTable, logger: Logger): Promise<void> {
  for (const generation of table.generations().reverse()) {
    const code = generation.loaded.manifest.code;
    await cleanupQuietly(generation.handler, logger.child({ module: code }));
    try {
      generation.closeDatabase();
    } catch (error) {
      logger.error({ module: code, err: messageOf(error) }, 'closing module database failed');
    }
    logger.info({ module: code }, `module ${code} unloaded`);
  }
}
