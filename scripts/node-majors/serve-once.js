'use strict';
/**
 * Loads built module libraries into whatever Node runs this file and serves a few real requests through
 * them, without the host: the module-level half of the ABI promise (docs/abi-promise.md).
 *
 *   <node> scripts/node-majors/serve-once.js --root <repo> <module dir>...
 *
 * For each module (dependencies first): process.dlopen with RTLD_NOW, Handler(), identity against
 * module.yml, a ctx like the host's (in-memory SQLite with the migrations applied, a stderr logger, a
 * synchronous event bus shared by all modules, module.yml `config`), initialize(ctx), getHandler() for every
 * declared route; then the requests of scenarios.js through the handler functions; cleanup() in reverse.
 * Prints one JSON line on stdout and exits 0 when every module loaded and answered as expected, else 1.
 *
 * Plain CommonJS on purpose: Node 20 to 26 run it as it is.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { openSqliteDb } = require('./open-sqlite-db');
const { SCENARIOS } = require('./scenarios');

const MAX_DELIVERY_DEPTH = 16;

function parseArgs(argv) {
  const dirs = [];
  let root = path.resolve(__dirname, '..', '..');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--root') root = path.resolve(argv[++i]);
    else dirs.push(path.resolve(argv[i]));
  }
  if (dirs.length === 0) throw new Error('usage: serve-once.js [--root <repo>] <module dir>...');
  return { root, dirs };
}

function elapsed(since) {
  return Math.round((performance.now() - since) * 1000) / 1000;
}

function messageOf(error) {
  return error instanceof Error ? error.message : String(error);
}

function withTimeout(value, ms, what) {
  if (!value || typeof value.then !== 'function') return value;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([value, timeout]).finally(() => clearTimeout(timer));
}

function readManifest(yaml, dir) {
  const manifest = yaml.parse(fs.readFileSync(path.join(dir, 'module.yml'), 'utf8'));
  if (!manifest || typeof manifest.code !== 'string' || typeof manifest.version !== 'string') {
    throw new Error(`${path.join(dir, 'module.yml')}: expected a mapping with code and version`);
  }
  const target = `${process.platform}-${process.arch}`;
  const binary = manifest.binaries && manifest.binaries[target];
  if (typeof binary !== 'string') throw new Error(`module "${manifest.code}" declares no binary for ${target}`);
  return {
    code: manifest.code,
    version: manifest.version,
    library: path.resolve(dir, binary),
    routes: Array.isArray(manifest.routes) ? manifest.routes : [],
    dependencies: Array.isArray(manifest.dependencies) ? manifest.dependencies : [],
    events: { publishes: (manifest.events && manifest.events.publishes) || [], subscribes: (manifest.events && manifest.events.subscribes) || [] },
    migrations: typeof manifest.migrations === 'string' ? path.resolve(dir, manifest.migrations) : undefined,
    config: manifest.config && typeof manifest.config === 'object' ? manifest.config : {},
    initMs: (manifest.timeouts && manifest.timeouts.init_ms) || 5000,
    requestMs: (manifest.timeouts && manifest.timeouts.request_ms) || 2000,
  };
}

/** Dependencies before dependants; a dependency that was not given is an error, not a silent skip. */
function orderByDependencies(entries) {
  const byCode = new Map(entries.map((entry) => [entry.manifest.code, entry]));
  const ordered = [];
  const seen = new Set();
  const visit = (entry, trail) => {
    const code = entry.manifest.code;
    if (seen.has(code)) return;
    if (trail.includes(code)) throw new Error(`dependency cycle: ${[...trail, code].join(' -> ')}`);
    for (const dependency of entry.manifest.dependencies) {
      const found = byCode.get(dependency);
      if (found === undefined) throw new Error(`module "${code}" depends on "${dependency}": pass its directory too`);
      visit(found, [...trail, code]);
    }
    seen.add(code);
    ordered.push(entry);
  };
  for (const entry of entries) visit(entry, []);
  return ordered;
}

function createBus() {
  const subscriptions = new Map();
  const failures = [];
  let depth = 0;
  return {
    failures,
    subscribe(code, topic, listener) {
      const list = subscriptions.get(topic) || [];
      list.push({ code, listener });
      subscriptions.set(topic, list);
    },
    publish(publisher, topic, payload) {
      const list = subscriptions.get(topic);
      if (list === undefined || depth >= MAX_DELIVERY_DEPTH) return;
      depth++;
      try {
        for (const { code, listener } of [...list]) {
          try {
            listener(payload, topic);
          } catch (error) {
            failures.push({ publisher, topic, subscriber: code, error: messageOf(error) });
            process.stderr.write(`[${code}] subscriber of ${topic} failed: ${messageOf(error)}\n`);
          }
        }
      } finally {
        depth--;
      }
    },
  };
}

