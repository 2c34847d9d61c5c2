'use strict';
/**
 * The requests the ABI check serves through each module, keyed by module code, run in load order.
 * A step may name another loaded module (`module`) to observe what an event changed there.
 * `check(body)` returns a problem description, or undefined when the reply is as expected.
 */

const WIDGET = { sku: 'W-1', name: 'Widget', stock: 10 };

function field(name, expected) {
  return (body) => {
    const found = body && typeof body === 'object' ? body[name] : undefined;
    return found === expected ? undefined : `expected body.${name} ${JSON.stringify(expected)}, found ${JSON.stringify(found)}`;
  };
}

const SCENARIOS = {
  inventory: [
    { method: 'POST', route: '/items', body: WIDGET, expect: 201, check: field('sku', 'W-1') },
    { method: 'GET', route: '/items/:sku', params: { sku: 'W-1' }, expect: 200, check: field('stock', 10) },
  ],
  sales: [
    {
      method: 'POST',
      route: '/orders',
      body: { customer: 'ACME', lines: [{ sku: 'W-1', quantity: 1, unit_price: 1250 }] },
      expect: 201,
      // `confirmed` only when inventory answered order.created with stock.reserved: events crossed both modules.
      check: field('status', 'confirmed'),
    },
    { module: 'inventory', method: 'GET', route: '/items/:sku', params: { sku: 'W-1' }, expect: 200, check: field('reserved', 1) },
  ],
  // test/fixtures/modules/good-alpha: the plain-C fixture.
  alpha: [
    { method: 'GET', route: '/ping', expect: 200, check: field('module', 'alpha') },
    { method: 'POST', route: '/echo', body: { hello: 'world' }, expect: 200, check: field('hello', 'world') },
  ],
};

module.exports = { SCENARIOS };
