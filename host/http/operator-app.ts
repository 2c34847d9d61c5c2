import express from 'express';
import { mountConsole } from '../console/mount-console';
import { ErpmodError } from '../errors';
import type { Logger } from '../logger';
import type { OperatorActions } from '../cluster/fan-out-operator';
import type { PluginRepository } from '../registry/plugin-repository';
import type { HealthReporter } from '../runtime/module-health';
import type { ModuleTable } from '../runtime/module-slot';
import type { TrustPolicy } from '../packaging/trust-policy';
import { createAdminGuard } from './admin-guard';
import { finishWithErrors } from './app-error-handler';
import { refuseNonJson } from './content-type-guard';
import { mountHealthRoutes } from './health-routes';
import { createHostHeaderGuard } from './host-header-guard';
import { refuseForeignOrigin } from './origin-guard';
import { renderMetricsJson } from './metrics-json';
import { labelSamples } from './label-samples';
import { renderPrometheus } from './prometheus-text';
import { collectProcessMetrics, mergeModules, type ProcessMetrics } from '../runtime/process-metrics';

export interface OperatorAppOptions {
  readonly registry: PluginRepository;
  readonly table: ModuleTable;
  readonly logger: Logger;
  readonly operator: OperatorActions;
  readonly health: HealthReporter;
  /** The token every operator route requires (configured, or the data directory's admin-token file). */
  readonly adminToken: string;
  /** The address the admin listener is bound to: on loopback, Host headers are checked too. */
  readonly listenHost: string;
  /** True once boot finished; /readyz answers 503 before. */
  readonly isReady: () => boolean;
  /** Where the console installs uploaded packs, keeps uploads, and what it judges signatures by. */
  readonly modulesDir: string;
  readonly dataDir: string;
  readonly trustPolicy: () => TrustPolicy;
  /**
   * The counts of every process serving requests, for one scrape to cover the whole host: a cluster
   * worker asks the other workers through the primary. Defaults to this process alone.
   */
  readonly metrics?: () => Promise<readonly ProcessMetrics[]>;
  /** The `instance` label on every Prometheus series: which instance of a fleet this host is. */
  readonly instance?: () => string;
}

/**
 * The admin listener's app: the operator API and the system routes, behind the guards (Host under
 * loopback trust, token, Origin, content type), plus the public health routes.
 */
export function createOperatorApp(options: OperatorAppOptions): express.Express {
  const { registry, table, operator } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const started = Date.now();

  mountHealthRoutes(app, options.isReady);
  const hostGuard = createHostHeaderGuard(options.listenHost);
  if (hostGuard !== undefined) app.use(hostGuard);
  const acceptConsoleSession = mountConsole(app, options);
  app.use(createAdminGuard(options.adminToken, acceptConsoleSession));
  app.use(refuseForeignOrigin);
  app.use(refuseNonJson);

  app.get('/plugins', (_req, res) => {
    res.json(registry.list().map((record) => ({ ...record, runtime: runtimeOf(table, record.code) })));
  });
  app.get('/plugins/:code', (req, res) => {
    const code = String(req.params.code);
    const record = registry.find(code);
    if (record === undefined) {
      throw new ErpmodError('ERPMOD_NOT_FOUND', `no module with code "${code}"; GET /plugins lists the known ones`);
    }
    res.json({ ...record, runtime: runtimeOf(table, code), events: registry.events(code) });
  });

  app.post('/plugins/:code/reload', async (req, res) => {
    res.json(await operator.reload(String(req.params.code)));
  });
  app.post('/plugins/:code/toggle', async (req, res) => {
    res.json(await operator.toggle(String(req.params.code)));
  });
  app.post('/plugins/:code/enable', async (req, res) => {
    res.json(await operator.enable(String(req.params.code)));
  });
  app.post('/plugins/:code/disable', async (req, res) => {
    res.json(await operator.disable(String(req.params.code)));
  });

  app.get('/api/v1/system/modules', async (_req, res) => {
    const report = await options.health.report();
    res.status(report.status === 'unhealthy' ? 503 : 200).json(report);
  });
  const everyProcess = options.metrics ?? (() => Promise.resolve([collectProcessMetrics(table, started)]));
  app.get('/api/v1/system/metrics', async (_req, res) => {
    res.json(renderMetricsJson(await everyProcess()));
  });
  app.get('/metrics', async (_req, res) => {
    const processes = await everyProcess();
    const text = renderPrometheus(mergeModules(processes), processes.length);
    res.type('text/plain; version=0.0.4; charset=utf-8').send(options.instance === undefined ? text : labelSamples(text, 'instance', options.instance()));
  });

  finishWithErrors(app, options.logger);
  return app;
}

function runtimeOf(table: ModuleTable, code: string): Record<string, unknown> | null {
  const slot = table.slots.get(code);
  const generation = slot?.generation;
  if (slot === undefined || generation === undefined) return null;
  return {
    state: slot.state,
    generation: generation.number,
    version: generation.loaded.manifest.version,
    sha256: generation.sha256,
    shadowPath: generation.shadowPath,
    loadedAt: generation.loadedAt,
    loadMs: generation.loadMs,
    inFlight: generation.inFlight,
    residentImages: slot.residentImages.size,
    ...(generation.lane === undefined ? {} : { execution: generation.lane.stats() }),
  };
}
