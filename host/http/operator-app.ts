import express, { type NextFunction, type Request, type Response } from 'express';
import { ErpmodError, messageOf } from '../errors';
import type { Logger } from '../logger';
import type { OperatorActions } from '../cluster/fan-out-operator';
import type { PluginRepository } from '../registry/plugin-repository';
import type { HealthReporter } from '../runtime/module-health';
import type { ModuleTable } from '../runtime/module-slot';
import { createAdminGuard } from './admin-guard';
import { renderPrometheus } from './prometheus-text';
import { requestIdOf } from './request-id';
import { sendError } from './send-error';

export interface OperatorAppOptions {
  readonly registry: PluginRepository;
  readonly table: ModuleTable;
  readonly logger: Logger;
  readonly operator: OperatorActions;
  readonly health: HealthReporter;
  readonly adminToken: string | undefined;
  /** True once boot finished; /readyz answers 503 before. */
  readonly isReady: () => boolean;
}

/**
 * Everything that is not a module route: the operator API and the system routes. Deployments may mount
 * their own Express middleware and routers on the returned app; module routes never pass through it.
 */
export function createOperatorApp(options: OperatorAppOptions): express.Express {
  const { registry, table, operator } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  const started = Date.now();

  const guard = createAdminGuard(options.adminToken);
  app.post('/plugins/*path', guard);
  app.use('/api/v1/system', guard);
  app.use('/metrics', guard);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = options.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'starting' });
  });

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
  app.get('/api/v1/system/metrics', (_req, res) => {
    const modules: Record<string, unknown> = {};
    let requests = 0;
    let errors = 0;
    let inFlight = 0;
    for (const [code, slot] of table.slots) {
      const snapshot = slot.metrics.snapshot();
      modules[code] = snapshot;
      requests += snapshot.requests;
      errors += snapshot.errors;
      inFlight += snapshot.inFlight;
    }
    const memory = process.memoryUsage();
    res.json({
      host: { requests, errors, inFlight, uptimeSeconds: Math.round((Date.now() - started) / 1000), rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      modules,
    });
  });
  app.get('/metrics', (_req, res) => {
    res.type('text/plain; version=0.0.4; charset=utf-8').send(renderPrometheus(table));
  });

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ErpmodError('ERPMOD_NOT_FOUND', `no route ${req.method} ${req.path}`));
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = requestIdOf(req);
    if (error instanceof ErpmodError) return sendError(res, error.code, error.message, requestId);
    const status = (error as { status?: unknown }).status;
    // express's own parsers report client mistakes with a 4xx status; keep them client errors.
    if (typeof status === 'number' && status === 413) return sendError(res, 'ERPMOD_BODY_TOO_LARGE', messageOf(error), requestId);
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(res, 'ERPMOD_BAD_JSON', messageOf(error), requestId);
    options.logger.error({ requestId, err: messageOf(error) }, 'operator route failed');
    sendError(res, 'ERPMOD_INTERNAL', `internal error; the log has the details under request id ${requestId}`, requestId);
  });
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
  };
}
