import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { rawExchange } from './support/raw-exchange';
import { memoryOf, uploadFlood } from './support/upload-flood';
import { eventually } from './support/eventually';

const LIMIT = 256 * 1024;
/** Room for exactly four bodies at the limit. */
const BUDGET = 4 * LIMIT;

/** A raw upload that declares `length` bytes (or chunked) and sends `first` of them, then waits. */
interface Upload {
  readonly socket: net.Socket;
  /** The reply's head (and whatever came with it), or '' when the host closed without one. */
  readonly reply: Promise<string>;
  readonly answered: () => boolean;
  send(bytes: number): void;
}

function startUpload(port: number, length: number | 'chunked', first: number): Upload {
  const head = length === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`;
  const socket = net.connect(port, '127.0.0.1');
  const send = (bytes: number): void => {
    if (bytes === 0) return;
    socket.write(length === 'chunked' ? `${bytes.toString(16)}\r\n${'b'.repeat(bytes)}\r\n` : 'b'.repeat(bytes));
  };
  socket.write(`POST /api/v1/edge/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n${head}\r\n\r\n`);
  send(first);
  let text = '';
  socket.on('data', (chunk) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => undefined);
  let answered = false;
  const reply = new Promise<string>((resolve) => {
    const settle = (): void => {
      answered = true;
      resolve(text);
    };
    socket.on('data', () => {
      if (text.includes('\r\n\r\n')) settle();
    });
    socket.once('close', settle);
  });
  return { socket, reply, send, answered: () => answered };
}

describe('the request edge: body memory budget, HEAD, client aborts', () => {
  let host: HostProcess;
  let api: string;
  before(async () => {
    host = await startHostProcess({
      modulesDir: makeModulesDir(['edge-cases', 'good-alpha']),
      env: { ERPMOD_BODY_LIMIT_BYTES: String(LIMIT), ERPMOD_BODY_BUDGET_BYTES: String(BUDGET) },
    });
    api = `${host.url}/api/v1`;
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  it('refuses bodies past the budget with 503 ERPMOD_BUSY and Retry-After, keeps serving, and takes uploads again once they end', async () => {
    const uploads = Array.from({ length: 12 }, () => startUpload(host.port, LIMIT, 1000));
    await eventually('eight uploads are answered', async () => uploads.filter((u) => u.answered()).length >= 8, 8000, 100);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = uploads.filter((u) => u.answered());
    const held = uploads.filter((u) => !u.answered());
    assert.equal(refused.length, 8, 'four uploads at the limit fill the budget; the other eight are refused at once');
    for (const upload of refused) {
      const text = await upload.reply;
      assert.match(text, /^HTTP\/1\.1 503 /);
      assert.match(text, /^retry-after: 1\r$/im);
      assert.match(text, /^connection: close\r$/im);
      assert.match(text, /"code":"ERPMOD_BUSY"/);
      assert.match(text, /expected room for 262144 more bytes of request bodies, found 0 of 1048576 free \(body_budget_bytes\)/);
    }
    const tiny = await call(`${api}/edge/echo`, 'POST', '"hi"');
    assert.equal(tiny.status, 503, 'even a tiny body waits while the budget is full');
    assert.equal(tiny.headers.get('retry-after'), '1');
    assert.equal((await call(`${api}/edge/ping`)).status, 200, 'requests without a body are served meanwhile');

    // Finish two of the four held uploads, abandon the other two mid-body.
    held[0]!.send(LIMIT - 1000);
    held[1]!.send(LIMIT - 1000);
    assert.match(await held[0]!.reply, /^HTTP\/1\.1 200 /);
    assert.match(await held[1]!.reply, /^HTTP\/1\.1 200 /);
    held[2]!.socket.destroy();
    held[3]!.socket.destroy();
    await eventually('a tiny body is accepted again', async () => (await call(`${api}/edge/echo`, 'POST', '"hi"')).status === 200, 8000, 100);
  });

  it('gives back every reservation of uploads abandoned mid-body, by Content-Length and chunked', async () => {
    for (let round = 0; round < 5; round++) {
      const abandoned = [
        startUpload(host.port, LIMIT, 5000),
        startUpload(host.port, LIMIT, 5000),
        startUpload(host.port, 'chunked', 40_000),
        startUpload(host.port, 'chunked', 100_000),
      ];
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const upload of abandoned) upload.socket.destroy();
    }
    // Four bodies at the limit fit only when nothing is left reserved: one leaked byte makes one 503.
    await eventually('four uploads at the limit all succeed together', async () => {
      const full = Array.from({ length: 4 }, () => startUpload(host.port, LIMIT, LIMIT));
      const replies = await Promise.all(full.map((u) => u.reply));
      full.forEach((u) => u.socket.destroy());
      return replies.every((text) => /^HTTP\/1\.1 200 /.test(text));
    }, 8000, 100);
  });

  it('serves HEAD on GET routes: the GET status and headers, content-length included, and no body', async () => {
    const get = await rawExchange(host.port, 'GET /api/v1/edge/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const head = await rawExchange(host.port, 'HEAD /api/v1/edge/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [getHead, getBody] = get.reply.split('\r\n\r\n');
    const [headHead, headBody] = head.reply.split('\r\n\r\n');
    assert.match(headHead!, /^HTTP\/1\.1 200 /);
    assert.equal(headBody, '', 'no body after the headers');
    const header = (text: string, name: string): string | undefined => new RegExp(`^${name}: (.*)\r?$`, 'im').exec(text)?.[1];
    assert.equal(header(headHead!, 'content-length'), String(Buffer.byteLength(getBody!)));
    for (const name of ['content-length', 'content-type', 'x-erpmod-module']) assert.equal(header(headHead!, name), header(getHead!, name), name);
    assert.equal((await call(`${api}/edge/items/sku-1`, 'HEAD')).status, 200, 'routes with parameters too');
    const postOnly = await call(`${api}/edge/echo`, 'HEAD');
    assert.equal(postOnly.status, 405, 'a POST-only route has no HEAD');
    assert.equal(postOnly.headers.get('allow'), 'POST, PUT');
    assert.equal((await call(`${api}/edge/nowhere`, 'HEAD')).status, 404);
  });

  it('counts clients that leave mid-body or mid-response as aborted, not as errors, and logs no handler failure', async () => {
    const metrics = async (): Promise<{ requests: number; errors: number; aborted: number }> => (await host.admin('/api/v1/system/metrics')).json.modules.alpha;
    const start = await metrics();
    // Mid-response: the module works for 800 ms on its thread pool; the client leaves after 150 ms.
    const slow = net.connect(host.port, '127.0.0.1', () => slow.write('GET /api/v1/alpha/slow?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n'));
    slow.on('error', () => undefined);
    // Mid-body: 10 of 1000 declared bytes, then the client leaves.
    const body = net.connect(host.port, '127.0.0.1', () => body.write('POST /api/v1/alpha/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"lines":['));
    body.on('error', () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 150));
    slow.destroy();
    body.destroy();
    await eventually('both aborts are counted', async () => (await metrics()).aborted === start.aborted + 2, 8000, 100);
    await new Promise((resolve) => setTimeout(resolve, 1000)); // past the slow handler's end
    const end = await metrics();
    assert.equal(end.aborted, start.aborted + 2);
    assert.equal(end.errors, start.errors, 'an abort is not a 5xx');
    assert.equal(end.requests, start.requests, 'an aborted request was not answered');
    assert.match((await host.admin('/metrics')).text, new RegExp(`^erpmod_requests_aborted_total\\{module="alpha"\\} ${end.aborted}$`, 'm'));
    const alphaLogs = host.logs.filter((entry) => entry.module === 'alpha');
    assert.deepEqual(alphaLogs.filter((entry) => entry.msg === 'module handler threw' || entry.msg === 'module request failed'), []);
    assert.equal(alphaLogs.filter((entry) => entry.msg === 'client closed the connection before the reply').length, 2);
    assert.equal((await call(`${api}/alpha/ping`)).status, 200);
  });
});

describe('the request edge under a flood of large uploads', { skip: !fs.existsSync('/proc/self/status') && 'needs /proc' }, () => {
  let host: HostProcess;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['edge-cases']), env: { ERPMOD_LOG_LEVEL: 'info' } });
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  it('holds 1,500 concurrent uploads of 1 MiB - 1 byte to the default 64 MiB budget: bounded peak memory, 503s, then serves again', async () => {
    const before = memoryOf(host.child.pid!);
    const { statuses, ms } = await uploadFlood(host.port, '/api/v1/edge/echo', 1500, 1024 * 1024 - 1);
    const afterFlood = memoryOf(host.child.pid!);
    const report = JSON.stringify({ before, afterFlood, statuses, ms });
    assert.ok((statuses['503'] ?? 0) > 0, `some uploads are refused: ${report}`);
    assert.ok((statuses['200'] ?? 0) >= 64, `at least one budget's worth is served: ${report}`);
    // Without the budget this peaked at 900 MB to 1.6 GB; bodies are bounded at 64 MiB now.
    assert.ok(afterFlood.peakMb - before.rssMb < 300, `peak growth under 300 MB: ${report}`);
    const after = await call(`${host.url}/api/v1/edge/echo`, 'POST', JSON.stringify({ blob: 'x'.repeat(1000) }));
    assert.equal(after.status, 200, report);
  });
});
