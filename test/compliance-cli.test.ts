import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import Ajv from 'ajv';
import { RULES, RULE_IDS } from '../host/compliance';
import type { CheckReport, TargetResult } from '../host/compliance/report/check-report';
import { buildArm64Elf, buildProbeLibrary, makeModuleDir } from './fixtures/checker/build-checker-fixtures';
import { parseXml } from './fixtures/checker/parse-xml';
import type { XmlElement } from './fixtures/checker/parse-xml';
import { buildMachOFixtures, buildPeFixtures, CROSS_INFO } from './support/build-cross-binaries';
import type { MachOFixtures, PeFixtures } from './support/build-cross-binaries';
import { makeTempDir } from './support/host-process';
import { CLI, FIXTURE_MODULES_DIR, MODULES_DIR, PLATFORM_KEY, ROOT } from './support/paths';

interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function erpmod(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env };
  delete env.FORCE_COLOR;
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd: options.cwd ?? ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(run: Run): CheckReport {
  return JSON.parse(run.stdout) as CheckReport;
}

function fixture(name: string): string {
  return path.join(FIXTURE_MODULES_DIR, name);
}

function binaryPath(moduleDir: string): string {
  const lib = path.join(moduleDir, 'lib', PLATFORM_KEY);
  return path.join(lib, fs.readdirSync(lib).find((f) => f.endsWith('.so') || f.endsWith('.dylib') || f.endsWith('.dll'))!);
}

function rule(target: TargetResult, id: string): TargetResult['rules'][number] {
  return target.rules.find((r) => r.id === id)!;
}

const SALES_LIBRARY = path.join(MODULES_DIR, 'sales', 'lib', 'linux-x64', 'sales.so');
const validateReport = new Ajv({ allErrors: true, strict: true }).compile(
  JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'schemas', 'check-report.schema.json'), 'utf8')) as object,
);

function assertValidReport(report: unknown): void {
  assert.ok(validateReport(report), JSON.stringify(validateReport.errors, null, 2));
}