function createContext(manifest, db, bus, dataDir) {
  const log = (level) => (msg, fields) => {
    process.stderr.write(`[${manifest.code}] ${level} ${String(msg)}${fields === undefined ? '' : ' ' + JSON.stringify(fields)}\n`);
  };
  const declared = (kind, topic) => {
    if (!manifest.events[kind].includes(topic)) throw new Error(`module "${manifest.code}" did not declare ${kind} "${topic}"`);
  };
  return Object.freeze({
    code: manifest.code,
    version: manifest.version,
    config: Object.freeze({ ...manifest.config }),
    logger: Object.freeze({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }),
    db,
    events: Object.freeze({
      publish(topic, payload) {
        declared('publishes', topic);
        bus.publish(manifest.code, topic, payload);
      },
      subscribe(topic, listener) {
        declared('subscribes', topic);
        if (typeof listener !== 'function') throw new TypeError(`ctx.events.subscribe: expected a function, got ${typeof listener}`);
        bus.subscribe(manifest.code, topic, listener);
      },
    }),
    dataDir,
  });
}

function applyMigrations(db, dir) {
  if (dir === undefined || !fs.existsSync(dir)) return [];
  const files = fs
    .readdirSync(dir)
    .filter((name) => /^\d+-.+\.sql$/.test(name))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10));
  for (const name of files) {
    db.exec('BEGIN');
    try {
      db.exec(fs.readFileSync(path.join(dir, name), 'utf8'));
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw new Error(`migration ${name} failed: ${messageOf(error)}`);
    }
  }
  return files;
}

/** Loads one module up to its resolved route table; fills `result` as it goes so a failure names its stage. */
async function loadModule(entry, root, bus, workDir) {
  const { manifest, result } = entry;
  result.stage = 'dlopen';
  result.sha256 = crypto.createHash('sha256').update(fs.readFileSync(manifest.library)).digest('hex');
  const holder = { exports: {} };
  let started = performance.now();
  process.dlopen(holder, manifest.library, os.constants.dlopen.RTLD_NOW);
  result.load_ms = elapsed(started);

  result.stage = 'handler';
  if (typeof holder.exports.Handler !== 'function') throw new Error(`exports.Handler: expected a function, got ${typeof holder.exports.Handler}`);
  const handler = holder.exports.Handler();
  const code = handler.getModuleCode();
  const version = handler.getModuleVersion();
  if (code !== manifest.code || version !== manifest.version) {
    throw new Error(`identity ${code}@${version} does not match module.yml ${manifest.code}@${manifest.version}`);
  }
  entry.handler = handler;

  result.stage = 'migrations';
  const db = openSqliteDb(root);
  entry.db = db;
  result.sqlite = db.engine;
  result.migrations = applyMigrations(db.facade, manifest.migrations).length;

  result.stage = 'initialize';
  const dataDir = fs.mkdtempSync(path.join(workDir, `${manifest.code}-`));
  started = performance.now();
  await withTimeout(handler.initialize(createContext(manifest, db.facade, bus, dataDir)), manifest.initMs, 'initialize()');
  result.init_ms = elapsed(started);
  entry.initialized = true;

  result.stage = 'routes';
  entry.routes = new Map();
  for (const route of manifest.routes) {
    const fn = handler.getHandler(route.path, route.method);
    if (typeof fn !== 'function') throw new Error(`getHandler("${route.path}", "${route.method}") returned ${fn === null ? 'null' : typeof fn}`);
    entry.routes.set(`${route.method} ${route.path}`, fn);
  }
  result.routes = entry.routes.size;
  entry.loaded = true;
}

