/**
 * The kit is a package: `npm pack` of this repository installs with `npm i -D <tarball>` into an empty
 * directory and gives the `erpmod` bin, the SDK (headers, gyp and CMake glue through `erpmod/sdk`), and
 * the testing harness (`erpmod/testing`); `erpmod new` there writes a module that refers to the package
 * only, and it builds (node-gyp and cmake-js), passes its unit test and the checks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readTarGz } from '../host/packaging/tar-archive';
import { installKit, packagesWithInstallScripts, packKit } from './fixtures/vendor/kit-package';
import { describeRun, run } from './fixtures/vendor/vendor-cli';
import { makeTempDir } from './support/host-process';
import { PLATFORM_KEY, ROOT } from './support/paths';

describe('the kit as a package', () => {
  const scratch = makeTempDir('vendor-kit');
  const home = path.join(scratch, 'vendor');
  fs.mkdirSync(home);
  let tarball = '';

  it('npm pack ships the host, the SDK and the harness, and nothing that builds at install', { timeout: 120_000 }, (t) => {
    const started = Date.now();
    tarball = packKit(scratch);
    t.diagnostic(`npm pack: ${Date.now() - started} ms, ${fs.statSync(tarball).size} bytes`);
    const files = readTarGz(fs.readFileSync(tarball)).map((e) => e.path.replace(/^package\//, ''));
    for (const wanted of [
      'dist/host/cli/erpmod.js', 'dist/native-sdk/testing/index.js', 'dist/native-sdk/sdk-paths.js',
      'native-sdk/include/erpmod/module.h', 'native-sdk/include/erpmod/identity.h', 'native-sdk/gyp/erpmod.gypi',
      'native-sdk/cmake/erpmod.cmake', 'native-sdk/tools/module-identity.js', 'native-sdk/templates/common/module.yml.tmpl',
      'README.md', 'LICENSE', 'package.json',
    ]) assert.ok(files.includes(wanted), `the tarball has ${wanted}`);
    const unwanted = files.filter((f) => /^(modules|test|bench|scripts|dist\/test|dist\/bench)\//.test(f) || f === 'binding.gyp' || f.endsWith('.ts') && !f.endsWith('.d.ts'));
    assert.deepEqual(unwanted, [], 'no example modules, tests, sources or top-level binding.gyp');
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { private?: boolean; gypfile?: boolean; scripts: Record<string, string> };
    assert.equal(pkg.private, undefined);
    assert.equal(pkg.gypfile, false);
    assert.equal(pkg.scripts.install ?? pkg.scripts.preinstall ?? pkg.scripts.postinstall, undefined);
  });

  it('npm i -D <tarball> in an empty directory: erpmod bin, erpmod/sdk, erpmod/testing; only the dev host\'s SQLite builds', { timeout: 300_000 }, (t) => {
    assert.ok(tarball !== '', 'packed');
    const started = Date.now();
    installKit(tarball, home);
    t.diagnostic(`npm i -D (without building better-sqlite3): ${Date.now() - started} ms`);
    assert.deepEqual(packagesWithInstallScripts(home), ['better-sqlite3']);
    assert.ok(fs.existsSync(path.join(home, 'node_modules', '.bin', 'erpmod')));
    // Asked from the directory, as build files ask (a require here would find this checkout itself).
    const sdk = JSON.parse(spawnSync(process.execPath, ['-p', 'JSON.stringify(require("erpmod/sdk"))'], { cwd: home, encoding: 'utf8' }).stdout) as Record<string, string>;
    assert.ok(fs.existsSync(path.join(sdk.include_dir!, 'erpmod', 'module.h')));
    assert.ok(fs.existsSync(sdk.gypi!));
    assert.ok(fs.existsSync(sdk.cmake!));
    assert.ok(sdk.include_dir!.startsWith(path.join(fs.realpathSync(home), 'node_modules', 'erpmod')), `found in the install, not the checkout: ${sdk.include_dir}`);
    const testing = spawnSync(process.execPath, ['-p', 'typeof require("erpmod/testing").openModule + " " + require.resolve("erpmod/testing")'], { cwd: home, encoding: 'utf8' });
    assert.equal(testing.stdout.trim(), `function ${path.join(fs.realpathSync(home), 'node_modules', 'erpmod', 'dist', 'native-sdk', 'testing', 'index.js')}`, testing.stderr);
  });

  for (const variant of [{ code: 'pricing', builder: 'gyp', lang: 'cpp' }, { code: 'pricing-cmake', builder: 'cmake', lang: 'c' }] as const) {
    it(`erpmod new there (${variant.lang}, ${variant.builder}) refers to the package only; it builds, tests and checks`, { timeout: 300_000 }, async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(home, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}` };
      // The module's own `node --test` must not see this runner's context (it would skip its tests).
      delete env.NODE_TEST_CONTEXT;
      const step = async (command: string, args: string[], cwd = home): Promise<string> => {
        const result = await run(command, args, { cwd, env, timeoutMs: 240_000 });
        assert.equal(result.code, 0, `${command} ${args.join(' ')}\n${describeRun(result)}`);
        return result.stdout;
      };
      const created = await step('erpmod', ['new', variant.code, '--builder', variant.builder, '--lang', variant.lang]);
      assert.doesNotMatch(created, /note:/, 'the kit is found: no note about relative paths');
      const dir = path.join(home, variant.code);
      for (const file of fs.readdirSync(dir, { recursive: true }) as string[]) {
        if (!fs.statSync(path.join(dir, file)).isFile()) continue;
        const text = fs.readFileSync(path.join(dir, file)).toString('utf8');
        assert.ok(!text.includes(ROOT), `${file} does not name the checkout ${ROOT}`);
      }
      if (variant.builder === 'gyp') assert.match(fs.readFileSync(path.join(dir, 'binding.gyp'), 'utf8'), /"\.\.\/node_modules\/erpmod\/native-sdk\/gyp\/erpmod\.gypi"/);
      else assert.match(fs.readFileSync(path.join(dir, 'CMakeLists.txt'), 'utf8'), /require\('erpmod\/sdk'\)\.cmake/);
      assert.match(fs.readFileSync(path.join(dir, 'test', `${variant.code}.test.js`), 'utf8'), /require\('erpmod\/testing'\)/);

      await step('erpmod', ['build', variant.code]);
      assert.ok(fs.existsSync(path.join(dir, 'lib', PLATFORM_KEY, `${variant.code}.so`)) || process.platform !== 'linux');
      assert.match(await step('npm', ['test'], dir), /# pass 3\n# fail 0/);
      await step('erpmod', ['check', variant.code]);
    });
  }
});