/** Seeded, so a failing input can be reproduced. */
function randomBytes(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

function writeTemp(name: string, bytes: Uint8Array): string {
  const file = path.join(makeTempDir('checker-bytes'), name);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('erpmod check', () => {
  it('passes the example modules with exit 0, one ✔ line per rule and a summary', () => {
    const run = erpmod(['check', 'modules/sales', 'modules/inventory']);
    assert.equal(run.status, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /^✔ sales 1\.4\.0 {2}modules\/sales$/m);
    assert.match(run.stdout, /^ {4}✔ load\/routes +every declared route resolves to a function$/m);
    assert.match(run.stdout, /^ {4}– binary\/sha256 +no digest pinned in module\.yml$/m);
    assert.match(run.stdout, /^✔ 2 modules passed · 0 errors · 0 warnings · /m);
  });

  it('checks every module under the configured modules directory by default', () => {
    const cwd = makeTempDir('check-cwd');
    const run = erpmod(['check', '--static-only'], { cwd, env: { ERPMOD_MODULES_DIR: MODULES_DIR } });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /✔ inventory /);
    assert.match(run.stdout, /✔ sales /);
  });

  it('runs the same from scripts/check-compliance.sh', () => {
    const result = spawnSync('bash', [path.join(ROOT, 'scripts', 'check-compliance.sh'), 'modules/sales'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /✔ 1 module passed/);
  });

  it('exits 1 with ✖, what was expected and found, and the fix for each failure', () => {
    const run = erpmod(['check', fixture('route-missing'), fixture('napi-10')]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /^ {4}✖ load\/routes +every declared route resolves to a function$/m);
    assert.match(run.stdout, /✖ load\/routes {2}POST \/echo is declared in module\.yml, but getHandler\("\/echo", "POST"\) returned null/);
    assert.ok(run.stdout.includes(`fix       ${RULES['load/routes'].fix}`));
    assert.match(run.stdout, /expected  Node-API ≤ 9\n +found +Node-API 10\n +fix +rebuild with NAPI_VERSION=8/);
    assert.match(run.stdout, /– load\/dlopen +not run: the static phase failed/);
    assert.match(run.stdout, /^✖ 2 of 2 modules failed · 2 errors · 0 warnings/m);
  });

  it('exits 2 when it cannot run: usage errors and unreadable or empty paths', () => {
    const empty = makeTempDir('empty-modules');
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [['check', '--format', 'yaml', 'modules/sales'], /ERPMOD_USAGE: --format: expected one of text, json, junit, github, got "yaml"/],
      [['check', '--timeout', '0', 'modules/sales'], /ERPMOD_USAGE: --timeout/],
      [['check', '--no-such-flag'], /ERPMOD_USAGE/],
      [['check', path.join(ROOT, 'no-such-module')], /ERPMOD_CHECK_PATH_UNREADABLE: .*no-such-module: expected a readable module directory, got ENOENT/],
      [['check', path.join(ROOT, 'package.json')], /ERPMOD_CHECK_PATH_UNREADABLE: .*expected a module directory, got a file/],
      [['check'], /ERPMOD_CHECK_PATH_UNREADABLE: modules directory .*found none/, { ERPMOD_MODULES_DIR: empty }],
    ];
    for (const [args, message, env] of cases) {
      const run = erpmod(args, env === undefined ? {} : { env });
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.equal(run.stdout, '');
    }
  });

  it('prints JSON that matches docs/schemas/check-report.schema.json, for passes, failures, crashes and a broken manifest', () => {
    const broken = path.join(makeTempDir('broken'), 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'module.yml'), 'code: [unclosed\n');
    const run = erpmod(['check', '--format', 'json', '--timeout', '1000',
      fixture('good-alpha'), fixture('route-missing'), fixture('napi-10'), fixture('segfault-at-load'), fixture('hang-at-load'), broken]);
    assert.equal(run.status, 1, run.stderr);
    const report = json(run);
    assertValidReport(report);
    assert.deepEqual(report.modules.map((m) => [m.code, m.ok]), [
      ['alpha', true], ['route-missing', false], ['napi-ten', false], ['segfault-at-load', false], ['hang-at-load', false], [null, false],
    ]);
    assert.deepEqual(report.summary, { ...report.summary, modules: 6, passed: 1, failed: 5 });
    const [alpha, , napi, segfault, hang, manifest] = report.modules.map((m) => m.targets[0]!);
    assert.equal(alpha!.rules.length, RULE_IDS.length);
    assert.equal(alpha!.load.outcome, 'completed');
    assert.equal(napi!.load.ran, false);
    assert.equal(segfault!.load.signal, 'SIGSEGV');
    assert.equal(hang!.load.outcome, 'timed-out');
    assert.ok(hang!.load.durationMs! < 3000);
    assert.equal(rule(manifest!, 'manifest/schema').status, 'fail');
    assert.ok(manifest!.rules.filter((r) => r.id !== 'manifest/schema').every((r) => r.status === 'skip'));
  });

  it('fails warnings only under --strict', () => {
    const dir = makeModuleDir({ [PLATFORM_KEY]: buildProbeLibrary(['PROBE_UNKNOWN_INFO_KEY']) });
    const relaxed = erpmod(['check', dir]);
    assert.equal(relaxed.status, 0, relaxed.stdout);
    assert.match(relaxed.stdout, /⚠ meta\/info-block/);
    assert.match(relaxed.stdout, /1 module passed · 0 errors · 1 warning/);
    const strict = erpmod(['check', '--strict', '--format', 'json', dir]);
    assert.equal(strict.status, 1);
    const report = json(strict);
    assertValidReport(report);
    assert.equal(rule(report.modules[0]!.targets[0]!, 'meta/info-block').status, 'warn');
    assert.equal(report.modules[0]!.ok, false);
  });

  it('writes JUnit XML: one testsuite per module, one testcase per rule, failures with their message', () => {
    const run = erpmod(['check', '--format', 'junit', fixture('good-alpha'), fixture('route-missing'), fixture('napi-10')]);
    assert.equal(run.status, 1, run.stderr);
    assert.ok(run.stdout.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n'));
    const root = parseXml(run.stdout);
    assertJunitStructure(root);
    assert.deepEqual(root.children.map((s) => s.attributes.name), ['alpha', 'route-missing', 'napi-ten']);
    for (const suite of root.children) {
      const cases = suite.children.filter((c) => c.name === 'testcase');
      assert.deepEqual(cases.map((c) => c.attributes.name), [...RULE_IDS]);
    }
    const routeFailure = root.children[1]!.children.find((c) => c.attributes.name === 'load/routes')!.children[0]!;
    assert.equal(routeFailure.name, 'failure');
    assert.equal(routeFailure.attributes.message, 'POST /echo is declared in module.yml, but getHandler("/echo", "POST") returned null');
    assert.match(routeFailure.text, /fix: return a handler function/);
    assert.deepEqual([root.attributes.tests, root.attributes.failures], [String(3 * RULE_IDS.length), '2']);
  });

  it('writes GitHub workflow annotations with file and rule, escaped, then a summary line', () => {
    const run = erpmod(['check', '--format', 'github', fixture('route-missing'), fixture('v8-import')]);
    assert.equal(run.status, 1);
    const lines = run.stdout.trimEnd().split('\n');
    const annotations = lines.slice(0, -1);
    assert.ok(annotations.length >= 2);
    for (const line of annotations) {
      assert.match(line, /^::(error|warning) file=[^,:]+,title=[a-z]+\/[a-z-]+ · [^:,]+::[^\n]+$/);
    }
    assert.ok(annotations.some((l) => l.startsWith('::error file=test/fixtures/modules/route-missing/lib/linux-x64/route-missing.so,title=load/routes · route-missing (linux-x64)::POST /echo')));
    assert.ok(annotations.some((l) => /title=abi\/imports/.test(l) && /%0Afix: /.test(l)));
    assert.equal(lines.at(-1), 'erpmod check: 2 of 2 modules failed (2 errors, 0 warnings)');
  });
});

/** Load-phase children whose command line mentions `needle` (Linux /proc), to find one left behind. */
function loadChildrenMentioning(needle: string): number[] {
  return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name)).flatMap((pid) => {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes('load-child.js') && cmdline.includes(needle) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}

describe('erpmod check when it is stopped', () => {
  it('kills a load-phase child stuck in a hanging dlopen when it receives SIGTERM', { skip: process.platform !== 'linux' }, async () => {
    const dir = makeModuleDir({ [PLATFORM_KEY]: binaryPath(fixture('hang-at-load')) }, { code: 'hang-at-load' }, 'hang-at-load');
    const cli = spawn(process.execPath, [CLI, 'check', '--timeout', '60000', dir], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (loadChildrenMentioning(dir).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(loadChildrenMentioning(dir).length > 0, 'the load-phase child never started');
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    cli.kill('SIGTERM');
    assert.equal(await exited, 143);
    // The checker exits only once they are gone: nothing is left the moment it has exited.
    assert.deepEqual(loadChildrenMentioning(dir), []);
  });
});

describe('erpmod check across formats and architectures', () => {
  let macho: MachOFixtures;
  let pe: PeFixtures;
  let probe: string;
  before(() => {
    macho = buildMachOFixtures();
    pe = buildPeFixtures();
    probe = buildProbeLibrary([], { code: CROSS_INFO.code, version: CROSS_INFO.version });
  });

  it('--all-platforms reads the .so, a thin and a universal .dylib and the .dll, loading only this machine\'s', () => {
    const dir = makeModuleDir(
      { 'linux-x64': probe, 'darwin-arm64': macho.arm64, 'darwin-x64': macho.fat, 'win32-x64': pe.x64 },
      { code: CROSS_INFO.code, version: CROSS_INFO.version },
    );
    const run = erpmod(['check', '--all-platforms', '--format', 'json', dir]);
    const report = json(run);
    assertValidReport(report);
    assert.equal(run.status, 0, JSON.stringify(report.modules[0]!.targets.map((t) => t.rules.filter((r) => r.violations.length > 0)), null, 2));
    const targets = Object.fromEntries(report.modules[0]!.targets.map((t) => [t.platformKey, t]));
    assert.deepEqual(Object.keys(targets), ['linux-x64', 'darwin-arm64', 'darwin-x64', 'win32-x64']);
    assert.deepEqual(
      Object.values(targets).map((t) => [t.binary?.format, t.binary?.arch, t.binary?.sharedLibrary, t.binary?.napiFromInfoBlock]),
      [['elf', 'x64', true, 8], ['macho', 'arm64', true, 8], ['macho', 'x64', true, 8], ['pe', 'x64', true, 8]],
    );
    assert.equal(targets['linux-x64']!.load.ran, PLATFORM_KEY === 'linux-x64');
    assert.match(targets['win32-x64']!.load.skipReason ?? '', /win32-x64 binaries cannot be loaded on/);
    assert.equal(rule(targets['win32-x64']!, 'load/dlopen').status, 'skip');
  });

  it('picks the declared architecture\'s slice of a universal Mach-O file', () => {
    const dir = makeModuleDir({ 'darwin-arm64': macho.fat }, { code: CROSS_INFO.code, version: CROSS_INFO.version });
    const report = json(erpmod(['check', '--all-platforms', '--format', 'json', dir]));
    const target = report.modules[0]!.targets[0]!;
    assert.equal(target.binary?.arch, 'arm64');
    assert.equal(rule(target, 'binary/arch').status, 'pass');
  });

  it('reports an aarch64 ELF declared as linux-x64 under binary/arch, without loading it', () => {
    const dir = makeModuleDir({ 'linux-x64': buildArm64Elf() });
    const run = erpmod(['check', '--all-platforms', '--format', 'json', dir]);
    assert.equal(run.status, 1);
    const target = json(run).modules[0]!.targets[0]!;
    assert.deepEqual(target.rules.filter((r) => r.status === 'fail').map((r) => r.id), ['binary/arch']);
    assert.match(rule(target, 'binary/arch').violations[0]!.found!, /^arm64 \(machine 183\)$/);
    assert.equal(target.load.ran, false);
  });

  it('reports truncated and random files under binary/format with the reader\'s reason', () => {
    const sales = fs.readFileSync(SALES_LIBRARY);
    const files = {
      'header-only': writeTemp('sales.so', sales.subarray(0, 64)),
      'half': writeTemp('sales.so', sales.subarray(0, sales.length >> 1)),
      'random': writeTemp('sales.so', randomBytes(7, 4096)),
      'empty': writeTemp('sales.so', Buffer.alloc(0)),
    };
    const dirs = Object.entries(files).map(([name, file]) => makeModuleDir({ 'linux-x64': file }, { code: 'sales', version: '1.4.0' }, name));
    const run = erpmod(['check', '--all-platforms', '--format', 'json', ...dirs]);
    assert.equal(run.status, 1, run.stderr);
    const report = json(run);
    assertValidReport(report);
    for (const module of report.modules) {
      const target = module.targets[0]!;
      const format = rule(target, 'binary/format');
      assert.equal(format.status, 'fail', `${path.basename(module.dir)}: ${JSON.stringify(target.rules.filter((r) => r.status === 'fail'))}`);
      assert.match(format.violations[0]!.message, /cannot be read as a shared library: /);
      assert.equal(target.load.ran, false);
    }
    assert.match(rule(report.modules[3]!.targets[0]!, 'binary/format').violations[0]!.found!, /empty/);
  });
});

describe('erpmod inspect', () => {
  it('shows the sales library like modinfo: format, arch, Node-API, info block, exports, imports', () => {
    const run = erpmod(['inspect', SALES_LIBRARY]);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^format +ELF 64-bit little-endian$/m);
    assert.match(run.stdout, /^arch +x64 \(machine 62 \/ 0x3e\)$/m);
    assert.match(run.stdout, /^Node-API +8 \(from code\) · 8 \(from info block\)$/m);
    assert.match(run.stdout, /^ +code=sales$/m);
    assert.match(run.stdout, /^exports \(2\)\n {2}napi_register_module_v1\n {2}node_api_module_get_api_version_v1$/m);
    assert.match(run.stdout, /^imports: Node-API \(\d+\)\n {2}napi_/m);
    const report = JSON.parse(erpmod(['inspect', '--format', 'json', SALES_LIBRARY]).stdout) as Record<string, unknown>;
    assert.equal(report.format, 'elf');
    assert.equal(report.sharedLibrary, true);
    assert.deepEqual((report.infoBlock as { fields: Record<string, string> }).fields.code, 'sales');
    assert.ok(((report.imports as { other: { name: string }[] }).other).every((i) => !i.name.startsWith('napi_')));
  });

  it('shows a PE .dll and either slice of a universal Mach-O file', () => {
    const pe = buildPeFixtures();
    const dll = JSON.parse(erpmod(['inspect', '--format', 'json', pe.x64]).stdout) as Record<string, unknown>;
    assert.deepEqual([dll.format, dll.arch, dll.bits, dll.sharedLibrary], ['pe', 'x64', 64, true]);
    assert.ok((dll.neededLibraries as string[]).includes('node.exe'));
    assert.deepEqual((dll.imports as { nodeApi: string[] }).nodeApi, ['napi_create_object']);
    const text = erpmod(['inspect', pe.x64]);
    assert.match(text.stdout, /^format +PE\/COFF 64-bit little-endian$/m);

    const { fat } = buildMachOFixtures();
    const arm = JSON.parse(erpmod(['inspect', '--format', 'json', '--arch', 'arm64', fat]).stdout) as Record<string, unknown>;
    assert.deepEqual([arm.format, arm.arch, arm.universalSlices], ['macho', 'arm64', ['x64', 'arm64']]);
  });

  it('exits 1 with the reason for a file it cannot read as a binary, 2 for usage', () => {
    const random = erpmod(['inspect', writeTemp('random.so', randomBytes(11, 512))]);
    assert.equal(random.status, 1);
    assert.match(random.stderr, /ERPMOD_BINARY_UNREADABLE: .*not an ELF, Mach-O or PE file \(first bytes: /);
    const missing = erpmod(['inspect', path.join(ROOT, 'no-such.so')]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /ERPMOD_BINARY_UNREADABLE: .*ENOENT/);
    const truncated = erpmod(['inspect', writeTemp('t.so', fs.readFileSync(SALES_LIBRARY).subarray(0, 200))]);
    assert.equal(truncated.status, 1);
    assert.match(truncated.stderr, /ERPMOD_BINARY_UNREADABLE: .*malformed binary/);
    assert.equal(erpmod(['inspect']).status, 2);
    assert.equal(erpmod(['inspect', '--arch', 'sparc', SALES_LIBRARY]).status, 2);
  });
});

/** The structure of Jenkins' junit-10.xsd / the common JUnit schema, checked by hand (no xmllint needed). */
function assertJunitStructure(root: XmlElement): void {
  const integer = /^\d+$/;
  const decimal = /^\d+(\.\d+)?$/;
  assert.equal(root.name, 'testsuites');
  for (const key of ['tests', 'failures', 'errors', 'skipped']) assert.match(root.attributes[key] ?? '', integer, `testsuites@${key}`);
  assert.match(root.attributes.time ?? '', decimal);
  let tests = 0;
  let failures = 0;
  for (const suite of root.children) {
    assert.equal(suite.name, 'testsuite');
    assert.ok(suite.attributes.name);
    assert.match(suite.attributes.timestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const [properties, ...cases] = suite.children;
    assert.equal(properties!.name, 'properties');
    for (const p of properties!.children) assert.deepEqual([p.name, typeof p.attributes.name, typeof p.attributes.value], ['property', 'string', 'string']);
    let suiteFailures = 0;
    let suiteSkipped = 0;
    for (const c of cases) {
      assert.equal(c.name, 'testcase');
      assert.ok(c.attributes.name && c.attributes.classname);
      assert.match(c.attributes.time ?? '', decimal);
      for (const child of c.children) assert.ok(['failure', 'skipped', 'system-out'].includes(child.name), child.name);
      if (c.children.some((child) => child.name === 'failure')) suiteFailures++;
      if (c.children.some((child) => child.name === 'skipped')) suiteSkipped++;
    }
    assert.equal(suite.attributes.tests, String(cases.length));
    assert.equal(suite.attributes.failures, String(suiteFailures));
    assert.equal(suite.attributes.skipped, String(suiteSkipped));
    assert.equal(suite.attributes.errors, '0');
    tests += cases.length;
    failures += suiteFailures;
  }
  assert.equal(root.attributes.tests, String(tests));
  assert.equal(root.attributes.failures, String(failures));
}
