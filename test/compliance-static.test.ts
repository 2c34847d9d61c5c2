import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkModule } from '../host/compliance/check-module';
import { checkStatic, checkStaticBytes, checkStaticFile } from '../host/compliance/check-static';
import { readManifest } from '../host/compliance/manifest/read-manifest';
import { RULE_IDS } from '../host/compliance/rules';
import type { CheckTarget, RuleId, StaticReport } from '../host/compliance/types';
import { buildElfFixtures, canBuildElfFixtures, makeModuleDir, removeElfFixtures } from './fixtures/compliance/build-elf-fixtures';
import type { ElfFixtureName, ModuleDirOptions } from './fixtures/compliance/build-elf-fixtures';
import { synthesizeElf } from './fixtures/compliance/synthesize-elf';

/** Fixed, so results do not depend on the Node running the tests: Node 20 supports Node-API 9. */
const TARGET: CheckTarget = { platform: 'linux', arch: process.arch, maxNapi: 9, erpmodAbis: [1] };
const KEY = `linux-${process.arch}`;
const STATIC_RULES: readonly RuleId[] = RULE_IDS.filter((id) => !id.startsWith('load/') && id !== 'binary/signature' && id !== 'binary/sha256');

let fixtures: Record<ElfFixtureName, string>;
let root: string;

function check(binary: ElfFixtureName | Uint8Array | undefined, options: ModuleDirOptions = {}, target: CheckTarget = TARGET): StaticReport {
  const source = typeof binary === 'string' ? fixtures[binary] : binary;
  const dir = makeModuleDir(root, source, options);
  return checkStatic(readManifest(dir), target, options.platformKey === undefined ? {} : { platformKey: options.platformKey });
}

function failedRules(report: StaticReport): RuleId[] {
  return [...new Set(report.violations.map((v) => v.rule))];
}

/** The report fails exactly `rule`, and every violation says what it expected, found, how to fix, where. */
function assertFailsOnly(report: StaticReport, rule: RuleId): void {
  assert.deepEqual(failedRules(report), [rule], JSON.stringify(report.violations, null, 2));
  assert.equal(report.ok, false);
  for (const v of report.violations) {
    assert.ok(v.message.length > 0 && v.expected && v.found && v.fix && v.file, JSON.stringify(v));
  }
  assert.ok(!report.passed.includes(rule));
}

