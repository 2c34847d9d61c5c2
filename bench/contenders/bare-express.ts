/**
 * Contender 2: what a team would write without erpmod — an Express 5 app with one route per module
 * function, express.json() for bodies, defaults left on (ETag, x-powered-by), calling the same native
 * functions directly.
 */
import path from 'node:path';
import express from 'express';
import { openNativeRoutes, type ModuleRequest, type ModuleResponse } from '../lib/native-routes';
import { startServerProcess } from '../lib/server-process';
import { CREATE_ITEM_PATH, PING_PATH, SUMMARY_PATH, type Contender } from './contender';

export const bareExpress: Contender = {
  id: 'express',
  label: 'bare Express 5 + native',
  start: ({ dataDir, port, nodeFlags, pingModuleDir }) =>
    startServerProcess({
      label: 'bare Express 5',
      args: [path.join(__dirname, 'bare-express.js')],
      env: { ...process.env, BENCH_PORT: String(port), BENCH_DATA_DIR: dataDir, BENCH_PING_MODULE: pingModuleDir },
      port,
      readyPath: '/ready',
      ...(nodeFlags === undefined ? {} : { nodeFlags }),
    }),
};

function serve(): void {
  const routes = openNativeRoutes(process.env.BENCH_DATA_DIR!, process.env.BENCH_PING_MODULE);
  let counter = 0;
  const handle =
    (route: string, fn: (r: ModuleRequest) => unknown): express.RequestHandler =>
    (req, res) => {
      const reply = fn({
        method: req.method,
        route,
        path: req.path,
        params: req.params as Record<string, string>,
        query: {},
        headers: req.headers as Record<string, string>,
        body: req.body,
        rawBody: undefined,
        requestId: `express-${++counter}`,
      }) as ModuleResponse;
      if (reply.headers !== undefined) res.set(reply.headers);
      res.status(reply.status ?? 200).send(reply.body);
    };

  const app = express();
  app.get('/ready', (_req, res) => {
    res.send('ok');
  });
  app.get(SUMMARY_PATH, handle('/summary', routes.salesSummary));
  if (routes.ping !== undefined) app.get(PING_PATH, handle('/ping', routes.ping));
  app.post(CREATE_ITEM_PATH, express.json(), handle('/items', routes.inventoryCreateItem));
  const server = app.listen(Number(process.env.BENCH_PORT), '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => (routes.close(), process.exit(0))));
}

if (require.main === module) serve();
