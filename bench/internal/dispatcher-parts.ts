/**
 * Per-request cost of each step of the module hot path, in isolation (ns per call, in this process):
 * the request id, the router lookup with 1 and 500 modules × 4 routes, the metrics record, and
 * validating and writing a reply (into a response stub, so the socket write is not counted). A change to
 * host/http/ shows up here before it shows up in req/s.
 */
import type { ServerResponse } from 'node:http';
import type { IncomingMessage } from 'node:http';
import FindMyWay from 'find-my-way';
import { requestIdOf } from '../../host/http/request-id';
import { writeModuleReply } from '../../host/http/write-module-reply';
import { ModuleMetrics } from '../../host/runtime/module-metrics';
import { COPY_ROUTES, copyCode } from '../lib/module-copies';
import { median } from '../lib/stats';

export interface PartFigure {
  readonly step: string;
  readonly nsPerCall: number;
}

/** Median over 5 batches of the time per call of `fn`, after a warm-up batch. */
function nsPerCall(fn: () => void, calls: number): number {
  for (let i = 0; i < calls; i++) fn();
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    batches.push(Number(process.hrtime.bigint() - started) / calls);
  }
  return median(batches);
}

function router(modules: number): FindMyWay.Instance<FindMyWay.HTTPVersion.V1> {
  // The dispatcher's options (host/http/module-dispatcher.ts).
  const r = FindMyWay({ ignoreTrailingSlash: false, maxParamLength: 256 });
  for (let i = 1; i <= modules; i++) {
    for (const route of COPY_ROUTES) {
      const [method, routePath] = route.split(' ') as [FindMyWay.HTTPMethod, string];
      r.on(method, `/api/v1/${copyCode(i)}${routePath}`, () => {}, { code: copyCode(i) });
    }
  }
  return r;
}

export function measureDispatcherParts(calls: number): PartFigure[] {
  const req = { headers: { host: '127.0.0.1', 'user-agent': 'bench' } } as unknown as IncomingMessage;
  const given = { headers: { 'x-request-id': 'client-supplied-id-1234' } } as unknown as IncomingMessage;
  const one = router(1);
  const many = router(500);
  const metrics = new ModuleMetrics();
  let sink = 0;
  const res = {
    writeHead(status: number, headers: string[]) {
      sink += status + headers.length;
      return this;
    },
    end(payload: string) {
      sink += payload.length;
      return this;
    },
    setHeader() {},
  } as unknown as ServerResponse;
  const body = JSON.stringify({ by_status: { pending: { count: 0, total: 0 }, confirmed: { count: 0, total: 0 } }, count: 0, total: 0 });
  const stringReply = { status: 200, headers: { 'content-type': 'application/json' }, body };
  const objectReply = { status: 200, body: JSON.parse(body) as unknown };
  const figures: PartFigure[] = [
    { step: 'requestIdOf (generated id)', nsPerCall: nsPerCall(() => void (sink += requestIdOf(req).length), calls) },
    { step: 'requestIdOf (client x-request-id, regex check)', nsPerCall: nsPerCall(() => void (sink += requestIdOf(given).length), calls) },
    { step: 'find-my-way find, 1 module × 4 routes', nsPerCall: nsPerCall(() => void (sink += one.find('GET', '/api/v1/b0001/ping') === null ? 0 : 1), calls) },
    { step: 'find-my-way find, 500 modules × 4 routes', nsPerCall: nsPerCall(() => void (sink += many.find('GET', '/api/v1/b0250/ping') === null ? 0 : 1), calls) },
    { step: 'ModuleMetrics.record', nsPerCall: nsPerCall(() => metrics.record(200, 0.8), calls) },
    { step: 'performance.now() (twice per request)', nsPerCall: nsPerCall(() => void (sink += performance.now()), calls) },
    { step: 'writeModuleReply, string body + content-type header (to a stub)', nsPerCall: nsPerCall(() => void (sink += writeModuleReply(res, stringReply, 'abc-1', 'sales@1.4.0', false)), calls) },
    { step: 'writeModuleReply, object body (JSON.stringify) (to a stub)', nsPerCall: nsPerCall(() => void (sink += writeModuleReply(res, objectReply, 'abc-1', 'sales@1.4.0', false)), calls) },
  ];
  if (sink === -1) process.stdout.write('');
  return figures;
}
