/**
 * erpmod new and erpmod build: what a new module holds for each builder and language, the refusals
 * (existing directory, bad code, bad options), build failures that name their cause, a build that
 * changes nothing but lib/ and build/, and the win32-x64 cross-build with MinGW-w64 whose .dll passes
 * the static checks for Windows.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { checkStatic, defaultCheckTarget, readManifest } from '../host/compliance';
import { treeOf } from './fixtures/vendor/built-module';
import { describeRun, erpmod, run } from './fixtures/vendor/vendor-cli';
import { makeTempDir } from './support/host-process';
import { PLATFORM_KEY, ROOT } from './support/paths';

const scratch = makeTempDir('vendor-build');

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && fs.existsSync(path.join(dir, tool)));
}

describe('erpmod new', () => {
  const variants = [
    { builder: 'gyp', lang: 'cpp', build: 'binding.gyp', source: 'src/v-gyp-cpp.cc' },
    { builder: 'cmake', lang: 'cpp', build: 'CMakeLists.txt', source: 'src/v-cmake-cpp.cc' },
    { builder: 'gyp', lang: 'c', build: 'binding.gyp', source: 'src/v-gyp-c.c' },
    { builder: 'cmake', lang: 'c', build: 'CMakeLists.txt', source: 'src/v-cmake-c.c' },
  ] as const;

  for (const v of variants) {
    it(`--builder ${v.builder} --lang ${v.lang}: a complete module whose build files reach the SDK`, async () => {
      const code = `v-${v.builder}-${v.lang}`;
      const result = await erpmod(['new', code, '--builder', v.builder, '--lang', v.lang, '--dir', 'parent'], scratch);
      assert.equal(result.code, 0, describeRun(result));
      const dir = path.join(scratch, 'parent', code);
      assert.deepEqual(Object.keys(treeOf(dir)).sort(), [
        '.gitignore', 'README.md', v.build, 'migrations/001-create-greetings.sql', 'module.yml', 'package.json', v.source, `test/${code}.test.js`,
      ].sort());
      const { manifest } = readManifest(dir);
      assert.deepEqual([manifest.code, manifest.version, manifest.abi.napi, manifest.routes], [code, '1.0.0', 8, [{ method: 'GET', path: '/greetings/:name', execution: 'main' }]]);
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).binary, { napi_versions: [8] });

      // No erpmod package is installed above scratch: the files point at this kit by relative paths, and
      // erpmod new says so (test/vendor-kit.test.ts covers the installed package).
      assert.match(result.stdout, /note: no erpmod package is installed where parent\/v-[a-z-]+\/ can find it/);
      const buildFile = fs.readFileSync(path.join(dir, v.build), 'utf8');
      if (v.builder === 'gyp') {
        const include = /"includes": \["([^"]+)"\]/.exec(buildFile)![1]!;
        assert.ok(!path.isAbsolute(include), 'relative, so the module and the SDK can move together');
        assert.equal(path.resolve(dir, include), path.join(ROOT, 'native-sdk', 'gyp/erpmod.gypi'));
      } else {
        assert.match(buildFile, /require\('erpmod\/sdk'\)\.cmake/, 'CMake asks node where the kit is');
        assert.doesNotMatch(buildFile, /native-sdk/);
      }
      const testing = /require\('([^']+)'\)/.exec(fs.readFileSync(path.join(dir, 'test', `${code}.test.js`), 'utf8').split('\n').find((l) => l.includes('openModule'))!)![1]!;
      assert.equal(path.resolve(dir, 'test', testing), path.join(ROOT, 'dist', 'native-sdk', 'testing'));

      const source = fs.readFileSync(path.join(dir, v.source), 'utf8');
      const includes = [...source.matchAll(/^#include [<"]([^>"]+)[>"]/gm)].map((m) => m[1]);
      if (v.lang === 'c') {
        assert.deepEqual(includes.filter((h) => !['stdbool.h', 'stdint.h', 'stdio.h', 'stdlib.h', 'string.h'].includes(h!)), ['node_api.h', 'erpmod/abi.h'], 'C: Node-API and erpmod/abi.h only');
        assert.match(source, /#define MODULE_VERSION ERPMOD_BUILD_VERSION/, 'the version comes from module.yml');
      } else {
        assert.ok(includes.includes('erpmod/module.h'));
        assert.match(source, /ERPMOD_MODULE\(VGyp|ERPMOD_MODULE\(VCmake/);
        assert.match(source, /ERPMOD_MODULE\(\w+, ERPMOD_BUILD_CODE, ERPMOD_BUILD_VERSION\)/, 'code and version come from module.yml');
      }
    });
  }

  it('refuses an existing directory (exit 1), a bad code or option (exit 2), and writes nothing', async () => {
    const parent = makeTempDir('new-refusals');
    fs.mkdirSync(path.join(parent, 'taken'));
    fs.writeFileSync(path.join(parent, 'taken', 'keep.txt'), 'mine');
    const before = treeOf(parent);

    const exists = await erpmod(['new', 'taken'], parent);
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /^erpmod: ERPMOD_TARGET_EXISTS: .*taken already exists; erpmod new creates a new directory and never writes into an existing one\n$/);
    for (const [args, message] of [
      [['new', 'Bad_Code'], /ERPMOD_USAGE: module code: expected lowercase kebab-case of 2 to 40 characters \(like sales or stock-ledger\), got "Bad_Code"/],
      [['new', 'x'], /got "x"/],
      [['new', 'system'], /"system" is reserved by the host/],
      [['new', 'ok-code', '--builder', 'make'], /--builder: expected one of gyp, cmake, got "make"/],
      [['new', 'ok-code', '--lang', 'rust'], /--lang: expected one of cpp, c, got "rust"/],
      [['new'], /expected one module code, got nothing/],
      [['new', 'a1', 'b2'], /expected one module code, got also "b2"/],
    ] as const) {
      const result = await erpmod([...args], parent);
      assert.equal(result.code, 2, `${args.join(' ')}: ${describeRun(result)}`);
      assert.match(result.stderr, message);
      assert.match(result.stderr, /usage: erpmod new <code>/);
    }
    assert.deepEqual(treeOf(parent), before);
  });
});

describe('erpmod build', () => {
  let dir: string;
  before(async () => {
    const created = await erpmod(['new', 'buildfix', '--lang', 'c'], scratch);
    assert.equal(created.code, 0, describeRun(created));
    dir = path.join(scratch, 'buildfix');
  });

  it('writes lib/<platform>-<arch>/<code>.<ext> and changes nothing else', async () => {
    const before = treeOf(dir);
    const result = await erpmod(['build'], dir);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, new RegExp(`^built buildfix for ${PLATFORM_KEY} with node-gyp in \\d+\\.\\d s -> lib/${PLATFORM_KEY}/buildfix\\.so\\n$`));
    const after = treeOf(dir);
    const changed = Object.keys(after).filter((file) => after[file] !== before[file] && !file.startsWith('build/'));
    assert.deepEqual(changed, [`lib/${PLATFORM_KEY}/buildfix.so`]);
    assert.ok(checkStatic(readManifest(dir), defaultCheckTarget()).ok);
    const script = await run(path.join(ROOT, 'scripts', 'build-module.sh'), [dir], { cwd: scratch });
    assert.equal(script.code, 0, describeRun(script));
    assert.match(script.stdout, /^built buildfix for /);
  });

  it('says what is wrong: no build file, a moved module, an unknown or unsupported target', async () => {
    const bare = path.join(makeTempDir('bare'), 'bare');
    fs.cpSync(dir, bare, { recursive: true, filter: (s) => !['build', 'lib', 'binding.gyp'].includes(path.basename(s)) });
    const noBuildFile = await erpmod(['build', bare], scratch);
    assert.equal(noBuildFile.code, 1);
    assert.match(noBuildFile.stderr, /ERPMOD_BUILD_FAILED: .*expected a CMakeLists\.txt \(cmake-js\) or a binding\.gyp \(node-gyp\), found neither/);

    const moved = path.join(scratch, 'deeper', 'still', 'buildfix');
    fs.cpSync(dir, moved, { recursive: true, filter: (s) => path.basename(s) !== 'build' });
    const brokenInclude = await erpmod(['build', moved], scratch);
    assert.equal(brokenInclude.code, 1);
    const right = path.relative(moved, path.join(ROOT, 'native-sdk', 'gyp', 'erpmod.gypi'));
    assert.match(brokenInclude.stderr, new RegExp(`includes "[^"]+erpmod\\.gypi", which does not exist from .*; the erpmod SDK's gypi is at "${right.replace(/\./g, '\\.')}" from there`));

    // A CMake module whose CMakeLists.txt includes the glue by a path that no longer reaches it (modules
    // made before the kit was a package): gyp's hint, not CMake's error inside cmake-js's banners.
    const oldCmake = path.join(scratch, 'elsewhere', 'oldcmake');
    fs.mkdirSync(path.join(oldCmake, 'src'), { recursive: true });
    fs.copyFileSync(path.join(dir, 'module.yml'), path.join(oldCmake, 'module.yml'));
    fs.writeFileSync(path.join(oldCmake, 'CMakeLists.txt'), 'cmake_minimum_required(VERSION 3.15)\nproject(buildfix C CXX)\ninclude(${CMAKE_CURRENT_SOURCE_DIR}/../../native-sdk/cmake/erpmod.cmake)\nerpmod_add_module(buildfix SOURCES src/buildfix.c)\n');
    const cmakeMoved = await erpmod(['build', oldCmake], scratch);
    assert.equal(cmakeMoved.code, 1, describeRun(cmakeMoved));
    const cmakeRight = path.relative(oldCmake, path.join(ROOT, 'native-sdk', 'cmake', 'erpmod.cmake'));
    assert.match(cmakeMoved.stderr, new RegExp(`includes "\\$\\{CMAKE_CURRENT_SOURCE_DIR\\}/\\.\\./\\.\\./native-sdk/cmake/erpmod\\.cmake", which does not exist from .*; the erpmod SDK's CMake glue is at "\\$\\{CMAKE_CURRENT_SOURCE_DIR\\}/${cmakeRight.replace(/\./g, '\\.')}" from there`));
    assert.doesNotMatch(cmakeMoved.stderr, /OMG|ERR!/);

    const unsupported = await erpmod(['build', dir, '--target', 'darwin-arm64'], scratch);
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.stderr, /ERPMOD_TOOLCHAIN_MISSING: erpmod build cannot cross-build for darwin-arm64 from .*: the cross targets it knows are win32-x64/);
    const bogus = await erpmod(['build', dir, '--target', 'amiga-68k'], scratch);
    assert.equal(bogus.code, 2);
    assert.match(bogus.stderr, /--target: expected <platform>-<arch>/);
  });

  it('a cmake module moved after a build (its build/ along) builds again; a version that differs from module.yml fails the build at its line', { timeout: 240_000 }, async () => {
    assert.equal((await erpmod(['new', 'movecm', '--builder', 'cmake'], scratch)).code, 0);
    const first = path.join(scratch, 'movecm');
    const built = await erpmod(['build', first], scratch);
    assert.equal(built.code, 0, describeRun(built));
    const moved = path.join(scratch, 'moved-here', 'movecm');
    fs.mkdirSync(path.dirname(moved), { recursive: true });
    fs.renameSync(first, moved);
    const again = await erpmod(['build', moved], scratch);
    assert.equal(again.code, 0, `the stale CMake cache is configured again, not an error:\n${describeRun(again)}`);

    const source = path.join(moved, 'src', 'movecm.cc');
    const text = fs.readFileSync(source, 'utf8').replace('ERPMOD_MODULE(Movecm, ERPMOD_BUILD_CODE, ERPMOD_BUILD_VERSION)', 'ERPMOD_MODULE(Movecm, "movecm", "9.9.9")');
    fs.writeFileSync(source, text);
    const line = text.split('\n').findIndex((l) => l.startsWith('ERPMOD_MODULE(')) + 1;
    const mismatch = await erpmod(['build', moved], scratch);
    assert.equal(mismatch.code, 1, describeRun(mismatch));
    const errors = mismatch.stderr.match(/^src\/movecm\.cc:\d+:\d+: error: .*$/gm) ?? [];
    assert.equal(errors.length, 1, `one error line:\n${mismatch.stderr}`);
    assert.match(errors[0]!, new RegExp(`^src/movecm\\.cc:${line}:\\d+: error: static assertion failed: ERPMOD_MODULE's version differs from module\\.yml's version`));
    assert.doesNotMatch(mismatch.stderr, /OMG|ERR!/);
  });

  it('on a terminal, one line per phase with its time', { skip: onPath('script') ? false : 'script(1) is not installed' }, async () => {
    const cli = path.join(ROOT, 'dist', 'host', 'cli', 'erpmod.js');
    fs.rmSync(path.join(dir, 'build'), { recursive: true, force: true });
    const result = await run('script', ['-qec', `"${process.execPath}" "${cli}" build "${dir}"`, '/dev/null'], { cwd: scratch });
    assert.equal(result.code, 0, describeRun(result));
    const lines = result.stdout.split(/\r?\n/).map((l) => l.replace(/^[\s\S]*\r(?:\x1b\[K)?/, '')).filter((l) => l.trim() !== '');
    for (const phase of ['configure', 'compile', 'install']) assert.ok(lines.some((l) => new RegExp(`^  ${phase} +\\d+\\.\\d s$`).test(l)), `${phase}: ${JSON.stringify(lines)}`);
    assert.ok(lines.some((l) => /^built buildfix for /.test(l)));
  });

  it('the unit-test harness refuses a library whose version differs from module.yml, as the host does', { timeout: 120_000 }, async () => {
    const manifest = path.join(dir, 'module.yml');
    const original = fs.readFileSync(manifest, 'utf8');
    const built = await erpmod(['build', dir], scratch);
    assert.equal(built.code, 0, describeRun(built));
    // Without the runner's NODE_TEST_CONTEXT, or the child would skip its tests and exit 0.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const fresh = await run(process.execPath, ['--test', 'test/buildfix.test.js'], { cwd: dir, env });
    assert.equal(fresh.code, 0, describeRun(fresh));
    assert.match(fresh.stdout, /# pass 3\n# fail 0/, 'passes as built');
    fs.writeFileSync(manifest, original.replace(/^version: 1\.0\.0$/m, 'version: 1.0.5'));
    try {
      const stale = await run(process.execPath, ['--test', 'test/buildfix.test.js'], { cwd: dir, env });
      assert.notEqual(stale.code, 0, describeRun(stale));
      assert.match(stale.stdout + stale.stderr, /buildfix\.so is buildfix 1\.0\.0, but module\.yml says buildfix 1\.0\.5: rebuild it/);
    } finally {
      fs.writeFileSync(manifest, original);
    }
  });

  it('--target win32-x64 names the missing MinGW tool when it is not on PATH', async () => {
    const result = await erpmod(['build', dir, '--target', 'win32-x64'], scratch, { ...process.env, PATH: makeTempDir('empty-path') });
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stderr, /ERPMOD_TOOLCHAIN_MISSING: x86_64-w64-mingw32-gcc is not on PATH \(needed for compiling C for win32-x64\); install MinGW-w64 \(Debian\/Ubuntu: apt-get install gcc-mingw-w64-x86-64/);
  });

  it('--target win32-x64 cross-builds a C module into a .dll that passes the static checks for Windows', { skip: onPath('x86_64-w64-mingw32-gcc') ? false : 'MinGW-w64 gcc is not installed (scripts/install-test-packages.sh)' }, async () => {
    const result = await erpmod(['build', dir, '--target', 'win32-x64'], scratch);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, /built buildfix for win32-x64 with mingw-w64 .* -> .*lib\/win32-x64\/buildfix\.dll/);
    const report = checkStatic(readManifest(dir), defaultCheckTarget(), { platformKey: 'win32-x64' });
    assert.deepEqual(report.violations, []);
    assert.equal(report.binary?.format, 'pe');
    assert.deepEqual([...report.binary!.exports].sort(), ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  });

  it('--target win32-x64 cross-builds a C++ SDK module the same way', { skip: onPath('x86_64-w64-mingw32-g++') ? false : 'MinGW-w64 g++ is not installed (Debian: g++-mingw-w64-x86-64)', timeout: 120_000 }, async () => {
    assert.equal((await erpmod(['new', 'crosscpp'], scratch)).code, 0);
    const cpp = path.join(scratch, 'crosscpp');
    const result = await erpmod(['build', cpp, '--target', 'win32-x64'], scratch);
    assert.equal(result.code, 0, describeRun(result));
    const report = checkStatic(readManifest(cpp), defaultCheckTarget(), { platformKey: 'win32-x64' });
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.binary!.neededLibraries.map((l) => l.toLowerCase()).sort(), ['kernel32.dll', 'msvcrt.dll', 'node.exe'], 'the C++ runtime is linked in');
  });
});
