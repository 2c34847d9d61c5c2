import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { createAccessLog, FLUSH_AFTER_MS, IDLE_FLUSH_MS, type AccessLog, type AccessLogWriter } from '../host/logging/access-log';
import { LineParts } from '../host/logging/access-line-parts';
import { createLogger } from '../host/logger';

/** An access log writing into an array of lines, and a way to wait for its batches. */
function accessLogInto(): { log: AccessLog; writer: AccessLogWriter; written: () => string[]; lines: () => Promise<string[]> } {
  let text = '';
  const logger = createLogger('info', { write: (chunk: string) => void (text += chunk) });
  const writer = createAccessLog(logger, 'info')!;
  return {
    log: writer.log,
    writer,
    written: () => text.split('\n').filter((line) => line !== ''),
    lines: async () => {
      await new Promise((resolve) => setTimeout(resolve, IDLE_FLUSH_MS + 100));
      return text.split('\n').filter((line) => line !== '');
    },
  };
}

const request = (method: string, url: string): IncomingMessage => ({ method, url }) as IncomingMessage;

/** The line JSON.stringify writes for the same request, with the time the line carries. */
function expected(line: string, method: string, url: string, status: number, ms: number, module: string, version: string | undefined, requestId: string): string {
  const path = url.split('?', 1)[0]!;
  const durationMs = Math.round(ms * 1000) / 1000;
  const time = (JSON.parse(line) as { time: string }).time;
  return JSON.stringify({
    level: 30,
    time,
    pid: process.pid,
    access: true,
    method,
    path,
    status,
    durationMs,
    module,
    ...(version === undefined ? {} : { version }),
    requestId,
    msg: `${method} ${path} ${status} ${durationMs} ms`,
  });
}

