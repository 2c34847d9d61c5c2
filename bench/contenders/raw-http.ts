/**
 * Contender 1, the ceiling: a bare node:http listener that matches the URLs by string and calls the
 * native functions directly. No router, no validation, no request ids, no metrics. The light route is
 * the leanest answer a hand-written server could give: compare the URL, call the function with
 * `{method, route, path, params: {}, query: {}, headers}`, JSON.stringify the body, write it with
 * content-type and content-length.
 */
import http from 'node:http';
import path from 'node:path';
import { openNativeRoutes, replyPayload, type ModuleRequest, type ModuleResponse } from '../lib/native-routes';
import { startServerProcess } from '../lib/server-process';
import { CREATE_ITEM_PATH, PING_PATH, SUMMARY_PATH, type Contender } from './contender';

export const rawHttp: Contender = {
  id: 'raw',
  label: 'raw node:http + native',
  start: ({ dataDir, port, nodeFlags, pingModuleDir }) =>
    startServerProcess({
      label: 'raw node:http',
      args: [path.join(__dirname, 'raw-http.js')],
      env: { ...process.env, BENCH_PORT: String(port), BENCH_DATA_DIR: dataDir, BENCH_PING_MODULE: pingModuleDir },
      port,
      readyPath: '/ready',
      ...(nodeFlags === undefined ? {} : { nodeFlags }),
    }),
};

function serve(): void {
  const routes = openNativeRoutes(process.env.BENCH_DATA_DIR!, process.env.BENCH_PING_MODULE);
  const ping = routes.ping;
  let counter = 0;
  const call = (req: http.IncomingMessage, route: string, body: unknown, rawBody: Buffer | undefined, fn: (r: ModuleRequest) => unknown): ModuleResponse =>
    fn({
      method: req.method!,
      route,
      path: req.url!,
      params: {},
      query: {},
      headers: req.headers as Record<string, string>,
      body,
      rawBody,
      requestId: `raw-${++counter}`,
    }) as ModuleResponse;

  const server = http.createServer((req, res) => {
    if (req.url === PING_PATH && ping !== undefined) {
      const reply = (ping as (request: object) => unknown)({ method: req.method, route: '/ping', path: req.url, params: {}, query: {}, headers: req.headers }) as ModuleResponse;
      // The fixture answers a JSON string (stringified already); an object would be stringified here.
      const payload = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
      return;
    }
    if (req.method === 'GET' && req.url === SUMMARY_PATH) return send(res, call(req, '/summary', undefined, undefined, routes.salesSummary));
    if (req.method === 'POST' && req.url === CREATE_ITEM_PATH) {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        send(res, call(req, '/items', JSON.parse(raw.toString('utf8')), raw, routes.inventoryCreateItem));
      });
      return;
    }
    if (req.url === '/ready') return res.end('ok');
    res.statusCode = 404;
    res.end();
  });
  server.listen(Number(process.env.BENCH_PORT), '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => (routes.close(), process.exit(0))));
}

function send(res: http.ServerResponse, reply: ModuleResponse): void {
  const { payload, contentType } = replyPayload(reply);
  const headers: Record<string, string | number> = { ...(contentType === '' ? {} : { 'content-type': contentType }), ...(reply.headers ?? {}) };
  headers['content-length'] = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  res.writeHead(reply.status ?? 200, headers);
  res.end(payload);
}

if (require.main === module) serve();
