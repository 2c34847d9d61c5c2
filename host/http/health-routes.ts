import type express from 'express';

/** `/healthz` and `/readyz`: public on every listener, for load balancers and service managers. */
export function mountHealthRoutes(app: express.Express, isReady: () => boolean): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'starting' });
  });
}
