import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErpmodError } from '../host/errors';
import { migrationFiles } from '../host/compliance/manifest/list-migration-files';
import { readManifest } from '../host/compliance/manifest/read-manifest';

let root: string;
let counter = 0;

const VALID = `code: sales
name: Sales
version: 1.4.0
description: Orders, quotes and invoices
vendor: Example Vendor Ltd
abi:
  erpmod: 1
  napi: 8
binaries:
  linux-x64: lib/linux-x64/sales.so
  linux-arm64: lib/linux-arm64/sales.so
  darwin-arm64: lib/darwin-arm64/sales.dylib
  win32-x64: lib/win32-x64/sales.dll
sha256:
  linux-x64: ${'ab'.repeat(32)}
dependencies: [inventory]
feature_flag: enable_sales
critical: true
isolation: process
routes:
  - { method: GET,  path: /orders }
  - { method: POST, path: /orders }
  - { method: GET,  path: /orders/:id }
events:
  publishes: [order.created]
  subscribes: [stock.reserved]
migrations: migrations
config:
  tax_rate_bp: 2000
timeouts:
  init_ms: 3000
  request_ms: 1500
`;

const MINIMAL = `code: sales
name: Sales
version: 1.4.0
abi: { erpmod: 1, napi: 8 }
binaries: { linux-x64: lib/linux-x64/sales.so }
routes: [{ method: GET, path: /orders }]
`;

/** A fresh module directory holding `yaml` as module.yml. */
function moduleWith(yaml: string | Buffer): string {
  const dir = path.join(root, `m${counter++}`, 'sales');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'module.yml'), yaml);
  return dir;
}

/** MINIMAL with top-level lines replaced (or removed when the value is null). */
function minimalWith(changes: Record<string, string | null>): string {
  const lines = MINIMAL.trimEnd().split('\n').filter((line) => {
    const key = line.slice(0, line.indexOf(':'));
    return !(key in changes);
  });
  for (const [key, value] of Object.entries(changes)) if (value !== null) lines.push(`${key}: ${value}`);
  return `${lines.join('\n')}\n`;
}

function failure(dir: string): ErpmodError {
  try {
    readManifest(dir);
  } catch (error) {
    assert.ok(error instanceof ErpmodError, `expected an ErpmodError, got ${String(error)}`);
    return error;
  }
  assert.fail('readManifest accepted the manifest');
}

function issuesOf(dir: string): string[] {
  const error = failure(dir);
  assert.equal(error.code, 'ERPMOD_MANIFEST_INVALID', error.message);
  return (error.details?.issues as { path: string; message: string }[]).map((i) => `${i.path}: ${i.message}`);
}