describe('checkStatic', { skip: canBuildElfFixtures() ? false : 'needs Linux and a C compiler' }, () => {
  before(() => {
    fixtures = buildElfFixtures();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-static-'));
  });
  after(() => {
    removeElfFixtures();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('passes every static rule for a compliant library', () => {
    const report = check('good');
    assert.deepEqual(report.violations, []);
    assert.equal(report.ok, true);
    assert.deepEqual(report.passed, STATIC_RULES);
    assert.equal(report.code, 'sales');
    assert.equal(report.binary?.declaredNapiFromCode, 8);
    assert.equal(report.binarySha256, crypto.createHash('sha256').update(fs.readFileSync(fixtures.good)).digest('hex'));
    assert.ok(report.binaryPath?.endsWith(path.join('lib', KEY, 'sales.so')));
  });

  it('abi/napi-version: refuses Node-API 10 with the reason Node 20 would crash', () => {
    const report = check('napi10');
    assertFailsOnly(report, 'abi/napi-version');
    const message = report.violations.map((v) => v.message).join('\n');
    assert.match(message, /declared Node-API 10, but this Node supports up to 9: rebuild with NAPI_VERSION=8/);
    assert.match(message, /SIGSEGV at dlopen/);
    assert.match(message, /declared Node-API 10, but module\.yml abi\.napi pins 8/);
  });

  it('abi/napi-version: refuses code and info block that disagree', () => {
    const report = check('napiDisagrees');
    assertFailsOnly(report, 'abi/napi-version');
    assert.match(report.violations[0]!.message, /returns Node-API 10 but the info block says napi=8/);
  });

  it('abi/napi-version: refuses a version other than module.yml abi.napi, even when this Node supports it', () => {
    const report = check('good', { yaml: { abi: '{ erpmod: 1, napi: 6 }' } });
    assertFailsOnly(report, 'abi/napi-version');
    assert.equal(report.violations[0]!.message, 'declared Node-API 8, but module.yml abi.napi pins 6');
  });

  it('abi/napi-version: refuses a library that does not export node_api_module_get_api_version_v1', () => {
    const report = check('noVersionExport');
    assertFailsOnly(report, 'abi/napi-version');
    assert.match(report.violations[0]!.message, /does not export node_api_module_get_api_version_v1/);
  });

  it('meta/info-block: refuses a library without an info block', () => {
    const report = check('noInfo');
    assertFailsOnly(report, 'meta/info-block');
    assert.match(report.violations[0]!.message, /no info block \(an \.erpmod section\)/);
  });

  it('meta/info-block: refuses a duplicate key, and only warns on an unknown one', () => {
    const duplicate = check('duplicateKey');
    assertFailsOnly(duplicate, 'meta/info-block');
    assert.match(duplicate.violations[0]!.message, /duplicate key code/);

    const unknown = check('unknownKey');
    assert.deepEqual(failedRules(unknown), ['meta/info-block']);
    assert.equal(unknown.violations[0]!.severity, 'warning');
    assert.equal(unknown.ok, true);
  });

  it('abi/imports: lists V8 and libuv imports, demangled, and allows the C runtime', () => {
    const report = check('v8Imports');
    assertFailsOnly(report, 'abi/imports');
    const found = report.violations[0]!.found!;
    assert.match(found, /v8::Isolate::GetCurrent\(\) \(V8, _ZN2v87Isolate10GetCurrentEv\)/);
    assert.match(found, /uv_default_loop \(libuv\)/);
    assert.doesNotMatch(found, /strlen/);
  });

  it('abi/no-legacy-entry: refuses node_register_module_v115', () => {
    const report = check('legacy');
    assertFailsOnly(report, 'abi/no-legacy-entry');
    assert.equal(report.violations[0]!.found, 'node_register_module_v115');
  });

  it('abi/napi-entry: refuses a library without napi_register_module_v1', () => {
    assertFailsOnly(check('noRegister'), 'abi/napi-entry');
  });

  it('meta/identity: refuses an info block naming another module and version', () => {
    const report = check('wrongIdentity');
    assertFailsOnly(report, 'meta/identity');
    assert.deepEqual(report.violations.map((v) => v.message), [
      'the info block says code=billing, but module.yml says code: sales',
      'the info block says version=2.0.0, but module.yml says version: 1.4.0',
    ]);
  });

  it('abi/erpmod-version: refuses an erpmod ABI the host does not accept, from the binary or the manifest', () => {
    assertFailsOnly(check('wrongErpmodAbi'), 'abi/erpmod-version');
    const manifestSide = check('good', { yaml: { abi: '{ erpmod: 2, napi: 8 }' } });
    assertFailsOnly(manifestSide, 'abi/erpmod-version');
    assert.ok(manifestSide.violations.some((v) => v.file?.endsWith('module.yml')));
  });

  it('binary/sha256: refuses a binary whose digest differs from the pin, and passes a matching one', () => {
    const report = check('good', { yaml: { sha256: `{ ${KEY}: "${'0'.repeat(64)}" }` } });
    assertFailsOnly(report, 'binary/sha256');
    const digest = crypto.createHash('sha256').update(fs.readFileSync(fixtures.good)).digest('hex');
    const pinned = check('good', { yaml: { sha256: `{ ${KEY}: ${digest.toUpperCase()} }` } });
    assert.equal(pinned.ok, true);
    assert.ok(pinned.passed.includes('binary/sha256'));
  });

  it('binary/arch: refuses a library declared for another architecture', () => {
    const other = process.arch === 'arm64' ? 'x64' : 'arm64';
    const report = check('good', { platformKey: `linux-${other}` }, { ...TARGET, arch: other });
    assertFailsOnly(report, 'binary/arch');
    assert.equal(report.violations[0]!.expected, other);
  });

  it('binary/format: refuses random bytes, a wrong extension, an executable, and ELF for Windows', () => {
    const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff);
    const random = check(noise);
    assertFailsOnly(random, 'binary/format');
    assert.deepEqual(random.passed, ['manifest/schema', 'binary/present']);

    assertFailsOnly(check('good', { binaryPath: `lib/${KEY}/sales.dll` }), 'binary/format');
    const executable = check('executable');
    assertFailsOnly(executable, 'binary/format');
    assert.match(executable.violations[0]!.message, /not a shared library/);

    const windows = check('good', { platformKey: `win32-${process.arch}`, binaryPath: `lib/win32-${process.arch}/sales.dll` },
      { ...TARGET, platform: 'win32' });
    assertFailsOnly(windows, 'binary/format');
    assert.equal(windows.violations[0]!.message, 'the binary is ELF, but win32 loads PE/COFF');
  });

  it('binary/present: refuses a declared binary that is missing, and a platform with no binary', () => {
    const missing = check(undefined);
    assertFailsOnly(missing, 'binary/present');
    assert.match(missing.violations[0]!.message, /does not exist/);

    const undeclared = check('good', {}, { ...TARGET, platform: 'darwin' });
    assertFailsOnly(undeclared, 'binary/present');
    assert.equal(undeclared.violations[0]!.message, `module.yml declares no binary for darwin-${process.arch}`);
    assert.equal(undeclared.binary, undefined);
  });

  it('reports truncated copies of a library as binary/format, never by throwing', () => {
    const bytes = fs.readFileSync(fixtures.good);
    const dir = makeModuleDir(root, fixtures.good);
    const loaded = readManifest(dir);
    for (const length of [0, 3, 20, 64, 200, bytes.length >> 1, bytes.length - 1]) {
      const report = checkStaticBytes(loaded, bytes.subarray(0, length), path.join(dir, `lib/${KEY}/sales.so`), TARGET);
      assertFailsOnly(report, 'binary/format');
    }
  });

  it('checkStaticFile checks a copy under any name against the declared extension', () => {
    const dir = makeModuleDir(root, fixtures.good);
    const shadow = path.join(root, 'shadow-3f2a');
    fs.copyFileSync(fixtures.good, shadow);
    const report = checkStaticFile(readManifest(dir), shadow, TARGET);
    assert.deepEqual(report.violations, []);
    assert.equal(report.binaryPath, shadow);
    assertFailsOnly(checkStaticFile(readManifest(dir), path.join(root, 'no-such-file'), TARGET), 'binary/present');
  });

  it('checks a synthesised big-endian binary for its own platform key without a compiler for it', () => {
    const bytes = synthesizeElf({
      bits: 64, endian: 'big', machine: 22, info: 'erpmod_info=1\nerpmod_abi=1\ncode=sales\nversion=1.4.0\nnapi=8\nsdk=0.1.0',
      symbols: [{ name: 'napi_register_module_v1', defined: true }, { name: 'node_api_module_get_api_version_v1', defined: true }],
    });
    const report = check(bytes, { platformKey: 'linux-s390x' }, { ...TARGET, arch: 's390x' });
    assert.deepEqual(report.violations, []);
    assert.equal(report.binary?.endian, 'big');
  });

  it('checkModule reports an invalid manifest as manifest/schema violations, one per issue', () => {
    const dir = makeModuleDir(root, fixtures.good, { yaml: { code: 'Sales', isolation: 'thread' } });
    const report = checkModule(dir, TARGET);
    assertFailsOnly(report, 'manifest/schema');
    assert.equal(report.violations.length, 2);
    assert.match(report.violations[0]!.message, /module\.yml: code: expected lowercase kebab-case/);
    assert.equal(report.code, undefined);
    assert.deepEqual(checkModule(makeModuleDir(root, fixtures.good), TARGET).violations, []);
  });
});
