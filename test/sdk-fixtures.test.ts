/**
 * The SDK's two vendor paths, each as a fixture module built in this file's setup with the same
 * functions scripts/build-modules.ts uses:
 *
 * - test/fixtures/sdk/c-module: plain C against node_api.h and erpmod/abi.h only, node-gyp + erpmod.gypi;
 * - test/fixtures/sdk/cpp-module: the C++ SDK surface the business modules do not use, cmake-js + erpmod.cmake.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { buildCmakeProject, buildGypProject, findRepoRoot, installLibrary, libraryExtension } from '../scripts/build-modules';
import { FakeEventBus, moduleLibraryPath, openModule, readManifestSubset } from '../native-sdk/testing';
import { assertLibraryShape } from './fixtures/sdk/library-shape';

const root = findRepoRoot(__dirname);
const cDir = path.join(root, 'test', 'fixtures', 'sdk', 'c-module');
const cppDir = path.join(root, 'test', 'fixtures', 'sdk', 'cpp-module');
const testingEntry = path.join(root, 'dist', 'native-sdk', 'testing', 'index.js');

before(() => {
  installLibrary(buildGypProject(cDir, 'sdk-c').output, moduleLibraryPath(cDir));
  installLibrary(buildCmakeProject(cppDir, 'sdk-cpp').output, moduleLibraryPath(cppDir));
});

/** Opens the module in a worker thread, makes `calls` requests there and returns their JSON bodies. */
function requestsInWorker(dir: string, method: string, urlPath: string, calls: number): Promise<unknown[]> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { openModule } = require(workerData.testingEntry);
    const mod = openModule(workerData.dir);
    const out = [];
    for (let i = 0; i < workerData.calls; i++) out.push(mod.request(workerData.method, workerData.urlPath).json());
    parentPort.postMessage(out);`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { testingEntry, dir, method, urlPath, calls } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
    });
  });
}

describe('plain C module (node_api.h + erpmod/abi.h)', () => {
  test('built by node-gyp through erpmod.gypi into <code>.so with the ABI shape', (t) => {
    const file = moduleLibraryPath(cDir);
    assert.equal(path.basename(file), `sdk-c.${libraryExtension()}`);
    assertLibraryShape(t, file, 'sdk-c', '0.1.0');
  });

  test('loads with RTLD_NOW, initializes with the fake context and serves its route', () => {
    const mod = openModule(cDir);
    assert.equal(mod.handler.getModuleCode(), 'sdk-c');
    assert.equal(mod.handler.getModuleVersion(), '0.1.0');
    assert.deepEqual(mod.fake.logs.map((l) => l.msg), ['sdk-c ready']);
    for (const route of readManifestSubset(cDir).routes) assert.equal(typeof mod.handler.getHandler(route.path, route.method), 'function');
    assert.equal(mod.handler.getHandler('/hello/:name', 'POST'), null);
    const res = mod.request('GET', '/hello/world');
    assert.deepEqual([res.status, res.headers['content-type'], res.json()], [200, 'application/json', { hello: 'world', served: 1 }]);
    const bad = mod.request('GET', '/hello/a%20b');
    assert.equal(bad.status, 400);
    assert.equal(bad.json().error.fields.name, '1..64 chars [A-Za-z0-9-]');
  });

  test('state is per environment: each load and each worker thread counts on its own', async () => {
    const first = openModule(cDir);
    assert.equal(first.request('GET', '/hello/main').json().served, 1);
    const inWorker = await requestsInWorker(cDir, 'GET', '/hello/worker', 3);
    assert.deepEqual(inWorker.map((b) => (b as { served: number }).served), [1, 2, 3]);
    assert.equal(first.request('GET', '/hello/main').json().served, 2);
    const second = openModule(cDir);
    assert.equal(second.request('GET', '/hello/again').json().served, 1);
  });
});

describe('C++ SDK (erpmod/module.h)', () => {
  const open = (config: Record<string, unknown> = {}) => openModule(cppDir, { bus: new FakeEventBus(), config });

  test('built by cmake-js through erpmod.cmake into <code>.so with the ABI shape', (t) => {
    assertLibraryShape(t, moduleLibraryPath(cppDir), 'sdk-cpp', '0.3.0');
  });

  test('Request reads method, route, path, params, query (first of repeated), headers, requestId', () => {
    const mod = open();
    const res = mod.request('GET', '/echo/bob', { query: { q: ['first', 'second'] as unknown as string }, headers: { accept: 'text/x' }, requestId: 'req-7' });
    assert.deepEqual(res.json(), { method: 'GET', route: '/echo/:name', path: '/echo/bob', name: 'bob', q: 'first', accept: 'text/x', requestId: 'req-7' });
    assert.deepEqual(mod.request('GET', '/echo/x').json().q, null);
    assert.equal(mod.request('GET', '/echo/x').json().accept, 'none');
  });

  test('JsonValue reads the parsed body lazily; rawBody is the Buffer', () => {
    const mod = open();
    const body = { n: 3, list: [1, 'two'], nested: { deep: true } };
    assert.deepEqual(mod.request('POST', '/echo', { body }).json(), {
      type: 'object', raw_length: JSON.stringify(body).length, int: 3, keys: ['n', 'list', 'nested'], json: JSON.stringify(body),
    });
    assert.deepEqual(mod.request('POST', '/echo', { body: { n: 2.5 } }).json().int, null);
    assert.deepEqual(mod.request('POST', '/echo', { body: { n: 2 ** 53 } }).json().int, null, 'beyond 2^53 - 1 is not an exact integer');
    assert.deepEqual(mod.request('POST', '/echo', { body: [1] }).json().type, 'array');
  });

  test('Config getters: defaults, strings that parse, and a loud failure for a malformed value', () => {
    const mod = open({ limit: '25', ratio: 0.25, enabled: true });
    assert.deepEqual(mod.request('GET', '/config').json(), {
      greeting: 'hi', limit: 25, ratio: 0.25, enabled: true, missing: 42, dataDir: mod.fake.ctx.dataDir, code: 'sdk-cpp',
    });
    const bad = openModule(cppDir, { config: { limit: '12abc' }, initialize: false });
    assert.throws(() => bad.handler.initialize(bad.fake.ctx), { message: 'config.limit: expected an integer, got "12abc"' });
  });

  test('Initialize may throw to fail the load; the message reaches JavaScript unchanged', () => {
    const mod = openModule(cppDir, { config: { fail_init: true }, initialize: false });
    assert.throws(() => mod.handler.initialize(mod.fake.ctx), { message: 'refusing to start: fail_init is set' });
  });

  test('Logger passes structured fields', () => {
    const mod = open();
    assert.deepEqual(mod.fake.logs.map((l) => [l.level, l.msg, l.fields]), [['info', 'sdk-cpp starting', { limit: 10 }]]);
  });

  test('responses: JSON with one shared frozen headers object, text with extra headers, empty 204', () => {
    const mod = open();
    const fn = mod.handler.getHandler('/config', 'GET')!;
    const req = { method: 'GET', route: '/config', path: '/config', params: {}, query: {}, headers: {}, body: undefined, rawBody: undefined, requestId: 'r' };
    const a = fn(req) as { headers: object };
    const b = fn(req) as { headers: object };
    assert.equal(a.headers, b.headers);
    assert.ok(Object.isFrozen(a.headers));
    const text = mod.request('GET', '/text');
    assert.deepEqual([text.status, text.body, text.headers], [200, 'plain', { 'content-type': 'text/plain; charset=utf-8', 'x-sdk': '1' }]);
    const empty = mod.handler.getHandler('/empty', 'DELETE')!({ ...req, method: 'DELETE', route: '/empty', path: '/empty' });
    assert.deepEqual(empty, { status: 204, body: '' });
  });

  test('HttpError becomes its error response; any other C++ exception a JavaScript Error with its message', () => {
    const mod = open();
    const httpError = mod.request('GET', '/http-error', { requestId: 'req-422' });
    assert.equal(httpError.status, 422);
    assert.deepEqual(httpError.json(), { error: { code: 'SDK_UNPROCESSABLE', message: 'cannot "process"', requestId: 'req-422', fields: { a: 'bad' } } });
    assert.throws(() => mod.request('GET', '/throw'), (error: unknown) => error instanceof Error && error.message === 'boom from C++');
  });

  test('a failing statement is a DbError carrying SQLite\'s code', () => {
    const res = open().request('GET', '/db-error', { requestId: 'req-db' });
    assert.deepEqual(res.json(), { error: { code: 'SDK_DB', message: 'SQLITE_ERROR: no such table: nowhere', requestId: 'req-db' } });
  });

  test('events round trip through the bus, and Health reports degraded with details', () => {
    const mod = open();
    assert.deepEqual([1, 2, 3].map(() => mod.request('POST', '/ping').json().pongs), [1, 3, 6]);
    assert.deepEqual(mod.fake.bus.payloads('sdk.ping'), [{ n: 1 }, { n: 2 }, { n: 3 }]);
    assert.deepEqual(mod.handler.health?.(), { status: 'degraded', details: { pings: 3 } });
  });

  test('JsonWriter escapes, replaces invalid UTF-8, writes null for NaN and refuses misuse', () => {
    const res = open().request('GET', '/writer');
    assert.match(res.body, /"text":"quote\\" backslash\\\\ newline\\n tab\\t nul\\u0000 ctl\\u0001\\u001f del\x7f"/);
    assert.match(res.body, /"max":9223372036854775807,"min":-9223372036854775808,"umax":18446744073709551615/);
    const body = res.json();
    assert.equal(body.unicode, 'é € 😀');
    assert.equal(body.invalid, '\uFFFDok\uFFFD');
    assert.equal(body.surrogate, '\uFFFD\uFFFD\uFFFD');
    assert.equal(body.overlong, '\uFFFD\uFFFD');
    assert.deepEqual([body.nan, body.inf, body.tenth, body.third], [null, null, 0.1, 1 / 3]);
    assert.deepEqual([body.none, body.some, body.yes, body.null], [null, 'x', true, null]);
    assert.deepEqual([body.empty_obj, body.empty_arr, body.nested, body.raw], [{}, [], [[1], { k: false }, null], { pre: 'built' }]);
    assert.equal(body.complete_before_end, false);
    assert.deepEqual(body.misuse, [
      'erpmod::JsonWriter: unbalanced EndObject()',
      'erpmod::JsonWriter: a value in an object needs Key() first',
      'erpmod::JsonWriter: Key() outside an object or after another Key()',
      'erpmod::JsonWriter: unbalanced EndObject()',
      'erpmod::JsonWriter: a second top-level value',
    ]);
  });

  test('life cycle: initialize once, context gone after cleanup, cleanup idempotent', () => {
    const mod = open();
    assert.throws(() => mod.handler.initialize(mod.fake.ctx), { message: 'initialize() was already called' });
    mod.handler.cleanup();
    assert.deepEqual(mod.fake.logs.at(-1)?.msg, 'sdk-cpp stopping');
    mod.handler.cleanup();
    assert.throws(() => mod.request('GET', '/config'), { message: 'erpmod::Module::context() used outside Initialize..Cleanup' });
    assert.throws(() => mod.handler.initialize(mod.fake.ctx), { message: 'initialize() called after cleanup()' });
    assert.throws(() => mod.handler.getHandler(1 as unknown as string, 'GET'), TypeError);
    assert.throws(() => (mod.handler.getHandler('/config', 'GET') as (r: unknown) => unknown)(undefined), { message: 'handler(req): req must be an object' });
  });

  test('several handler objects and worker threads do not share module state', async () => {
    const a = open();
    const b = open();
    a.request('POST', '/ping');
    a.request('POST', '/ping');
    assert.equal(b.request('POST', '/ping').json().pongs, 1);
    const inWorker = await requestsInWorker(cppDir, 'POST', '/ping', 2);
    assert.deepEqual(inWorker, [{ pongs: 1 }, { pongs: 3 }]);
  });
});
