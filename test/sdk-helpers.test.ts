/**
 * The SDK's request helpers (native-sdk/README.md "Request helpers"), through the fixture module
 * test/fixtures/modules/sdk-helpers: typed path and query values with ready 400 field errors, ISO 8601
 * dates and date-times, log calls with fields, and error bodies that carry the request id. Each is
 * checked in the unit harness on the JavaScript thread and on a pool thread, and through a real host.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openModule, type OpenedModule } from '../native-sdk/testing';
import { call } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { FIXTURE_MODULES_DIR } from './support/paths';

const DIR = path.join(FIXTURE_MODULES_DIR, 'sdk-helpers');

describe('typed params and query values (unit harness)', () => {
  let mod: OpenedModule;
  before(() => {
    mod = openModule(DIR);
  });
  after(() => mod.close());

  for (const thread of ['JavaScript thread', 'pool thread'] as const) {
    const typed = (id: string, query: Record<string, string> = {}, requestId = 'req-1') =>
      thread === 'pool thread'
        ? mod.requestOnPool('GET', `/typed-pool/${id}`, { query, requestId })
        : Promise.resolve(mod.request('GET', `/typed/${id}`, { query, requestId }));

    test(`values parse to their types, absent ones fall back (${thread})`, async () => {
      const res = await typed('42', { flag: 'true', ratio: '-2.5e1', small: '-128' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(res.json(), { id: 42, limit: 50, small: -128, flag: true, ratio: -25 });
      assert.deepEqual((await typed('-9223372036854775808', { limit: '100' })).json(), {
        id: -9223372036854775808,
        limit: 100,
        small: null,
        flag: null,
        ratio: null,
      });
    });

    test(`a malformed path value is a 400 naming the field, what was expected and what came, with the request id (${thread})`, async () => {
      const res = await typed('abc', {}, 'req-abc');
      assert.equal(res.status, 400);
      assert.deepEqual(res.json(), {
        error: { code: 'ERPMOD_VALIDATION', message: 'the path is invalid', requestId: 'req-abc', fields: { id: 'an integer, got "abc"' } },
      });
    });

    test(`int64 overflow, bounds and strict syntax are refused (${thread})`, async () => {
      const fieldOf = async (id: string, query: Record<string, string> = {}) => (await typed(id, query)).json().error.fields;
      assert.deepEqual(await fieldOf('9223372036854775808'), { id: 'an integer, got "9223372036854775808"' });
      assert.deepEqual(await fieldOf('-9223372036854775809'), { id: 'an integer, got "-9223372036854775809"' });
      for (const bad of ['+1', ' 1', '1.0', '0x10', '1e3', '']) {
        const res = await typed('7', { limit: bad });
        assert.equal(res.status, 400, `limit=${JSON.stringify(bad)}`);
        assert.deepEqual(res.json().error.fields, { limit: `an integer in 1..100, got "${bad}"` });
        assert.equal(res.json().error.message, 'the query is invalid');
      }
      assert.deepEqual(await fieldOf('7', { limit: '101' }), { limit: 'an integer in 1..100, got "101"' });
      assert.deepEqual(await fieldOf('7', { limit: '0' }), { limit: 'an integer in 1..100, got "0"' });
      assert.deepEqual(await fieldOf('7', { small: '128' }), { small: 'an integer, got "128"' });
      assert.deepEqual(await fieldOf('7', { flag: 'yes' }), { flag: 'true or false, got "yes"' });
      assert.deepEqual(await fieldOf('7', { ratio: 'nan' }), { ratio: 'a number, got "nan"' });
      assert.deepEqual(await fieldOf('7', { ratio: '1e999' }), { ratio: 'a number, got "1e999"' });
      const long = '9'.repeat(100);
      assert.deepEqual(await fieldOf(long), { id: `an integer, got "${'9'.repeat(64)}..."` });
    });
  }
});

describe('ISO 8601 dates and date-times (unit harness)', () => {
  let mod: OpenedModule;
  before(() => {
    mod = openModule(DIR);
  });
  after(() => mod.close());

  const dates = (query: Record<string, string>) => mod.request('GET', '/dates', { query });

  test('calendar-correct dates: month lengths and Gregorian leap years', () => {
    for (const good of ['2024-02-29', '2000-02-29', '2027-12-31', '0001-01-01', '9999-12-31', '2027-04-30']) {
      const res = dates({ date: good });
      assert.equal(res.status, 200, `${good}: ${res.body}`);
      assert.equal(res.json().date, good);
    }
    for (const bad of ['2027-02-30', '2027-02-29', '1900-02-29', '2100-02-29', '2027-04-31', '2027-13-01', '2027-00-10', '2027-01-00', '0000-01-01', '2027-1-01', '20270101', '2027-W05-1', '2027-02-28T00:00:00Z', ' 2027-02-28']) {
      const res = dates({ date: bad });
      assert.equal(res.status, 400, bad);
      assert.deepEqual(res.json().error.fields, { date: `a date YYYY-MM-DD, got "${bad}"` });
    }
  });

  test('weekday and date arithmetic across month, year and leap day', () => {
    assert.deepEqual(dates({ date: '2024-02-28' }).json(), { date: '2024-02-28', weekday: 3, nextDay: '2024-02-29' });
    assert.deepEqual(dates({ date: '2027-12-31' }).json(), { date: '2027-12-31', weekday: 5, nextDay: '2028-01-01' });
    assert.deepEqual(dates({ date: '1969-12-31' }).json(), { date: '1969-12-31', weekday: 3, nextDay: '1970-01-01' });
  });

  test('date-times with Z or an offset, fractional seconds, normalised to UTC', () => {
    const at = (text: string) => dates({ at: text });
    assert.deepEqual(at('2027-03-01T09:30:00.250+01:00').json(), { utc: '2027-03-01T08:30:00.250Z', epochMs: Date.parse('2027-03-01T08:30:00.250Z'), nanos: 250000000 });
    assert.deepEqual(at('2024-02-29t23:59:59.123456789-05:30').json(), { utc: '2024-03-01T05:29:59.123Z', epochMs: Date.parse('2024-03-01T05:29:59.123Z'), nanos: 123456789 });
    assert.deepEqual(at('1969-12-31T23:59:59z').json(), { utc: '1969-12-31T23:59:59.000Z', epochMs: -1000, nanos: 0 });
    for (const bad of ['2027-03-01T09:30:00', '2027-03-01 09:30:00Z', '2027-03-01T24:00:00Z', '2027-03-01T23:59:60Z', '2027-02-30T10:00:00Z', '2027-03-01T09:30:00.Z', '2027-03-01T09:30:00.1234567890Z', '2027-03-01T09:30:00+0100', '2027-03-01T09:30:00+24:00', '2027-03-01T09:30Z', '2027-03-01T09:30:00Zjunk']) {
      const res = at(bad);
      assert.equal(res.status, 400, bad);
      assert.match(res.json().error.fields.at, /^a date-time YYYY-MM-DDTHH:MM:SS\[\.fff\] with Z or an offset, got /, bad);
    }
  });

  test('the collecting form reports every bad field in one reply', () => {
    const res = dates({ date: '2027-02-30', at: 'soon' });
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.json().error.fields), ['date', 'at']);
  });

  test('a JSON body date checked with Date::Parse: "valid_from":"2027-02-30" is refused', () => {
    const offer = (body: unknown) => mod.request('POST', '/offers', { body, requestId: 'req-offer' });
    const bad = offer({ valid_from: '2027-02-30' });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json(), {
      error: { code: 'ERPMOD_VALIDATION', message: 'the offer is invalid', requestId: 'req-offer', fields: { valid_from: 'required, a date YYYY-MM-DD, got "2027-02-30"' } },
    });
    assert.deepEqual(offer({ valid_from: '2027-02-28', valid_to: '2027-02-27' }).json().error.fields, { valid_to: 'on or after valid_from (2027-02-28), got "2027-02-27"' });
    const good = offer({ valid_from: '2028-02-01', valid_to: '2028-03-01' });
    assert.deepEqual([good.status, good.json()], [201, { valid_from: '2028-02-01', days: 29 }]);
  });
});

describe('log fields and error bodies (unit harness)', () => {
  test('ctx.logger() with fields in place, on the JavaScript thread and a pool thread', async () => {
    const mod = openModule(DIR);
    try {
      mod.request('GET', '/log', { query: { n: '7' } });
      await mod.requestOnPool('GET', '/log-pool');
      const lines = mod.fake.logs.filter((line) => line.msg === 'order placed');
      assert.deepEqual(
        lines.map((line) => line.fields),
        [
          { order: 42, sku: 'W-7', ratio: 0.5, ok: true, route: '/log' },
          { order: 42, sku: 'W-1', ratio: 0.5, ok: true, route: '/log-pool' },
        ],
      );
      assert.deepEqual(lines.map((line) => line.level), ['info', 'info']);
    } finally {
      mod.close();
    }
  });

  test('Response::Error and a thrown HttpError carry the request id being handled, on both threads', async () => {
    const mod = openModule(DIR);
    try {
      const expected = (message: string, requestId: string) => ({ error: { code: 'HELPERS_CONFLICT', message, requestId } });
      assert.deepEqual(mod.request('GET', '/conflict', { requestId: 'r-main' }).json(), expected('returned on purpose', 'r-main'));
      assert.deepEqual(mod.request('GET', '/conflict', { requestId: 'r-throw', query: { throw: '1' } }).json(), expected('thrown on purpose', 'r-throw'));
      assert.deepEqual((await mod.requestOnPool('GET', '/conflict-pool', { requestId: 'r-pool' })).json(), expected('returned on purpose', 'r-pool'));
      assert.deepEqual((await mod.requestOnPool('GET', '/conflict-pool', { requestId: 'r-pool-throw', query: { throw: '1' } })).json(), expected('thrown on purpose', 'r-pool-throw'));
    } finally {
      mod.close();
    }
  });
});

describe('the helpers through a real host', () => {
  let host: HostProcess;
  const base = () => `${host.url}/api/v1/sdk-helpers`;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['sdk-helpers']) });
  });
  after(async () => {
    await host?.stop();
  });

  test('typed values and a 400 whose requestId is the one the host answered with', async () => {
    for (const route of ['typed', 'typed-pool']) {
      const ok = await call(`${base()}/${route}/12?limit=3&flag=0`);
      assert.deepEqual([ok.status, ok.json], [200, { id: 12, limit: 3, small: null, flag: false, ratio: null }]);
      const bad = await call(`${base()}/${route}/12abc`, 'GET', undefined, { 'x-request-id': `given-${route}` });
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('x-request-id'), `given-${route}`);
      assert.deepEqual(bad.json, {
        error: { code: 'ERPMOD_VALIDATION', message: 'the path is invalid', requestId: `given-${route}`, fields: { id: 'an integer, got "12abc"' } },
      });
      const generated = await call(`${base()}/${route}/1?limit=500`);
      assert.equal(generated.json.error.requestId, generated.headers.get('x-request-id'));
      assert.deepEqual(generated.json.error.fields, { limit: 'an integer in 1..100, got "500"' });
    }
  });

  test('dates on both threads, and log fields reach the host log bound to the module', async () => {
    for (const route of ['dates', 'dates-pool']) {
      assert.equal((await call(`${base()}/${route}?date=2027-02-30`)).status, 400);
      const ok = await call(`${base()}/${route}?date=2028-02-29&at=2028-02-29T12:00:00%2B02:00`);
      assert.deepEqual(ok.json, { date: '2028-02-29', weekday: 2, nextDay: '2028-03-01', utc: '2028-02-29T10:00:00.000Z', epochMs: Date.parse('2028-02-29T10:00:00Z'), nanos: 0 });
    }
    assert.equal((await call(`${base()}/offers`, 'POST', { valid_from: '2027-02-30' })).status, 400);
    await call(`${base()}/log?n=3`);
    await call(`${base()}/log-pool?n=4`);
    const deadline = Date.now() + 10_000;
    const placed = () => host.logs.filter((line) => line.msg === 'order placed');
    while (placed().length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = placed().map(({ module, order, sku, ok, route }) => ({ module, order, sku, ok, route }));
    assert.deepEqual(
      lines.sort((a, b) => String(a.route).localeCompare(String(b.route))),
      [
        { module: 'sdk-helpers', order: 42, sku: 'W-3', ok: true, route: '/log' },
        { module: 'sdk-helpers', order: 42, sku: 'W-4', ok: true, route: '/log-pool' },
      ],
    );
  });
});
