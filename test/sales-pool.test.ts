import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

describe('sales on the execution pool: a quote through ctx.http and an export', () => {
  let host: HostProcess;
  let rates: http.Server;
  let mode: 'ok' | 'slow' | 'broken' = 'ok';
  let api = '';

  before(async () => {
    rates = http.createServer((req, res) => {
      if (mode === 'slow') return; // never answers
      if (mode === 'broken') return res.writeHead(500).end('upstream trouble');
      const url = new URL(req.url!, 'http://rates');
      const rate = url.searchParams.get('from') === 'EUR' && url.searchParams.get('to') === 'USD' ? 1.1 : 2;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rate }));
    });
    await new Promise<void>((resolve) => rates.listen(0, '127.0.0.1', resolve));
    const port = (rates.address() as AddressInfo).port;
    const modulesDir = makeModulesDir(['example:inventory', 'example:sales']);
    const manifest = path.join(modulesDir, 'sales', 'module.yml');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('allow: ["rates.example.com:443"]', `allow: ["127.0.0.1:${port}"]`));
    host = await startHostProcess({
      modulesDir,
      env: { ERPMOD_SALES_RATES_URL: `http://127.0.0.1:${port}/v1/rates`, ERPMOD_SALES_RATES_TIMEOUT_MS: '400' },
    });
    api = `${host.url}/api/v1`;
    assert.equal((await call(`${api}/inventory/items`, 'POST', { sku: 'W-1', name: 'Widget', stock: 100 })).status, 201);
    for (const customer of ['ACME', 'Beta, Inc.']) {
      const order = await call(`${api}/sales/orders`, 'POST', { customer, lines: [{ sku: 'W-1', quantity: 3, unit_price: 1250 }, { sku: 'W-1', quantity: 1, unit_price: 500 }] });
      assert.equal(order.status, 201);
    }
  });
  after(async () => {
    await host?.stop();
    rates?.close();
  });

  it('quotes an order in another currency at the rate the service gives', async () => {
    mode = 'ok';
    const quote = await call(`${api}/sales/orders/1/quote?currency=USD`);
    assert.equal(quote.status, 200);
    // 3 x 12.50 + 5.00 = 42.50; tax 20 % = 8.50; total 51.00 EUR → x 1.1
    assert.deepEqual(quote.json, { order_id: 1, from: 'EUR', currency: 'USD', rate: 1.1, subtotal: 4675, discount: 0, tax: 935, total: 5610 });
    assert.equal((await call(`${api}/sales/orders/1/quote?currency=EUR`)).json.rate, 1, 'same currency: no call');
    assert.equal((await call(`${api}/sales/orders/1/quote?currency=usd`)).status, 400);
    assert.equal((await call(`${api}/sales/orders/99/quote?currency=USD`)).status, 404);
  });

  it('answers a clear 503 within rates_timeout_ms when the service is slow, and 502 when it answers nonsense', async () => {
    mode = 'slow';
    const started = performance.now();
    const slow = await call(`${api}/sales/orders/1/quote?currency=USD`);
    const ms = performance.now() - started;
    assert.equal(slow.status, 503);
    assert.equal(slow.json.error.code, 'SALES_RATES_UNAVAILABLE');
    assert.match(slow.json.error.message, /ERPMOD_HTTP_TIMEOUT/);
    assert.equal(slow.headers.get('retry-after'), '5');
    assert.ok(ms < 1500, `answered after ${Math.round(ms)} ms (rates_timeout_ms 400, request_ms 2000)`);
    mode = 'broken';
    const broken = await call(`${api}/sales/orders/1/quote?currency=USD`);
    assert.equal(broken.status, 502);
    assert.equal(broken.json.error.code, 'SALES_RATES_INVALID');
  });

  it('answers 503 when the service is down', async () => {
    await new Promise((resolve) => rates.close(resolve));
    const down = await call(`${api}/sales/orders/2/quote?currency=USD`);
    assert.equal(down.status, 503);
    assert.match(down.json.error.message, /ERPMOD_HTTP_UNREACHABLE/);
  });

  it('exports every order line as CSV with per-customer totals', async () => {
    const csv = await call(`${api}/sales/export`);
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.equal(csv.headers.get('x-export-lines'), '4');
    assert.match(csv.headers.get('x-export-digest') ?? '', /^[0-9a-f]{16}$/);
    const [lines, totals] = csv.text.split('\n\n');
    assert.equal(lines!.split('\n').length, 5);
    assert.match(lines!, /^2,"Beta, Inc.",confirmed,EUR,1,W-1,3,1250,3750$/m);
    assert.equal(totals, 'customer,total\nACME,4250\n"Beta, Inc.",4250\n');
  });
});