before(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-manifest-')); });
after(() => fs.rmSync(root, { recursive: true, force: true }));

describe('readManifest', () => {
  it('reads a complete manifest into camelCase', () => {
    const dir = moduleWith(VALID);
    const loaded = readManifest(dir);
    assert.equal(loaded.moduleDir, dir);
    assert.equal(loaded.manifestPath, path.join(dir, 'module.yml'));
    assert.deepEqual(loaded.manifest, {
      code: 'sales', name: 'Sales', version: '1.4.0', description: 'Orders, quotes and invoices', vendor: 'Example Vendor Ltd',
      abi: { erpmod: 1, napi: 8 },
      binaries: {
        'linux-x64': 'lib/linux-x64/sales.so', 'linux-arm64': 'lib/linux-arm64/sales.so',
        'darwin-arm64': 'lib/darwin-arm64/sales.dylib', 'win32-x64': 'lib/win32-x64/sales.dll',
      },
      sha256: { 'linux-x64': 'ab'.repeat(32) },
      dependencies: ['inventory'], featureFlag: 'enable_sales', critical: true, isolation: 'process',
      routes: [{ method: 'GET', path: '/orders', execution: 'main' }, { method: 'POST', path: '/orders', execution: 'main' }, { method: 'GET', path: '/orders/:id', execution: 'main' }],
      events: { publishes: ['order.created'], subscribes: ['stock.reserved'] },
      migrations: 'migrations', config: { tax_rate_bp: 2000 }, timeouts: { initMs: 3000, requestMs: 1500 },
      execution: 'main', maxConcurrency: 1, http: { allow: [] },
    });
  });

  it('reads execution per route, a route overriding its module, with max_concurrency and http.allow', () => {
    const { manifest } = readManifest(moduleWith(minimalWith({
      execution: 'pool', max_concurrency: '3', http: '{ allow: ["Rates.Example.com:443", "[::1]:8080"] }',
      routes: '[{ method: GET, path: /a }, { method: GET, path: /b, execution: main }]',
    })));
    assert.deepEqual(manifest.routes.map((route) => route.execution), ['pool', 'main']);
    assert.equal(manifest.execution, 'pool');
    assert.equal(manifest.maxConcurrency, 3);
    assert.deepEqual(manifest.http.allow, ['rates.example.com:443', '[::1]:8080']);
  });

  it('fills the defaults of optional fields', () => {
    const { manifest } = readManifest(moduleWith(MINIMAL));
    assert.deepEqual(manifest.dependencies, []);
    assert.equal(manifest.isolation, 'in-process');
    assert.deepEqual(manifest.events, { publishes: [], subscribes: [] });
    assert.deepEqual(manifest.config, {});
    assert.deepEqual(manifest.timeouts, { initMs: 5000, requestMs: 2000 });
    assert.deepEqual(manifest.sha256, {});
    assert.equal(manifest.critical, undefined);
    assert.equal(manifest.featureFlag, undefined);
    assert.equal(manifest.migrations, undefined);
  });

  it('names the file, the path and what was expected and found', () => {
    const dir = moduleWith(minimalWith({ routes: '[{ method: GET, path: /a }, { method: GET, path: /b }, { method: FETCH, path: /c }]' }));
    const error = failure(dir);
    assert.equal(error.code, 'ERPMOD_MANIFEST_INVALID');
    const label = path.relative(process.cwd(), path.join(dir, 'module.yml')).split(path.sep).join('/');
    const shown = label.startsWith('..') ? path.join(dir, 'module.yml') : label;
    assert.equal(error.message, `${shown}: routes[2].method: expected one of GET, POST, PUT, PATCH, DELETE, got "FETCH"`);
  });

  const cases: [string, Record<string, string | null>, string][] = [
    ['missing code', { code: null }, 'code: required'],
    ['upper-case code', { code: 'Sales' }, 'code: expected lowercase kebab-case of 2 to 40 characters (like sales or stock-ledger), got "Sales"'],
    ['one-letter code', { code: 's' }, 'code: expected lowercase kebab-case of 2 to 40 characters (like sales or stock-ledger), got "s"'],
    ['reserved code', { code: 'system' }, 'code: "system" is reserved by the host; choose another code'],
    ['numeric version', { version: '1.4' }, 'version: expected a semver string like "1.4.0", got 1.4 (quote it)'],
    ['bad semver', { version: '"1.4.0.1"' }, 'version: expected a semver version like 1.4.0, got "1.4.0.1"'],
    ['abi.napi zero', { abi: '{ erpmod: 1, napi: 0 }' }, 'abi.napi: expected a positive integer, got 0'],
    ['abi.erpmod missing', { abi: '{ napi: 8 }' }, 'abi.erpmod: required'],
    ['abi unknown key', { abi: '{ erpmod: 1, napi: 8, node: 20 }' }, 'abi.node: unknown key; expected one of erpmod, napi'],
    ['unknown platform', { binaries: '{ beos-x64: lib/x.so }' }, 'binaries.beos-x64: expected a key <platform>-<arch> with platform one of linux, darwin, win32 and arch one of x64, arm64, ia32, arm, ppc64, s390x, riscv64, got "beos-x64"'],
    ['no binaries', { binaries: '{}' }, 'binaries: expected at least one <platform>-<arch> entry'],
    ['route without slash', { routes: '[{ method: GET, path: orders }]' }, 'routes[0].path: expected a path starting with /, got "orders"'],
    ['route trailing slash', { routes: '[{ method: GET, path: /orders/ }]' }, 'routes[0].path: expected no trailing slash, got "/orders/"'],
    ['route with ..', { routes: '[{ method: GET, path: /a/../b }]' }, 'routes[0].path: expected no . or .. segment (a route must stay under the module\'s prefix), got "/a/../b"'],
    ['route bad param', { routes: '[{ method: GET, path: "/a/:1x" }]' }, 'routes[0].path: expected a parameter like :id, got ":1x"'],
    ['route bad segment', { routes: '[{ method: GET, path: "/a b" }]' }, 'routes[0].path: expected segments of letters, digits, . _ ~ - or :name parameters, got "a b"'],
    ['route unknown key', { routes: '[{ method: GET, path: /a, handler: x }]' }, 'routes[0].handler: unknown key; expected one of method, path, execution, accepts'],
    ['bad route execution', { routes: '[{ method: GET, path: /a, execution: thread }]' }, 'routes[0].execution: expected one of main, pool, got "thread"'],
    ['bad execution', { execution: 'threads' }, 'execution: expected one of main, pool, got "threads"'],
    ['zero max_concurrency', { max_concurrency: '0' }, 'max_concurrency: expected a positive integer, got 0'],
    ['http allow without port', { http: '{ allow: [rates.example.com] }' }, 'http.allow[0]: expected host:port like "rates.example.com:443", got "rates.example.com"'],
    ['http unknown key', { http: '{ deny: [] }' }, 'http.deny: unknown key; expected one of allow'],
    ['route accepts other than json', { routes: '[{ method: POST, path: /a, accepts: xml }]' }, 'routes[0].accepts: expected one of json, got "xml"'],
    ['routes missing', { routes: null }, 'routes: required'],
    ['bad topic', { events: '{ publishes: [OrderCreated] }' }, 'events.publishes[0]: expected a topic entity.action like order.created, got "OrderCreated"'],
    ['bad feature flag', { feature_flag: 'Enable-Sales' }, 'feature_flag: expected lowercase snake_case like enable_sales, got "Enable-Sales"'],
    ['huge timeout', { timeouts: '{ request_ms: 3600000 }' }, 'timeouts.request_ms: expected at most 300000, got 3600000'],
    ['config a list', { config: '[1, 2]' }, 'config: expected a mapping, got a list'],
    ['critical a string', { critical: 'yes' }, 'critical: expected true or false, got "yes"'],
    ['bad isolation', { isolation: 'thread' }, 'isolation: expected one of in-process, process, got "thread"'],
    ['short sha256', { sha256: '{ linux-x64: abc }' }, 'sha256.linux-x64: expected 64 hexadecimal characters, got "abc"'],
    ['unquoted numeric sha256', { sha256: `{ linux-x64: ${'1'.repeat(64)} }` }, `sha256.linux-x64: expected 64 hexadecimal characters, got the number ${Number('1'.repeat(64))}: quote the digest`],
    ['sha256 for undeclared binary', { sha256: `{ win32-x64: ${'0'.repeat(64)} }` }, 'sha256.win32-x64: pins a binary that binaries does not declare; declared: linux-x64'],
    ['self dependency', { dependencies: '[sales]' }, 'dependencies[0]: a module cannot depend on itself'],
    ['unknown top-level key', { plugin_type: 'sales' }, 'plugin_type: unknown key; expected one of code, name, version, description, vendor, abi, binaries, sha256, dependencies, feature_flag, critical, isolation, routes, events, migrations, config, timeouts, execution, max_concurrency, http'],
  ];
  for (const [title, changes, expected] of cases) {
    it(`rejects ${title}`, () => {
      assert.deepEqual(issuesOf(moduleWith(minimalWith(changes))), [expected]);
    });
  }

  it('collects every issue at once', () => {
    const issues = issuesOf(moduleWith(minimalWith({ code: 'X', version: '"one"', isolation: 'thread', extra: '1' })));
    assert.equal(issues.length, 4);
    const error = failure(moduleWith(minimalWith({ code: 'X', version: '"one"' })));
    assert.match(error.message, /2 problems:\n {2}.*code: .*\n {2}.*version: /);
  });

  it('rejects duplicate routes, including ones that differ only in parameter names', () => {
    const issues = issuesOf(moduleWith(minimalWith({
      routes: '[{ method: GET, path: /orders }, { method: POST, path: /orders }, { method: GET, path: /orders }, { method: GET, path: "/orders/:id" }, { method: GET, path: "/orders/:key" }]',
    })));
    assert.deepEqual(issues, [
      'routes[2]: duplicate route GET /orders: routes[0] already declares it',
      'routes[4]: duplicate route GET /orders/:key: routes[3] already declares it',
    ]);
  });

  it('rejects binary paths that escape through .., an absolute path or a symbolic link', () => {
    const outside = path.join(root, 'outside.so');
    fs.writeFileSync(outside, 'x');
    const dir = moduleWith(minimalWith({
      binaries: '{ linux-x64: ../../outside.so, linux-arm64: /etc/passwd, darwin-arm64: lib/link.dylib, win32-x64: "lib/sub/../../../x.dll" }',
    }));
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.symlinkSync(outside, path.join(dir, 'lib', 'link.dylib'));
    assert.deepEqual(issuesOf(dir), [
      'binaries.linux-x64: "../../outside.so" resolves outside the module directory',
      'binaries.linux-arm64: expected a path relative to the module directory, got absolute path "/etc/passwd"',
      `binaries.darwin-arm64: "lib/link.dylib" leaves the module directory through a symbolic link (to ${fs.realpathSync(outside)})`,
      'binaries.win32-x64: "lib/sub/../../../x.dll" resolves outside the module directory',
    ]);
  });

  it('rejects a binary under a symbolically linked directory that leads outside, even before the file exists', () => {
    const dir = moduleWith(MINIMAL);
    fs.symlinkSync(root, path.join(dir, 'lib'));
    assert.deepEqual(issuesOf(dir), [
      `binaries.linux-x64: "lib/linux-x64/sales.so" leaves the module directory through a symbolic link (to ${fs.realpathSync(root)})`,
    ]);
  });

  it('accepts a symbolic link that stays inside the module directory', () => {
    const dir = moduleWith(MINIMAL);
    fs.mkdirSync(path.join(dir, 'build'));
    fs.writeFileSync(path.join(dir, 'build', 'sales.so'), 'x');
    fs.mkdirSync(path.join(dir, 'lib', 'linux-x64'), { recursive: true });
    fs.symlinkSync(path.join(dir, 'build', 'sales.so'), path.join(dir, 'lib', 'linux-x64', 'sales.so'));
    assert.equal(readManifest(dir).manifest.binaries['linux-x64'], 'lib/linux-x64/sales.so');
  });

  it('rejects a migrations directory outside the module directory', () => {
    assert.deepEqual(issuesOf(moduleWith(minimalWith({ migrations: '../shared' }))), ['migrations: "../shared" resolves outside the module directory']);
  });

  it('rejects a YAML alias bomb quickly, as unreadable', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      bomb.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const started = Date.now();
    const error = failure(moduleWith(`${bomb.join('\n')}\n`));
    assert.equal(error.code, 'ERPMOD_MANIFEST_UNREADABLE');
    assert.match(error.message, /alias/i);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it('rejects a file over 256 KiB before parsing it', () => {
    const error = failure(moduleWith(`${MINIMAL}# ${'x'.repeat(256 * 1024)}\n`));
    assert.equal(error.code, 'ERPMOD_MANIFEST_UNREADABLE');
    assert.match(error.message, /bytes; the limit is 262144/);
  });

  it('rejects duplicate keys, invalid YAML, non-UTF-8 and a missing file as unreadable', () => {
    assert.match(failure(moduleWith(`${MINIMAL}code: other\n`)).message, /Map keys must be unique/);
    assert.equal(failure(moduleWith('code: [unclosed\n')).code, 'ERPMOD_MANIFEST_UNREADABLE');
    assert.match(failure(moduleWith(Buffer.from([0x63, 0x3a, 0x20, 0xff, 0x0a]))).message, /not valid UTF-8/);
    const missing = failure(path.join(root, 'nowhere'));
    assert.equal(missing.code, 'ERPMOD_MANIFEST_UNREADABLE');
    assert.match(missing.message, /ENOENT/);
  });

  it('rejects a document that is not a mapping', () => {
    assert.deepEqual(issuesOf(moduleWith('- code: sales\n')), [': expected a mapping at the top level, got a list']);
  });
});

describe('migrationFiles', () => {
  it('lists NNN-name.sql files in number order and ignores other files', () => {
    const dir = moduleWith(minimalWith({ migrations: 'migrations' }));
    const migrations = path.join(dir, 'migrations');
    fs.mkdirSync(migrations);
    for (const name of ['010-add-index.sql', '002-orders.sql', '001-init.sql', 'README.md', '003-notes.txt', 'backup.sql']) {
      fs.writeFileSync(path.join(migrations, name), '-- sql');
    }
    const files = migrationFiles(readManifest(dir));
    assert.deepEqual(files.map((f) => [f.sequence, f.name]), [[1, '001-init.sql'], [2, '002-orders.sql'], [10, '010-add-index.sql']]);
    assert.equal(files[0]!.absolutePath, path.join(migrations, '001-init.sql'));
  });

  it('returns nothing when no migrations are declared or the directory is absent', () => {
    assert.deepEqual(migrationFiles(readManifest(moduleWith(MINIMAL))), []);
    assert.deepEqual(migrationFiles(readManifest(moduleWith(minimalWith({ migrations: 'migrations' })))), []);
  });

  it('rejects a migration file that links outside the module directory', () => {
    const dir = moduleWith(minimalWith({ migrations: 'migrations' }));
    fs.mkdirSync(path.join(dir, 'migrations'));
    const outside = path.join(root, 'evil.sql');
    fs.writeFileSync(outside, 'DROP TABLE plugins;');
    fs.symlinkSync(outside, path.join(dir, 'migrations', '001-evil.sql'));
    assert.throws(() => migrationFiles(readManifest(dir)), (error: unknown) =>
      error instanceof ErpmodError && error.code === 'ERPMOD_MANIFEST_INVALID' && /001-evil\.sql links outside the module directory/.test(error.message));
  });

  it('rejects two migrations with the same number', () => {
    const dir = moduleWith(minimalWith({ migrations: 'migrations' }));
    fs.mkdirSync(path.join(dir, 'migrations'));
    fs.writeFileSync(path.join(dir, 'migrations', '001-a.sql'), '');
    fs.writeFileSync(path.join(dir, 'migrations', '001-b.sql'), '');
    assert.throws(() => migrationFiles(readManifest(dir)), /share the number 001/);
  });
});
