'use strict';
/**
 * Preloaded with `--require` (through NODE_OPTIONS, so every process a test starts inherits it): points
 * better-sqlite3 at the addon built for this runtime ($BETTER_SQLITE3_BINDING) instead of the one in
 * node_modules, which was built for the machine's Node. Plain CommonJS: it runs before anything is compiled.
 * The variable is outside the ERPMOD_ namespace on purpose: isolated module processes do not inherit that.
 */
const Module = require('node:module');
const path = require('node:path');

const binding = process.env.BETTER_SQLITE3_BINDING;
if (binding) {
  const addonDir = `${path.sep}better-sqlite3${path.sep}`;
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveSqliteBinding(request, ...rest) {
    // better-sqlite3 finds its addon through `bindings`, which tries build/…/better_sqlite3.node paths in turn.
    if (typeof request === 'string' && request.endsWith('better_sqlite3.node') && request.includes(addonDir)) return binding;
    return resolve.call(this, request, ...rest);
  };
}