function decodeBody(body) {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

let requestCount = 0;

async function serveStep(entry, step) {
  const { manifest } = entry;
  const params = step.params || {};
  const requestPath = step.route.replace(/:([A-Za-z0-9_]+)/g, (_, name) => encodeURIComponent(params[name]));
  const outcome = { module: manifest.code, method: step.method, route: step.route, path: requestPath, expected: step.expect };
  if (!entry.loaded) return { ...outcome, ok: false, problem: `module "${manifest.code}" is not loaded` };
  const fn = entry.routes.get(`${step.method} ${step.route}`);
  if (fn === undefined) return { ...outcome, ok: false, problem: `module.yml declares no route ${step.method} ${step.route}` };
  const rawBody = step.body === undefined ? undefined : Buffer.from(JSON.stringify(step.body));
  const headers = { host: 'localhost', 'user-agent': 'erpmod-node-majors' };
  if (rawBody !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(rawBody.length) });
  const requestId = `node-majors-${++requestCount}`;
  const started = performance.now();
  try {
    const reply = await withTimeout(
      fn({ method: step.method, route: step.route, path: requestPath, params, query: step.query || {}, headers, body: step.body, rawBody, requestId }),
      manifest.requestMs,
      `${step.method} ${step.route}`,
    );
    outcome.ms = elapsed(started);
    outcome.status = reply && typeof reply === 'object' && typeof reply.status === 'number' ? reply.status : 200;
    const body = decodeBody(reply && typeof reply === 'object' ? reply.body : undefined);
    const problem = outcome.status !== step.expect ? `expected status ${step.expect}, got ${outcome.status}: ${JSON.stringify(body)}` : step.check && step.check(body);
    outcome.ok = !problem;
    if (problem) outcome.problem = String(problem).slice(0, 500);
  } catch (error) {
    outcome.ms = elapsed(started);
    outcome.ok = false;
    outcome.problem = `handler threw: ${messageOf(error)}`;
  }
  return outcome;
}

async function main() {
  const { root, dirs } = parseArgs(process.argv.slice(2));
  const yaml = require(path.join(root, 'node_modules', 'yaml'));
  const output = {
    node: process.version,
    napi: process.versions.napi,
    abi: process.versions.modules,
    platform: `${process.platform}-${process.arch}`,
    modules: [],
    ok: false,
  };
  const entries = dirs.map((dir) => {
    const result = { dir, code: path.basename(dir), ok: false, requests: [] };
    output.modules.push(result);
    try {
      const manifest = readManifest(yaml, dir);
      Object.assign(result, { code: manifest.code, version: manifest.version, library: manifest.library });
      return { manifest, result };
    } catch (error) {
      Object.assign(result, { stage: 'manifest', error: messageOf(error) });
      return undefined;
    }
  });
  const loadable = entries.filter((entry) => entry !== undefined);
  const ordered = orderByDependencies(loadable);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-node-majors-'));
  const bus = createBus();
  try {
    for (const entry of ordered) {
      const blocked = entry.manifest.dependencies.filter((code) => !loadable.find((e) => e.manifest.code === code && e.loaded));
      if (blocked.length > 0) {
        Object.assign(entry.result, { stage: 'dependencies', error: `not loaded: ${blocked.join(', ')}` });
        continue;
      }
      try {
        await loadModule(entry, root, bus, workDir);
      } catch (error) {
        entry.result.error = messageOf(error);
      }
    }
    const byCode = new Map(ordered.map((entry) => [entry.manifest.code, entry]));
    for (const entry of ordered) {
      if (entry.result.error !== undefined) continue;
      entry.result.stage = 'requests';
      const steps = SCENARIOS[entry.manifest.code];
      if (steps === undefined) {
        entry.result.error = `no requests for module "${entry.manifest.code}" in scripts/node-majors/scenarios.js`;
        continue;
      }
      for (const step of steps) {
        const target = byCode.get(step.module || entry.manifest.code);
        entry.result.requests.push(await serveStep(target || { manifest: { code: step.module } }, step));
      }
      const failed = entry.result.requests.find((request) => !request.ok);
      if (failed) entry.result.error = `${failed.method} ${failed.path}: ${failed.problem}`;
    }
  } finally {
    for (const entry of [...ordered].reverse()) {
      try {
        if (entry.initialized) await withTimeout(entry.handler.cleanup(), entry.manifest.initMs, 'cleanup()');
      } catch (error) {
        if (entry.result.error === undefined) Object.assign(entry.result, { stage: 'cleanup', error: messageOf(error) });
      }
      if (entry.db) entry.db.close();
    }
    fs.rmSync(workDir, { recursive: true, force: true });
  }
  for (const result of output.modules) {
    result.ok = result.error === undefined;
    if (result.ok) delete result.stage;
  }
  output.subscriber_failures = bus.failures;
  output.ok = output.modules.every((result) => result.ok) && bus.failures.length === 0;
  return output;
}

function emit(output) {
  process.stdout.write(`${JSON.stringify(output)}\n`, () => process.exit(output.ok ? 0 : 1));
}

main().then(emit, (error) => emit({ node: process.version, napi: process.versions.napi, abi: process.versions.modules, ok: false, error: messageOf(error), modules: [] }));
