/**
 * The sales and inventory modules, built as npm run build:modules builds them and loaded as the host
 * loads them (process.dlopen with RTLD_NOW, Handler()), wired together through the SDK's fake context:
 * routes, validation, stock reservation over events, and the exact rounding rules of
 * modules/sales/README.md.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import path from 'node:path';
import { buildModules, findRepoRoot } from '../scripts/build-modules';
import { FakeEventBus, openModule, type OpenedModule } from '../native-sdk/testing';
import { assertLibraryShape } from './fixtures/sdk/library-shape';

const root = findRepoRoot(__dirname);
const salesDir = path.join(root, 'modules', 'sales');
const inventoryDir = path.join(root, 'modules', 'inventory');

before(() => {
  buildModules({ codes: ['inventory', 'sales'], root });
});

interface Shop {
  bus: FakeEventBus;
  inventory: OpenedModule;
  sales: OpenedModule;
}

function openShop(salesConfig: Record<string, unknown> = {}): Shop {
  const bus = new FakeEventBus();
  // Inventory first, as the host orders them (sales depends on inventory).
  const inventory = openModule(inventoryDir, { bus });
  const sales = openModule(salesDir, { bus, config: salesConfig });
  return { bus, inventory, sales };
}

function addItem(shop: Shop, sku: string, stock: number): void {
  const res = shop.inventory.request('POST', '/items', { body: { sku, name: `Item ${sku}`, stock } });
  assert.equal(res.status, 201, res.body);
}

function order(shop: Shop, lines: unknown[], extra: Record<string, unknown> = {}) {
  return shop.sales.request('POST', '/orders', { body: { customer: 'ACME', lines, ...extra } });
}

describe('built libraries', () => {
  for (const code of ['sales', 'inventory']) {
    test(`${code}: exports only the Node-API entry points, carries .erpmod, no UNIQUE symbols`, (t) => {
      assertLibraryShape(t, path.join(root, 'modules', code, 'lib', `${process.platform}-${process.arch}`, `${code}.so`), code, code === "sales" ? "1.4.0" : "1.0.0");
    });
  }
});

describe('module handler contract', () => {
  for (const dir of [salesDir, inventoryDir]) {
    test(`${path.basename(dir)}: identity and a function for every declared route`, () => {
      const { bus } = openShop();
      const mod = openModule(dir, { bus, initialize: false });
      assert.equal(mod.handler.getModuleCode(), mod.manifest.code);
      assert.equal(mod.handler.getModuleVersion(), mod.manifest.version);
      for (const route of mod.manifest.routes) {
        assert.equal(typeof mod.handler.getHandler(route.path, route.method), 'function', `${route.method} ${route.path}`);
      }
      assert.equal(mod.handler.getHandler('/nowhere', 'GET'), null);
      assert.equal(mod.handler.getHandler(mod.manifest.routes[0]!.path, 'PATCH'), null);
    });
  }

  test('only inventory overrides Health, so only it exports health()', () => {
    const shop = openShop();
    addItem(shop, 'W-1', 4);
    assert.equal(shop.sales.handler.health, undefined);
    assert.deepEqual(shop.inventory.handler.health?.(), { status: 'healthy', details: { items: 1, reserved: 0 } });
  });

  test('initialize logs through ctx.logger and a bad config fails the load with the key named', () => {
    const shop = openShop();
    assert.deepEqual(shop.sales.fake.logs.map((l) => [l.level, l.msg, l.fields]), [
      ['info', 'sales ready', { tax_rate_bp: 2000, default_currency: 'EUR' }],
    ]);
    const bad = openModule(salesDir, { initialize: false, config: { tax_rate_bp: 'twenty' } });
    assert.throws(() => bad.handler.initialize(bad.fake.ctx), { message: 'config.tax_rate_bp: expected an integer, got "twenty"' });
    const negative = openModule(salesDir, { initialize: false, config: { tax_rate_bp: -1 } });
    assert.throws(() => negative.handler.initialize(negative.fake.ctx), /tax_rate_bp: expected an integer in 0\.\.100000/);
  });
});

describe('inventory', () => {
  test('create, read and list items', () => {
    const shop = openShop();
    const created = shop.inventory.request('POST', '/items', { body: { sku: 'W-1', name: 'Widget', stock: 10 } });
    assert.equal(created.status, 201);
    assert.equal(created.headers['content-type'], 'application/json');
    assert.equal(created.headers.location, 'items/W-1');
    const item = created.json();
    assert.deepEqual({ ...item, created_at: undefined, updated_at: undefined }, {
      sku: 'W-1', name: 'Widget', stock: 10, reserved: 0, available: 10, created_at: undefined, updated_at: undefined,
    });
    assert.match(item.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    addItem(shop, 'A-2', 1);
    assert.deepEqual(shop.inventory.request('GET', '/items/W-1').json(), item);
    const list = shop.inventory.request('GET', '/items').json();
    assert.deepEqual(list.items.map((i: { sku: string }) => i.sku), ['A-2', 'W-1']);
    assert.equal(list.count, 2);
  });

  test('field-level validation, 409 on a duplicate sku, 404 on an unknown one', () => {
    const shop = openShop();
    const bad = shop.inventory.request('POST', '/items', { body: { sku: 'no spaces!', name: '  ', stock: -1, colour: 'red' }, requestId: 'req-item' });
    assert.equal(bad.status, 400);
    // The body has the host's error shape, the id of the request included.
    assert.deepEqual(bad.json(), {
      error: {
        code: 'ERPMOD_VALIDATION',
        message: 'the item is invalid',
        requestId: 'req-item',
        fields: {
          colour: 'unknown field',
          sku: 'required, 1..64 chars [A-Za-z0-9-_]',
          name: 'required, 1..200 chars, not blank',
          stock: 'required, an integer in 0..1000000000 (got integer)',
        },
      },
    });
    const fractional = shop.inventory.request('POST', '/items', { body: { sku: 'X', name: 'x', stock: 1.5 } });
    assert.equal(fractional.json().error.fields.stock, 'required, an integer in 0..1000000000 (got number)');
    const textual = shop.inventory.request('POST', '/items', { body: { sku: 'X', name: 'x', stock: '3' } });
    assert.equal(textual.json().error.fields.stock, 'required, an integer in 0..1000000000 (got string)');
    assert.equal(shop.inventory.request('POST', '/items', { body: ['sku'] }).json().error.fields.body, 'required, a JSON object (got array)');
    assert.equal(shop.inventory.request('POST', '/items', { body: { sku: 'x'.repeat(65), name: 'x', stock: 1 } }).status, 400);
    addItem(shop, 'W-1', 1);
    const duplicate = shop.inventory.request('POST', '/items', { body: { sku: 'W-1', name: 'Again', stock: 2 } });
    assert.equal(duplicate.status, 409);
    assert.equal(duplicate.json().error.code, 'INVENTORY_SKU_EXISTS');
    const missing = shop.inventory.request('GET', '/items/nope', { requestId: 'req-nope' });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json(), { error: { code: 'INVENTORY_ITEM_NOT_FOUND', message: 'no item with sku "nope"', requestId: 'req-nope' } });
  });

  test('PUT stock: sets the level, refuses negative, below-reserved and unknown items', () => {
    const shop = openShop();
    addItem(shop, 'W-1', 10);
    assert.equal(order(shop, [{ sku: 'W-1', quantity: 4, unit_price: 100 }]).json().status, 'confirmed');
    const set = shop.inventory.request('PUT', '/items/W-1/stock', { body: { stock: 6 } });
    assert.equal(set.status, 200);
    assert.deepEqual([set.json().stock, set.json().reserved, set.json().available], [6, 4, 2]);
    const below = shop.inventory.request('PUT', '/items/W-1/stock', { body: { stock: 3 } });
    assert.equal(below.status, 400);
    assert.equal(below.json().error.fields.stock, 'must be at least the reserved quantity (4)');
    assert.equal(shop.inventory.request('PUT', '/items/W-1/stock', { body: { stock: -1 } }).status, 400);
    assert.equal(shop.inventory.request('PUT', '/items/W-1/stock', { body: { stock: 5, extra: true } }).json().error.fields.extra, 'unknown field');
    assert.equal(shop.inventory.request('PUT', '/items/W-9/stock', { body: { stock: 5 } }).status, 404);
    assert.equal(shop.inventory.request('GET', '/items/W-1').json().stock, 6);
  });
});

describe('sales with inventory over events', () => {
  test('an order that fits the stock is confirmed in the POST reply, and stock is reserved', () => {
    const shop = openShop();
    addItem(shop, 'W-1', 10);
    const res = order(shop, [{ sku: 'W-1', quantity: 3, unit_price: 1250 }]);
    assert.equal(res.status, 201, res.body);
    assert.equal(res.headers.location, 'orders/1', 'relative to the request URL, so it resolves below the module prefix');
    const body = res.json();
    assert.equal(body.status, 'confirmed');
    assert.deepEqual([body.subtotal, body.discount, body.tax, body.total, body.currency], [3750, 0, 750, 4500, 'EUR']);
    assert.deepEqual(shop.bus.topics(), ['order.created', 'stock.reserved']);
    assert.deepEqual(shop.bus.payloads('order.created'), [{ order_id: 1, customer: 'ACME', lines: [{ sku: 'W-1', quantity: 3 }] }]);
    assert.deepEqual(shop.bus.payloads('stock.reserved'), [{ order_id: 1, lines: [{ sku: 'W-1', quantity: 3 }] }]);
    const item = shop.inventory.request('GET', '/items/W-1').json();
    assert.deepEqual([item.stock, item.reserved, item.available], [10, 3, 7]);
    assert.deepEqual(shop.sales.request('GET', '/orders/1').json(), body);
    assert.deepEqual(shop.bus.failures, []);
  });

  test('reservation is all or nothing: one short line backorders the order and reserves nothing', () => {
    const shop = openShop();
    addItem(shop, 'A', 5);
    addItem(shop, 'B', 1);
    const res = order(shop, [
      { sku: 'A', quantity: 2, unit_price: 10 },
      { sku: 'B', quantity: 1, unit_price: 10 },
      { sku: 'B', quantity: 1, unit_price: 10 },
      { sku: 'GHOST', quantity: 1, unit_price: 10 },
    ]);
    assert.equal(res.json().status, 'backordered');
    assert.deepEqual(shop.bus.payloads('stock.insufficient'), [
      { order_id: 1, shortages: [{ sku: 'B', requested: 2, available: 1 }, { sku: 'GHOST', requested: 1, available: 0 }] },
    ]);
    for (const sku of ['A', 'B']) assert.equal(shop.inventory.request('GET', `/items/${sku}`).json().reserved, 0);
    assert.deepEqual(shop.inventory.fake.db.prepare('SELECT COUNT(*) AS n FROM reservations').get(), { n: 0 });
  });

  test('cancelling releases the reservation; cancelling twice is a 409', () => {
    const shop = openShop();
    addItem(shop, 'W-1', 10);
    order(shop, [{ sku: 'W-1', quantity: 4, unit_price: 100 }]);
    shop.bus.clear();
    const cancelled = shop.sales.request('POST', '/orders/1/cancel');
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.json().status, 'cancelled');
    assert.deepEqual(shop.bus.topics(), ['order.cancelled', 'stock.released']);
    assert.deepEqual(shop.bus.payloads('stock.released'), [{ order_id: 1, lines: [{ sku: 'W-1', quantity: 4 }] }]);
    assert.equal(shop.inventory.request('GET', '/items/W-1').json().reserved, 0);
    const again = shop.sales.request('POST', '/orders/1/cancel');
    assert.equal(again.status, 409);
    assert.equal(again.json().error.code, 'SALES_ORDER_ALREADY_CANCELLED');
    assert.equal(shop.sales.request('POST', '/orders/99/cancel').status, 404);
    assert.equal(shop.sales.request('POST', '/orders/abc/cancel').status, 404);
  });

  test('a backordered order releases nothing when cancelled', () => {
    const shop = openShop();
    addItem(shop, 'W-1', 1);
    order(shop, [{ sku: 'W-1', quantity: 2, unit_price: 100 }]);
    shop.bus.clear();
    assert.equal(shop.sales.request('POST', '/orders/1/cancel').status, 200);
    assert.deepEqual(shop.bus.topics(), ['order.cancelled']);
  });

  test('without inventory subscribed the order stays pending', () => {
    const sales = openModule(salesDir);
    assert.equal(sales.request('POST', '/orders', { body: { customer: 'ACME', lines: [{ sku: 'W', quantity: 1, unit_price: 1 }] } }).json().status, 'pending');
  });

  test('validation errors name each field by its JSON path', () => {
    const shop = openShop();
    const res = order(shop, [{ sku: 'W-1', quantity: 0, unit_price: 1.5, discount_bp: 10001, note: 'x' }, 'line', { quantity: 2 }], {
      currency: 'eur',
      customer: '',
      rush: true,
    });
    assert.equal(res.status, 400);
    const { requestId, ...error } = res.json().error;
    assert.match(requestId, /^test-\d+$/, 'the harness request id');
    assert.deepEqual({ error }, {
      error: {
        code: 'ERPMOD_VALIDATION',
        message: 'the order is invalid',
        fields: {
          rush: 'unknown field',
          customer: 'required, 1..200 chars, not blank',
          currency: '3 upper-case letters (ISO 4217), e.g. EUR',
          'lines[0].note': 'unknown field',
          'lines[0].quantity': 'required, an integer in 1..1000000 (got 0)',
          'lines[0].unit_price': 'required, an integer amount in minor units, 0..9007199254740991 (got a non-integer number)',
          'lines[0].discount_bp': 'an integer in 0..10000 (basis points of the line amount) (got 10001)',
          'lines[1]': 'must be an object (got string)',
          'lines[2].sku': 'required, 1..64 chars [A-Za-z0-9-_]',
          'lines[2].unit_price': 'required, an integer amount in minor units, 0..9007199254740991 (got undefined)',
        },
      },
    });
    assert.equal(order(shop, []).json().error.fields.lines, 'required, an array of 1..100 lines');
    assert.equal(shop.sales.request('POST', '/orders', { body: undefined }).json().error.fields.body, 'required, a JSON object (got undefined)');
    assert.equal(order(shop, [{ sku: 'W', quantity: '3', unit_price: 1 }]).json().error.fields['lines[0].quantity'], 'required, an integer in 1..1000000 (got string)');
    assert.deepEqual(shop.bus.published, [], 'no event for a rejected order');
    assert.equal(shop.sales.request('GET', '/orders').json().total, 0);
  });
});

describe('sales amounts (modules/sales/README.md)', () => {
  const totals = (res: { json(): any }) => {
    const b = res.json();
    return { subtotal: b.subtotal, discount: b.discount, tax: b.tax, total: b.total, lines: b.lines.map((l: any) => [l.line_subtotal, l.line_discount, l.line_total]) };
  };

  test('line discounts round half to even', () => {
    const shop = openShop();
    // 3 x 1250 = 3750; 5% = 187.5 -> 188 (even); net 3562; tax 20% = 712.4 -> 712.
    assert.deepEqual(totals(order(shop, [{ sku: 'W', quantity: 3, unit_price: 1250, discount_bp: 500 }])), {
      subtotal: 3750, discount: 188, tax: 712, total: 4274, lines: [[3750, 188, 3562]],
    });
    // 250 x 5% = 12.5 -> 12; 350 x 5% = 17.5 -> 18; 999 x 100% = 999.
    assert.deepEqual(
      totals(order(shop, [
        { sku: 'A', quantity: 1, unit_price: 250, discount_bp: 500 },
        { sku: 'B', quantity: 1, unit_price: 350, discount_bp: 500 },
        { sku: 'C', quantity: 1, unit_price: 999, discount_bp: 10000 },
      ])),
      { subtotal: 1599, discount: 1029, tax: 114, total: 684, lines: [[250, 12, 238], [350, 18, 332], [999, 999, 0]] },
    );
  });

  test('tax is computed once on the order net and rounds half to even', () => {
    const shop = openShop({ tax_rate_bp: 2500 });
    const tax = (net: number) => order(shop, [{ sku: 'W', quantity: net, unit_price: 1 }]).json().tax;
    assert.deepEqual([tax(2), tax(6), tax(10), tax(3)], [0, 2, 2, 1]); // 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 0.75 -> 1
    // Three lines of 1: per-line tax would be 3 x round(0.25) = 0; on the order it is round(0.75) = 1.
    const threeLines = order(shop, ['A', 'B', 'C'].map((sku) => ({ sku, quantity: 1, unit_price: 1 }))).json();
    assert.deepEqual([threeLines.tax, threeLines.total], [1, 4]);
  });

  test('amounts beyond 2^53 - 1 minor units are refused with 400, never wrapped', () => {
    const shop = openShop();
    const line = order(shop, [{ sku: 'W', quantity: 1000000, unit_price: 9007199254741 }]);
    assert.equal(line.status, 400);
    assert.deepEqual(line.json().error.fields, { 'lines[0]': 'quantity x unit_price exceeds 9007199254740991 minor units' });
    const half = 2 ** 52;
    const sum = order(shop, [{ sku: 'A', quantity: 1, unit_price: half }, { sku: 'B', quantity: 1, unit_price: half }]);
    assert.deepEqual(sum.json().error.fields, { lines: 'the order subtotal exceeds 9007199254740991 minor units' });
    const withTax = order(shop, [{ sku: 'A', quantity: 1, unit_price: 9007199254740000 }]);
    assert.deepEqual(withTax.json().error.fields, { lines: 'the order total with tax exceeds 9007199254740991 minor units' });
    const largest = order(shop, [{ sku: 'A', quantity: 1, unit_price: 7505999378950826 }]).json();
    assert.deepEqual([largest.tax, largest.total], [1501199875790165, 9007199254740991]);
  });
});

describe('order listing and summary', () => {
  test('paged list, newest first, with status filter and strict query validation', () => {
    const shop = openShop();
    addItem(shop, 'W', 3);
    for (let i = 0; i < 5; i++) order(shop, [{ sku: 'W', quantity: 1, unit_price: 100 * (i + 1) }]);
    shop.sales.request('POST', '/orders/2/cancel');
    const page = shop.sales.request('GET', '/orders', { query: { limit: '2', offset: '1' } }).json();
    assert.deepEqual([page.total, page.limit, page.offset], [5, 2, 1]);
    assert.deepEqual(page.items.map((o: any) => o.id), [4, 3]);
    assert.equal(page.items[0].lines, undefined, 'list items carry no lines');
    const defaults = shop.sales.request('GET', '/orders').json();
    assert.deepEqual([defaults.limit, defaults.offset, defaults.items.length], [20, 0, 5]);
    const backordered = shop.sales.request('GET', '/orders', { query: { status: 'backordered' } }).json();
    assert.deepEqual(backordered.items.map((o: any) => o.id), [5, 4]);
    const bad = shop.sales.request('GET', '/orders', { query: { limit: '101', offset: '-1', status: 'open' } });
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys(bad.json().error.fields), ['limit', 'offset', 'status']);
    assert.equal(shop.sales.request('GET', '/orders', { query: { limit: '2.5' } }).status, 400);
  });

  test('summary totals by status', () => {
    const shop = openShop();
    addItem(shop, 'W', 2);
    order(shop, [{ sku: 'W', quantity: 1, unit_price: 1000 }]); // confirmed, total 1200
    order(shop, [{ sku: 'W', quantity: 1, unit_price: 500 }]); // confirmed, total 600
    order(shop, [{ sku: 'W', quantity: 5, unit_price: 100 }]); // backordered, total 600
    shop.sales.request('POST', '/orders/2/cancel');
    assert.deepEqual(shop.sales.request('GET', '/summary').json(), {
      by_status: {
        pending: { count: 0, total: 0 },
        confirmed: { count: 1, total: 1200 },
        backordered: { count: 1, total: 600 },
        cancelled: { count: 1, total: 600 },
      },
      count: 3,
      total: 2400,
    });
  });
});
