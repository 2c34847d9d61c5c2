import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

/** One GET on a connection of its own, so the cluster can hand each request to either worker. */
function getOnNewConnection(url: string): Promise<{ status: number; requestId: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, requestId: String(res.headers['x-request-id']) }));
      })
      .on('error', reject);
  });
}

describe('metrics of a two-worker cluster', () => {
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_WORKERS: '2', ERPMOD_LOG_LEVEL: 'info' }, timeoutMs: 60_000 });
    const deadline = Date.now() + 60_000;
    while (!host.logs.some((entry) => entry.msg === 'erpmod primary: 2 workers listening')) {
      if (Date.now() > deadline) assert.fail('the cluster did not report two workers listening');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    await host.stop();
  });

  it('answers every scrape, on either endpoint, with the requests of both workers', async () => {
    const sent = 60;
    const processes = new Set<string>();
    for (let i = 0; i < sent; i++) {
      const reply = await getOnNewConnection(`${host.url}/api/v1/alpha/ping`);
      assert.equal(reply.status, 200);
      // A generated request id starts with its process's random prefix.
      processes.add(reply.requestId.split('-')[0]!);
    }
    for (let i = 0; i < 2; i++) assert.equal((await getOnNewConnection(`${host.url}/api/v1/alpha/nowhere`)).status, 404);
    assert.equal(processes.size, 2, 'the requests were spread over both workers');

    // Scrapes land on either worker (each on its own connection): every one must count all requests.
    const pids = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const json = (await host.admin('/api/v1/system/metrics', 'GET', undefined, { connection: 'close' })).json;
      assert.equal(json.modules.alpha.requests, sent + 2);
      assert.equal(json.modules.alpha.clientErrors, 2);
      assert.equal(json.host.requests, sent + 2);
      assert.equal(json.host.workers, 2);
      assert.equal(json.workers.length, 2);
      assert.equal(json.workers.reduce((total: number, worker: { requests: number }) => total + worker.requests, 0), sent + 2);
      assert.ok(json.workers.every((worker: { requests: number }) => worker.requests > 0), JSON.stringify(json.workers));
      for (const worker of json.workers) pids.add(worker.pid);

      const text = (await host.admin('/metrics', 'GET', undefined, { connection: 'close' })).text;
      assert.match(text, new RegExp(`^erpmod_requests_total\\{module="alpha"\\} ${sent + 2}$`, 'm'));
      assert.match(text, new RegExp(`^erpmod_request_duration_seconds_count\\{module="alpha"\\} ${sent + 2}$`, 'm'));
      assert.match(text, new RegExp(`^erpmod_request_duration_seconds_bucket\\{module="alpha",le="\\+Inf"\\} ${sent + 2}$`, 'm'));
      assert.match(text, /^erpmod_workers 2$/m);
      assert.match(text, /^erpmod_module_up\{module="alpha"\} 1$/m);
    }
    assert.equal(pids.size, 2);
  });
});