describe('access-log lines (written byte by byte, read as JSON.stringify would write them)', () => {
  it('escape every path as JSON.stringify does and write every duration as String() does, whatever the method and status of the line before', async () => {
    const paths = [
      '/api/v1/alpha/ping',
      '/api/v1/alpha/ping?secret=1&b=2',
      '/q"uote\\back/slash',
      '/ctl\x01\x1f\x7f',
      '/tab\tnl\ncr\rbs\bff\f',
      '/latin1-é-ÿ-\u0080',
      '/bmp-\u20ac-\u4e2d',
      '/pair-\ud83d\ude00',
      '/lone-\ud800-x-\udc00',
      '/end-lone-\ud83d',
      '/',
    ];
    const durations = [0, 0.0004, 0.0005, 0.001, 0.01, 0.1, 0.12, 1.05, 12.3456, 999.999, 1234.5, 86_400_000, 3e9];
    // Methods and statuses change from line to line and repeat in runs, as they do in a busy host.
    const cases: [string, string, number, number, string | undefined][] = [];
    paths.forEach((url, i) =>
      durations.forEach((ms, j) => cases.push([['GET', 'GET', 'POST', 'DELETE'][(i * 3 + j) % 4]!, url, [200, 200, 404, 503, 499][(i + j) % 5]!, ms, (i + j) % 3 === 0 ? undefined : '1.2.3'])),
    );
    const { log, lines } = accessLogInto();
    for (const [method, url, status, ms, version] of cases) log(request(method, url), status, ms, performance.now(), 'alpha', version, `req-${status}`);
    const written = await lines();
    assert.equal(written.length, cases.length);
    written.forEach((line, i) => {
      const [method, url, status, ms, version] = cases[i]!;
      assert.equal(line, expected(line, method, url, status, ms, 'alpha', version, `req-${status}`), `case ${i}: ${method} ${JSON.stringify(url)} ${ms}`);
    });
  });

  it('keeps every line, in order, across full batches and a line longer than a batch', async () => {
    const { log, lines } = accessLogInto();
    const long = `/long/${'x'.repeat(70_000)}`;
    const urls: string[] = [];
    for (let i = 0; i < 400; i++) urls.push(i === 200 ? long : `/api/v1/beta/items/${'é'.repeat(i % 50)}${i}`);
    urls.forEach((url, i) => log(request('POST', url), 201, i / 7, performance.now(), 'beta', '2.0.0', `id-${i}`));
    const written = await lines();
    assert.equal(written.length, urls.length);
    written.forEach((line, i) => assert.equal(line, expected(line, 'POST', urls[i]!, 201, i / 7, 'beta', '2.0.0', `id-${i}`), `line ${i}`));
  });

  it('writes each line with its own method, status and millisecond when they change from line to line', async () => {
    const { log, lines } = accessLogInto();
    const methods = ['GET', 'POST', 'DELETE', 'PATCH', 'HEAD'];
    const statuses = [200, 201, 404, 500, 503, 204];
    // Lines 5 ms apart: every line starts a millisecond of its own, and methods and statuses come back in turn.
    const base = performance.now() - 200;
    const ended = Array.from({ length: 30 }, (_, i) => base + i * 5);
    ended.forEach((at, i) => log(request(methods[i % methods.length]!, `/m/${i}`), statuses[i % statuses.length]!, 0.25, at, 'delta', '3.0.0', `mix-${i}`));
    const written = await lines();
    assert.equal(written.length, ended.length);
    written.forEach((line, i) => assert.equal(line, expected(line, methods[i % methods.length]!, `/m/${i}`, statuses[i % statuses.length]!, 0.25, 'delta', '3.0.0', `mix-${i}`), `line ${i}`));
    const times = written.map((line) => Date.parse((JSON.parse(line) as { time: string }).time));
    for (let i = 1; i < times.length; i++) {
      const step = times[i]! - times[i - 1]!;
      assert.ok(step >= 4 && step <= 6, `line ${i} ended 5 ms after line ${i - 1}, its time says ${step} ms`);
    }
  });

  it('writes the time of every millisecond as toISOString does, across seconds, back and forth, and past year 9999', () => {
    const parts = new LineParts(30);
    const second = Date.UTC(2026, 11, 3, 12, 59, 59);
    // Within one second (digits with leading zeros), into the next second and minute, back to an earlier one, another method.
    const moments: Array<[string, number]> = [
      ['GET', second], ['GET', second + 7], ['GET', second + 90], ['GET', second + 999], ['GET', second + 1000],
      ['GET', second + 1001], ['GET', second + 3], ['POST', second + 3], ['GET', second + 1450], ['GET', Date.UTC(10000, 0, 1) + 42], ['GET', 0],
    ];
    const into = Buffer.alloc(256);
    for (const [method, ms] of moments) {
      const end = parts.forMethod(method).writeHead(into, 5, ms);
      assert.equal(into.toString('latin1', 5, end), `{"level":30,"time":"${new Date(ms).toISOString()}","pid":${process.pid},"access":true,"method":"${method}","path":"`, `${method} at ${ms}`);
    }
  });

  it('names the new version after a module is reloaded to another one, at the time the request ended', async () => {
    const { log, lines } = accessLogInto();
    log(request('GET', '/a'), 200, 1, performance.now(), 'gamma', '1.0.0', 'r1');
    log(request('GET', '/a'), 200, 1, performance.now(), 'gamma', '1.1.0', 'r2');
    log(request('GET', '/a'), 200, 1, performance.now(), 'gamma', undefined, 'r3');
    const before = Date.now();
    const parsed = (await lines()).map((line) => JSON.parse(line) as { version?: string; time: string });
    assert.deepEqual(parsed.map((line) => line.version), ['1.0.0', '1.1.0', undefined]);
    // The time is the wall clock's when the request ended (taken on performance.now()'s clock).
    for (const line of parsed) assert.ok(Math.abs(Date.parse(line.time) - before) < 1000, `${line.time} is not about ${new Date(before).toISOString()}`);
  });
  it('writes the batch when a request ends FLUSH_AFTER_MS after its first line, and what waits once requests stop', async () => {
    const { log, written } = accessLogInto();
    const first = performance.now();
    log(request('GET', '/a'), 200, 1, first, 'alpha', '1.0.0', 'first');
    log(request('GET', '/b'), 200, 1, first + FLUSH_AFTER_MS - 1, 'alpha', '1.0.0', 'second');
    assert.equal(written().length, 0, 'lines wait while the batch is younger than FLUSH_AFTER_MS');
    log(request('GET', '/c'), 200, 1, first + FLUSH_AFTER_MS, 'alpha', '1.0.0', 'third');
    assert.deepEqual(written().map((line) => (JSON.parse(line) as { requestId: string }).requestId), ['first', 'second', 'third'], 'the request that ends FLUSH_AFTER_MS after the first line writes the batch');
    // Requests stop: the last line is written by the idle timer, not at once and not never.
    const lastAt = performance.now();
    log(request('GET', '/d'), 200, 1, lastAt, 'alpha', '1.0.0', 'last');
    await new Promise((resolve) => setTimeout(resolve, FLUSH_AFTER_MS * 2));
    assert.equal(written().length, 3, 'a lone line waits for the idle timer');
    while (written().length < 4 && performance.now() - lastAt < IDLE_FLUSH_MS * 5) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(written().length, 4, `the idle timer writes the last line (waited ${Math.round(performance.now() - lastAt)} ms)`);
  });

  it('writes what waits when closed, at once and after, and leaves no exit listener behind', () => {
    const listeners = process.listenerCount('exit');
    const { log, writer, written } = accessLogInto();
    assert.equal(process.listenerCount('exit'), listeners + 1, 'the log writes what waits when the process exits');
    log(request('GET', '/api/v1/alpha/ping'), 200, 1.5, performance.now(), 'alpha', '1.0.0', 'before-close');
    assert.equal(written().length, 0, 'a line waits for its batch');
    writer.close();
    assert.deepEqual(written().map((line) => (JSON.parse(line) as { requestId: string }).requestId), ['before-close'], 'closing writes the waiting line without waiting for the batch interval');
    assert.equal(process.listenerCount('exit'), listeners, 'a closed log holds no exit listener (nor its buffer) any more');
    log(request('GET', '/api/v1/alpha/ping'), 200, 2, performance.now(), 'alpha', '1.0.0', 'after-close');
    assert.deepEqual(written().map((line) => (JSON.parse(line) as { requestId: string }).requestId), ['before-close', 'after-close'], 'a request that ends after the close is written at once');
  });
});
