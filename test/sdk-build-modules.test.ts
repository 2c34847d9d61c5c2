/**
 * scripts/build-modules.ts: which builder each module gets, offline header resolution, skipping
 * up-to-date modules, installing through a rename, and failures that name the module.
 * Builds run in a temporary repository layout so they never race the real modules' builds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  buildModules,
  findRepoRoot,
  libraryExtension,
  ModuleBuildError,
  planModuleBuilds,
  resolveNodeDir,
} from '../scripts/build-modules';
import { loadModuleLibrary } from '../native-sdk/testing';

const root = findRepoRoot(__dirname);
const gypi = path.join(root, 'native-sdk', 'gyp', 'erpmod.gypi');
const platformDir = `${process.platform}-${process.arch}`;

/** A throw-away repository with one plain-C module built by node-gyp from its own binding.gyp. */
function scratchRepo(code: string, source: string): { repo: string; moduleDir: string; sourceFile: string } {
  const repo = mkdtempSync(path.join(tmpdir(), 'erpmod-build-'));
  const moduleDir = path.join(repo, 'modules', code);
  mkdirSync(path.join(moduleDir, 'src'), { recursive: true });
  writeFileSync(path.join(moduleDir, 'module.yml'), `code: ${code}\nname: ${code}\nversion: 1.0.0\n`);
  writeFileSync(
    path.join(moduleDir, 'binding.gyp'),
    JSON.stringify({ targets: [{ target_name: code, includes: [gypi], sources: [`src/${code}.c`] }]}),
  );
  const sourceFile = path.join(moduleDir, 'src', `${code}.c`);
  writeFileSync(sourceFile, source);
  return { repo, moduleDir, sourceFile };
}

const helloSource = (code: string) => `#include <node_api.h>
#include "erpmod/abi.h"
ERPMOD_INFO_BLOCK("${code}", "1.0.0")
static napi_value code(napi_env env, napi_callback_info info) {
  napi_value v; (void)info; napi_create_string_utf8(env, "${code}", NAPI_AUTO_LENGTH, &v); return v;
}
NAPI_MODULE_INIT() {
  napi_value fn; napi_create_function(env, "Handler", NAPI_AUTO_LENGTH, code, NULL, &fn);
  napi_set_named_property(env, exports, "Handler", fn); return exports;
}
`;

describe('planning', () => {
  test('sales builds with node-gyp from the top-level binding.gyp, inventory with cmake-js in its directory', () => {
    const plans = planModuleBuilds(root);
    const byCode = new Map(plans.map((p) => [p.code, p]));
    assert.deepEqual(
      { builder: byCode.get('sales')?.builder, projectDir: byCode.get('sales')?.projectDir },
      { builder: 'node-gyp', projectDir: root },
    );
    assert.deepEqual(
      { builder: byCode.get('inventory')?.builder, projectDir: byCode.get('inventory')?.projectDir },
      { builder: 'cmake-js', projectDir: path.join(root, 'modules', 'inventory') },
    );
    assert.equal(byCode.get('sales')?.destination, path.join(root, 'modules', 'sales', 'lib', platformDir, `sales.${libraryExtension()}`));
  });

  test('Node headers: npm_config_nodedir when it holds them, else the running Node\'s own', () => {
    const fallback = resolveNodeDir({});
    assert.ok(existsSync(path.join(fallback, 'include', 'node', 'node_api.h')));
    assert.equal(fallback, path.resolve(process.execPath, '../../include/node', '../..'));
    assert.equal(resolveNodeDir({ npm_config_nodedir: '/nonexistent/node' }), fallback);
    assert.equal(resolveNodeDir({ npm_config_nodedir: fallback }), fallback);
  });

  test('the CLI refuses an unknown module code with a non-zero exit', () => {
    const cli = spawnSync(process.execPath, [path.join(root, 'dist', 'scripts', 'build-modules.js'), 'no-such-module'], { encoding: 'utf8' });
    assert.equal(cli.status, 1);
    assert.match(cli.stderr, /no buildable module named no-such-module \(buildable: .*sales/);
  });
});

describe('building', () => {
  test('builds, skips when up to date, rebuilds after a source change or with force, installs by rename', () => {
    const { repo, moduleDir, sourceFile } = scratchRepo('hello', helloSource('hello'));
    const library = path.join(moduleDir, 'lib', platformDir, `hello.${libraryExtension()}`);

    const [first] = buildModules({ root: repo });
    assert.deepEqual([first?.code, first?.builder, first?.status, first?.destination], ['hello', 'node-gyp', 'built', library]);
    assert.equal(loadModuleLibrary(library).Handler() as unknown, 'hello');

    assert.equal(buildModules({ root: repo })[0]?.status, 'up-to-date');

    const inode = statSync(library).ino;
    const later = new Date(Date.now() + 2000);
    utimesSync(sourceFile, later, later);
    assert.equal(buildModules({ root: repo })[0]?.status, 'built');
    assert.notEqual(statSync(library).ino, inode, 'a rebuilt library replaces the file by rename, never in place');

    assert.equal(buildModules({ root: repo, force: true })[0]?.status, 'built');
  });

  test('a compile error fails with the module named and the compiler output', () => {
    const { repo } = scratchRepo('broken', '#error "this module does not compile"\n');
    assert.throws(
      () => buildModules({ root: repo }),
      (error: unknown) =>
        error instanceof ModuleBuildError &&
        error.code === 'broken' &&
        /^module "broken": node-gyp failed in /.test(error.message) &&
        error.message.includes('this module does not compile'),
    );
  });
});
